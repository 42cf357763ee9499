"""Sentence n-gram counts kept as prefix-row keys, the layout estimation works on.

An n-gram of order k >= 2 is the key ``r << B | w``: ``r`` is the row of its first
k-1 words in the sorted order-(k-1) table (for k = 2, the word id itself) and ``w``
its last word, in ``B`` bits.  Sorted keys are then n-grams in lexicographic order,
every order's key is one int64 whatever the vocabulary, and the final tables are
the language model's own layout (``row * V + w``) without a second pass.

Token ids arrive a chunk of whole sentences at a time and wait until a batch of
them is gathered; then, order by order, the batch's n-grams are counted with one
sort (``r`` is the row its (k-1)-gram just got in the merged order-(k-1) table)
and merged into that order's table.  Rows of a table move when n-grams are
inserted before them, always upwards and in order, so the next order's keys are
renumbered with one gather and stay sorted.  Memory: the tables (one key and one
count per distinct n-gram) and the batch's per-token arrays.
"""

from __future__ import annotations

import numpy as np

from seqtool.errors import InputError
from seqtool.stats import heap

EOS = 2  # the id of </s>, which ends every sentence
MIN_BITS = 10
_BLOCK = 1 << 20  # rows renumbered at a time (bounds the temporaries)


def room_after(ids: np.ndarray) -> np.ndarray:
    """For every position, how many tokens of its sentence follow it (0 at </s>)."""
    ends = np.flatnonzero(ids == EOS)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return np.repeat(ends, ends - starts + 1) - np.arange(len(ids))


def _runs(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys, their counts and first positions, of sorted keys."""
    first = np.empty(len(sorted_keys), dtype=bool)
    first[:1] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(sorted_keys))
    return sorted_keys[starts], counts, first


class PrefixCounter:
    """Raw counts of orders 2..order over sentences of token ids (see the module docstring).

    ``add(ids)`` takes whole sentences ``<s> .. </s>``; ``finish(V)`` returns the
    sorted keys ``row * V + w`` and counts of every order.
    """

    def __init__(self, order: int, batch: int = 1 << 21) -> None:
        self.order = order
        self.bits = MIN_BITS
        self.batch = batch  # tokens gathered before they are counted and merged
        self.keys: dict[int, np.ndarray] = {k: np.zeros(0, np.int64) for k in range(2, order + 1)}
        # counts in the narrowest type that holds them: one byte while every count of
        # the order is below 256 (most n-grams of a high order are seen once), wider
        # when a count outgrows it
        self.counts: dict[int, np.ndarray] = {k: np.zeros(0, np.uint8) for k in range(2, order + 1)}
        self.tokens = 0
        self.pending: list[np.ndarray] = []
        self.pending_tokens = 0

    def add(self, ids: np.ndarray, vocab_size: int) -> None:
        """Count the sentences of ``ids`` (ids < vocab_size)."""
        if self.order < 2 or not len(ids):
            return
        self._widen(vocab_size)
        self.tokens += len(ids)
        self.pending.append(ids)
        self.pending_tokens += len(ids)
        if self.pending_tokens >= self.batch:
            self.flush()

    def _widen(self, vocab_size: int) -> None:
        need = max(vocab_size - 1, 1).bit_length()
        if need <= self.bits:
            return
        bits = max(need + 2, MIN_BITS)  # room to grow 4x before the next re-layout
        mask = (1 << self.bits) - 1
        for table in self.keys.values():
            for s in range(0, len(table), _BLOCK):
                part = table[s : s + _BLOCK]
                low = part & mask
                part >>= self.bits
                part <<= bits
                part |= low
        self.bits = bits

    def flush(self) -> None:
        """Count the waiting sentences into the tables."""
        if not self.pending:
            return
        ids = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending)
        self.pending, self.pending_tokens = [], 0
        B = self.bits
        N = self.order
        room = room_after(ids)
        pref = ids  # per position: the row of the (k-1)-gram starting there
        remap: np.ndarray | None = None  # old row -> new row of the order below
        for k in range(2, N + 1):
            at = np.flatnonzero(room >= k - 1)
            key = pref[at]
            if (int(key.max(initial=0)) >> (62 - B)) > 0:
                raise InputError("too many distinct n-grams to count (more than 2**(62 - bits))")
            key <<= B
            key |= ids[at + k - 1]
            if k == N:
                key.sort()
                u, c, _ = _runs(key)
                del key
            else:
                order = np.argsort(key)
                u, c, first = _runs(key[order])
                del key
                rank = np.cumsum(first)
                rank -= 1
                del first
            if remap is not None:
                self._renumber(k, remap)
                remap = None  # dropped before the next map is built
            local, remap = self._merge(k, u, c, want_remap=k < N)
            del u, c
            if k < N:
                pref = np.empty(len(ids), dtype=np.int64)
                pref[at[order]] = local[rank]
                del order, rank, local
            del at
        # the batch's temporaries: the heap stays at the tables' size
        heap.release(sum(t.nbytes for t in self.keys.values()))

    def _renumber(self, k: int, remap: np.ndarray) -> None:
        """Order-k keys after the order-(k-1) rows moved (``remap``: old row -> new row)."""
        B = self.bits
        mask = (1 << B) - 1
        keys = self.keys[k]
        for s in range(0, len(keys), _BLOCK):
            part = keys[s : s + _BLOCK]
            low = part & mask
            part >>= B
            part[...] = remap[part]
            part <<= B
            part |= low

    def _merge(
        self, k: int, u: np.ndarray, c: np.ndarray, want_remap: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Merge sorted distinct keys ``u`` with counts ``c`` into the order-k table.

        Returns each key's row in the merged table and, when rows of the old table
        moved, old row -> new row (None when none moved).
        """
        old = self.keys[k]
        T = len(old)
        if T == 0:
            self.keys[k], self.counts[k] = u, c.astype(_count_type(int(c.max(initial=0))))
            return np.arange(len(u)), None
        pos = np.searchsorted(old, u)
        hit = old[np.minimum(pos, T - 1)] == u
        hit &= pos < T
        new = np.flatnonzero(~hit)
        found = np.flatnonzero(hit)
        # the counts of the keys already there, and a wider type if a count outgrows it
        summed = self.counts[k][pos[found]].astype(np.int64)
        summed += c[found]
        top = max(int(summed.max(initial=0)), int(c[new].max(initial=0)))
        wanted = _count_type(top)
        if np.dtype(wanted).itemsize > self.counts[k].dtype.itemsize:
            self.counts[k] = self.counts[k].astype(wanted)
        old_counts = self.counts[k]
        if not len(new):
            old_counts[pos] = summed  # distinct keys: distinct rows
            return pos, None
        ins = pos[new]  # insertion points, non-decreasing
        size = T + len(new)
        row_type: type = np.int32 if size < 2**31 else np.int64
        # old row i moves up by the number of insertions at or before it: a whole
        # map when the next order needs it, else a block at a time
        moved: np.ndarray | None = None
        if want_remap:
            moved = np.repeat(
                np.arange(len(new) + 1, dtype=row_type), np.diff(ins, prepend=0, append=T)
            )
            for s in range(0, T, _BLOCK):
                moved[s : s + _BLOCK] += np.arange(s, min(T, s + _BLOCK), dtype=row_type)
        rows = ins + np.arange(len(new))
        # grown in place, old rows moved up from the last block down (a block's new
        # places lie above every earlier block), then the new keys written in between
        del self.keys[k], self.counts[k]
        old.resize(size, refcheck=False)
        old_counts.resize(size, refcheck=False)
        for s in range(((T - 1) // _BLOCK) * _BLOCK, -1, -_BLOCK):
            e = min(T, s + _BLOCK)
            to = moved[s:e] if moved is not None else _moved_block(ins, s, e)
            old[to] = old[s:e].copy()
            old_counts[to] = old_counts[s:e].copy()
        old[rows] = u[new]
        old_counts[rows] = c[new]
        self.keys[k], self.counts[k] = old, old_counts
        # a key's row: its old row moved up by the new keys before it (u is sorted)
        is_new = ~hit
        local = np.cumsum(is_new)
        local -= is_new
        local += pos
        old_counts[local[found]] = summed
        return local, moved

    def finish(self, vocab_size: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
        """Keys ``row * vocab_size + w`` (sorted) and raw counts of every order >= 2."""
        self.flush()
        B = self.bits
        mask = (1 << B) - 1
        for table in self.keys.values():
            for s in range(0, len(table), _BLOCK):
                part = table[s : s + _BLOCK]
                low = part & mask
                part >>= B
                part *= vocab_size
                part += low
        tables, counts = self.keys, self.counts
        self.keys, self.counts = {}, {}
        return tables, counts


def _moved_block(ins: np.ndarray, start: int, stop: int) -> np.ndarray:
    """The new rows of old rows ``start:stop`` when keys are inserted before the old
    rows ``ins`` (sorted): each moves up by the insertions at or before it."""
    lo, hi = np.searchsorted(ins, [start, stop])
    moved = np.cumsum(np.bincount(ins[lo:hi] - start, minlength=stop - start))
    moved += lo + start
    moved += np.arange(stop - start)
    return moved


def _count_type(top: int) -> type:
    """The narrowest count type that holds ``top``."""
    for kind in (np.uint8, np.uint16, np.int32):
        if top <= np.iinfo(kind).max:
            return kind
    return np.int64
