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

from seqtool.models.fused_loss import linear_cross_entropy

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
    kind = "rnn_lm"
    carries_state = True  # the state of one window is the context of the next
    fused_loss = True  # forward(ids, state, targets=...) returns the summed loss
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
        self.head = nn.Linear(cfg.hidden, cfg.vocab_size)
        # Small uniform init of the embedding and output (as PyTorch's word_language_model).
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.zeros_(self.head.bias)
        if cfg.tied:
            self.head.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.head.weight, -0.1, 0.1)

    def init_state(self, batch_size: int) -> Any:
        return None  # nn.RNN/GRU/LSTM start from zeros when given None

    def forward(
        self, ids: Tensor, state: Any = None, targets: Tensor | None = None
    ) -> tuple[Tensor, Any]:
        """Logits ``(B, T, V)`` and the new state; with ``targets`` ``(B, T)``, the
        summed float32 cross-entropy instead of the logits (computed by
        :func:`~seqtool.models.fused_loss.linear_cross_entropy`, much less memory
        traffic than logits and ``F.cross_entropy``)."""
        # ids: (B, T)
        x = self.drop(self.embedding(ids))  # (B, T, E)
        out, state = self._recur(x, state)  # (B, T, H); state (L, B, H) or a pair of them
        out = self.drop(out)
        if targets is not None:
            h = out.flatten(0, 1)  # (B*T, H)
            return linear_cross_entropy(
                h, self.head.weight, self.head.bias, targets.flatten()
            ), state
        return self.head(out), state  # (B, T, V)

    def _recur(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        """``self.rnn(x, state)``, on one CPU thread when its time steps are small.

        The recurrence is a chain of small matrix products, one per time step and
        layer (forward and backward).  Spread over several OpenMP threads, each costs
        a wake-up of the sleeping threads (seqtool makes them wait passively), which
        on a 2x200 LSTM with batch 20 takes longer than the product itself.  The
        big products elsewhere (the output layer) keep every thread.
        """
        if not _single_thread(x, self.cfg.hidden, self.rnn.mode):
            return self.rnn(x, state)  # type: ignore[no-any-return]
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            out, state = self.rnn(x, state)
        finally:
            torch.set_num_threads(n)
        if out.requires_grad and x.requires_grad:
            # The backward pass of the recurrence runs between these two hooks.
            out.register_hook(_threads_hook(1))
            x.register_hook(_threads_hook(n))
        return out, state


# Recurrent products below this many flops per time step run on one CPU thread.
SINGLE_THREAD_FLOPS = 2e7
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}


def _single_thread(x: Tensor, hidden: int, mode: str) -> bool:
    if x.device.type != "cpu" or torch.get_num_threads() < 2 or torch.compiler.is_compiling():
        return False
    flops = 2 * x.shape[0] * hidden * _GATES.get(mode, 4) * hidden
    return flops < SINGLE_THREAD_FLOPS


def _threads_hook(n: int) -> Any:
    def hook(grad: Tensor) -> None:
        torch.set_num_threads(n)

    return hook


def detach_state(state: Any) -> Any:
    """Cut the graph behind a carried state (the "truncated" in TBPTT)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)
