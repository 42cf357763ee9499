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
5e-7 from the model's float32 values).  Reading splits a section a few megabytes
at a time and converts whole columns with numpy.
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
    with open_binary(path) as f:
        data = f.read()
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"{name}:{line}: invalid UTF-8 in the ARPA file") from None


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


_POW10 = 10.0 ** np.arange(23)  # exact doubles


def _decimals(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray | None:
    """Numbers written ``[-]digits[.digits][e[+-]digits]`` (at most 15 digits before
    the exponent) as float64, the values ``float()`` gives: an exact integer times or
    over an exact power of ten, rounded once.  None if any number has another form
    (inf, nan, a leading +, ...)."""
    lengths = ends - starts
    width = int(lengths.max(initial=0))
    if width > 30:
        return None
    n = len(starts)
    mant = np.zeros(n, dtype=np.int64)
    frac = np.zeros(n, dtype=np.int64)
    digits = np.zeros(n, dtype=np.int64)
    expo = np.zeros(n, dtype=np.int64)
    exp_digits = np.zeros(n, dtype=np.int64)
    exp_neg = np.zeros(n, dtype=bool)
    point = np.zeros(n, dtype=bool)
    in_exp = np.zeros(n, dtype=bool)
    after_e = np.zeros(n, dtype=bool)
    last = len(buf) - 1
    for j in range(width):
        inside = lengths > j
        c = buf[np.minimum(starts + j, last)].astype(np.int64)
        digit = (c >= 48) & (c <= 57) & inside
        dot = (c == 46) & inside & ~in_exp & ~point
        e = ((c == 101) | (c == 69)) & inside & ~in_exp & (digits > 0)
        sign = ((c == 45) | (c == 43)) & inside & after_e
        ok = digit | dot | e | sign
        if j == 0:
            ok |= c == 45
        if not ok[inside].all():
            return None
        in_mant = digit & ~in_exp
        mant = np.where(in_mant, mant * 10 + (c - 48), mant)
        frac += in_mant & point
        digits += in_mant
        exp_digit = digit & in_exp
        expo = np.where(exp_digit, expo * 10 + (c - 48), expo)
        exp_digits += exp_digit
        exp_neg |= sign & (c == 45)
        point |= dot
        in_exp |= e
        after_e = e
    if n and (digits.min() == 0 or digits.max() > 15 or (in_exp & (exp_digits == 0)).any()):
        return None
    power = frac - np.where(exp_neg, -expo, expo)  # value = mant / 10**power
    if n and (np.abs(power).max() > 22):
        return None
    down = power >= 0
    value = np.where(down, mant / _POW10[np.abs(power)], mant * _POW10[np.abs(power)])
    value[buf[np.minimum(starts, last)] == 45] *= -1.0
    return value


def _word_index(words: list[str]) -> wordbytes.WordIndex:
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    return wordbytes.WordIndex(b"".join(encoded), np.cumsum([len(e) for e in encoded]))


def _fast_section(
    data: bytes,
    body: int,
    end: int,
    k: int,
    top: bool,
    index: wordbytes.WordIndex,
    keys: list[np.ndarray],
    slots: dict[int, np.ndarray],
    V: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(log10 p, log10 backoff, key) of the lines of a k-gram section (k >= 2), parsed
    with array work on its bytes; None when the section needs the line-by-line parser
    (lines without a backoff, other whitespace or number forms, unknown words, missing
    prefixes: the cases it reports or allows)."""
    raw = data[body:end]
    buf = np.frombuffer(raw, dtype=np.uint8)
    if not wordbytes.plain_spaces(raw, buf):
        return None
    starts, ends = wordbytes.spans(buf)
    fields = k + 1 if top else k + 2
    if len(starts) % fields:
        return None
    m = len(starts) // fields
    # a line break before a field (in the spaces since the previous one) must come
    # exactly before every line's first field
    broken = np.zeros(len(starts), dtype=bool)
    if len(starts):
        broken[0] = 10 in raw[: starts[0]]
        gap = starts[1:] - ends[:-1]
        broken[1:] = buf[starts[1:] - 1] == 10
        wide = np.flatnonzero(gap > 1) + 1  # a longer gap: look at every byte of it
        breaks = np.flatnonzero(buf == 10) if len(wide) else np.zeros(0, dtype=np.int64)
        broken[wide] = np.searchsorted(breaks, starts[wide]) > np.searchsorted(
            breaks, ends[wide - 1]
        )
    layout = broken.reshape(m, fields)
    if m and not (layout[:, 0].all() and not layout[:, 1:].any()):
        return None  # not every line holds all its fields
    starts = starts.reshape(m, fields)
    ends = ends.reshape(m, fields)
    logp = _decimals(buf, starts[:, 0], ends[:, 0])
    logb = _decimals(buf, starts[:, -1], ends[:, -1]) if not top else np.zeros(0)
    if logp is None or logb is None:
        return None
    ids = []
    for j in range(1, k + 1):
        col = index.ids(
            raw, buf, np.ascontiguousarray(starts[:, j]), np.ascontiguousarray(ends[:, j]), -1
        )
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
    ascii_text = data.isascii()  # then character offsets are byte offsets
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
    sections: dict[int, tuple[int, int]] = {}
    for k in range(1, N + 1):
        marker = f"\\{k}-grams:"
        s = text.find(marker, pos)
        if s < 0:
            raise InputError(f"{name}: the ARPA file has no {k}-gram section")
        body = s + len(marker)
        end = text.find("\n\\", body)
        if end < 0:
            raise InputError(
                f"{name}: the ARPA file is truncated (its {k}-gram section does not end)"
            )
        sections[k] = (body, end + 1)
        pos = end + 1
    if text.find("\\end\\", pos) < 0:
        raise InputError(f"{name}: the ARPA file is truncated (no \\end\\)")
    words: list[str] = []
    index = _Ids()
    keys: list[np.ndarray] = []
    logps: list[np.ndarray] = []
    logbs: list[np.ndarray] = []
    word_index: wordbytes.WordIndex | None = None
    slots: dict[int, np.ndarray] = {}  # hash indexes of the orders read, built when needed
    for k in range(1, N + 1):
        body, end = sections[k]
        line0 = text.count("\n", 0, body)
        top = k == N
        if k > 1:
            b0, b1 = (
                (body, end) if ascii_text else (len(text[:body].encode()), len(text[:end].encode()))
            )
            if word_index is None:
                word_index = _word_index(words)
            fast = _fast_section(data, b0, b1, k, top, word_index, keys, slots, len(words))
            if fast is not None:
                logp, logb, key = fast
                if len(logp) != declared[k]:
                    raise InputError(
                        f"{name}: the header promises {declared[k]} {k}-grams, "
                        f"the section has {len(logp)}"
                    )
                order = np.argsort(key, kind="stable")
                key, logp = key[order], logp[order]
                if not top:
                    logb = logb[order]
                if len(key) > 1 and (key[1:] == key[:-1]).any():
                    raise InputError(f"{name}: a {k}-gram is listed twice")
                keys.append(key)
                logps.append(np.minimum(logp, 0.0).astype(np.float32))
                if not top:
                    logbs.append(logb.astype(np.float32))
                continue
        ps, bs, cols = [], [], [[] for _ in range(k)]  # type: list[np.ndarray], list[np.ndarray], list[list[str]]
        for piece in _section_pieces(text, body, end):
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
