"""The ``letters`` normaliser on UTF-8 bytes, with array operations.

``letters`` (:mod:`seqtool.text.normalize`) composes the text (NFC), turns every
run of characters that are neither letters nor combining marks (digits, ``_``,
punctuation, symbols, spaces) into one space, and lowercases.  As a regular
expression whose class has hundreds of ranges it costs about half a second a
megabyte of non-ASCII text.  Counting needs only the tokens, so here the same
tokens come from the UTF-8 bytes:

1. ``bytes.translate``: ASCII letters kept (lowercased), other ASCII bytes a
   space (a line break optionally a NUL, the per-line marker), bytes >= 0x80 kept;
2. the non-ASCII characters (their lead bytes: a few percent of real text) are
   decoded to code points with array arithmetic and looked up in a table, filled
   once per distinct code point, that says whether the character is a letter (or
   mark) and whether its lowercase differs;
3. non-letters are blanked byte by byte, letters whose lowercase differs are
   rewritten in place (the same UTF-8 length).

The text is composed (NFC) first only when it holds a character that NFC could
change or join with what precedes it (a combining mark, say); the same table
knows which those are, so most text skips ``unicodedata.is_normalized``.

Lowercase mappings that change the UTF-8 length or depend on the context (the
final sigma rule of ``str.lower``) send the chunk down a code-point route:
non-letters blanked in a uint32 array, then ``str.lower`` on the whole text, as
the regular-expression path does.  Either output differs from
``normalize(text).encode()`` only in how many spaces lie between tokens, so
``split`` gives exactly the same tokens.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import NamedTuple

import numpy as np

_UNKNOWN, _KEEP, _BLANK, _LOWER, _SPECIAL = 0, 1, 2, 3, 4
_UNSAFE = 8  # flag: text holding this character may not be NFC-composed
_NONE = np.zeros(0, dtype=np.int64)
_UNICODE_MAX = 0x110000
_CAPITAL_SIGMA = 0x3A3  # str.lower maps it by its context (final sigma)
_SIZE = np.array([1] * 0xC0 + [2] * 32 + [3] * 16 + [4] * 16, dtype=np.intp)  # by first byte


def is_letter(c: str) -> bool:
    """Whether ``letters`` keeps the character: a letter or combining mark, not a digit or ``_``.

    The complement of the normaliser's pattern ``(?:[^\\w<marks>]|[\\d_])+``: ``\\w``
    is ``str.isalnum`` plus ``_`` and ``\\d`` is ``str.isdecimal`` for str patterns.
    """
    return (c.isalnum() or unicodedata.category(c)[0] == "M") and not c.isdecimal() and c != "_"


class Spaced(NamedTuple):
    """The output of :func:`letter_bytes`."""

    text: bytes
    """UTF-8, tokens separated by spaces (one or more) or line marks"""
    letters: np.ndarray | None
    """where the non-ASCII characters (all letters) of ``text`` start, in order;
    None: not known (look for bytes >= 0x80)"""


def _composes_after(cp: int) -> bool:
    """Whether NFC may change text at ``cp`` or join it with what comes before.

    True for combining marks, characters that NFC replaces, and characters that
    are the second of a canonical composition (the few starters among them and
    Hangul vowel and trailing jamo); for the rest, text made of them and ASCII is
    NFC already, so the (slower) ``is_normalized`` check is skipped."""
    c = chr(cp)
    if unicodedata.combining(c) or unicodedata.normalize("NFC", c) != c:
        return True
    return ord(unicodedata.normalize("NFD", c)[0]) in _seconds()


# The starters (combining class 0) that are the second of a canonical pair, by
# Unicode version: the rest are combining marks, caught by their class.  Another
# version's are found by a scan of the decompositions (about 30 ms).
_STARTER_SECONDS = {
    "14.0.0": (0x9BE, 0x9D7, 0xB3E, 0xB56, 0xB57, 0xBBE, 0xBD7, 0xCC2, 0xCD5, 0xCD6, 0xD3E,
               0xD57, 0xDCF, 0xDDF, 0xFB5, 0xFB7, 0x102E, 0x1B35, 0x11127, 0x1133E, 0x11357,
               0x114B0, 0x114BA, 0x114BD, 0x115AF, 0x11930),
}  # fmt: skip


@cache
def _seconds(version: str = unicodedata.unidata_version) -> frozenset[int]:
    """Starters that are the second of a canonical pair (composed by NFC)."""
    out = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    if version in _STARTER_SECONDS:
        return frozenset(out.union(_STARTER_SECONDS[version]))
    for d in map(unicodedata.decomposition, map(chr, range(0x30000))):
        if d and d[0] != "<":
            pair = d.split()
            if len(pair) == 2 and not unicodedata.combining(chr(int(pair[1], 16))):
                out.add(int(pair[1], 16))
    return frozenset(out)


class _Kinds:
    """What ``letters`` does with each code point, filled in as code points are met."""

    def __init__(self, lower: bool) -> None:
        self.lower = lower
        self.kind = np.zeros(_UNICODE_MAX, dtype=np.int8)
        self.low = np.zeros(_UNICODE_MAX, dtype=np.int32)

    def of(self, cps: np.ndarray) -> np.ndarray:
        kind = self.kind[cps]
        unknown = kind == _UNKNOWN
        if unknown.any():
            # a set, not np.unique: that imports numpy.ma on first use (tens of ms)
            for cp in set(cps[unknown].tolist()):
                self._classify(cp)
            kind = self.kind[cps]
        return kind

    def _classify(self, cp: int) -> None:
        c = chr(cp)
        low = c.lower() if self.lower else c
        if not is_letter(c):
            kind = _BLANK
        elif low == c:
            kind = _KEEP
        elif cp == _CAPITAL_SIGMA or len(low) != 1 or len(low.encode()) != len(c.encode()):
            kind = _SPECIAL
        else:
            kind = _LOWER
            self.low[cp] = ord(low)
        self.kind[cp] = kind | (_UNSAFE if _composes_after(cp) else 0)


_KINDS: dict[bool, _Kinds] = {}


def _kinds(lower: bool) -> _Kinds:
    if lower not in _KINDS:
        _KINDS[lower] = _Kinds(lower)
    return _KINDS[lower]


@cache
def byte_table(lower: bool, line_mark: bool, keep_high: bool = True) -> bytes:
    """A ``bytes.translate`` table: ASCII letters kept (lowercased), other ASCII a
    space (a line break NUL if ``line_mark``), bytes >= 0x80 kept (or, without
    ``keep_high``, a space: the d2l rule)."""
    table = bytearray(b" " * 128 + (bytes(range(128, 256)) if keep_high else b" " * 128))
    for c in range(65, 91):
        table[c] = c + 32 if lower else c
    for c in range(97, 123):
        table[c] = c
    if line_mark:
        table[10] = 0
    return bytes(table)


def letter_bytes(
    text: str | None,
    lower: bool,
    line_mark: bool = False,
    utf8: bytes | None = None,
    leads: np.ndarray | None = None,
) -> Spaced | None:
    """UTF-8 bytes of ``text`` with the tokens of ``letters`` separated by spaces.

    ``line_mark``: line breaks become NUL bytes instead.  ``utf8``: the text's UTF-8
    bytes when the caller has them (as read from the file): not encoded again; the
    text may then be None (valid UTF-8, decoded only if it must be composed or its
    lowercase depends on the context).  ``leads``: where the non-ASCII characters of
    ``utf8`` start, when known.  None when the text cannot be encoded (lone
    surrogates): use the normaliser itself.
    """
    table = byte_table(lower, line_mark)
    if text is None:
        assert utf8 is not None
        if utf8.isascii():
            return Spaced(utf8.translate(table), _NONE)
    elif text.isascii():
        return Spaced((utf8 or text.encode("ascii")).translate(table), _NONE)
    if utf8 is not None:
        raw = utf8
    else:
        assert text is not None
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    arr = np.frombuffer(raw, dtype=np.uint8)
    lead = np.flatnonzero(arr >= 0xC0) if leads is None or utf8 is None else leads
    first = arr[lead]
    size = _SIZE[first]  # UTF-8 length of each character
    cps = _decode(arr, lead, first, size)
    kinds = _kinds(lower)
    kind = kinds.of(cps)
    if (kind >= _UNSAFE).any():
        text = raw.decode("utf-8") if text is None else text
        if not unicodedata.is_normalized("NFC", text):
            return letter_bytes(unicodedata.normalize("NFC", text), lower, line_mark)
    kind &= _UNSAFE - 1
    if (kind == _SPECIAL).any():
        text = raw.decode("utf-8") if text is None else text
        return Spaced(_by_code_points(text, kinds, line_mark), None)
    buf = bytearray(raw).translate(table)
    out = np.frombuffer(buf, dtype=np.uint8)
    blank = kind == _BLANK
    if blank.any():
        at, n = lead[blank], size[blank]
        for k in range(4):
            out[at[n > k] + k] = 32
    change = kind == _LOWER
    if change.any():
        _encode(out, lead[change], size[change], kinds.low[cps[change]])
    return Spaced(bytes(buf), lead[~blank])


def _decode(arr: np.ndarray, lead: np.ndarray, first: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Code points of the (valid) UTF-8 characters that start at ``lead`` (their first
    bytes ``first``, their lengths ``size``).  Two-byte characters (the accented
    Latin, Greek and Cyrillic letters) take no mask; the rest are decoded apart."""
    last = len(arr) - 1
    b0 = first.astype(np.int32)
    b1 = arr.take(np.minimum(lead + 1, last)).astype(np.int32)
    b1 &= 0x3F
    cp = b0 & 0x1F
    cp <<= 6
    cp |= b1
    big = np.flatnonzero(size > 2)
    if len(big):
        at = lead[big]
        c0, c1 = b0[big], b1[big]
        c2 = arr.take(np.minimum(at + 2, last)).astype(np.int32) & 0x3F
        c3 = arr.take(np.minimum(at + 3, last)).astype(np.int32) & 0x3F
        three = ((c0 & 0x0F) << 12) | (c1 << 6) | c2
        four = ((c0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3
        cp[big] = np.where(size[big] == 3, three, four)
    return cp


def _encode(out: np.ndarray, lead: np.ndarray, size: np.ndarray, cps: np.ndarray) -> None:
    """Write code points as UTF-8 at ``lead`` (each of the given ``size``) into ``out``."""
    prefix = np.array([0, 0, 0xC0, 0xE0, 0xF0], dtype=np.int32)[size]
    out[lead] = prefix | (cps >> (6 * (size - 1)))
    for k in (1, 2, 3):
        more = size > k
        shift = 6 * (size[more] - 1 - k)
        out[lead[more] + k] = 0x80 | ((cps[more] >> shift) & 0x3F)


def _by_code_points(text: str, kinds: _Kinds, line_mark: bool) -> bytes:
    """The exact route for chunks with context-dependent or length-changing lowercase."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()
    blank = (kinds.of(cps) & (_UNSAFE - 1)) == _BLANK
    blank &= cps != 10  # a line break is blank to str.lower too; the table decides its byte
    cps[blank] = 32
    out = cps.tobytes().decode("utf-32-le")
    if kinds.lower:
        out = out.lower()
    return out.encode("utf-8").translate(byte_table(kinds.lower, line_mark))
