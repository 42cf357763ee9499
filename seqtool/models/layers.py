"""Transformer building blocks shared by the language model and the translation model.

Everything attention-shaped in seqtool goes through :class:`MultiHeadAttention`,
which calls :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
memory-efficient kernels on GPU, a fused kernel on CPU) and only computes the
attention matrix explicitly when a caller asks to see the weights (d2l's heat
maps).  Masks follow one convention everywhere:

* ``causal=True``: query ``i`` sees keys ``<= i`` (offset by what a cache holds);
* ``key_padding_mask``: ``(B, Tk)`` bool, **True where the key is padding**
  (the ``nn.MultiheadAttention`` convention).

A query row with nothing left to attend to (an all-padding row) is allowed to see
every key instead of producing NaN; its output is meaningless and must be ignored
by the caller, as padded positions always are.

For step-by-step decoding, a :class:`KVCache` per attention layer keeps the keys
and values computed so far (self-attention appends, cross-attention computes the
encoder memory's once); :meth:`KVCache.reorder` selects batch rows for beam search.

Example::

    >>> block = Block(dim=32, heads=4, ff_dim=64, cross_attention=True)
    >>> x, memory = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    >>> pad = torch.zeros(2, 7, dtype=torch.bool)
    >>> block(x, memory, causal=True, memory_padding_mask=pad).shape
    torch.Size([2, 5, 32])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SinusoidalPositions(nn.Module):
    """d2l's fixed positional encoding: ``P[t, 2i] = sin(t / 10000^(2i/d))``, ``P[t, 2i+1] = cos(...)``.

    Added to the (already scaled) embeddings; grows itself for longer inputs, so
    generation is not limited to the training length.
    """

    table: Tensor

    def __init__(self, dim: int, max_len: int = 1024) -> None:
        super().__init__()
        self.dim = dim
        self.register_buffer("table", self._table(max_len, dim), persistent=False)

    @staticmethod
    def _table(n: int, dim: int) -> Tensor:
        pos = torch.arange(n, dtype=torch.float32)[:, None]  # (n, 1)
        freq = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float32) / dim)  # (dim/2,)
        table = torch.zeros(n, dim)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
        return table

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        # x: (B, T, D); positions start .. start+T-1
        end = start + x.shape[1]
        if end > self.table.shape[0]:
            self.table = self._table(max(end, 2 * self.table.shape[0]), self.dim).to(
                self.table.device
            )
        return x + self.table[start:end].to(x.dtype)


class LearnedPositions(nn.Module):
    """A trained position embedding (GPT style); inputs longer than ``max_len`` are refused."""

    def __init__(self, dim: int, max_len: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.embedding = nn.Embedding(max_len, dim)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        end = start + x.shape[1]
        if end > self.max_len:
            raise ValueError(f"position {end - 1} is beyond the {self.max_len} learned positions")
        pos = torch.arange(start, end, device=x.device)
        return x + self.embedding(pos).to(x.dtype)  # (T, D) broadcast over B


@dataclass
class KVCache:
    """Keys and values of one attention layer kept between decoding steps."""

    k: Tensor | None = None  # (B, H, T, hd)
    v: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows ``index`` (beam search reorders hypotheses every step)."""
        if self.k is not None and self.v is not None:
            self.k = self.k.index_select(0, index)
            self.v = self.v.index_select(0, index)


def build_mask(
    q_len: int,
    k_len: int,
    causal: bool,
    key_padding_mask: Tensor | None,
    device: torch.device,
) -> Tensor | None:
    """A bool mask, True where attention is allowed, broadcastable to ``(B, H, Tq, Tk)``.

    With a cache the queries are the *last* ``q_len`` positions of ``k_len``, so the
    causal diagonal is shifted by ``k_len - q_len``.  Returns None when nothing is
    masked, so SDPA can take its fastest path.
    """
    mask: Tensor | None = None
    if causal and not (q_len == 1):
        offset = k_len - q_len
        i = torch.arange(q_len, device=device)[:, None]
        j = torch.arange(k_len, device=device)[None, :]
        mask = (j <= i + offset)[None, None]  # (1, 1, Tq, Tk)
    if key_padding_mask is not None:
        keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, Tk)
        mask = keep if mask is None else mask & keep
    if mask is not None:
        # A row that may see nothing (all padding) would give NaN: let it see everything.
        mask = mask | ~mask.any(dim=-1, keepdim=True)
    return mask


class MultiHeadAttention(nn.Module):
    """Multi-head self- or cross-attention through ``scaled_dot_product_attention``.

    ``forward(x)`` is self-attention; ``forward(x, memory)`` attends from ``x`` to
    ``memory`` (an encoder's output).  ``need_weights=True`` computes the softmax
    matrix explicitly and returns it as ``(B, H, Tq, Tk)``; otherwise the second
    return value is None.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        memory_dim: int | None = None,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dimension {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = dim // heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.kv_proj = nn.Linear(memory_dim or dim, 2 * dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def _split(self, t: Tensor) -> Tensor:
        b, n, _ = t.shape
        return t.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        b, tq, d = x.shape  # (B, Tq, D)
        q = self._split(self.q_proj(x))  # (B, H, Tq, hd)
        if memory is not None and cache is not None and cache.k is not None:
            k, v = cache.k, cache.v  # cross-attention: the memory's keys never change
            assert v is not None
        else:
            k, v = (
                self._split(t) for t in self.kv_proj(x if memory is None else memory).chunk(2, -1)
            )
            if cache is not None:
                if memory is None and cache.k is not None and cache.v is not None:
                    k = torch.cat([cache.k, k], dim=2)  # (B, H, Tpast+Tq, hd)
                    v = torch.cat([cache.v, v], dim=2)
                # Split from one projection, k and v are strided views; stored as they
                # are, every later step's products would copy them first.
                k, v = k.contiguous(), v.contiguous()
                cache.k, cache.v = k, v
        tk = k.shape[2]
        is_self = memory is None
        mask = build_mask(tq, tk, causal and is_self, key_padding_mask, x.device)
        p = self.dropout if self.training else 0.0
        weights: Tensor | None = None
        if need_weights:
            scores = (q * (1.0 / math.sqrt(self.head_dim))) @ k.transpose(-2, -1)  # (B, H, Tq, Tk)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = torch.softmax(scores.float(), dim=-1).to(q.dtype)
            y = F.dropout(weights, p, self.training) @ v  # (B, H, Tq, hd)
        elif mask is None and causal and is_self and tq == tk:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).reshape(b, tq, d)  # (B, Tq, D)
        return self.out_proj(y), weights


class FeedForward(nn.Module):
    """The position-wise two-layer network: ``Linear -> activation -> Linear``."""

    def __init__(
        self, dim: int, ff_dim: int, dropout: float = 0.0, activation: str = "gelu"
    ) -> None:
        super().__init__()
        acts = {"gelu": nn.GELU, "relu": nn.ReLU}
        if activation not in acts:
            raise ValueError(f"unknown activation {activation!r}; choose gelu or relu")
        self.net = nn.Sequential(
            nn.Linear(dim, ff_dim),
            acts[activation](),
            nn.Linear(ff_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


@dataclass
class BlockCache:
    """The caches of one :class:`Block`: its self-attention and its cross-attention."""

    self_attn: KVCache = field(default_factory=KVCache)
    cross_attn: KVCache = field(default_factory=KVCache)

    def reorder(self, index: Tensor) -> None:
        self.self_attn.reorder(index)
        self.cross_attn.reorder(index)


class Block(nn.Module):
    """A pre-layer-norm Transformer block, optionally with cross-attention.

    ``x = x + SelfAttn(LN(x)); [x = x + CrossAttn(LN(x), memory)]; x = x + FFN(LN(x))``.
    Pre-LN trains stably without the long warm-up post-LN (d2l's layout) needs.
    With ``need_weights=True`` the attention matrices are kept on the block as
    ``self_weights`` and ``cross_weights`` (as d2l keeps ``attention_weights``).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ff_dim: int,
        dropout: float = 0.0,
        cross_attention: bool = False,
        activation: str = "gelu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.ln_self = nn.LayerNorm(dim)
        self.self_attn = MultiHeadAttention(dim, heads, dropout, bias)
        self.ln_cross = nn.LayerNorm(dim) if cross_attention else None
        self.cross_attn = MultiHeadAttention(dim, heads, dropout, bias) if cross_attention else None
        self.ln_ff = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_dim, dropout, activation)
        self.drop = nn.Dropout(dropout)
        self.self_weights: Tensor | None = None
        self.cross_weights: Tensor | None = None

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        cache: BlockCache | None = None,
    ) -> Tensor:
        # x: (B, T, D); memory: (B, S, D) or None
        h, self.self_weights = self.self_attn(
            self.ln_self(x),
            causal=causal,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            cache=cache.self_attn if cache is not None else None,
        )
        x = x + self.drop(h)
        if self.cross_attn is not None and self.ln_cross is not None:
            if memory is None:
                raise ValueError("this block has cross-attention and needs a memory")
            h, self.cross_weights = self.cross_attn(
                self.ln_cross(x),
                memory,
                key_padding_mask=memory_padding_mask,
                need_weights=need_weights,
                cache=cache.cross_attn if cache is not None else None,
            )
            x = x + self.drop(h)
        return x + self.ff(self.ln_ff(x))


def init_weights(module: nn.Module, layers: int, std: float = 0.02) -> None:
    """GPT-2 initialisation: N(0, 0.02) weights, zero biases, and the projections
    that feed the residual stream scaled by ``1/sqrt(2 * layers)`` so its variance
    does not grow with depth."""
    for name, p in module.named_parameters():
        if p.dim() < 2:
            if name.endswith("bias"):
                nn.init.zeros_(p)
            continue
        scale = (
            1.0 / math.sqrt(2 * layers)
            if name.endswith(("out_proj.weight", "net.2.weight"))
            else 1.0
        )
        nn.init.normal_(p, mean=0.0, std=std * scale)
