"""What the rest of seqtool may ask of a model: its abilities as :class:`typing.Protocol`\\ s.

Code that scores, samples, translates or trains a model types it with one of these
and reads the attributes they declare, instead of probing with ``getattr``; a
new model satisfies them by having the attributes and methods (no base class).

Language models (:class:`LMModule`: :class:`~seqtool.models.rnn_lm.RNNLM`,
:class:`~seqtool.models.transformer_lm.TransformerLM`) share one forward
convention: ``model(ids, state=None, targets=None) -> (out, state)`` where ``out``
is the logits ``(B, T, V)``, or, with ``targets`` ``(B, T)``, their summed
float32 cross-entropy (how the model computes it is its own business: the RNNs
fuse it with the output layer, see :class:`~seqtool.models.fused_loss.OutputLayer`).

Translation models (:class:`Seq2SeqModule`: :class:`~seqtool.models.seq2seq.GRUAttn`,
:class:`~seqtool.models.transformer_mt.TransformerMT`) are teacher-forced by
``model(src, src_lens, tgt_in, need_weights=False) -> (logits, attention)`` and
decoded step by step through ``encode`` / ``decode_step`` / ``reorder``.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from torch import Tensor, nn


class LMModule(Protocol):
    """A language model (see the module docstring for its forward convention)."""

    #: the longest context it was trained on (None: no limit, an RNN)
    context: int | None
    #: whether the state after one window is the context of the next (RNNs)
    carries_state: bool

    def __call__(
        self, ids: Tensor, state: Any = None, targets: Tensor | None = None
    ) -> tuple[Tensor, Any]: ...

    def init_state(self, batch_size: int) -> Any:
        """The state before any token (for step-by-step generation)."""
        ...

    def cached(self, state: Any) -> int:
        """How many tokens ``state`` holds in a cache of at most :attr:`context`
        (0 for a model without one)."""
        ...

    def read(self, ids: Tensor, state: Any = None) -> Any:
        """The state after reading ``ids`` ``(B, T)``, logits not computed (a long
        prompt then costs no ``T x vocabulary`` output)."""
        ...


class Seq2SeqModule(Protocol):
    """A translation model (see the module docstring)."""

    #: the target tokens its logits stand for, when restricted (None: all)
    output_ids: Tensor | None

    def __call__(
        self, src: Tensor, src_lens: Tensor, tgt_in: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]: ...

    def encode(self, src: Tensor, src_lens: Tensor) -> Any: ...

    def decode_step(self, tokens: Tensor, state: Any, step: int) -> tuple[Tensor, Any]: ...

    def reorder(self, state: Any, index: Tensor) -> Any: ...

    def restrict_output(self, ids: Tensor | None) -> None:
        """Score only the target tokens ``ids`` from now on (None: all again)."""
        ...


def as_lm(model: nn.Module) -> LMModule:
    """``model`` typed as the language model it is (a static cast, no probing)."""
    return cast(LMModule, model)


def as_seq2seq(model: nn.Module) -> Seq2SeqModule:
    """``model`` typed as the translation model it is (a static cast, no probing)."""
    return cast(Seq2SeqModule, model)
