"""Trained word vectors: the artifact that word2vec training produces.

Kept apart from the training code (gensim's Word2Vec / KeyedVectors split): a
:class:`WordVectors` is a list of words, most frequent first, and a float32 matrix
with one row per word.  It reads and writes the two word2vec formats that every
tool understands:

* text: a header line ``COUNT DIM``, then one line per word: the word and ``DIM``
  numbers, separated by single spaces;
* binary: the same header line, then for each word its UTF-8 bytes, a space, ``DIM``
  little-endian float32 values and a newline (word2vec.c's layout; gensim reads it).

:meth:`WordVectors.load` tells the two apart by content, reads ``.gz``/``.bz2``/``.xz``
transparently, and refuses a malformed file with one line that names the file and,
for text, the line.  Files are written atomically.  numpy only: no torch here.

Example::

    >>> import numpy as np
    >>> wv = WordVectors(["king", "queen", "man", "woman"],
    ...                  np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1]], dtype=np.float32))
    >>> wv.analogy("man", "king", "woman")[0][0]
    'queen'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO

import numpy as np

from seqtool import limits
from seqtool.errors import InputError, UsageError
from seqtool.io import atomic_write, display_name, open_binary

FLOAT = np.dtype("<f4")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # never in a text line


@dataclass
class WordVectors:
    """Words and their vectors; rows of ``vectors`` follow ``words``."""

    words: list[str]
    vectors: np.ndarray  # (n, dim) float32
    source: str = field(default="vectors", compare=False)

    def __post_init__(self) -> None:
        self.vectors = np.ascontiguousarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise UsageError(
                f"{len(self.words)} words need a ({len(self.words)}, dim) matrix, "
                f"not {self.vectors.shape}"
            )

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.id(word)]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @cached_property
    def index(self) -> dict[str, int]:
        index: dict[str, int] = {}
        for i, w in enumerate(self.words):
            index.setdefault(w, i)
        return index

    def id(self, word: str) -> int:
        """Row of ``word``; an unknown word is a one-line error that suggests a case variant."""
        i = self.index.get(word)
        if i is not None:
            return i
        folded = [w for w in (word.lower(), word.upper(), word.capitalize()) if w in self.index]
        raise InputError(
            f"{self.source}: unknown word {word!r} (the vectors have {len(self)} words)",
            hint=f"did you mean {folded[0]!r}?" if folded else None,
        )

    @cached_property
    def unit(self) -> np.ndarray:
        """Rows scaled to length 1 (zero rows stay zero): cosine is then a dot product."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.where(norms > 0, norms, 1.0)

    # ------------------------------------------------------------------ queries
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.unit[self.id(a)] @ self.unit[self.id(b)])

    def most_similar(
        self,
        positive: Sequence[str],
        negative: Sequence[str] = (),
        top: int = 10,
        restrict: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words nearest (cosine) to the sum of the positive and minus the negative words.

        Unit vectors are combined, as gensim and the word2vec tool do; the query words
        themselves are never answers.  ``restrict`` limits answers to the most frequent
        words.
        """
        if top < 1:
            raise UsageError(f"`top` must be at least 1, not {top}")
        ids = [self.id(w) for w in positive] + [self.id(w) for w in negative]
        if not ids:
            raise UsageError("give at least one word")
        query = self.unit[ids[: len(positive)]].sum(0) - self.unit[ids[len(positive) :]].sum(0)
        limit = len(self) if restrict is None else min(restrict, len(self))
        scores = self.unit[:limit] @ query / max(float(np.linalg.norm(query)), 1e-12)
        scores[[i for i in ids if i < limit]] = -np.inf
        k = min(top, limit - len({i for i in ids if i < limit}))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.words[i], float(scores[i])) for i in best]

    def analogy(self, a: str, b: str, c: str, top: int = 1) -> list[tuple[str, float]]:
        """``a : b :: c : ?`` by 3CosAdd: the words nearest to ``b - a + c``."""
        return self.most_similar([b, c], [a], top=top)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str], binary: bool = False) -> None:
        """Write the word2vec text format, or with ``binary`` the binary format, atomically."""
        for w in self.words:
            if not w or any(ch.isspace() for ch in w):
                raise UsageError(
                    f"cannot write word {w!r}: word2vec files need words without spaces"
                )
        with atomic_write(path, "wb") as f:
            f.write(f"{len(self)} {self.dim}\n".encode())
            if binary:
                for w, row in zip(self.words, self.vectors.astype(FLOAT, copy=False)):
                    f.write(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                for lines in _text_lines(self.words, self.vectors):
                    f.write(lines.encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike[str], binary: bool | None = None) -> WordVectors:
        """Read a word2vec text or binary file (``binary=None``: tell by content).

        The file is streamed, never held whole; the header's count and dimension are
        checked against the file's size (when it is a plain file) before any memory
        is set aside, and every value must be finite.
        """
        name = display_name(path)
        stream = open_binary(path)
        try:
            buf = _Reader(stream, name)
            try:
                head = buf.line(_HEADER_BYTES, 1)
            except InputError:
                raise InputError(
                    f"{name}:1: not a word2vec file: the first line should be 'COUNT DIM' "
                    f"(two whole numbers), found more than {_HEADER_BYTES} bytes"
                ) from None
            count, dim = _header(head, name)
            _check_promise(path, count, dim, name)
            if binary is None:
                binary = not _looks_like_text(buf.peek(4 * dim + _WORD_BYTES), dim)
            words, vectors = (_read_binary if binary else _read_text)(buf, count, dim, name)
        except (OSError, EOFError) as e:
            raise InputError(f"{name}: cannot read: {e}") from None
        finally:
            if str(path) != "-":
                stream.close()
        bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
        if len(bad):
            raise InputError(
                f"{name}: the vector of {words[bad[0]]!r} (vector {bad[0] + 1}) holds "
                "NaN or an infinite value"
            )
        return cls(words, vectors, source=name)


_HEADER_BYTES = 256  # "COUNT DIM\n" is a few bytes; more is not a word2vec header
_WORD_BYTES = 4096  # the longest word read from a binary file


class _Reader:
    """A byte stream read in blocks, with the few look-ahead operations the formats need."""

    def __init__(self, stream: BinaryIO, name: str) -> None:
        self.stream = stream
        self.name = name
        self.buf = b""
        self.pos = 0
        self.eof = False

    def _fill(self, want: int) -> bool:
        """Have at least ``want`` unread bytes buffered, unless the input ends first."""
        while len(self.buf) - self.pos < want and not self.eof:
            block = self.stream.read(max(1 << 20, want))
            if not block:
                self.eof = True
                break
            self.buf = self.buf[self.pos :] + block
            self.pos = 0
        return len(self.buf) - self.pos >= want

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self.buf[self.pos : self.pos + n]

    def find(self, byte: bytes, limit: int) -> int:
        """Offset (from the read position) of ``byte`` within ``limit`` bytes, or -1."""
        start = 0
        while True:
            i = self.buf.find(byte, self.pos + start, self.pos + limit)
            if i >= 0:
                return i - self.pos
            start = len(self.buf) - self.pos
            if start >= limit or not self._fill(start + 1):
                return -1

    def take(self, n: int) -> bytes:
        self._fill(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def line(self, limit: int, number: int) -> bytes | None:
        """The next line without its newline (None at the end); at most ``limit`` bytes."""
        if not self._fill(1):
            return None
        end = self.find(b"\n", limit + 1)
        if end < 0:
            if self.eof and len(self.buf) - self.pos <= limit:
                return self.take(len(self.buf) - self.pos)
            raise InputError(
                f"{self.name}:{number}: line longer than {limit} bytes; not a word2vec file?"
            )
        out = self.take(end)
        self.pos += 1
        return out


def _check_promise(path: str | os.PathLike[str], count: int, dim: int, name: str) -> None:
    """Refuse a header promising more than the file can hold (a plain file's size is known).

    The smallest row is a one-byte word and ``dim`` values of two bytes ("0 ") in
    text, or of four bytes in the binary format: so ``count * (2 * dim + 1)`` bytes
    at least.  Compressed files and stdin are read in blocks and checked as they go.
    """
    if str(path) == "-":
        return
    try:
        with open(path, "rb") as f:
            if f.read(6)[:3] in (b"\x1f\x8b\x08", b"BZh", b"\xfd7z"):
                return
        size = os.path.getsize(path)
    except OSError:
        return
    if count * (2 * dim + 1) > 2 * size + 4096:  # a lie, not a truncation (told as such)
        raise InputError(
            f"{name}:1: the header promises {count} vectors of dimension {dim}, "
            f"more than a file of {size} bytes can hold"
        )


def _text_lines(words: list[str], vectors: np.ndarray, per: int = 4096) -> Iterator[str]:
    """Text-format lines, a few thousand at a time (7 significant digits per number).

    One ``%`` format per row is the fastest pure-Python way (4x ``np.char.mod``).
    """
    row = " ".join(["%.7g"] * vectors.shape[1])
    for lo in range(0, len(words), per):
        rows = vectors[lo : lo + per].tolist()
        yield "".join(f"{w} {row % tuple(r)}\n" for w, r in zip(words[lo : lo + per], rows))


def _header(raw: bytes | None, name: str) -> tuple[int, int]:
    """``COUNT DIM`` from the first line."""
    if raw is None or not raw.strip():
        raise InputError(f"{name}: empty file; expected a word2vec header line 'COUNT DIM'")
    line = raw.decode("utf-8", errors="replace").strip()
    fields = line.split()
    digits = all(f.isascii() and f.isdigit() and len(f) <= 15 for f in fields)
    if len(fields) != 2 or not digits:
        shown = repr(line if len(line) <= 40 else line[:40] + "...")
        if not line[:40].isprintable():  # a zip, an .npz, a checkpoint: don't echo the bytes
            shown = "binary data"
        raise InputError(
            f"{name}:1: not a word2vec file: the first line should be 'COUNT DIM' "
            f"(two whole numbers of at most 15 digits), found {shown}"
        )
    count, dim = int(fields[0]), int(fields[1])
    if count < 1 or dim < 1:
        raise InputError(f"{name}:1: the header says {count} vectors of dimension {dim}")
    return count, dim


def _looks_like_text(head: bytes, dim: int) -> bool:
    """Text unless the first vector's bytes hold control characters or invalid UTF-8.

    A binary vector is ``4 * dim`` raw bytes; real float32 values are all but certain
    to contain bytes below 0x20 (zeros and small integers are full of NULs), which a
    text line never has.
    """
    space = head.find(b" ")
    if space < 0:
        return True  # nothing after the word: a (truncated) text line, reported as such
    window = head[space + 1 : space + 1 + 4 * dim]
    newline = window.find(b"\n")
    if newline >= 0:
        window = window[:newline]
    if _CONTROL.search(window):
        return False
    try:
        window.decode("utf-8")
    except UnicodeDecodeError as e:
        return e.start >= len(window) - 3  # only a character cut at the window's end
    return True


class _Rows:
    """Vectors gathered block by block: memory grows with the rows actually read."""

    BLOCK = 1 << 14

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.blocks: list[np.ndarray] = []
        self.n = 0

    def slot(self) -> np.ndarray:
        if self.n % self.BLOCK == 0:
            self.blocks.append(np.empty((self.BLOCK, self.dim), dtype=np.float32))
        row = self.blocks[-1][self.n % self.BLOCK]
        self.n += 1
        return row

    def array(self) -> np.ndarray:
        if not self.blocks:
            return np.empty((0, self.dim), dtype=np.float32)
        if len(self.blocks) == 1:
            return self.blocks[0][: self.n].copy()
        return np.concatenate(self.blocks)[: self.n]


def _read_text(buf: _Reader, count: int, dim: int, name: str) -> tuple[list[str], np.ndarray]:
    words: list[str] = []
    rows = _Rows(dim)
    limit = max(limits.max_line_bytes(), 64 * dim)
    for i in range(count):
        raw = buf.line(limit, i + 2)
        if raw is None or (not raw.strip() and not buf.peek(1).strip() and buf.eof):
            raise InputError(
                f"{name}: truncated: the header promises {count} vectors, the file has {i}"
            )
        try:
            text_line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{name}:{i + 2}: invalid UTF-8 byte 0x{raw[e.start]:02x}") from None
        word, _, rest = text_line.rstrip("\r").partition(" ")
        values = rest.split()
        if not word or len(values) != dim:
            raise InputError(
                f"{name}:{i + 2}: expected a word and {dim} numbers, found {len(values)} number(s)"
            )
        try:
            with np.errstate(over="ignore"):  # 1e39 becomes inf: refused with its word below
                rows.slot()[:] = np.array(values, dtype=np.float32)
        except ValueError:
            raise InputError(f"{name}:{i + 2}: not a number among the values of {word!r}") from None
        words.append(word)
    while (raw := buf.line(limit, count + 2)) is not None:
        if raw.strip():
            raise InputError(f"{name}: more lines than the {count} vectors the header promises")
    _check_unique(words, name)
    return words, rows.array()


def _read_binary(buf: _Reader, count: int, dim: int, name: str) -> tuple[list[str], np.ndarray]:
    width = dim * FLOAT.itemsize
    words: list[str] = []
    rows = _Rows(dim)
    for i in range(count):
        while buf.peek(1) in (b"\n", b"\r"):
            buf.take(1)  # word2vec.c ends each vector with a newline; gensim does not
        space = buf.find(b" ", _WORD_BYTES)
        data = buf.peek(space + 1 + width) if space >= 0 else b""
        if space < 0 or len(data) < space + 1 + width:
            raise InputError(
                f"{name}: truncated: the header promises {count} vectors, the file has {i} "
                "complete ones (binary format)"
            )
        try:
            words.append(data[:space].decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{name}: word {i + 1} is not valid UTF-8 (binary format)") from None
        rows.slot()[:] = np.frombuffer(data, dtype=FLOAT, count=dim, offset=space + 1)
        buf.take(space + 1 + width)
    while buf._fill(1):
        if buf.take(1 << 20).strip():
            raise InputError(f"{name}: data after the {count} vectors the header promises")
    _check_unique(words, name)
    return words, rows.array()


def _check_unique(words: list[str], name: str) -> None:
    if len(set(words)) != len(words):
        seen: set[str] = set()
        dup = next(w for w in words if w in seen or seen.add(w))  # type: ignore[func-returns-value]
        raise InputError(f"{name}: the word {dup!r} appears more than once")
