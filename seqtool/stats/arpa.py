"""ARPA back-off language model files: write and read, as arrays.

The format (SRILM's, read by KenLM, NLTK-era tools and most decoders)::

    \\data\\
    ngram 1=3
    ngram 2=2

    \\1-grams:
    -1.2041	<unk>	0
    0	<s>	-0.30103
    ...
    \\2-grams:
    -0.30103	<s> a
    ...
    \\end\\

Each line is log10 p, the n-gram, and (below the highest order) the log10
backoff.  Writing lays out a block of lines as one byte matrix (numbers as
fixed-width digit fields, tokens as NUL-padded fields, NULs deleted at the end),
so a 100 MB file takes seconds, not minutes; numbers carry six decimals (at most
5e-7 from the model's float32 values).  Reading works on the file's bytes as
arrays: the words of a section from a whitespace mask, found in the vocabulary by
their bytes (:mod:`seqtool.stats.wordbytes`), the numbers parsed as aligned 16-byte
words with integer digit arithmetic (:func:`_numbers`); a section it cannot take
that way (lines without a backoff, odd whitespace, an error to report with its line
number) goes through a line-by-line parser.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from seqtool.errors import InputError
from seqtool.io import atomic_write, display_name, open_binary
from seqtool.stats import hashindex, wordbytes
from seqtool.stats.tsv import PAD_WIDTH, TokenBytes

if TYPE_CHECKING:  # the model class uses this module to read and write ARPA files
    from seqtool.stats.ngram_lm import NGramLM

SPECIALS = ("<unk>", "<s>", "</s>")  # ARPA's own symbols; a model's word ids 0, 1, 2

FLOOR = -99.0  # log10 of "never": what ARPA files write for probability 0
_BLOCK = 1 << 18  # n-grams per written block
_READ_PIECE = 8 << 20  # characters of a section parsed at a time
_HEADER = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)\s*$")


# ---------------------------------------------------------------------- writing
def _digit_table(strip_trailing: bool, width: int, strip_leading: bool = False) -> np.ndarray:
    """Every number below 10**width as ``width`` ASCII digits (as a ``V<width>`` array),
    trailing or leading zeros replaced by NUL."""
    out = np.zeros((10**width, width), dtype=np.uint8)
    for i in range(10**width):
        text = str(i).zfill(width)
        if strip_trailing:
            text = text.rstrip("0")
        if strip_leading:
            text = text.lstrip("0") or "0"
            text = "\0" * (width - len(text)) + text
        raw = text.encode("ascii")
        out[i, : len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    return out.view(f"V{width}").reshape(-1)


_WHOLE = _digit_table(False, 2, strip_leading=True)
_FRAC = _digit_table(False, 3)
_FRAC_END = _digit_table(True, 3)
_NUMBER = np.dtype(
    {
        "names": ["sign", "whole", "point", "hi", "lo"],
        "formats": ["u1", "V2", "u1", "V3", "V3"],
        "offsets": [0, 1, 3, 4, 7],
        "itemsize": 10,
    }
)


def number_fields(values: np.ndarray) -> np.ndarray:
    """(m,) floats -> (m, 10) uint8: ``-dd.dddddd`` with NUL where nothing is printed.

    Six decimals (``-1.250000`` prints as ``-1.25``, ``0`` as ``0``): leading zeros,
    trailing fraction zeros and a bare point are NULs, deleted when the block is
    joined.  The digits come from lookup tables (two digits of the whole part, two
    groups of three decimals), so a block costs a few gathers.  Values are clamped
    to [-99, 99] (log10 -99 is the ARPA "never").
    """
    v = np.clip(np.nan_to_num(values.astype(np.float64), nan=FLOOR, neginf=FLOOR), FLOOR, -FLOOR)
    q = np.rint(np.abs(v) * 1e6).astype(np.int64)
    whole, frac = np.divmod(q, 1_000_000)
    hi, lo = np.divmod(frac, 1000)
    out = np.zeros(len(v), dtype=_NUMBER)
    out["sign"] = np.where((v < 0) & (q > 0), ord("-"), 0)
    np.take(_WHOLE, whole, out=out["whole"])
    out["point"] = np.where(frac > 0, ord("."), 0)
    end = lo == 0
    out["hi"] = np.where(end, _FRAC_END.take(hi), _FRAC.take(hi))
    out["lo"] = _FRAC_END.take(lo)  # lo == 0: all NUL
    return out.view(np.uint8).reshape(len(v), 10)


def _narrow(padded: np.ndarray, width: int) -> np.ndarray:
    """The padded token table cut to ``width`` bytes per token."""
    if padded.dtype.itemsize == width:
        return padded
    cells = padded.view(np.uint8).reshape(len(padded), padded.dtype.itemsize)
    return np.ascontiguousarray(cells[:, :width]).view(f"V{width}").reshape(len(padded))


def _padded_lines(
    padded: np.ndarray, rows: np.ndarray, p: np.ndarray, b: np.ndarray | None
) -> bytes:
    """ARPA lines as one NUL-padded byte matrix: number, tab, token fields, [tab,
    number], newline; the NULs are deleted at the end."""
    m, k = rows.shape
    width = padded.dtype.itemsize
    pw = p.shape[1]
    starts = [pw + 1 + j * (width + 1) for j in range(k)]
    at = starts[-1] + width
    line = at + (1 + b.shape[1] if b is not None else 0) + 1
    template = np.zeros(line, dtype=np.uint8)
    template[pw] = 9
    for j in range(1, k):
        template[starts[j] - 1] = 32
    if b is not None:
        template[at] = 9
    template[-1] = 10
    out = np.empty((m, line), dtype=np.uint8)
    out[:] = template
    out[:, :pw] = p
    if b is not None:
        out[:, at + 1 : at + 1 + b.shape[1]] = b
    layout = np.dtype(
        {
            "names": [f"t{j}" for j in range(k)],
            "formats": [padded.dtype] * k,
            "offsets": starts,
            "itemsize": line,
        }
    )
    fields = out.view(layout).reshape(m)
    for j in range(k):
        np.take(padded, rows[:, j], out=fields[f"t{j}"])
    return out.tobytes().translate(None, b"\x00")


def _lines(
    toks: TokenBytes,
    rows: np.ndarray,
    logp: np.ndarray,
    logb: np.ndarray | None,
    narrow: dict[int, np.ndarray] | None = None,
) -> bytes:
    """ARPA lines ``logp TAB w1 .. wk [TAB logb] NL`` of a block of n-grams.

    ``narrow`` maps field widths to the token table cut to them (made once per file).
    """
    m, k = rows.shape
    p = number_fields(logp)
    b = number_fields(logb) if logb is not None else None
    padded = toks.padded
    longest = int(toks.length.max(initial=0))
    if padded is not None and (k > 1 or longest <= padded.dtype.itemsize):
        # Narrow fields for the lines whose tokens are all short (most of them):
        # fewer padding bytes to copy and delete; the few lines with a token longer
        # than the widest field are made one at a time.  Line order does not matter
        # in ARPA (but unigrams keep theirs, the ids).
        need = toks.length[rows].max(axis=1) if m else np.zeros(0, np.int64)
        full = padded.dtype.itemsize
        tables = narrow if narrow is not None else {}

        def cut(width: int) -> np.ndarray:
            if width not in tables:
                tables[width] = _narrow(padded, width)
            return tables[width]

        parts = []
        low = -1
        widths = (8, 16, full) if k > 1 else (full,)
        for width in sorted({w for w in widths if w <= full}):
            sel = np.flatnonzero((need > low) & (need <= width))
            low = width
            if len(sel) == m:
                return _padded_lines(cut(width), rows, p, b)
            if len(sel):
                parts.append(
                    _padded_lines(cut(width), rows[sel], p[sel], b[sel] if b is not None else None)
                )
        if longest > full:
            sel = np.flatnonzero(need > full)
            parts.append(_plain_lines(toks, rows[sel], p[sel], b[sel] if b is not None else None))
        return b"".join(parts)
    # tokens too long for the padded layout (unigrams) or holding NULs
    return _plain_lines(toks, rows, p, b)


def _plain_lines(toks: TokenBytes, rows: np.ndarray, p: np.ndarray, b: np.ndarray | None) -> bytes:
    """ARPA lines made one at a time (number fields from :func:`number_fields`)."""
    used = np.unique(rows)
    words = {
        int(w): bytes(toks.blob[s : s + n])
        for w, s, n in zip(used.tolist(), toks.start[used].tolist(), toks.length[used].tolist())
    }
    ps = [r.tobytes().replace(b"\x00", b"") for r in p]
    bs = [r.tobytes().replace(b"\x00", b"") for r in b] if b is not None else None
    parts = []
    for i, r in enumerate(rows.tolist()):
        text = ps[i] + b"\t" + b" ".join(words[w] for w in r)
        parts.append(text + (b"\t" + bs[i] if bs is not None else b"") + b"\n")
    return b"".join(parts)


def write_arpa(model: NGramLM, path: str | os.PathLike[str]) -> None:
    """Write the model as an ARPA file (atomically; ``.gz`` etc. are not compressed)."""

    def blocks() -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
        N = model.order
        for k in range(1, N + 1):
            m = len(model.keys[k - 1])
            for s in range(0, m, _BLOCK):
                e = min(m, s + _BLOCK)
                logb = model.logb[k - 1][s:e] if k < N else None
                yield k, model.ngram_rows(k, s, e), model.logp[k - 1][s:e], logb

    write_arpa_blocks(path, model.words, model.counts(), blocks())


def write_arpa_blocks(
    path: str | os.PathLike[str],
    words: list[str],
    counts: list[int],
    blocks: Iterable[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]],
) -> None:
    """Write an ARPA file (atomically) from its n-grams as they come: ``blocks`` gives
    (order k, (m, k) word id rows, log10 p, log10 backoff or None for the highest
    order) in file order, ``counts`` the n-grams of every order (the header).  Lines
    are made _BLOCK n-grams at a time whatever the blocks' sizes, so the bytes do not
    depend on how the n-grams are handed over."""
    toks = TokenBytes(words, escape=False)  # ARPA words as they are: no TSV escapes
    if toks.padded is not None and toks.padded.dtype.itemsize > PAD_WIDTH:
        toks.padded = None
    N = len(counts)
    narrow: dict[int, np.ndarray] = {}  # token tables cut to narrower fields, made once
    written = [0] * (N + 1)
    with atomic_write(path, "wb") as f:
        head = ["\\data\\"] + [f"ngram {k}={c}" for k, c in enumerate(counts, 1)]
        f.write(("\n".join(head) + "\n\n").encode("ascii"))
        order = 0
        waiting: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []

        def flush(everything: bool) -> None:
            """Write the waiting n-grams of the current order in _BLOCK lines."""
            if not waiting:
                return
            rows = np.concatenate([w[0] for w in waiting]) if len(waiting) > 1 else waiting[0][0]
            logp = np.concatenate([w[1] for w in waiting]) if len(waiting) > 1 else waiting[0][1]
            logb = None
            if waiting[0][2] is not None:
                logb = (
                    np.concatenate([w[2] for w in waiting])  # type: ignore[misc]
                    if len(waiting) > 1
                    else waiting[0][2]
                )
            waiting.clear()
            m = len(rows)
            whole = m if everything else m - m % _BLOCK
            for s in range(0, whole, _BLOCK):
                e = min(whole, s + _BLOCK)
                f.write(
                    _lines(toks, rows[s:e], logp[s:e], None if logb is None else logb[s:e], narrow)
                )
            if whole < m:
                waiting.append((rows[whole:], logp[whole:], None if logb is None else logb[whole:]))

        def section(k: int) -> int:
            """End the sections before order k's (empty ones too) and start it."""
            for j in range(order + 1, k + 1):
                flush(True)
                if j > 1:
                    f.write(b"\n")
                f.write(f"\\{j}-grams:\n".encode("ascii"))
            return max(order, k)

        for k, rows, logp, logb in blocks:
            order = section(k)
            waiting.append((rows, logp, logb))
            written[k] += len(rows)
            if sum(len(w[0]) for w in waiting) >= _BLOCK:
                flush(False)
        order = section(N)
        flush(True)
        if written[1:] != list(counts):  # the file is not committed then
            raise AssertionError(f"ARPA blocks gave {written[1:]} n-grams, not {list(counts)}")
        f.write(b"\n\\end\\\n")


# ---------------------------------------------------------------------- reading
def _read_text(path: str | os.PathLike[str], name: str) -> tuple[str, bytes]:
    """The file's bytes (checked to be UTF-8) and its header (the text before the
    first section) as text."""
    with open_binary(path) as f:
        data = f.read()
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise InputError(f"{name}:{line}: invalid UTF-8 in the ARPA file") from None
    cut = data.find(b"-grams:")  # the header ends with the first section's line
    cut = data.find(b"\n", cut) + 1 if cut >= 0 else 0
    return data[: cut or len(data)].decode("utf-8"), data


def _section_pieces(text: str, start: int, end: int) -> list[str]:
    """The section text cut at line breaks into pieces of about _READ_PIECE characters."""
    pieces = []
    while start < end:
        cut = min(end, start + _READ_PIECE)
        if cut < end:
            nl = text.rfind("\n", start, cut)
            cut = nl + 1 if nl >= start else text.find("\n", cut, end) + 1 or end
        pieces.append(text[start:cut])
        start = cut
    return pieces


def _parse_piece(
    piece: str, k: int, top: bool, name: str, line0: int
) -> tuple[np.ndarray, list[list[str]], np.ndarray]:
    """(log10 p, k word columns, log10 backoff) of the lines of one piece."""
    fields = piece.split()
    width = k + 1 if top else k + 2
    if len(fields) % width == 0:
        cols = [fields[j::width] for j in range(width)]
        try:  # every line has all its fields: whole columns at once
            logp = np.asarray(cols[0], dtype=np.float64)
            logb = np.asarray(cols[k + 1], dtype=np.float64) if not top else np.zeros(0)
            return logp, cols[1 : k + 1], logb
        except ValueError:
            pass
    # lines with and without a backoff (allowed below the top order), or a bad line
    cols = [[] for _ in range(k + 1)]
    backoff: list[str] = []
    at = line0
    for ln in piece.split("\n"):
        at += 1
        f = ln.split()
        if not f:
            continue
        if len(f) not in ((k + 1,) if top else (k + 1, k + 2)):
            need = f"{k + 1}" if top else f"{k + 1} or {k + 2}"
            raise InputError(f"{name}:{at}: a {k}-gram line needs {need} fields, not {len(f)}")
        for j in range(k + 1):
            cols[j].append(f[j])
        backoff.append(f[k + 1] if len(f) == k + 2 else "0")
        try:
            float(f[0]), float(backoff[-1])
        except ValueError:
            raise InputError(f"{name}:{at}: a {k}-gram line must start with a number") from None
    logp = np.asarray(cols[0], dtype=np.float64)
    logb = np.asarray(backoff, dtype=np.float64) if not top else np.zeros(0)
    return logp, cols[1:], logb


class _Ids(dict[str, int]):
    """word -> id; an unknown word gives -1."""

    def __missing__(self, word: str) -> int:
        return -1


class ArpaArrays(NamedTuple):
    """An ARPA model as :class:`~seqtool.stats.ngram_lm.NGramLM`'s arrays (its
    constructor's arguments, in order)."""

    words: list[str]
    keys: list[np.ndarray]
    logp: list[np.ndarray]
    logb: list[np.ndarray]
    meta: dict[str, Any]


def _byte_masks() -> tuple[np.ndarray, np.ndarray]:
    """Byte masks (pairs of uint64, little-endian) for :func:`_numbers`: the first n
    of 16 bytes; and for a number shifted so that its point sits at byte 4, its
    digits: the ``left`` bytes before the point (less a leading minus) and the
    ``right`` (-1 to 11) after it."""
    head = np.zeros((17, 16), dtype=np.uint8)
    for n in range(17):
        head[n, :n] = 255
    digits = np.zeros((5, 13, 2, 16), dtype=np.uint8)  # (left, right + 1, minus, byte)
    for left in range(5):
        for right in range(-1, 12):
            for neg in (0, 1):
                digits[left, right + 1, neg, 4 - left + neg : 4] = 255
                digits[left, right + 1, neg, 5 : 5 + max(right, 0)] = 255
    return head.view(np.uint64).reshape(17, 2), digits.view(np.uint64).reshape(-1, 2)


_HEAD, _DIGITS = _byte_masks()
_ONES = np.uint64(0x0101010101010101)
_BYTE_OF = np.uint64(0x0001020304050607)  # 2**(8b) times this: b in the top byte


def _swar8(x: np.ndarray) -> np.ndarray:
    """8 decimal digits, one per byte (the first byte the most significant), as their
    number (three multiply-and-shift steps over the whole array)."""
    x = (x * np.uint64(10 * 256 + 1)) >> np.uint64(8)
    x &= np.uint64(0x00FF00FF00FF00FF)
    x = (x * np.uint64(100 * 65536 + 1)) >> np.uint64(16)
    x &= np.uint64(0x0000FFFF0000FFFF)
    x = (x * np.uint64(10000 * (1 << 32) + 1)) >> np.uint64(32)
    return x


def _numbers(
    data: bytes, win: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray | None:
    """The numbers at ``data[starts:ends]`` as float64, the values ``float()`` gives
    (None if one is not a number: the line parser then says where).  ``win[i + 8]``
    holds the 8 bytes of ``data`` from offset i (i >= -8; zeros past its ends).

    Each number is read as 8 bytes to find its point (or its end), then as 16 bytes
    shifted so that the point sits at byte 4: the digits become one 15-digit integer
    with whole-array integer steps (SWAR: 8 digits a uint64), exact, and that over
    10**11, rounded once, is the decimal's value.  Up to 4 characters before the
    point and 11 after; other forms (an exponent, more digits) go one by one
    through numpy's own conversion.
    """
    m = len(starts)
    value = np.empty(m)
    if not m:
        return value
    lengths = ends - starts
    head = win[starts + 8]  # fancy indexing: take() would copy the strided view
    head &= _HEAD[np.minimum(lengths, 8), 0]
    # the first '.' byte of the first 8: the lowest zero byte of head ^ '........'
    y = head ^ np.uint64(0x2E2E2E2E2E2E2E2E)
    zero = (y - _ONES) & ~y & np.uint64(0x8080808080808080)
    low = zero & (~zero + np.uint64(1))  # its top bit alone, 2**(8b + 7) (0: no point)
    point = ((low >> np.uint64(7)) * _BYTE_OF) >> np.uint64(56)  # b
    point = np.where(low == 0, lengths, point.view(np.int64))
    right = lengths - point - 1
    neg = (head & np.uint64(0xFF)) == 45
    ok = (point <= 4) & (right <= 11) & (lengths <= 16)
    ok &= lengths - neg > (right >= 0)  # some digit (bool + bool would be an or)
    which = np.minimum(point, 4) * 26
    which += (np.minimum(right, 11) + 1) * 2
    which += neg
    at = starts + point + 4  # win[at]: from 4 bytes before the point
    first = win[at]
    first ^= np.uint64(0x3030303030303030)  # '0'..'9' -> 0..9, others >= 10
    first &= _DIGITS[:, 0].take(which)
    second = win[at + 8]
    second ^= np.uint64(0x3030303030303030)
    second &= _DIGITS[:, 1].take(which)
    big = (first + np.uint64(0x7676767676767676)) | first  # a byte > 9: its top bit
    big |= (second + np.uint64(0x7676767676767676)) | second
    big &= np.uint64(0x8080808080808080)
    ok &= big == 0
    # first: the digits IIII0fff (the point as a 0), second: 8 more after the point
    mant = _swar8(first) * np.uint64(10**7)  # IIII0fff * 10**7 = IIII * 10**11 + fff * 10**7
    mant += _swar8(first & np.uint64(0xFFFFFF0000000000)) * np.uint64(9 * 10**7)
    mant += _swar8(second)
    np.divide(mant, 1e11, out=value)
    np.negative(value, out=value, where=neg)
    other = np.flatnonzero(~ok)
    return _slow_numbers(data, starts, ends, other, value) if len(other) else value


def _slow_numbers(
    data: bytes, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray, value: np.ndarray
) -> np.ndarray | None:
    """``value`` with the numbers of ``rows`` converted one by one (as the line parser
    converts them); None if one is not a number."""
    texts = [
        data[a:b].decode("utf-8", "replace")
        for a, b in zip(starts[rows].tolist(), ends[rows].tolist())
    ]
    try:
        value[rows] = np.asarray(texts, dtype=np.float64)
    except ValueError:
        return None
    return value


def _word_index(words: list[str]) -> wordbytes.WordIndex:
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    return wordbytes.WordIndex(b"".join(encoded), np.cumsum([len(e) for e in encoded]))


class _Bytes(NamedTuple):
    """An ARPA file's bytes for the array parser."""

    data: bytes
    buf: np.ndarray  # the same bytes as uint8
    win: np.ndarray  # win[i + 8]: the 8 bytes from offset i, little-endian (zeros past the ends)


def _bytes(data: bytes) -> _Bytes:
    padded = np.empty(len(data) + 32, dtype=np.uint8)
    padded[:8] = 0
    padded[8 + len(data) :] = 0
    buf = padded[8 : 8 + len(data)]
    buf[:] = np.frombuffer(data, dtype=np.uint8)
    win = np.ndarray((len(data) + 24,), dtype="<u8", buffer=padded, strides=(1,))
    return _Bytes(data, buf, win)


def _one_line_each(
    text: _Bytes, body: int, end: int, starts: np.ndarray, ends: np.ndarray, fields: int
) -> bool:
    """Whether the words at ``starts:ends`` of the section ``body:end`` come
    ``fields`` to a line: a line break before every ``fields``-th, none elsewhere."""
    buf = text.buf
    lead = text.data.count(b"\n", body, int(starts[0]))
    trail = text.data.count(b"\n", int(ends[-1]), end)
    breaks = np.count_nonzero(buf[body:end] == 10)
    if lead and (buf[starts[fields::fields] - 1] == 10).all():
        # one break just before each line's first word: then no other break if
        # they add up (the common layout, checked with two passes)
        if breaks == lead + len(starts) // fields - 1 + trail:
            return True
    # in general: where the breaks fall among the gaps between words
    broken = np.zeros(len(starts), dtype=bool)
    broken[0] = lead > 0
    gap = starts[1:] - ends[:-1]
    broken[1:] = buf[starts[1:] - 1] == 10
    wide = np.flatnonzero(gap > 1) + 1  # a longer gap: look at every byte of it
    if len(wide):
        at = np.flatnonzero(buf[body:end] == 10) + body
        broken[wide] = np.searchsorted(at, starts[wide]) > np.searchsorted(at, ends[wide - 1])
    layout = broken.reshape(-1, fields)
    return bool(layout[:, 0].all() and not layout[:, 1:].any())


def _fast_section(
    text: _Bytes,
    body: int,
    end: int,
    k: int,
    top: bool,
    index: wordbytes.WordIndex,
    keys: list[np.ndarray],
    slots: dict[int, np.ndarray],
    V: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(log10 p, log10 backoff, key) of the lines of a k-gram section (k >= 2) at
    ``body:end`` of a file whose only whitespace is ASCII space, tab, CR and LF,
    parsed with array work on its bytes; None when the section needs the
    line-by-line parser (lines without a backoff, numbers that are not numbers,
    unknown words, missing prefixes: the cases it reports or allows)."""
    buf = text.buf
    starts, ends = wordbytes.spans(buf[body:end])
    starts += body
    ends += body
    fields = k + 1 if top else k + 2
    if len(starts) % fields:
        return None
    m = len(starts) // fields
    if m and not _one_line_each(text, body, end, starts, ends, fields):
        return None  # not every line holds all its fields
    # one field a column: strided views (fancy indexing takes them as they are)
    logp = _numbers(text.data, text.win, starts[0::fields], ends[0::fields])
    if top:
        logb: np.ndarray | None = np.zeros(0)
    else:
        logb = _numbers(
            text.data, text.win, starts[fields - 1 :: fields], ends[fields - 1 :: fields]
        )
    if logp is None or logb is None:
        return None
    ids = []
    win = text.win[8:]
    for j in range(1, k + 1):
        col = index.ids(text.data, buf, starts[j::fields], ends[j::fields], -1, win)
        if len(col) and col.min() < 0:
            return None
        ids.append(col)
    idx = ids[0]
    for j in range(1, k - 1):
        want = idx * V + ids[j]
        if j not in slots:
            slots[j] = hashindex.build(keys[j])
        idx = hashindex.find(slots[j], keys[j], want).astype(np.int64)
        if len(idx) and idx.min() < 0:
            return None
    return logp, logb, idx * V + ids[k - 1]


def read_arpa(path: str | os.PathLike[str]) -> ArpaArrays:
    """Read an ARPA file into the arrays of an :class:`NGramLM` (``NGramLM.load``
    makes the model); a missing ``<unk>`` gets log10 p -100."""
    name = display_name(path)
    text, data = _read_text(path, name)
    start = text.find("\\data\\")
    if start < 0 or text[:start].strip():
        raise InputError(f"{name}: not an ARPA file (no \\data\\ header)")
    pos = start + len("\\data\\")
    declared: dict[int, int] = {}
    while True:
        nl = text.find("\n", pos)
        if nl < 0:
            raise InputError(f"{name}: the ARPA file ends inside its header")
        line = text[pos:nl].strip()
        if line.startswith("\\"):
            break  # the first section: pos is at its line
        pos = nl + 1
        if not line:
            continue
        m = _HEADER.match(line)
        if not m:
            raise InputError(f"{name}: bad ARPA header line {line!r}")
        declared[int(m.group(1))] = int(m.group(2))
    N = max(declared, default=0)
    if not declared or sorted(declared) != list(range(1, N + 1)):
        raise InputError(f"{name}: the ARPA header must list every order from 1 up")
    at = len(text[:pos].encode("utf-8"))  # from here on, byte offsets
    sections: dict[int, tuple[int, int]] = {}
    for k in range(1, N + 1):
        marker = f"\\{k}-grams:".encode("ascii")
        s = data.find(marker, at)
        if s < 0:
            raise InputError(f"{name}: the ARPA file has no {k}-gram section")
        body = s + len(marker)
        end = data.find(b"\n\\", body)
        if end < 0:
            raise InputError(
                f"{name}: the ARPA file is truncated (its {k}-gram section does not end)"
            )
        sections[k] = (body, end + 1)
        at = end + 1
    if data.find(b"\\end\\", at) < 0:
        raise InputError(f"{name}: the ARPA file is truncated (no \\end\\)")
    del text  # the sections are read from the bytes
    arrays: _Bytes | None = None  # made for the first section of order 2 or more
    plain = N > 1 and wordbytes.plain_spaces(data, np.frombuffer(data, dtype=np.uint8))
    words: list[str] = []
    index = _Ids()
    keys: list[np.ndarray] = []
    logps: list[np.ndarray] = []
    logbs: list[np.ndarray] = []
    word_index: wordbytes.WordIndex | None = None
    slots: dict[int, np.ndarray] = {}  # hash indexes of the orders read, built when needed
    for k in range(1, N + 1):
        body, end = sections[k]
        top = k == N
        if k > 1 and plain:
            if word_index is None:
                word_index = _word_index(words)
            if arrays is None:
                arrays = _bytes(data)
            fast = _fast_section(arrays, body, end, k, top, word_index, keys, slots, len(words))
            if fast is not None:
                logp, logb, key = fast
                if len(logp) != declared[k]:
                    raise InputError(
                        f"{name}: the header promises {declared[k]} {k}-grams, "
                        f"the section has {len(logp)}"
                    )
                if len(key) > 1 and not (key[1:] > key[:-1]).all():  # seqtool's files: sorted
                    order = np.argsort(key, kind="stable")
                    key, logp = key[order], logp[order]
                    if not top:
                        logb = logb[order]
                    if (key[1:] == key[:-1]).any():
                        raise InputError(f"{name}: a {k}-gram is listed twice")
                keys.append(key)
                logps.append(np.minimum(logp, 0.0).astype(np.float32))
                if not top:
                    logbs.append(logb.astype(np.float32))
                continue
        ps, bs, cols = [], [], [[] for _ in range(k)]  # type: list[np.ndarray], list[np.ndarray], list[list[str]]
        section = data[body:end].decode("utf-8")  # valid: the whole file was decoded
        line0 = data.count(b"\n", 0, body)
        for piece in _section_pieces(section, 0, len(section)):
            p, c, b = _parse_piece(piece, k, top, name, line0)
            line0 += piece.count("\n")
            ps.append(p)
            bs.append(b)
            for j in range(k):
                cols[j].extend(c[j])
        logp = np.concatenate(ps) if ps else np.zeros(0)
        logb = np.concatenate(bs) if bs and not top else np.zeros(len(logp))
        if len(logp) != declared[k]:
            raise InputError(
                f"{name}: the header promises {declared[k]} {k}-grams, the section has {len(logp)}"
            )
        if k == 1:
            words, logp, logb = _vocabulary(cols[0], logp, logb, name)
            index = _Ids({w: i for i, w in enumerate(words)})
            key = np.arange(len(words), dtype=np.int64)
        else:
            key = _keys(cols, index, keys, len(words), name, k)
            order = np.argsort(key, kind="stable")
            key, logp, logb = key[order], logp[order], logb[order]
            dup = np.flatnonzero(key[1:] == key[:-1])
            if len(dup):
                raise InputError(f"{name}: a {k}-gram is listed twice")
        keys.append(key)
        logps.append(np.minimum(logp, 0.0).astype(np.float32))
        if not top:
            logbs.append(logb.astype(np.float32))
    meta = {"source": "arpa", "order": N}
    return ArpaArrays(words, keys, logps, logbs, meta)


def _vocabulary(
    col: list[str], logp: np.ndarray, logb: np.ndarray, name: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Unigrams reordered so that <unk>, <s>, </s> come first (ids 0, 1, 2)."""
    at = {w: i for i, w in enumerate(col)}
    if len(at) != len(col):
        raise InputError(f"{name}: a unigram is listed twice")
    for special in SPECIALS[1:]:
        if special not in at:
            raise InputError(f"{name}: the unigrams lack {special}")
    rest = [i for i, w in enumerate(col) if w not in SPECIALS]
    order = np.asarray([at.get("<unk>", -1), at["<s>"], at["</s>"], *rest], dtype=np.int64)
    words = list(SPECIALS) + [col[i] for i in rest]
    p = np.where(order >= 0, logp[order], -100.0)  # no <unk>: KenLM's choice
    b = np.where(order >= 0, logb[order], 0.0)
    return words, p, b


def _keys(
    cols: list[list[str]], index: _Ids, keys: list[np.ndarray], V: int, name: str, k: int
) -> np.ndarray:
    ids = []
    for c in cols:
        a = np.fromiter(map(index.__getitem__, c), np.int64, len(c))
        if len(a) and a.min() < 0:
            bad = c[int(np.argmin(a))]
            raise InputError(f"{name}: the {k}-gram word {bad!r} is not among the unigrams")
        ids.append(a)
    idx = ids[0]
    for j in range(1, k - 1):
        want = idx * V + ids[j]
        table = keys[j]
        pos = np.minimum(np.searchsorted(table, want), max(len(table) - 1, 0))
        miss = np.flatnonzero(table[pos] != want) if len(table) else np.arange(len(want))
        if len(miss):
            gram = " ".join(c[int(miss[0])] for c in cols)
            raise InputError(
                f"{name}: the {k}-gram {gram!r} has no {j + 1}-gram for its first words"
            )
        idx = pos
    return idx * V + ids[k - 1]
