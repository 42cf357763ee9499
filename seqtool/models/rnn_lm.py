"""Recurrent language models: RNN (tanh), GRU and LSTM, one or more layers (d2l ch. 9-10).

``forward(ids, state)`` returns next-token logits and the new hidden state, so a
caller carries the state from one window to the next (truncated backpropagation
through time during training, continuous scoring and generation afterwards).
Dropout sits on the non-recurrent connections only (Zaremba et al., 2014): after
the embedding, between layers and before the output layer.  The output layer
shares its weights with the embedding when ``tie`` is set and ``embed ==
hidden`` (Press & Wolf, 2017): fewer parameters and lower perplexity.

Example::

    >>> lm = RNNLM(RNNLMConfig(vocab_size=30, cell="gru", embed=16, hidden=16))
    >>> logits, state = lm(torch.zeros(2, 5, dtype=torch.long))
    >>> logits.shape
    torch.Size([2, 5, 30])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqtool.models.fused_loss import OutputLayer

CELLS = ("rnn", "gru", "lstm")


@dataclass
class RNNLMConfig:
    vocab_size: int
    cell: str = "lstm"  # rnn | gru | lstm
    embed: int = 256
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.2
    tie: bool = True  # share embedding and output weights when embed == hidden

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; choose rnn, gru or lstm")
        for name in ("vocab_size", "embed", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")

    @property
    def tied(self) -> bool:
        return self.tie and self.embed == self.hidden


class RNNLM(nn.Module):
    """A :class:`~seqtool.models.protocols.LMModule`."""

    carries_state = True  # the state of one window is the context of the next
    context: int | None = None  # no limit on how far back it can look

    def __init__(self, cfg: RNNLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed)
        rnn = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cfg.cell]
        self.rnn = rnn(
            cfg.embed,
            cfg.hidden,
            num_layers=cfg.layers,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.head = OutputLayer(cfg.hidden, cfg.vocab_size)
        # Small uniform init of the embedding and output (as PyTorch's word_language_model).
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        if cfg.tied:
            self.head.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)

    def init_state(self, batch_size: int) -> Any:
        return None  # nn.RNN/GRU/LSTM start from zeros when given None

    def cached(self, state: Any) -> int:
        return 0  # no cache: the state is all the context

    def read(self, ids: Tensor, state: Any = None) -> Any:
        """The state after ``ids`` ``(B, T)``; the output layer is skipped."""
        _, state = self.rnn(self.drop(self.embedding(ids)), state)
        return state

    def forward(
        self, ids: Tensor, state: Any = None, targets: Tensor | None = None
    ) -> tuple[Tensor, Any]:
        """Logits ``(B, T, V)`` and the new state; with ``targets`` ``(B, T)``, the
        summed float32 cross-entropy instead of the logits (computed by the
        :class:`~seqtool.models.fused_loss.OutputLayer`, much less memory traffic
        than logits and ``F.cross_entropy``).

        On a CPU the recurrence is best run on one thread when its products are
        small: :func:`seqtool.train.device.single_thread_recurrence` sets that up."""
        # ids: (B, T)
        x = self.drop(self.embedding(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H); state (L, B, H) or a pair of them
        out = self.drop(out)
        if targets is not None:
            return self.head.loss(out, targets), state
        return self.head(out), state  # (B, T, V)


def detach_state(state: Any) -> Any:
    """Cut the graph behind a carried state (the "truncated" in TBPTT)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)
