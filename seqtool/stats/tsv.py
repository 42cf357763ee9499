"""``ngram<TAB>count`` lines assembled as bytes with array operations.

Writing every n-gram of a large corpus means tens of millions of lines; one
Python string operation per line would cost more than counting them.  Here a
block of lines is laid out in one uint8 array and turned into bytes at once.

The usual layout is a NUL-padded matrix, one row per line: each token is a
fixed-width field copied from a padded token table (one gather per column),
then the separators, the tab, the decimal digits (leading zeros as NUL) and
the line break; ``bytes.translate`` then deletes every NUL at memory speed.
Tokens that hold a NUL, or blocks with a token wider than the table, are laid
out byte by byte instead: token bytes copied as segments, separators, tabs,
digits and line breaks scattered in place.
"""

from __future__ import annotations

import re

import numpy as np

from seqtool.io import tsv_escape

_POW10 = 10 ** np.arange(19, dtype=np.int64)
PAD_WIDTH = 32  # widest token field of the padded layout
_ESCAPED = re.compile(r"[\\\t\r]")


class TokenBytes:
    """The UTF-8 bytes of every token as a TSV field (:func:`seqtool.io.tsv_escape`),
    concatenated, with each token's start and length; ``escape=False``: the bytes as
    they are (ARPA files, whose words hold no whitespace and no escapes)."""

    def __init__(self, tokens: list[str], escape: bool = True) -> None:
        joined = "\n".join(tokens)
        plain = joined.count("\n") == len(tokens) - 1
        if plain and (not escape or not _ESCAPED.search(joined)):
            # no token holds a line break, a tab, a carriage return or a backslash
            encoded = joined.encode("utf-8", "surrogatepass").split(b"\n")
        elif escape:
            encoded = [tsv_escape(t).encode("utf-8", "surrogatepass") for t in tokens]
        else:
            encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
        self.length = np.fromiter(map(len, encoded), np.int64, len(encoded))
        self.start = np.concatenate(([0], np.cumsum(self.length)[:-1])).astype(np.int64)
        self.blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        self.padded: np.ndarray | None = None
        """(V,) fixed-width (``V<w>``) NUL-padded tokens, cut at PAD_WIDTH bytes; None
        when a token holds a NUL byte (the padding would not be removable)."""
        if self.blob.all():
            width = int(min(max(self.length.max(initial=0), 1), PAD_WIDTH))
            width = -(-width // 8) * 8  # whole 8-byte words: numpy gathers those fastest
            # numpy pads (and cuts) bytes to the fixed width in C
            self.padded = np.array(encoded, dtype=f"S{width}").view(f"V{width}")


def _copy_segments(
    out: np.ndarray, dst: np.ndarray, src: np.ndarray, data: np.ndarray, lengths: np.ndarray
) -> None:
    """out[dst[i] : dst[i] + lengths[i]] = data[src[i] : src[i] + lengths[i]] for every i."""
    total = int(lengths.sum())
    if total == 0:
        return
    before = np.cumsum(lengths) - lengths  # bytes of earlier segments
    step = np.arange(total, dtype=np.int64)
    out[np.repeat(dst - before, lengths) + step] = data[np.repeat(src - before, lengths) + step]


def tsv_lines(toks: TokenBytes, rows: np.ndarray, counts: np.ndarray, sep: bytes) -> bytes:
    """The lines ``tok1 sep tok2 ... TAB count NEWLINE`` of (k, n) id rows and (k,) counts."""
    if len(rows) and b"\x00" not in sep:
        padded = toks.padded
        if padded is not None:
            width = padded.dtype.itemsize
            if width < PAD_WIDTH or int(toks.length[rows].max()) <= width:
                return _padded_lines(padded, rows, counts, sep)
    return _segment_lines(toks, rows, counts, sep)


def _padded_lines(padded: np.ndarray, rows: np.ndarray, counts: np.ndarray, sep: bytes) -> bytes:
    k, n = rows.shape
    width = padded.dtype.itemsize
    digits = int(np.searchsorted(_POW10, counts.max(), side="right"))  # counts >= 1
    groups = -(-digits // 8)  # the digits as 8-byte words, NUL-padded on the right
    text = n * width + (n - 1) * len(sep)
    line = text + 1 + 8 * groups + 1
    template = np.zeros(line, dtype=np.uint8)
    for j in range(n - 1):
        at = j * (width + len(sep)) + width
        template[at : at + len(sep)] = np.frombuffer(sep, dtype=np.uint8)
    template[text] = 9  # tab
    template[line - 1] = 10
    names = [f"t{j}" for j in range(n)] + [f"d{g}" for g in range(groups)]
    layout = np.dtype(
        {
            "names": names,
            "formats": [padded.dtype] * n + ["<u8"] * groups,
            "offsets": [j * (width + len(sep)) for j in range(n)]
            + [text + 1 + 8 * g for g in range(groups)],
            "itemsize": line,
        }
    )
    out = np.empty((k, line), dtype=np.uint8)
    out[:] = template
    fields = out.view(layout).reshape(k)
    for j in range(n):
        np.take(padded, rows[:, j], out=fields[f"t{j}"], mode="clip")
    word = np.zeros(k, dtype=np.uint64)
    for d in range(digits):
        place = int(_POW10[digits - 1 - d])
        digit = (counts // place) % 10 + 48
        if d < digits - 1:
            digit[counts < place] = 0  # leading zero: removed with the padding
        word |= digit.astype(np.uint64) << np.uint64(8 * (d % 8))
        if d % 8 == 7 or d == digits - 1:
            fields[f"d{d // 8}"] = word
            word[:] = 0
    return out.tobytes().translate(None, b"\x00")


def _segment_lines(toks: TokenBytes, rows: np.ndarray, counts: np.ndarray, sep: bytes) -> bytes:
    k, n = rows.shape
    lens = toks.length[rows]  # (k, n)
    digits = np.searchsorted(_POW10, counts, side="right")  # counts >= 1: 1..19
    text = lens.sum(axis=1) + (n - 1) * len(sep)  # bytes before the tab
    line = text + digits + 2
    off = np.cumsum(line) - line
    out = np.empty(int(line.sum()), dtype=np.uint8)
    pos = off.copy()
    for j in range(n):
        _copy_segments(out, pos, toks.start[rows[:, j]], toks.blob, lens[:, j])
        pos += lens[:, j]
        if j < n - 1:
            for b, byte in enumerate(sep):
                out[pos + b] = byte
            pos += len(sep)
    out[pos] = 9  # tab
    for d in range(int(digits.max()) if k else 0):
        live = d < digits
        place = _POW10[np.maximum(digits - 1 - d, 0)]
        out[(pos + 1 + d)[live]] = (48 + (counts // place) % 10)[live]
    out[off + line - 1] = 10
    return out.tobytes()
