"""Word ids without a Python object per token, for lowercase ASCII-letter words.

With a large vocabulary, a dict lookup per token is bound by cache misses
(about a microsecond each on a busy machine).  Words of at most 12 letters
a-z fit exactly in one int64 (5 bits a letter), so a chunk can be tokenised
and counted with array operations alone:

1. ``bytes.translate`` maps letters to 1..26 and everything else to 0;
2. word starts and ends come from where the array changes between 0 and not 0;
3. the first 16 bytes of each word are read as two little-endian uint64 (an
   overlapping stride-1 view of the buffer), cut at the word's end, and their
   5-bit letters packed into one int64 code;
4. ``np.unique`` of the chunk's codes, then a ``searchsorted`` in the table of
   codes seen so far, gives each word its id; codes not seen before are
   decoded back to bytes once and get their id from the shared
   :class:`~seqtool.stats.tokens.Lexicon` dict, so a word has the same id
   whichever path met it.

Longer words (rare) go through the dict.  New ids are given in code order, not
in order of first appearance, so callers that need the latter (Heaps' law)
use the dict path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from seqtool.stats.tokens import Lexicon

MAX_LETTERS = 12
_PAD = 16
_DIGITS = bytes(
    (c - 64 if 65 <= c <= 90 else c - 96 if 97 <= c <= 122 else 0) for c in range(256)
)  # A-Z and a-z -> 1..26 (lowercased), all else 0
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _squeeze(w: np.ndarray, letters: int) -> np.ndarray:
    """Pack the low ``letters`` bytes of each uint64 (values < 32) into 5-bit fields."""
    out = np.zeros(len(w), dtype=np.uint64)
    for i in range(letters):
        out |= ((w >> np.uint64(8 * i)) & np.uint64(31)) << np.uint64(5 * i)
    return out


def _codes(buf: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Packed codes of the words of a translated buffer, with word starts and lengths."""
    d = np.frombuffer(buf, dtype=np.uint8)
    edges = np.diff((d != 0).view(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    lens = np.flatnonzero(edges == -1) - starts
    padded = buf + b"\x00" * _PAD
    words = np.ndarray((len(buf) + _PAD - 7,), dtype="<u8", buffer=padded, strides=(1,))
    w0 = words[starts] & _KEEP[np.minimum(lens, 8)]
    w1 = words[starts + 8] & _KEEP[np.clip(lens - 8, 0, 8)]
    codes = _squeeze(w0, 8) | (_squeeze(w1, MAX_LETTERS - 8) << np.uint64(40))
    return codes.view(np.int64), starts, lens


def _decode(codes: np.ndarray) -> list[bytes]:
    """Codes back to lowercase ASCII words (C-level: no Python step per word)."""
    shifts = np.arange(MAX_LETTERS, dtype=np.int64) * 5
    digits = ((codes[:, None] >> shifts) & 31).astype(np.uint8)  # (m, 12)
    rows = np.zeros((len(codes), MAX_LETTERS + 1), dtype=np.uint8)
    rows[:, :MAX_LETTERS] = np.where(digits > 0, digits + 96, 0)
    rows[:, MAX_LETTERS] = 10  # a line break ends each word; the NUL padding is deleted
    return rows.tobytes().translate(None, b"\x00").split(b"\n")[:-1]


class LetterCodes:
    """The code -> id table of one :class:`Lexicon`, grown chunk by chunk."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.codes = np.zeros(0, dtype=np.int64)  # sorted
        self.ids = np.zeros(0, dtype=np.int64)

    def word_ids(self, text: bytes) -> np.ndarray:
        """Ids of the words (runs of ASCII letters, lowercased) of ``text``; (t,) int64."""
        buf = text.translate(_DIGITS)
        codes, starts, lens = _codes(buf)
        long = lens > MAX_LETTERS
        uniq, inverse = np.unique(codes[~long], return_inverse=True)
        ids = np.empty(len(codes), dtype=np.int64)
        ids[~long] = self._lookup(uniq)[inverse]
        if long.any():
            lower = text.lower()
            get = self.lexicon.index.__getitem__
            ids[long] = [
                get(lower[s : s + n]) for s, n in zip(starts[long].tolist(), lens[long].tolist())
            ]
        return ids

    def _lookup(self, uniq: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.codes, uniq)
        known = pos < len(self.codes)
        known[known] = self.codes[pos[known]] == uniq[known]
        out = np.empty(len(uniq), dtype=np.int64)
        out[known] = self.ids[pos[known]]
        if not known.all():
            new = uniq[~known]
            new_ids = self.lexicon.add_many(_decode(new))
            out[~known] = new_ids
            at = pos[~known]
            self.codes = np.insert(self.codes, at, new)
            self.ids = np.insert(self.ids, at, new_ids)
        return out
