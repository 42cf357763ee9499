"""N-grams as integer keys, and sort-based counting on them.

An n-gram of token ids ``(i1, ..., in)`` is packed into one int64 key,
``i1 << (b*(n-1)) | ... | in``, with ``b`` bits per id, whenever ``n*b <= 63``.
Packing keeps the lexicographic order of the id tuples, so sorted keys are
sorted n-grams, and counting is ``np.unique`` on one integer column: far faster
than hashing Python tuples.  When the vocabulary is too large for one word
(``n*b > 63``) the keys are the id rows themselves, an ``(m, n)`` int64 matrix,
handled with ``np.lexsort``; the functions below accept either form.

Raw keys of many chunks are sorted and counted together, then merged into the
sorted table (a stable sort of the two runs), so memory stays a small multiple of
the number of distinct n-grams.
"""

from __future__ import annotations

import numpy as np

MIN_BITS = 10


def bits_for(vocab_size: int, n: int = 1) -> int:
    """Bits per id for n-grams over a vocabulary of this size.

    Two bits of room (4x growth before a repack) when that still packs n ids
    into one int64; otherwise the widest width that packs (a trigram of a
    2-million-word vocabulary still fits: 3 x 21 bits); id rows only beyond.
    """
    need = max(vocab_size - 1, 1).bit_length()
    roomy = max(MIN_BITS, need + 2)
    if packs(n, roomy):
        return roomy
    return max(need, 63 // n)


def packs(n: int, bits: int) -> bool:
    """True when n ids of ``bits`` bits fit one non-negative int64."""
    return n * bits <= 63


def pack(cols: list[np.ndarray], bits: int) -> np.ndarray:
    """Id columns (n arrays of m ids) -> keys: (m,) int64 if they fit, else (m, n) int64 rows."""
    if not packs(len(cols), bits):
        return np.stack([c.astype(np.int64, copy=False) for c in cols], axis=1)
    key = cols[0].astype(np.int64, copy=True)
    for c in cols[1:]:
        key <<= bits
        key |= c
    return key


def unpack(keys: np.ndarray, n: int, bits: int) -> np.ndarray:
    """Keys -> (m, n) int64 id rows (the inverse of :func:`pack`)."""
    if keys.ndim == 2:
        return keys
    rows = np.empty((len(keys), n), dtype=np.int64)
    mask = (1 << bits) - 1
    for j in range(n):
        rows[:, j] = (keys >> (bits * (n - 1 - j))) & mask
    return rows


def repack(keys: np.ndarray, n: int, old_bits: int, new_bits: int) -> np.ndarray:
    """Keys packed with ``old_bits`` per id, re-packed with ``new_bits`` (order preserved)."""
    if old_bits == new_bits or (keys.ndim == 2 and not packs(n, new_bits)):
        return keys
    rows = unpack(keys, n, old_bits)
    return pack([rows[:, j] for j in range(n)], new_bits)


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    if sorted_keys.ndim == 1:
        change = sorted_keys[1:] != sorted_keys[:-1]
    else:
        change = np.any(sorted_keys[1:] != sorted_keys[:-1], axis=1)
    return np.flatnonzero(np.concatenate(([True], change)))


def _sort_order(keys: np.ndarray, runs: bool = False) -> np.ndarray:
    if keys.ndim == 1:
        return np.argsort(keys, kind="stable" if runs else None)  # timsort merges runs
    return np.lexsort(keys.T[::-1])  # first column is the primary key


def count_unique(
    keys: np.ndarray, weights: np.ndarray | None = None, runs: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their counts (or summed weights); (k,) or (k, n), and (k,) int64.

    ``runs``: the keys are a few sorted runs one after another (sorted by merging them).
    """
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=np.int64)
    if weights is None and keys.ndim == 1:
        u, c = np.unique(keys, return_counts=True)
        return u, c.astype(np.int64, copy=False)
    order = _sort_order(keys, runs)
    k = keys[order]
    starts = _group_starts(k)
    if weights is None:
        counts = np.diff(np.append(starts, len(k))).astype(np.int64)
    else:
        counts = np.add.reduceat(weights[order], starts).astype(np.int64, copy=False)
    return k[starts], counts


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys and their counts of sorted 1-D keys."""
    first = np.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    del first
    counts = np.empty(len(starts), dtype=np.int64)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1:] = len(sorted_keys) - starts[-1:]
    return sorted_keys[starts], counts


def merge_sorted(
    a_keys: np.ndarray, a_counts: np.ndarray, b_keys: np.ndarray, b_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted distinct-key tables, adding the counts of keys present in both.

    For 1-D keys the two runs are concatenated and put in order with a stable
    ``argsort`` (timsort: a linear merge of the two runs); a key present in both
    then sits next to itself, and the pair is folded into one row.
    """
    if len(a_keys) == 0:
        return b_keys, b_counts
    if len(b_keys) == 0:
        return a_keys, a_counts
    if a_keys.ndim == 2 or b_keys.ndim == 2:
        return count_unique(np.concatenate((a_keys, b_keys)), np.concatenate((a_counts, b_counts)))
    keys = np.concatenate((a_keys, b_keys))
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    counts = np.concatenate((a_counts, b_counts))[order]
    del order
    return _fold_twins(keys, counts)


def _fold_twins(keys: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge the rows of sorted keys with a key equal to the previous one (at most pairs:
    a key of the first table, then the same key of the second)."""
    twin = np.flatnonzero(keys[1:] == keys[:-1])
    if not len(twin):
        return keys, counts
    counts[twin] += counts[twin + 1]
    keep = np.ones(len(keys), dtype=bool)
    keep[twin + 1] = False
    return keys[keep], counts[keep]


class KeyTable:
    """Counts of one n-gram order, accumulated chunk by chunk in bounded memory.

    ``keys`` (sorted, distinct) and ``counts`` hold everything merged so far.
    Chunk n-grams wait in ``pending`` as raw keys (or keys with counts) until they
    weigh as much as the table has rows (or ``floor``); then they are sorted and
    run-length counted at once and merged into the table, so each row is merged
    O(log) times and the memory stays a small multiple of the distinct n-grams.
    """

    def __init__(self, n: int, bits: int | None = None, floor: int = 1 << 22) -> None:
        self.n = n
        self.bits = bits = bits_for(1, n) if bits is None else bits
        self.floor = floor
        self.keys = np.zeros(0, dtype=np.int64) if packs(n, bits) else np.zeros((0, n), np.int64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        self.pending_rows = 0
        self._chunks = 0
        self._repeats = True  # the last chunk counted at once had few distinct keys

    def widen(self, bits: int) -> None:
        """Use ``bits`` per id from now on (the vocabulary outgrew the old width)."""
        if bits <= self.bits:
            return
        self.keys = repack(self.keys, self.n, self.bits, bits)
        self.pending = [(repack(k, self.n, self.bits, bits), c) for k, c in self.pending]
        self.bits = bits

    def add_ids(self, cols: list[np.ndarray]) -> None:
        """Count the n-grams given as n id columns (ids < 2**bits)."""
        if not len(cols[0]):
            return
        keys = pack(cols, self.bits)
        chunk = keys.ndim == 1 and len(keys) >= 1 << 12  # not a few stitched n-grams
        self._chunks += chunk
        if chunk and (self._repeats or self._chunks % 16 == 1):
            # Counting the chunk at once keeps repetitive input (few distinct
            # n-grams) small while it waits; mostly distinct keys wait raw instead.
            keys.sort()
            k, c = _runs(keys)
            self._repeats = 2 * len(k) <= len(keys)
            if self._repeats:
                self._add(k, c)
                return
        self._add(keys, None)

    def add_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add keys (packed with ``self.bits``; in any order, repeats allowed) and counts."""
        if len(keys):
            self._add(keys, counts)

    def _add(self, keys: np.ndarray, counts: np.ndarray | None) -> None:
        self.pending.append((keys, counts))
        # Raw keys are sorted in place when flushed; keys with counts take an argsort
        # and gathers of both (about four int64s a row), so they count four times.
        self.pending_rows += len(keys) if counts is None else 4 * len(keys)
        if self.pending_rows >= max(self.floor, len(self.keys)):
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending, self.pending_rows = self.pending, [], 0
        raw = all(c is None for _, c in pending)
        weights = None
        if not raw:
            weights = np.concatenate(
                [np.ones(len(k), np.int64) if c is None else c for k, c in pending]
            )
        if len(pending) > 1:
            keys = np.concatenate([k for k, _ in pending])
            del pending
            if raw and keys.ndim == 1:
                keys.sort()  # our own copy: sorted in place
        else:
            keys = pending.pop()[0]
            if raw and keys.ndim == 1:
                keys = np.sort(keys)
        if raw and keys.ndim == 1:
            k, c = _runs(keys)
        else:
            k, c = count_unique(keys, weights, runs=True)
        del keys
        if self.keys.ndim == 2 or k.ndim == 2 or not len(self.keys):
            self.keys, self.counts = merge_sorted(self.keys, self.counts, k, c)
            return
        # merge_sorted's steps, dropping each array as soon as it is used: the peak is
        # about four int64 arrays of the merged size.
        keys = np.concatenate((self.keys, k))
        self.keys = k = np.zeros(0, dtype=np.int64)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        counts = np.concatenate((self.counts, c))
        self.counts = c = np.zeros(0, dtype=np.int64)
        counts = counts[order]
        del order
        self.keys, self.counts = _fold_twins(keys, counts)

    def rows(self) -> np.ndarray:
        """All distinct n-grams as (m, n) id rows, in key order (after a flush)."""
        self.flush()
        return unpack(self.keys, self.n, self.bits)
