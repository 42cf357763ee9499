"""Whitespace-separated words of UTF-8 bytes to vocabulary ids, with array work.

Splitting text into Python strings and looking each up in a dict costs about
150 ns a word; here the word boundaries come from a whitespace mask, every word
of at most 8 bytes is read as one little-endian uint64 (its bytes, zero-padded:
exact, since words hold no NUL) and found in a hash index of the vocabulary's
short words; only longer words go through a dict, one bytes slice each.

Whitespace is ASCII space, tab, newline and carriage return.  Text holding any
other character that ``str.split`` treats as whitespace (vertical tab, form feed,
the information separators, Unicode spaces) is refused (:func:`plain_spaces`),
and callers take their ``str.split`` path for it, so both give the same words.
"""

from __future__ import annotations

import re

import numpy as np

from seqtool.stats import hashindex

_OTHER_SPACE = re.compile(
    rb"[\x0b\x0c\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
    rb"|\xe2\x81\x9f|\xe3\x80\x80"
)
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=np.uint64)


def plain_spaces(data: bytes, buf: np.ndarray) -> bool:
    """Whether ``data`` (``buf``: the same bytes as uint8) splits on ASCII space, tab,
    CR and LF only, as ``str.split`` would split its text."""
    if not data.isascii():
        return _OTHER_SPACE.search(data) is None
    other = (buf == 11) | (buf == 12)
    other |= (buf >= 28) & (buf <= 31)
    return not other.any()


def spans(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the words (runs of non-space bytes) of a uint8 array."""
    word = np.ones(len(buf) + 2, dtype=bool)
    inner = word[1:-1]
    for space in (9, 10, 13, 32):
        inner &= buf != space
    word[0] = word[-1] = False
    edge = np.flatnonzero(word[1:] != word[:-1])
    return edge[0::2], edge[1::2]


def _packed(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each word's first 8 bytes as a little-endian uint64 (zero-padded), viewed as int64."""
    padded = np.concatenate((buf, np.zeros(8, dtype=np.uint8)))
    windows = np.ndarray((len(buf),), dtype="<u8", buffer=padded, strides=(1,))
    out = windows[starts]  # a gather of unaligned 8-byte reads
    out &= _MASKS[np.minimum(lengths, 8)]
    return out.view(np.int64)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _mixed(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """One int64 of a word's two 8-byte halves (for hashing; equal words, equal mixes)."""
    m = high.view(np.uint64) * _MIX
    m ^= low.view(np.uint64)
    return m.view(np.int64)


class WordIndex:
    """Vocabulary words -> ids for :meth:`ids`, built from the words' UTF-8 bytes.

    Words of up to 8 bytes are found by their bytes as one uint64; words of 9 to 16
    bytes by a mix of their two halves, each found word then checked half by half
    (a mix shared by two words sends the word to the dict); longer words by dict.
    """

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        """``blob``: the words' bytes concatenated; ``ends``: each word's end offset."""
        buf = np.frombuffer(blob, dtype=np.uint8)
        ends = np.asarray(ends, dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
        lengths = ends - starts
        short = np.flatnonzero((lengths >= 1) & (lengths <= 8))
        self.keys = _packed(buf, starts[short], lengths[short])
        self.rows = short
        self.slots = hashindex.build(self.keys)
        mid = np.flatnonzero((lengths > 8) & (lengths <= 16))
        self.low = _packed(buf, starts[mid], np.full(len(mid), 8))
        self.high = _packed(buf, starts[mid] + 8, lengths[mid] - 8)
        mixes = _mixed(self.low, self.high)
        self.mid_rows = mid
        self.mid_keys, first = np.unique(mixes, return_index=True)  # distinct, for the index
        self.mid_at = first  # the word (index into mid) of each distinct mix
        self.mid_slots = hashindex.build(self.mid_keys)
        self.long = {blob[starts[i] : ends[i]]: int(i) for i in np.flatnonzero(lengths > 8)}

    def ids(
        self, data: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, missing: int
    ) -> np.ndarray:
        """The id of every word ``data[starts[i]:ends[i]]`` (``missing`` when unknown);
        ``buf`` is ``data`` as a uint8 array."""
        lengths = ends - starts
        out = np.full(len(starts), missing, dtype=np.int64)
        short = lengths <= 8
        at = np.flatnonzero(short)
        row = hashindex.find(self.slots, self.keys, _packed(buf, starts[at], lengths[at]))
        hit = row >= 0
        out[at[hit]] = self.rows[row[hit]]
        slow = np.zeros(len(starts), dtype=bool)
        mid = np.flatnonzero(~short & (lengths <= 16))
        if len(mid):
            low = _packed(buf, starts[mid], np.full(len(mid), 8))
            high = _packed(buf, starts[mid] + 8, lengths[mid] - 8)
            row = hashindex.find(self.mid_slots, self.mid_keys, _mixed(low, high))
            hit = row >= 0
            word = self.mid_at[row[hit]]
            same = (self.low[word] == low[hit]) & (self.high[word] == high[hit])
            out[mid[hit][same]] = self.mid_rows[word[same]]
            slow[mid[hit][~same]] = True  # another word with the same mix: ask the dict
        slow |= lengths > 16
        longer = np.flatnonzero(slow)
        if len(longer):
            get = self.long.get
            s, e = starts[longer].tolist(), ends[longer].tolist()
            out[longer] = [get(data[a:b], missing) for a, b in zip(s, e)]
        return out
