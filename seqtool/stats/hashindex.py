"""Open-addressing hash index over sorted int64 keys, built and probed with array work.

The index is a power-of-two array of slots holding row numbers of the key table
(-1: empty); a key's home slot is the top bits of ``key * 0x9E3779B97F4A7C15``
(Fibonacci hashing) and collisions go to the next slot (linear probing).  At most
half the slots are filled, so a lookup reads about 1.5 slots when the key is there
and 2.5 when it is not, each a random read, where a binary search over a million
keys reads twenty.  Lookups of many keys run as rounds: every key still looking
moves one slot on per round.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _home(keys: np.ndarray, bits: int) -> np.ndarray:
    """Home slots of non-negative int64 keys."""
    h = keys.view(np.uint64) * _GOLDEN  # wraps modulo 2**64, as intended
    h >>= np.uint64(64 - bits)
    return h.view(np.int64)


def build(keys: np.ndarray, spread: int = 2) -> np.ndarray:
    """The slots of an index over ``keys`` (distinct): a power of two, at least
    ``spread`` per key (more: fewer keys meet another on their home slot, for small
    tables that stay in the cache anyway)."""
    n = len(keys)
    bits = max(4, (max(2, spread) * n - 1).bit_length())
    mask = (1 << bits) - 1
    slots = np.full(1 << bits, -1, dtype=np.int32 if n < 2**31 else np.int64)
    todo = np.arange(n, dtype=slots.dtype)
    at = _home(keys, bits)
    while len(todo):
        free = slots[at] < 0
        mine = todo[free]
        spot = at[free]
        slots[spot] = mine  # several keys on one free slot: one of them gets it
        placed = np.zeros(len(todo), dtype=bool)
        placed[free] = slots[spot] == mine
        left = ~placed
        todo = todo[left]
        at = at[left]
        at += 1
        at &= mask
    return slots


def valid(slots: np.ndarray, n: int) -> bool:
    """Whether ``slots`` can be an index over n keys (cheap checks of a loaded file)."""
    size = len(slots)
    return (
        slots.ndim == 1
        and slots.dtype.kind == "i"
        and size >= 2 * n
        and size & (size - 1) == 0
        and int(slots.max(initial=-1)) < n
    )


def find(slots: np.ndarray, keys: np.ndarray, want: np.ndarray) -> np.ndarray:
    """The row of every wanted key in ``keys`` (-1 where absent), via the index ``slots``.

    Rows come in the slots' integer type.
    """
    if not len(keys):
        return np.full(len(want), -1, dtype=slots.dtype)
    bits = len(slots).bit_length() - 1
    mask = len(slots) - 1
    at = _home(np.ascontiguousarray(want, dtype=np.int64), bits)
    # first round over every key at once (most are settled there), then the few
    # that met another key move on, a slot per round
    out = slots.take(at)
    hit = keys.take(out, mode="clip") == want  # -1 reads keys[0]: masked just below
    filled = out >= 0
    hit &= filled
    filled ^= hit
    todo = np.flatnonzero(filled)
    out[todo] = -1
    look = want.take(todo)
    at = at.take(todo)
    while len(todo):
        at += 1
        at &= mask
        row = slots.take(at)
        filled = row >= 0
        hit = keys.take(row, mode="clip") == look
        hit &= filled
        out[todo[hit]] = row[hit]
        filled ^= hit  # an occupied slot with another key: look at the next
        todo = todo[filled]
        look = look[filled]
        at = at[filled]
    return out
