"""A decoder-only Transformer language model (d2l ch. 11, GPT layout).

Token embedding plus positions (d2l's sinusoidal encoding by default, learned
positions as an option), a stack of pre-layer-norm blocks with causal
self-attention through ``scaled_dot_product_attention``, a final layer norm and
an output layer tied to the embedding.  ``forward(ids, state)`` takes an optional
list of per-layer KV caches (from :meth:`init_state`) for fast step-by-step
generation; in training ``state`` is None and windows are independent.

Example::

    >>> import torch
    >>> lm = TransformerLM(TransformerLMConfig(vocab_size=30, dim=32, layers=2, heads=4))
    >>> logits, _ = lm(torch.zeros(2, 5, dtype=torch.long))
    >>> logits.shape
    torch.Size([2, 5, 30])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from seqtool.models.layers import (
    Block,
    BlockCache,
    LearnedPositions,
    SinusoidalPositions,
    init_weights,
)

POSITIONS = ("sinusoidal", "learned")


@dataclass
class TransformerLMConfig:
    vocab_size: int
    dim: int = 256
    layers: int = 4
    heads: int = 4
    ff_dim: int = 0  # 0: 4 * dim
    dropout: float = 0.1
    context: int = 256  # the training window; generation keeps at most this much context
    positions: str = "sinusoidal"  # sinusoidal | learned
    tie: bool = True
    bias: bool = True

    def __post_init__(self) -> None:
        if self.positions not in POSITIONS:
            raise ValueError(f"unknown positions {self.positions!r}; choose sinusoidal or learned")
        for name in ("vocab_size", "dim", "layers", "heads", "context"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by {self.heads} heads")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")


class TransformerLM(nn.Module):
    """A :class:`~seqtool.models.protocols.LMModule`."""

    carries_state = False  # each window is scored on its own

    def __init__(self, cfg: TransformerLMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.context: int | None = cfg.context
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.positions: nn.Module = (
            SinusoidalPositions(cfg.dim, max(cfg.context, 1024))
            if cfg.positions == "sinusoidal"
            else LearnedPositions(cfg.dim, cfg.context)
        )
        # d2l scales the embeddings by sqrt(dim) before adding the unit-amplitude
        # sinusoids (with GPT's N(0, 0.02) init that still leaves positions the louder
        # part, which trained best in our runs); learned positions need no scale.
        self.scale = math.sqrt(cfg.dim) if cfg.positions == "sinusoidal" else 1.0
        self.drop = nn.Dropout(cfg.dropout)
        ff = cfg.ff_dim or 4 * cfg.dim
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, ff, cfg.dropout, bias=cfg.bias) for _ in range(cfg.layers)
        )
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        init_weights(self, cfg.layers)
        if cfg.tie:
            self.head.weight = self.embedding.weight

    def init_state(self, batch_size: int) -> list[BlockCache]:
        return [BlockCache() for _ in self.blocks]

    def cached(self, state: list[BlockCache] | None) -> int:
        return state[0].self_attn.length if state else 0

    def read(self, ids: Tensor, state: list[BlockCache] | None = None) -> list[BlockCache] | None:
        """The caches after ``ids`` (callers keep ``ids`` within :attr:`context`)."""
        return self(ids, state)[1]

    def forward(
        self, ids: Tensor, state: list[BlockCache] | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, list[BlockCache] | None]:
        """Logits ``(B, T, V)`` and the caches; with ``targets`` ``(B, T)``, the summed
        float32 cross-entropy instead of the logits."""
        # ids: (B, T); with a cache the T new tokens follow what the cache holds.
        start = state[0].self_attn.length if state else 0
        x = self.positions(self.embedding(ids) * self.scale, start)  # (B, T, D)
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(x, causal=True, cache=state[i] if state else None)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum")
            return loss, state
        return logits, state


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, shared (tied) tensors counted once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total
