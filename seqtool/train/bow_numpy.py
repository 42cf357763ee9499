"""fastText's supervised model in numpy: the ``bow`` classifier without torch.

The same model as :class:`seqtool.models.classifier.BagOfWords` (the mean of the
word vectors and of the hashed word n-gram vectors of a line, then one linear
layer), with the same n-gram hash and the same weights, so its parameters load
into that module as they are.  Training is fastText's plain SGD, the gradient of
each line's loss spread evenly over the rows of its words and n-grams, on
mini-batches.  With at least as many dimensions as classes (the usual case) the
output layer is held fixed and only K columns of the input table train
(:data:`OUTPUT_SCALE`, :class:`FixedOutputTrainer`): a step is then a dozen array
calls over K numbers per row; otherwise every weight trains (:func:`sgd_step`,
:class:`FullTrainer`).  No torch import (1-2 s of CPU) is paid, so a fastText-sized
job (SST-2, 5 epochs) trains in well under a tenth of a second.

Lines are stored once as one flat array of feature rows (``words`` rows first,
then ``1 + buckets`` n-gram rows, row ``words`` being the unused "no n-gram" row)
with offsets; batches are contiguous slices of a permuted copy, not Python lists.

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
        return cls.from_flat(flat, lengths, word_ngrams, buckets, words)

    @classmethod
    def from_flat(
        cls, flat: np.ndarray, lengths: np.ndarray, word_ngrams: int, buckets: int, words: int = 0
    ) -> Features:
        """:meth:`build` from the word ids of every line in one array (``lengths``
        of them per line)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        flat = np.asarray(flat, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths)])
        if word_ngrams < 2 or len(flat) == 0:
            return cls(flat, starts)
        line_of = np.repeat(np.arange(len(lengths)), lengths)
        parts, owners = [flat], [line_of]
        h = flat
        for n in range(2, word_ngrams + 1):
            # h[j] hashes the n-1 words from flat[j]; extend it by the next word
            h = (h[:-1] * HASH_MULT + flat[n - 1 :]) % HASH_MOD
            same = line_of[: len(h)] == line_of[n - 1 : n - 1 + len(h)]  # inside one line
            parts.append(h[same] % buckets + 1 + words)
            owners.append(line_of[: len(h)][same])
        owner = np.concatenate(owners)
        order = np.argsort(owner, kind="stable")
        counts = np.bincount(owner, minlength=len(lengths))
        return cls(np.concatenate(parts)[order], np.concatenate([[0], np.cumsum(counts)]))


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


# ------------------------------------------------------------ fixed output layer
# With at least as many dimensions as classes, the numpy engine trains the model
# with its output layer held at OUTPUT_SCALE times the identity on the first K
# dimensions (K classes) and the bias at zero (fastText's output has none): the
# logits of a line are then OUTPUT_SCALE times the mean of the first K columns
# of its rows, and only those K columns move.  Any function the model computes
# with dim >= K is one of these (logits linear in the bag of features), and a
# step reads and writes K numbers per row instead of dim, with no random start.
# SST-2 dev accuracy, 5 epochs at lr 8, mean of seeds 1-8: 0.784 (0.779-0.789),
# where training every weight gave 0.775-0.786 (dim 100, lr 8-16) in about ten
# times the time.  The scale sets the step: a row's logit moves by lr * scale**2
# times its gradient, as the trained output layer's norm makes it in full SGD.
OUTPUT_SCALE = 16.0


def _softmax_columns(z: np.ndarray) -> np.ndarray:
    """Softmax of each column of ``z`` (K, B), in place."""
    z -= z.max(axis=0, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=0, keepdims=True)
    return z


def _inverse_counts(counts: np.ndarray) -> np.ndarray:
    """1/count per line as float32; 0 for an empty line."""
    return np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0).astype(np.float32)


@dataclass
class Batches:
    """One shuffle of the lines cut into fixed mini-batches, laid out for
    :func:`fixed_output_step`: batch ``b`` holds lines ``b*size`` up to
    ``(b+1)*size`` of the shuffled order, and their rows are
    ``rows[at[b]:at[b+1]]``, the last one a ``<pad>`` row (always zero) so that
    every line start is a valid index."""

    size: int
    rows: np.ndarray  # (F + batches,) the lines' feature rows, batch after batch
    at: np.ndarray  # (batches + 1,) where each batch's rows start
    local: np.ndarray  # (N,) where each line's rows start, from its batch's first row
    inv: np.ndarray  # (N,) float32: 1 / rows of the line (0 if none)
    labels: np.ndarray  # (N,) class ids in the shuffled order
    gold: np.ndarray  # (N,) label * lines of the batch + line within it: index into (K, B)
    member: np.ndarray  # (F + batches,) the line of each occurrence within its batch

    @classmethod
    def plan(cls, feats: Features, labels: np.ndarray, size: int, order: np.ndarray) -> Batches:
        rows, offsets = permuted(feats, order)
        n = len(order)
        counts = np.diff(offsets)
        first = np.arange(0, n, size)  # each batch's first line
        bounds = offsets[np.append(first, n)]  # each batch's first occurrence
        line = np.repeat(np.arange(n), counts)
        batch = line // size
        pads = bounds[1:]  # np.insert puts a <pad> row before each of these: after each batch
        return cls(
            size=size,
            rows=np.insert(rows, pads, 0),
            at=bounds + np.arange(len(bounds)),
            local=offsets[:-1] - bounds[np.arange(n) // size],
            inv=_inverse_counts(counts),
            labels=np.asarray(labels)[order],
            gold=np.asarray(labels)[order] * np.diff(np.append(first, n))[np.arange(n) // size]
            + np.arange(n) % size,
            member=np.insert(line - batch * size, pads, 0),
        )

    def __len__(self) -> int:
        return len(self.at) - 1


def _line_sums(v: np.ndarray, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(K, B): the sum of ``v``'s columns ``rows`` over each line (from ``starts``).
    ``rows`` ends with a zero row, so every start is a valid index; an empty line
    then sums one stray row, which its inverse count of 0 removes."""
    return np.add.reduceat(v.take(rows, axis=1), starts, axis=1)


def fixed_output_step(
    v: np.ndarray, batches: Batches, b: int, lr: float, scale: float = OUTPUT_SCALE
) -> float:
    """One SGD step on batch ``b`` for the input table's first K columns ``v``
    (K, rows, C-contiguous), the output layer held at ``scale`` times the identity; the gradient
    is that of the batch's mean cross-entropy.  Returns the batch's summed loss."""
    lo = b * batches.size
    hi = min(lo + batches.size, len(batches.inv))
    a, z = batches.at[b], batches.at[b + 1]
    inv = batches.inv[lo:hi]
    p = _softmax_columns(_line_sums(v, batches.rows[a:z], batches.local[lo:hi]) * (inv * scale))
    gold = batches.gold[lo:hi]  # where each line's label is in the flat p
    picked = p.reshape(-1).take(gold)
    loss = float(-np.log(np.maximum(picked, 1e-30)).sum())
    p.reshape(-1).put(gold, picked - 1.0)
    p *= inv * np.float32(lr * scale / (hi - lo))  # (K, B): the step on each row of a line
    # every occurrence of a row steps it (numpy >= 1.25 scatters a 1-D ufunc.at fast)
    rows = batches.rows[a : z - 1] + v.shape[1] * np.arange(len(v))[:, None]  # (K, F_b)
    steps = p.take(batches.member[a : z - 1], axis=1)  # (K, F_b)
    np.subtract.at(v.reshape(-1), rows.ravel(), steps.ravel())  # v is contiguous: a view
    return loss


def fixed_output_probs(
    v: np.ndarray, feats: Features, scale: float = OUTPUT_SCALE, batch: int = 4096
) -> np.ndarray:
    """``(N, K)`` class probabilities of every line of ``feats`` (see :func:`fixed_output_step`)."""
    inv = _inverse_counts(feats.counts) * np.float32(scale)
    out = np.empty((len(feats), len(v)), np.float32)
    for lo in range(0, len(feats), batch):
        hi = min(lo + batch, len(feats))
        a, b = feats.offsets[lo], feats.offsets[hi]
        rows = np.append(feats.rows[a:b], 0)
        out[lo:hi] = _softmax_columns(_line_sums(v, rows, feats.offsets[lo:hi] - a) * inv[lo:hi]).T
    return out


def fixed_output_weights(
    v: np.ndarray, dim: int, words: int, scale: float = OUTPUT_SCALE
) -> BowWeights:
    """The :class:`BowWeights` of ``v`` (K, rows): its rows in the table's first K
    columns, the output layer ``scale`` times the identity, no bias."""
    k, rows = v.shape
    table = np.zeros((rows, dim), np.float32)
    table[:, :k] = v.T
    out_w = np.zeros((k, dim), np.float32)
    out_w[:, :k] = np.float32(scale) * np.eye(k, dtype=np.float32)
    return BowWeights(table, out_w, np.zeros(k, np.float32), words)


class FixedOutputTrainer:
    """Trains the table's first K columns with the output layer fixed (see
    :data:`OUTPUT_SCALE`); the lines are shuffled once into fixed batches, and
    each epoch visits the batches in a new random order."""

    def __init__(
        self, feats: Features, labels: np.ndarray, rows: int, classes: int, dim: int,
        words: int, batch: int, rng: np.random.Generator,
    ) -> None:  # fmt: skip
        self.v = np.zeros((classes, rows), np.float32)
        self.dim, self.words = dim, words
        self.batches = Batches.plan(feats, labels, batch, rng.permutation(len(feats)))

    def epoch(self, rng: np.random.Generator) -> np.ndarray:
        """The order of this epoch's batches."""
        return rng.permutation(len(self.batches))

    def lines(self, b: int) -> int:
        return min(self.batches.size, len(self.batches.inv) - b * self.batches.size)

    def step(self, b: int, lr: float) -> float:
        return fixed_output_step(self.v, self.batches, b, lr)

    def probs(self, feats: Features) -> np.ndarray:
        return fixed_output_probs(self.v, feats)

    def arrays(self) -> list[np.ndarray]:
        return [self.v]

    def weights(self, arrays: list[np.ndarray]) -> BowWeights:
        return fixed_output_weights(arrays[0], self.dim, self.words)


class FullTrainer:
    """Trains every parameter (:func:`sgd_step`), the lines shuffled anew each epoch."""

    def __init__(
        self, feats: Features, labels: np.ndarray, rows: int, classes: int, dim: int,
        words: int, batch: int, rng: np.random.Generator,
    ) -> None:  # fmt: skip
        self.w = BowWeights.init(words, classes, dim, rows - words, rng)
        self.feats, self.labels, self.size = feats, labels, batch
        self.rows, self.offsets = feats.rows, feats.offsets
        self.counts, self.order_labels = feats.counts, labels

    def epoch(self, rng: np.random.Generator) -> np.ndarray:
        order = rng.permutation(len(self.feats))
        self.rows, self.offsets = permuted(self.feats, order)
        self.counts, self.order_labels = self.feats.counts[order], self.labels[order]
        return np.arange(math.ceil(len(self.feats) / self.size))

    def lines(self, b: int) -> int:
        return min(self.size, len(self.feats) - b * self.size)

    def step(self, b: int, lr: float) -> float:
        lo, hi = b * self.size, min(len(self.feats), (b + 1) * self.size)
        a = self.offsets[lo]
        return sgd_step(
            self.w, self.rows[a : self.offsets[hi]], self.offsets[lo:hi] - a,
            self.counts[lo:hi], self.order_labels[lo:hi], lr,
        )  # fmt: skip

    def probs(self, feats: Features) -> np.ndarray:
        return probs(self.w, feats)

    def arrays(self) -> list[np.ndarray]:
        return [self.w.table, self.w.out_w, self.w.out_b]

    def weights(self, arrays: list[np.ndarray]) -> BowWeights:
        table, out_w, out_b = arrays
        return BowWeights(table, out_w, out_b, self.w.words)


__all__ = [
    "OUTPUT_SCALE",
    "Batches",
    "BowWeights",
    "Features",
    "FixedOutputTrainer",
    "FullTrainer",
    "fixed_output_probs",
    "fixed_output_step",
    "fixed_output_weights",
    "permuted",
    "probs",
    "sgd_step",
]
