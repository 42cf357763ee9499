"""fastText's supervised model in numpy: the ``bow`` classifier without torch.

The same model as :class:`seqtool.models.classifier.BagOfWords` (the mean of the
word vectors and of the hashed word n-gram vectors of a line, then one linear
layer), with the same n-gram hash and the same weights, so its parameters load
into that module as they are.  Training is fastText's: plain SGD, the gradient of
each line's loss spread evenly over the rows of its words and n-grams.  In numpy a
mini-batch is a dozen array calls, and no torch import (1-2 s of CPU) is paid, so
a fastText-sized job (SST-2, 5 epochs) trains in a fraction of a second.

Lines are stored once as one flat array of feature rows (``words`` rows first,
then ``1 + buckets`` n-gram rows, row ``words`` being the unused "no n-gram" row)
with offsets; an epoch permutes the lines and cuts the permuted flat array into
batches, so a batch is contiguous slices, not Python lists.

Example::

    >>> feats = Features.build([[4, 5, 6], [], [5]], word_ngrams=2, buckets=10)
    >>> feats.counts.tolist()        # 3 words + 2 bigrams, nothing, 1 word
    [5, 0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

HASH_MULT = 116_049_371  # fastText's n-gram hash multiplier (as BagOfWords)
HASH_MOD = 2_147_483_647


@dataclass
class Features:
    """Lines as feature rows: ``rows[offsets[i]:offsets[i + 1]]`` are line ``i``'s."""

    rows: np.ndarray  # (F,) int64 rows of the joint table
    offsets: np.ndarray  # (N + 1,) int64

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def build(
        cls, ids: Sequence[Sequence[int]], word_ngrams: int, buckets: int, words: int = 0
    ) -> Features:
        """Word ids and hashed n-grams (2..``word_ngrams``) of each line; n-gram
        ``h`` (1..buckets, as BagOfWords.ngram_ids) becomes row ``words + h``."""
        lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        line_of = np.repeat(np.arange(len(ids)), lengths)
        parts, owners = [flat], [line_of]
        h = flat
        for n in range(2, word_ngrams + 1):
            # h[j] hashes the n-1 words from flat[j]; extend it by the next word
            h = (h[:-1] * HASH_MULT + flat[n - 1 :]) % HASH_MOD
            same = line_of[: len(h)] == line_of[n - 1 : n - 1 + len(h)]  # inside one line
            parts.append(h[same] % buckets + 1 + words)
            owners.append(line_of[: len(h)][same])
        rows = np.concatenate(parts)
        owner = np.concatenate(owners)
        order = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=len(ids)) if len(owner) else np.zeros(len(ids), int)
        return cls(rows[order], np.concatenate([[0], np.cumsum(counts)]).astype(np.int64))


@dataclass
class BowWeights:
    """The joint input table (words, then n-grams) and the output layer."""

    table: np.ndarray  # (words [+ 1 + buckets], D) float32
    out_w: np.ndarray  # (K, D)
    out_b: np.ndarray  # (K,)
    words: int

    @classmethod
    def init(
        cls, words: int, classes: int, dim: int, ngram_rows: int, rng: np.random.Generator
    ) -> BowWeights:
        """Inputs uniform in +-1/sqrt(dim) (as BagOfWords; padding rows zero), output zero."""
        a = 1.0 / math.sqrt(dim)
        table = rng.random((words + ngram_rows, dim), dtype=np.float32)
        table *= np.float32(2.0 * a)
        table -= np.float32(a)
        table[0] = 0.0  # <pad>
        if ngram_rows:
            table[words] = 0.0  # "no n-gram"
        return cls(
            table, np.zeros((classes, dim), np.float32), np.zeros(classes, np.float32), words
        )

    def copy(self, into: BowWeights | None = None) -> BowWeights:
        """A copy (written over ``into``'s arrays when given: no new 40 MB tables)."""
        if into is None:
            return BowWeights(self.table.copy(), self.out_w.copy(), self.out_b.copy(), self.words)
        for src, dst in (
            (self.table, into.table),
            (self.out_w, into.out_w),
            (self.out_b, into.out_b),
        ):
            np.copyto(dst, src)
        return into

    def state_dict(self) -> dict[str, np.ndarray]:
        """Named as :class:`~seqtool.models.classifier.BagOfWords` names its parameters."""
        state = {"embedding.weight": self.table[: self.words]}
        if len(self.table) > self.words:
            state["ngrams.weight"] = self.table[self.words :]
        state["out.weight"] = self.out_w
        state["out.bias"] = self.out_b
        return state


def _segment_mean(table: np.ndarray, rows: np.ndarray, starts: np.ndarray, inv: np.ndarray):
    """``(B, D)``: mean of ``table[rows]`` over each segment (``starts``; empty ones 0)."""
    # one zero row (<pad>) at the end keeps every start a valid index: an empty
    # line's "sum" is then some single row, and its inv of 0 removes it
    sums = np.add.reduceat(table[np.append(rows, 0)], starts, axis=0)
    return sums * inv[:, None]


def probs(w: BowWeights, feats: Features, batch: int = 4096) -> np.ndarray:
    """``(N, K)`` class probabilities of every line of ``feats``."""
    counts = feats.counts
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0).astype(np.float32)
    out = np.empty((len(feats), len(w.out_b)), np.float32)
    for lo in range(0, len(feats), batch):
        hi = min(lo + batch, len(feats))
        a, b = feats.offsets[lo], feats.offsets[hi]
        h = _segment_mean(w.table, feats.rows[a:b], feats.offsets[lo:hi] - a, inv[lo:hi])
        z = h @ w.out_w.T + w.out_b
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out[lo:hi] = e / e.sum(axis=1, keepdims=True)
    return out


def permuted(feats: Features, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The feature rows of the lines in ``order``, flat, and their new offsets."""
    counts = feats.counts[order]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    # position j of the new array reads old position starts[line(j)] + (j - offsets[line(j)])
    shift = np.repeat(feats.offsets[order] - offsets[:-1], counts)
    return feats.rows[np.arange(offsets[-1]) + shift], offsets


def sgd_step(
    w: BowWeights,
    rows: np.ndarray,
    starts: np.ndarray,
    counts: np.ndarray,
    labels: np.ndarray,
    lr: float,
) -> float:
    """One SGD step on a batch (its feature ``rows`` flat, line ``i``'s from
    ``starts[i]``); the gradient is that of the batch's mean cross-entropy.
    Returns the summed loss of the batch (before the step)."""
    inv = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0).astype(np.float32)
    h = _segment_mean(w.table, rows, starts, inv)  # (B, D)
    z = h @ w.out_w.T + w.out_b  # (B, K)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    b = np.arange(len(labels))
    loss = float(-np.log(np.maximum(p[b, labels], 1e-30)).sum())
    g = p
    g[b, labels] -= 1.0
    g *= np.float32(lr / len(labels))  # (B, K): the step on the logits
    gh = (g @ w.out_w) * inv[:, None]  # (B, D): the step on each row of a line
    w.out_w -= g.T @ h
    w.out_b -= g.sum(axis=0)
    if len(rows):
        # A row may occur in several lines (and twice in one): its step is the sum of
        # gh over its occurrences.  With the occurrences sorted by row, rows seen once
        # (most of them) take their line's step directly, and the others one segment
        # sum each: exact, and far cheaper than a scatter-add (np.subtract.at) or a
        # reduceat over every row.
        order = np.argsort(rows, kind="stable")
        ranked = rows[order]
        line = np.repeat(b, counts)[order]
        first = np.flatnonzero(np.concatenate([[True], ranked[1:] != ranked[:-1]]))
        runs = np.diff(np.append(first, len(ranked)))
        once = first[runs == 1]
        w.table[ranked[once]] -= gh[line[once]]
        many = runs > 1
        if many.any():
            inside = np.flatnonzero(np.repeat(many, runs))  # sorted positions of repeats
            starts = np.concatenate([[0], np.cumsum(runs[many])[:-1]])
            w.table[ranked[first[many]]] -= np.add.reduceat(gh[line[inside]], starts, axis=0)
        w.table[0] = 0.0  # <pad> never moves (only an empty line could touch it)
    return loss
