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

Longer words (rare) go through the dict.  When the text is the output of
:func:`seqtool.stats.utf8letters.letter_bytes` (``utf8=True``: lowercase letters,
bytes >= 0x80 of non-ASCII letters, spaces), step 1 is skipped: a letter's five
low bits are its digit, and a word whose bytes (up to 12) hold a top bit has a
non-ASCII letter.  Such a word is coded by its UTF-8 bytes when it has at most 7
(with bit 62 set, above every letter code), and longer ones go through the dict,
one lookup per distinct word.  New ids are given in code order, not in order of
first appearance, so callers that need the latter (Heaps' law) use the dict path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from seqtool.stats.tokens import Lexicon

MAX_LETTERS = 12
_BYTE_KEY = 7  # words with non-ASCII letters of up to 7 bytes: the bytes are the code
_TAG = 1 << 62  # above every letter code (< 2**60): marks a byte code
_WIDE = 32  # words of up to this many bytes are made unique as byte strings
_PAD = 16
_DIGITS = bytes(
    (c - 64 if 65 <= c <= 90 else c - 96 if 97 <= c <= 122 else 0) for c in range(256)
)  # A-Z and a-z -> 1..26 (lowercased), all else 0
_KEEP = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _squeeze(w: np.ndarray, letters: int) -> np.ndarray:
    """Pack the low ``letters`` bytes of each uint64 (values < 32) into 5-bit fields.

    Three shift-and-mask steps join neighbouring fields (bytes to 10-bit pairs,
    pairs to 20-bit quads, quads to 40 bits) instead of one step per letter.
    """
    if letters < 8:
        w = w & _KEEP[letters]
    w = (w & _M1) | ((w >> np.uint64(3)) & _M1H)
    w = (w & _M2) | ((w >> np.uint64(6)) & _M2H)
    return (w & _M3) | ((w >> np.uint64(12)) & _M3H)


_M1, _M1H = np.uint64(0x001F001F001F001F), np.uint64(0x03E003E003E003E0)
_M2, _M2H = np.uint64(0x000003FF000003FF), np.uint64(0x000FFC00000FFC00)
_M3, _M3H = np.uint64(0x00000000000FFFFF), np.uint64(0x000000FFFFF00000)


def _codes(
    buf: bytes, spaced: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Packed codes of the words of ``buf``, with word starts and lengths.

    ``buf`` is translated text (letters 1..26, all else 0), or with ``spaced`` the
    output of ``letter_bytes`` (lowercase letters, the UTF-8 bytes of non-ASCII
    letters, spaces): a letter's 5 low bits are then its digit, and a word of up to
    12 bytes holding a byte >= 0x80 has a non-ASCII letter.  Those of up to 7 bytes
    get their bytes as code (tagged); the rest are returned as needing the dict
    (None without ``spaced``)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    letter = np.zeros(len(buf) + 2, dtype=bool)
    np.not_equal(arr, 32 if spaced else 0, out=letter[1:-1])
    edges = np.flatnonzero(letter[1:] != letter[:-1])  # word starts and ends, alternating
    starts = edges[0::2].copy()  # contiguous: a strided index array slows every gather
    lens = edges[1::2] - starts
    padded = buf + b"\x00" * _PAD
    words = np.ndarray((len(buf) + _PAD - 7,), dtype="<u8", buffer=padded, strides=(1,))
    w0 = words[starts]
    w0 &= _KEEP[np.minimum(lens, 8)]
    odd = None
    if spaced:
        odd = (w0 & _HIGH_BITS) != 0
        small = np.flatnonzero(odd & (lens <= _BYTE_KEY))
        by_bytes = w0[small]
        w0 &= _LOW_BITS
    codes = _squeeze(w0, 8)
    more = np.flatnonzero(lens > 8)  # letters 9-12 of the (few) longer words
    if len(more):
        w1 = words[starts[more] + 8] & _KEEP[np.minimum(lens[more] - 8, 8)]
        if odd is not None:
            odd[more] |= (w1 & _HIGH_BITS) != 0
            w1 &= _LOW_BITS
        codes[more] |= _squeeze(w1, MAX_LETTERS - 8) << np.uint64(40)
    codes = codes.view(np.int64)
    if odd is not None:  # short words: their UTF-8 bytes are their code, tagged apart
        codes[small] = by_bytes.view(np.int64) | _TAG
        odd[small] = False
    return codes, starts, lens, odd


_HIGH_BITS = np.uint64(0x8080808080808080)
_LOW_BITS = np.uint64(0x1F1F1F1F1F1F1F1F)  # a-z: 0x61-0x7A -> 1..26


def _split(
    text: bytes, utf8: bool, high: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes, starts and lengths of the words of ``text``, and which words need the dict
    (more than 12 letters, or with ``utf8`` a non-ASCII letter and more than 7 bytes).
    ``utf8``: ``text`` is the output of ``letter_bytes``; ``high`` (where its
    non-ASCII letters start, if known): when empty, there are none."""
    spaced = utf8 and (high is None or len(high) > 0)
    codes, starts, lens, odd = _codes(text if spaced else text.translate(_DIGITS), spaced)
    long = lens > MAX_LETTERS
    if odd is not None:
        long |= odd
    return codes, starts, lens, long


def _decode(codes: np.ndarray) -> list[bytes]:
    """Codes back to words (C-level: no Python step per word)."""
    tagged = codes >= _TAG
    if tagged.any():
        out = np.empty(len(codes), dtype=object)
        out[~tagged] = _decode(codes[~tagged])
        out[tagged] = (codes[tagged] & (_TAG - 1)).view("<u8").view("S8").tolist()
        return out.tolist()  # type: ignore[no-any-return]

    shifts = np.arange(MAX_LETTERS, dtype=np.int64) * 5
    digits = ((codes[:, None] >> shifts) & 31).astype(np.uint8)  # (m, 12)
    rows = np.zeros((len(codes), MAX_LETTERS + 1), dtype=np.uint8)
    rows[:, :MAX_LETTERS] = np.where(digits > 0, digits + 96, 0)
    rows[:, MAX_LETTERS] = 10  # a line break ends each word; the NUL padding is deleted
    return rows.tobytes().translate(None, b"\x00").split(b"\n")[:-1]


class LetterCodes:
    """The code -> id table of one :class:`Lexicon`, grown chunk by chunk.

    Two sorted tables: ``codes`` and a small ``recent`` one that new codes are
    inserted into, merged into ``codes`` once it holds an eighth as many, so a
    large vocabulary is not copied for every chunk.
    """

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.codes = np.zeros(0, dtype=np.int64)  # sorted
        self.ids = np.zeros(0, dtype=np.int64)
        self.recent = np.zeros(0, dtype=np.int64)  # sorted, none of them in codes
        self.recent_ids = np.zeros(0, dtype=np.int64)
        self.wide: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # dtype -> (sorted keys, ids)

    def word_ids(
        self, text: bytes, utf8: bool = False, high: np.ndarray | None = None
    ) -> np.ndarray:
        """Ids of the words (runs of ASCII letters, lowercased) of ``text``; (t,) int64.

        ``utf8``: ``text`` is lowercased letter bytes from ``letter_bytes``, whose
        non-ASCII bytes belong to words too (those words take the dict); ``high``:
        where its non-ASCII characters start, when known.
        """
        codes, starts, lens, long = _split(text, utf8, high)
        uniq, inverse = _unique_inverse(codes[~long] if long.any() else codes)
        ids = np.empty(len(codes), dtype=np.int64)
        ids[~long] = self._lookup(uniq)[inverse]
        if long.any():
            ids[long] = self._dict_ids(text if utf8 else text.lower(), starts[long], lens[long])
        return ids

    def word_counts(
        self, text: bytes, utf8: bool = False, high: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct word ids of ``text`` and how often each occurs; (k,) and (k,) int64.

        For unigram counts: a plain sort of the codes replaces the ``argsort`` that
        per-token ids need, and no per-token array is built.  ``utf8`` as in
        :meth:`word_ids`.
        """
        codes, starts, lens, long = _split(text, utf8, high)
        short = np.sort(codes[~long]) if long.any() else np.sort(codes)
        first = np.empty(len(short), dtype=bool)
        first[:1] = True
        np.not_equal(short[1:], short[:-1], out=first[1:])
        at = np.flatnonzero(first)
        counts = np.diff(at, append=len(short))
        ids = self._lookup(short[at])
        if long.any():
            lower = text if utf8 else text.lower()
            long_ids, long_counts = self._dict_counts(lower, starts[long], lens[long])
            ids = np.concatenate((ids, long_ids))
            counts = np.concatenate((counts, long_counts))
        return ids, counts

    def _dict_ids(self, text: bytes, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """Ids of the words ``text[s : s + n]``, from the lexicon; (m,) int64."""
        out = np.empty(len(starts), dtype=np.int64)
        for at, words, inverse in _distinct_words(text, starts, lens):
            out[at] = self._ids_of(words)[inverse]
        return out

    def _dict_counts(
        self, text: bytes, starts: np.ndarray, lens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Distinct ids of the words ``text[s : s + n]`` and their counts."""
        ids, counts = [], []
        for _, words, count in _distinct_words(text, starts, lens, counts=True):
            ids.append(self._ids_of(words))
            counts.append(count)
        return np.concatenate(ids), np.concatenate(counts)  # groups hold different words

    def _ids_of(self, words: np.ndarray | list[bytes]) -> np.ndarray:
        """Ids of distinct words: a list goes to the lexicon dict; a sorted array of
        fixed-width byte strings is looked up in a sorted table of the ones met before
        (one per width), so only new words take a Python step."""
        if isinstance(words, list):
            return self.lexicon.add_many(words)
        keys, ids = self.wide.get(words.dtype.str, (words[:0], np.zeros(0, dtype=np.int64)))
        out = np.empty(len(words), dtype=np.int64)
        known = _find(keys, ids, words, out)
        if not known.all():
            new = words[~known]
            new_ids = self.lexicon.add_many(new.tolist())
            out[~known] = new_ids
            at = np.searchsorted(keys, new)
            self.wide[words.dtype.str] = (np.insert(keys, at, new), np.insert(ids, at, new_ids))
        return out

    def _lookup(self, uniq: np.ndarray) -> np.ndarray:
        out = np.empty(len(uniq), dtype=np.int64)
        known = _find(self.codes, self.ids, uniq, out)
        if known.all():
            return out
        rest = np.flatnonzero(~known)
        found = np.empty(len(rest), dtype=np.int64)
        seen = _find(self.recent, self.recent_ids, uniq[rest], found)
        out[rest[seen]] = found[seen]
        if not seen.all():
            new = uniq[rest[~seen]]
            # Words of at most 12 letters reach the lexicon through here only, unless
            # the dict path ran: then they may be there already.
            new_ids = self.lexicon.add_many(_decode(new), unseen=not self.lexicon.dict_used)
            out[rest[~seen]] = new_ids
            at = np.searchsorted(self.recent, new)
            self.recent = np.insert(self.recent, at, new)
            self.recent_ids = np.insert(self.recent_ids, at, new_ids)
            if len(self.recent) > max(1 << 12, len(self.codes) >> 3):
                at = np.searchsorted(self.codes, self.recent)
                self.codes = np.insert(self.codes, at, self.recent)
                self.ids = np.insert(self.ids, at, self.recent_ids)
                self.recent = self.recent[:0]
                self.recent_ids = self.recent_ids[:0]
        return out


def _distinct_words(
    text: bytes, starts: np.ndarray, lens: np.ndarray, counts: bool = False
) -> Iterator[tuple[np.ndarray | slice, np.ndarray | list[bytes], np.ndarray]]:
    """The words ``text[s : s + n]`` in groups: (which of them, the distinct words as
    a list of bytes or a sorted array of fixed-width byte strings, each one's index
    among those), or with ``counts`` how often each distinct word occurs instead of
    the indices (a sort, not the ``argsort`` that indices need).

    A Python step per distinct word, not per word: words of up to 8 bytes are one
    uint64 each (NUL-padded), up to 16 bytes two (read as one 16-byte string), up
    to 32 bytes one fixed-width byte string (cut from a row of bytes), and
    each group is made unique with ``np.unique``; longer ones (rare) are taken one
    by one.  Byte strings drop trailing NULs, and no word holds a NUL byte.
    """

    def group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if counts:
            return tuple(np.unique(keys, return_counts=True))  # type: ignore[return-value]
        uniq, inverse = np.unique(keys, return_inverse=True)
        return uniq, inverse.reshape(-1)

    def deduped(starts: np.ndarray, lens: np.ndarray) -> tuple[list[bytes], np.ndarray]:
        words, inverse = _dedupe(text, starts, lens)
        return words, np.bincount(inverse, minlength=len(words)) if counts else inverse

    if len(starts) < 64:
        yield slice(None), *deduped(starts, lens)
        return
    padded = np.frombuffer(text + bytes(_WIDE), dtype=np.uint8)
    words = np.ndarray((len(text) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    short = lens <= 8
    if short.any():
        at = np.flatnonzero(short)
        uniq, found = group(words[starts[at]] & _KEEP[lens[at]])
        yield at, uniq.view("S8").tolist(), found  # 8 bytes: few
    half = (lens > 8) & (lens <= 16)
    if half.any():  # two uint64 a word: no mask over a row of bytes
        at = np.flatnonzero(half)
        pairs = np.empty((len(at), 2), dtype="<u8")
        pairs[:, 0] = words[starts[at]]
        pairs[:, 1] = words[starts[at] + 8] & _KEEP[lens[at] - 8]
        uniq, found = group(pairs.view("S16").reshape(-1))
        yield at, uniq, found
    mid = (lens > 16) & (lens <= _WIDE)
    if mid.any():
        at = np.flatnonzero(mid)
        view = np.lib.stride_tricks.as_strided(padded, (len(text) + 1, _WIDE), (1, 1))
        rows = view[starts[at]]  # a copy
        rows[np.arange(_WIDE) >= lens[at][:, None]] = 0  # a word ends at its length
        uniq, found = group(rows.view(f"S{_WIDE}").reshape(-1))
        yield at, uniq, found
    wide = np.flatnonzero(lens > _WIDE)
    if len(wide):
        yield wide, *deduped(starts[wide], lens[wide])


def _dedupe(text: bytes, starts: np.ndarray, lens: np.ndarray) -> tuple[list[bytes], np.ndarray]:
    words = [text[s : s + n] for s, n in zip(starts.tolist(), lens.tolist())]
    index = {w: i for i, w in enumerate(dict.fromkeys(words))}
    return list(index), np.fromiter(map(index.__getitem__, words), np.int64, len(words))


def _unique_inverse(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for non-negative codes.

    When a code and its position fit one int64 together (short words: 5 bits a
    letter), one ``sort`` of ``code << p | position`` replaces the ``argsort``.
    """
    m = len(codes)
    pbits = max(1, (m - 1).bit_length())
    if m == 0 or int(codes.max()).bit_length() + pbits > 63:
        uniq, inverse = np.unique(codes, return_inverse=True)
        return uniq, inverse.reshape(-1)
    packed = codes << pbits
    packed |= np.arange(m)
    packed.sort()
    where = packed & ((1 << pbits) - 1)
    packed >>= pbits
    first = np.empty(m, dtype=bool)
    first[0] = True
    np.not_equal(packed[1:], packed[:-1], out=first[1:])
    group = np.cumsum(first)
    group -= 1
    inverse = np.empty(m, dtype=np.int64)
    inverse[where] = group
    return packed[first], inverse


def _find(table: np.ndarray, ids: np.ndarray, keys: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Where sorted ``keys`` are in the sorted ``table``: sets ``out`` there, returns the mask."""
    if not len(table):
        return np.zeros(len(keys), dtype=bool)
    pos = np.searchsorted(table, keys)
    np.minimum(pos, len(table) - 1, out=pos)
    known = table[pos] == keys
    out[known] = ids[pos[known]]
    return known
