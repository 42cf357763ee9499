"""``ngram<TAB>count`` lines assembled as bytes with array operations.

Writing every n-gram of a large corpus means tens of millions of lines; one
Python string operation per line would cost more than counting them.  Here a
block of lines is laid out in one uint8 array: token bytes are copied as
segments (one gather for all tokens of a column), separators, tabs, decimal
digits and line breaks are scattered in place.
"""

from __future__ import annotations

import numpy as np

_POW10 = 10 ** np.arange(19, dtype=np.int64)


class TokenBytes:
    """The UTF-8 bytes of every token, concatenated, with each token's start and length."""

    def __init__(self, tokens: list[str]) -> None:
        encoded = [t.encode("utf-8", "surrogatepass") for t in tokens]
        self.length = np.fromiter(map(len, encoded), np.int64, len(encoded))
        self.start = np.concatenate(([0], np.cumsum(self.length)[:-1])).astype(np.int64)
        self.blob = np.frombuffer(b"".join(encoded), dtype=np.uint8)


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
