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

import numpy as np

from seqtool.stats import hashindex

_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=np.uint64)


def plain_spaces(data: bytes, buf: np.ndarray) -> bool:
    """Whether ``data`` (``buf``: the same bytes as uint8) splits on ASCII space, tab,
    CR and LF only, as ``str.split`` would split its text."""
    if any(c in data for c in _ASCII_OTHER):  # a memchr each: faster than array passes
        return False
    if data.isascii():
        return True
    # the other spaces in UTF-8: C2 85, C2 A0, E1 9A 80, E2 80 80..8A, E2 80 A8, E2 80 A9,
    # E2 80 AF, E2 81 9F, E3 80 80; each lead byte present: its followers as arrays
    if b"\xc2" in data:
        second = buf[np.flatnonzero(buf[:-1] == 0xC2) + 1]
        if ((second == 0x85) | (second == 0xA0)).any():
            return False
    for lead, middle, last in ((0xE1, 0x9A, 0x80), (0xE2, 0x81, 0x9F), (0xE3, 0x80, 0x80)):
        if bytes([lead]) in data:
            at = np.flatnonzero(buf[:-2] == lead)
            if ((buf[at + 1] == middle) & (buf[at + 2] == last)).any():
                return False
    if b"\xe2\x80" in data:  # quotes and dashes too: look at the third byte
        at = np.flatnonzero(buf[:-2] == 0xE2)
        third = buf[at + 2]
        space = ((third >= 0x80) & (third <= 0x8A)) | (third == 0xA8) | (third == 0xA9)
        space |= third == 0xAF
        return not (space & (buf[at + 1] == 0x80)).any()
    return True


_ASCII_OTHER = [bytes([c]) for c in (11, 12, 28, 29, 30, 31)]


_SEPARATORS = bytes.maketrans(b"\x1c\x1d\x1e\x1f", b"    ")  # str.split's, not bytes.split's
# The other white space str.split knows, as (first byte << 16 | second << 8 | third):
# U+0085 and U+00A0 (two bytes: third 0), U+1680, U+2000-U+200A, U+2028, U+2029,
# U+202F, U+205F, U+3000.
_OTHER_SPACES = (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_SPACE_KEYS = np.array(
    sorted(
        (b[0] << 16) | (b[1] << 8) | (b[2] if len(b) > 2 else 0)
        for b in (chr(c).encode() for c in _OTHER_SPACES)
    ),
    dtype=np.int64,
)


def split_words(data: bytes) -> list[bytes]:
    """The words of UTF-8 text as ``str.split`` finds them, in bytes, with no decoding
    and no encoding of each word: the white space that ``bytes.split`` does not know
    (the information separators, and the Unicode spaces, found among the characters
    whose first byte is C2, E1, E2 or E3 with array work) made spaces first."""
    if any(c in data for c in (b"\x1c", b"\x1d", b"\x1e", b"\x1f")):
        data = data.translate(_SEPARATORS)
    if data.isascii():
        return data.split()
    arr = np.frombuffer(data, dtype=np.uint8)
    lead = np.flatnonzero(arr >= 0xC2)
    first = arr[lead]
    lead = lead[(first == 0xC2) | ((first >= 0xE1) & (first <= 0xE3))]
    if not len(lead):
        return data.split()
    padded = np.concatenate((arr, np.zeros(2, dtype=np.uint8)))  # a character may end the data
    first = padded[lead].astype(np.int64)
    key = (first << 16) | (padded[lead + 1].astype(np.int64) << 8)
    three = first != 0xC2
    key[three] |= padded[lead[three] + 2]
    space = np.isin(key, _SPACE_KEYS)
    if not space.any():
        return data.split()
    buf = bytearray(data)
    out = np.frombuffer(buf, dtype=np.uint8)
    at, wide = lead[space], three[space]
    out[at] = out[at + 1] = 32
    out[at[wide] + 2] = 32
    return bytes(buf).split()


def spans(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the words (runs of non-space bytes) of a uint8 array."""
    word = np.ones(len(buf) + 2, dtype=bool)
    inner = word[1:-1]
    np.greater(buf, 32, out=inner)  # one pass; exact when the only control bytes are spaces
    control = np.count_nonzero(buf < 32)
    for space in (10, 9, 13):
        if control:
            control -= np.count_nonzero(buf == space)
    if control:
        np.not_equal(buf, 32, out=inner)
        for space in (9, 10, 13):
            inner &= buf != space
    word[0] = word[-1] = False
    edge = np.flatnonzero(word[1:] != word[:-1])
    return edge[0::2], edge[1::2]


def windows(buf: np.ndarray) -> np.ndarray:
    """(len(buf),) uint64: the 8 bytes from every offset of ``buf``, little-endian,
    zero past its end (overlapping views of one padded copy, made once per text)."""
    padded = np.concatenate((buf, np.zeros(8, dtype=np.uint8)))
    return np.ndarray((len(buf),), dtype="<u8", buffer=padded, strides=(1,))


def _packed(win: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each word's first 8 bytes as a little-endian uint64 (zero-padded), viewed as
    int64; ``win``: the text's :func:`windows`."""
    out = win[starts]  # a gather of unaligned 8-byte reads
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
        win = windows(buf)
        ends = np.asarray(ends, dtype=np.int64)
        starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
        lengths = ends - starts
        short = np.flatnonzero((lengths >= 1) & (lengths <= 8))
        self.keys = _packed(win, starts[short], lengths[short])
        self.rows = short
        self.slots = hashindex.build(self.keys, spread=4)  # mostly one slot read a word
        self._rows_or: dict[int, np.ndarray] = {}
        mid = np.flatnonzero((lengths > 8) & (lengths <= 16))
        self.low = _packed(win, starts[mid], np.full(len(mid), 8))
        self.high = _packed(win, starts[mid] + 8, lengths[mid] - 8)
        mixes = _mixed(self.low, self.high)
        self.mid_rows = mid
        self.mid_keys, first = np.unique(mixes, return_index=True)  # distinct, for the index
        self.mid_at = first  # the word (index into mid) of each distinct mix
        self.mid_slots = hashindex.build(self.mid_keys)
        self.long = {blob[starts[i] : ends[i]]: int(i) for i in np.flatnonzero(lengths > 8)}

    def ids(
        self,
        data: bytes,
        buf: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        missing: int,
        win: np.ndarray | None = None,
    ) -> np.ndarray:
        """The id of every word ``data[starts[i]:ends[i]]`` (``missing`` when unknown);
        ``buf`` is ``data`` as a uint8 array, ``win`` its :func:`windows` (made here
        when not given)."""
        if win is None:
            win = windows(buf)
        lengths = ends - starts
        # every word's first 8 bytes, looked up among the short words at once; a
        # longer word can share them with a short one, so those are settled below
        row = hashindex.find(self.slots, self.keys, _packed(win, starts, lengths))
        rows_or = self._rows_or.get(missing)
        if rows_or is None:  # row -1 (not found) reads the last entry: missing
            rows_or = self._rows_or[missing] = np.append(self.rows, missing)
        out = rows_or[row]
        longer = lengths > 8
        mid = np.flatnonzero(longer & (lengths <= 16))
        if not len(mid) and not longer.any():
            return out
        out[longer] = missing
        slow = lengths > 16
        if len(mid):
            low = _packed(win, starts[mid], np.full(len(mid), 8))
            high = _packed(win, starts[mid] + 8, lengths[mid] - 8)
            row = hashindex.find(self.mid_slots, self.mid_keys, _mixed(low, high))
            hit = row >= 0
            word = self.mid_at[row[hit]]
            same = (self.low[word] == low[hit]) & (self.high[word] == high[hit])
            out[mid[hit][same]] = self.mid_rows[word[same]]
            slow[mid[hit][~same]] = True  # another word with the same mix: ask the dict
        rest = np.flatnonzero(slow)
        if len(rest):
            get = self.long.get
            s, e = starts[rest].tolist(), ends[rest].tolist()
            out[rest] = [get(data[a:b], missing) for a, b in zip(s, e)]
        return out
