"""The d2l book's GRU encoder-decoder with Bahdanau (additive) attention.

Encoder: an embedding and a (bi- or unidirectional) multi-layer GRU over the
source; padding is packed away so the backward direction starts at the last
real token.  Decoder: at every step the last layer's previous hidden state
queries the encoder outputs through additive attention, the context is
concatenated with the embedding of the previous target token and fed to the
GRU, whose output is projected to the target vocabulary (d2l's
``Seq2SeqAttentionDecoder``).

:func:`masked_softmax` is d2l's: a softmax over the last axis that gives
exactly zero weight to key positions at or beyond each row's valid length.

Every translation model (this one and :mod:`seqtool.models.transformer_mt`)
offers the same decoding interface, used by :mod:`seqtool.decode.beam`:

* ``encode(src, src_lens) -> state`` for a padded ``(B, S)`` source;
* ``decode_step(tokens, state, step) -> (logits, state)``: one target position
  for ``(B,)`` previous tokens, logits ``(B, V)``;
* ``reorder(state, index) -> state``: keep batch rows ``index`` (beam search);
* ``forward(src, src_lens, tgt_in, need_weights=False) -> (logits, attention)``:
  teacher-forced logits ``(B, T, V)`` and, when asked, attention ``(B, T, S)``.

Example::

    >>> cfg = GRUAttnConfig(src_vocab=20, tgt_vocab=20, embed=8, hidden=8)
    >>> model = GRUAttn(cfg)
    >>> src = torch.tensor([[5, 6, 3], [7, 3, 0]]); lens = torch.tensor([3, 2])
    >>> logits, att = model(src, lens, torch.tensor([[2, 5], [2, 7]]), need_weights=True)
    >>> logits.shape, att.shape
    (torch.Size([2, 2, 20]), torch.Size([2, 2, 3]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtool.text.vocab import PAD


def length_mask(valid_lens: Tensor, size: int) -> Tensor:
    """``(..., size)`` bool, True at positions ``< valid_len`` (the ones to keep)."""
    return torch.arange(size, device=valid_lens.device) < valid_lens[..., None]


def masked_softmax(scores: Tensor, valid_lens: Tensor | None) -> Tensor:
    """Softmax over the last axis of ``(B, Q, K)`` scores, ignoring keys past the valid length.

    ``valid_lens`` is ``(B,)`` (one length per sequence) or ``(B, Q)`` (one per
    query), as in d2l.  Masked scores are replaced by the dtype's most negative
    number before the softmax, so their weights are exactly 0 and the weights of
    the valid keys are exactly those of a softmax over the valid keys alone.
    """
    if valid_lens is None:
        return torch.softmax(scores, dim=-1)
    if valid_lens.dim() == 1:
        valid_lens = valid_lens[:, None].expand(scores.shape[0], scores.shape[1])  # (B, Q)
    keep = length_mask(valid_lens, scores.shape[-1])  # (B, Q, K)
    return torch.softmax(scores.masked_fill(~keep, torch.finfo(scores.dtype).min), dim=-1)


class AdditiveAttention(nn.Module):
    """Bahdanau attention: ``score(q, k) = w_v . tanh(W_q q + W_k k)``.

    The keys' projection ``W_k k`` does not change while decoding, so
    :meth:`project_keys` computes it once per source and :meth:`attend` reuses it.
    """

    def __init__(self, key_size: int, query_size: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.W_k = nn.Linear(key_size, hidden, bias=False)
        self.W_q = nn.Linear(query_size, hidden, bias=False)
        self.w_v = nn.Linear(hidden, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.W_k(keys)  # (B, K, A)

    def attend(
        self, queries: Tensor, proj_keys: Tensor, values: Tensor, valid_lens: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        # queries (B, Q, Dq), proj_keys (B, K, A), values (B, K, Dv)
        features = torch.tanh(self.W_q(queries)[:, :, None, :] + proj_keys[:, None, :, :])
        scores = self.w_v(features).squeeze(-1)  # (B, Q, K)
        weights = masked_softmax(scores, valid_lens)  # (B, Q, K)
        return torch.bmm(self.dropout(weights), values), weights  # (B, Q, Dv), (B, Q, K)

    def forward(
        self, queries: Tensor, keys: Tensor, values: Tensor, valid_lens: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        return self.attend(queries, self.project_keys(keys), values, valid_lens)


@dataclass
class GRUAttnConfig:
    src_vocab: int
    tgt_vocab: int
    embed: int = 256
    hidden: int = 512
    layers: int = 2
    dropout: float = 0.2
    bidirectional: bool = True
    shared_embeddings: bool = False  # one embedding for source and target (joint vocabulary)


@dataclass
class GRUAttnState:
    """What the decoder carries from step to step."""

    hidden: Tensor  # (L, B, H) decoder GRU state
    memory: Tensor  # (B, S, H) encoder outputs (the attention values)
    proj_keys: Tensor  # (B, S, A) W_k applied to the memory, computed once
    src_lens: Tensor  # (B,)
    source: Tensor  # (B,) which source sentence each row translates


class GRUAttn(nn.Module):
    """A :class:`~seqtool.models.protocols.Seq2SeqModule`."""

    def __init__(self, cfg: GRUAttnConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.src_embed = nn.Embedding(cfg.src_vocab, cfg.embed, padding_idx=PAD)
        if cfg.shared_embeddings:
            if cfg.src_vocab != cfg.tgt_vocab:
                raise ValueError("shared embeddings need one joint vocabulary")
            self.tgt_embed = self.src_embed
        else:
            self.tgt_embed = nn.Embedding(cfg.tgt_vocab, cfg.embed, padding_idx=PAD)
        drop = cfg.dropout if cfg.layers > 1 else 0.0
        self.encoder = nn.GRU(
            cfg.embed,
            h,
            cfg.layers,
            batch_first=True,
            dropout=drop,
            bidirectional=cfg.bidirectional,
        )
        directions = 2 if cfg.bidirectional else 1
        # Bidirectional outputs (2H) and final states are brought back to H for the decoder.
        self.memory_proj = nn.Linear(2 * h, h) if cfg.bidirectional else None
        self.bridge = nn.Linear(2 * h, h) if cfg.bidirectional else None
        self.attention = AdditiveAttention(h, h, h, cfg.dropout)
        self.decoder = nn.GRU(cfg.embed + h, h, cfg.layers, batch_first=True, dropout=drop)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(h, cfg.tgt_vocab)
        self.directions = directions
        self.output_ids: Tensor | None = None  # the decoding shortlist (restrict_output)
        self._short: tuple[Tensor, Tensor] | None = None

    # ------------------------------------------------------------------ encoder
    def encode(self, src: Tensor, src_lens: Tensor) -> GRUAttnState:
        # src (B, S) padded with 0; src_lens (B,)
        x = self.drop(self.src_embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_lens.cpu(), batch_first=True, enforce_sorted=False)
        out_packed, h_n = self.encoder(packed)  # h_n (L*dirs, B, H)
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=src.shape[1])
        if self.memory_proj is not None and self.bridge is not None:
            out = self.memory_proj(out)  # (B, S, 2H) -> (B, S, H)
            layers, b = self.cfg.layers, src.shape[0]
            h_n = h_n.view(layers, 2, b, -1).transpose(1, 2).reshape(layers, b, -1)  # (L, B, 2H)
            h_n = torch.tanh(self.bridge(h_n))  # (L, B, H)
        memory = self.drop(out)
        rows = torch.arange(src.shape[0], device=src.device)
        keys = self.attention.project_keys(memory)
        return GRUAttnState(h_n.contiguous(), memory, keys, src_lens, rows)

    # ------------------------------------------------------------------ decoder
    def _step(self, emb: Tensor, state: GRUAttnState) -> tuple[Tensor, Tensor, Tensor]:
        # emb (B, 1, E): the previous target token's embedding
        query = state.hidden[-1][:, None, :]  # (B, 1, H)
        context, weights = self.attention.attend(
            query, state.proj_keys, state.memory, state.src_lens
        )  # (B, 1, H), (B, 1, S)
        out, hidden = self.decoder(torch.cat([context, emb], dim=-1), state.hidden)  # (B, 1, H)
        return out, hidden, weights

    def restrict_output(self, ids: Tensor | None) -> None:
        """Let :meth:`decode_step` score only the tokens ``ids`` (sorted, on the model's
        device), in that order; None scores the whole vocabulary again."""
        self.output_ids = ids
        self._short = (
            None
            if ids is None
            else (self.out.weight.detach()[ids].clone(), self.out.bias.detach()[ids].clone())
        )

    def decode_step(
        self, tokens: Tensor, state: GRUAttnState, step: int
    ) -> tuple[Tensor, GRUAttnState]:
        emb = self.tgt_embed(tokens)[:, None, :]  # (B, 1, E)
        out, hidden, _ = self._step(emb, state)
        state = GRUAttnState(hidden, state.memory, state.proj_keys, state.src_lens, state.source)
        h = out[:, 0]  # (B, H)
        if self._short is None:
            return self.out(h), state  # (B, V)
        weight, bias = self._short
        return torch.addmm(bias, h, weight.t()), state  # (B, V')

    def reorder(self, state: GRUAttnState, index: Tensor) -> GRUAttnState:
        hidden = state.hidden.index_select(1, index)
        source = state.source.index_select(0, index)
        if source.shape == state.source.shape and torch.equal(source, state.source):
            # Rows reshuffled within each sentence (beam search): the memory is unchanged.
            return GRUAttnState(hidden, state.memory, state.proj_keys, state.src_lens, source)
        return GRUAttnState(
            hidden,
            state.memory.index_select(0, index),
            state.proj_keys.index_select(0, index),
            state.src_lens.index_select(0, index),
            source,
        )

    def forward(
        self, src: Tensor, src_lens: Tensor, tgt_in: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        # Teacher forcing: tgt_in (B, T) is <bos> y1 .. y(n-1); one GRU step per position,
        # because each step's input depends on the attention computed from the last state.
        state = self.encode(src, src_lens)
        emb = self.drop(self.tgt_embed(tgt_in))  # (B, T, E)
        outs, weights = [], []
        for t in range(tgt_in.shape[1]):
            out, hidden, w = self._step(emb[:, t : t + 1], state)
            state = GRUAttnState(
                hidden, state.memory, state.proj_keys, state.src_lens, state.source
            )
            outs.append(out)
            if need_weights:
                weights.append(w)
        logits = self.out(self.drop(torch.cat(outs, dim=1)))  # (B, T, V)
        return logits, (torch.cat(weights, dim=1) if need_weights else None)  # (B, T, S)


def translation_loss(logits: Tensor, tgt_out: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Mean cross-entropy per target token (padding ignored), with optional label smoothing.

    ``logits`` (B, T, V), ``tgt_out`` (B, T).  Computed in float32 whatever the
    autocast precision, so the loss of a bf16 run is comparable with fp32's.
    """
    import torch.nn.functional as F

    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        tgt_out.reshape(-1),
        ignore_index=PAD,
        label_smoothing=label_smoothing,
    )
