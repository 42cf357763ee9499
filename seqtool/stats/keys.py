"""N-grams as integer keys, and sort-based counting on them.

An n-gram of token ids ``(i1, ..., in)`` is packed into one int64 key,
``i1 << (b*(n-1)) | ... | in``, with ``b`` bits per id, whenever ``n*b <= 63``.
Packing keeps the lexicographic order of the id tuples, so sorted keys are
sorted n-grams, and counting is ``np.unique`` on one integer column: far faster
than hashing Python tuples.  When the vocabulary is too large for one word
(``n*b > 63``) the keys are the id rows themselves, an ``(m, n)`` int64 matrix,
handled with ``np.lexsort``; the functions below accept either form.

Counts of many chunks are merged with a sorted-array merge (``searchsorted`` +
``insert``), so memory stays a small multiple of the number of distinct n-grams.
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


def _sort_order(keys: np.ndarray) -> np.ndarray:
    if keys.ndim == 1:
        return np.argsort(keys)
    return np.lexsort(keys.T[::-1])  # first column is the primary key


def count_unique(
    keys: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their counts (or summed weights); (k,) or (k, n), and (k,) int64."""
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=np.int64)
    if weights is None and keys.ndim == 1:
        u, c = np.unique(keys, return_counts=True)
        return u, c.astype(np.int64, copy=False)
    order = _sort_order(keys)
    k = keys[order]
    starts = _group_starts(k)
    if weights is None:
        counts = np.diff(np.append(starts, len(k))).astype(np.int64)
    else:
        counts = np.add.reduceat(weights[order], starts).astype(np.int64, copy=False)
    return k[starts], counts


def merge_sorted(
    a_keys: np.ndarray, a_counts: np.ndarray, b_keys: np.ndarray, b_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted distinct-key tables, adding the counts of keys present in both.

    For 1-D keys this is a ``searchsorted`` + ``insert`` merge: the result and one
    copy are the only large allocations, unlike concatenating and re-sorting.
    """
    if len(a_keys) == 0:
        return b_keys, b_counts
    if len(b_keys) == 0:
        return a_keys, a_counts
    if a_keys.ndim == 2 or b_keys.ndim == 2:
        return count_unique(np.concatenate((a_keys, b_keys)), np.concatenate((a_counts, b_counts)))
    pos = np.searchsorted(a_keys, b_keys)
    found = a_keys[np.minimum(pos, len(a_keys) - 1)] == b_keys
    a_counts = a_counts.copy()
    a_counts[pos[found]] += b_counts[found]  # distinct keys: no repeated positions
    new = ~found
    return np.insert(a_keys, pos[new], b_keys[new]), np.insert(a_counts, pos[new], b_counts[new])


class KeyTable:
    """Counts of one n-gram order, accumulated chunk by chunk in bounded memory.

    ``keys`` (sorted, distinct) and ``counts`` hold everything merged so far;
    chunk results wait in ``pending`` until they add up to half the table (or
    ``floor`` rows), then are merged at once, so each row is merged O(log) times.
    """

    def __init__(self, n: int, bits: int | None = None, floor: int = 1 << 21) -> None:
        self.n = n
        self.bits = bits = bits_for(1, n) if bits is None else bits
        self.floor = floor
        self.keys = np.zeros(0, dtype=np.int64) if packs(n, bits) else np.zeros((0, n), np.int64)
        self.counts = np.zeros(0, dtype=np.int64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_rows = 0

    def widen(self, bits: int) -> None:
        """Use ``bits`` per id from now on (the vocabulary outgrew the old width)."""
        if bits <= self.bits:
            return
        self.keys = repack(self.keys, self.n, self.bits, bits)
        self.pending = [(repack(k, self.n, self.bits, bits), c) for k, c in self.pending]
        self.bits = bits

    def add_ids(self, cols: list[np.ndarray]) -> None:
        """Count the n-grams given as n id columns (ids < 2**bits)."""
        if len(cols[0]):
            self.add_counts(*count_unique(pack(cols, self.bits)))

    def add_counts(self, keys: np.ndarray, counts: np.ndarray) -> None:
        """Add sorted distinct keys (packed with ``self.bits``) and their counts."""
        if not len(keys):
            return
        self.pending.append((keys, counts))
        self.pending_rows += len(keys)
        if self.pending_rows >= max(self.floor, len(self.keys) // 2):
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if len(self.pending) == 1:
            k, c = self.pending[0]
        else:
            k, c = count_unique(
                np.concatenate([p[0] for p in self.pending]),
                np.concatenate([p[1] for p in self.pending]),
            )
        self.pending, self.pending_rows = [], 0
        self.keys, self.counts = merge_sorted(self.keys, self.counts, k, c)

    def rows(self) -> np.ndarray:
        """All distinct n-grams as (m, n) id rows, in key order (after a flush)."""
        self.flush()
        return unpack(self.keys, self.n, self.bits)
