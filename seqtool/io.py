"""Reading corpora and writing results safely.

Inputs are paths or ``-`` (stdin), read as a stream of decoded text; gzip, bzip2
and xz are recognised by their magic bytes, whatever the file is called.  A
decoding error names the file, the line and the byte offset; a NUL byte marks
the input as binary and is refused.  Every file seqtool writes goes through
:func:`atomic_write`: a temporary file in the same folder, renamed over the
target only when complete, so a crash or a concurrent writer never leaves a
half-written file.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import gzip
import io
import lzma
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from seqtool.errors import InputError, UsageError

STDIN = "-"
CHUNK_BYTES = 1 << 20
ERROR_POLICIES = ("strict", "replace", "ignore")

_MAGIC: tuple[tuple[bytes, Callable[[BinaryIO], Any]], ...] = (
    (b"\x1f\x8b", lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
    (b"BZh", lambda f: bz2.BZ2File(f)),
    (b"\xfd7zXZ\x00", lambda f: lzma.LZMAFile(f)),
)


def display_name(path: str | os.PathLike[str]) -> str:
    return "<stdin>" if str(path) == STDIN else str(path)


def _raw_binary(path: str | os.PathLike[str]) -> BinaryIO:
    if str(path) == STDIN:
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        if not hasattr(stream, "peek"):
            stream = io.BufferedReader(stream)  # type: ignore[arg-type]
        return stream  # type: ignore[return-value]
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a directory, not a file")
    try:
        return open(p, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except PermissionError:
        raise InputError(f"{p}: permission denied") from None
    except OSError as e:
        raise InputError(f"{p}: cannot open: {e.strerror}") from None


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a file or stdin for binary reading, decompressing it if it is compressed."""
    raw = _raw_binary(path)
    head = raw.peek(8)[:8] if hasattr(raw, "peek") else b""
    for magic, opener in _MAGIC:
        if head.startswith(magic):
            return opener(raw)  # type: ignore[no-any-return]
    return raw


def check_encoding(encoding: str, errors: str = "strict") -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}") from None
    if errors not in ERROR_POLICIES:
        raise UsageError(f"--errors must be one of {', '.join(ERROR_POLICIES)}, not {errors!r}")


def iter_chunks(
    paths: Iterable[str | os.PathLike[str]],
    encoding: str = "utf-8",
    errors: str = "strict",
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[str]:
    """Decoded text of the inputs in large pieces, each ending at a line break.

    A piece never splits a line, so callers can process pieces independently.
    Each input's last line is completed with a newline if it lacks one.  This is
    the fast path for whole-corpus work (counting); :func:`read_lines` builds on it.
    """
    check_encoding(encoding, errors)
    for path in paths:
        yield from _chunks_of(path, encoding, errors, chunk_bytes)


def _chunks_of(
    path: str | os.PathLike[str], encoding: str, errors: str, chunk_bytes: int
) -> Iterator[str]:
    name = display_name(path)
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    consumed = 0  # bytes handed to the decoder so far
    lines_before = 0  # complete lines already yielded
    carry = ""
    first = True
    stream = open_binary(path)
    try:
        while True:
            try:
                block = stream.read(chunk_bytes)
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise InputError(f"{name}: cannot read compressed data: {e}") from None
            final = not block
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as e:
                offset = consumed - len(pending) + e.start
                data = pending + block
                line = lines_before + carry.count("\n") + data[: e.start].count(b"\n") + 1
                bad = data[e.start : e.end][:1]
                raise InputError(
                    f"{name}:{line}: invalid {encoding} byte 0x{bad.hex()} at byte offset {offset}",
                    hint="pass --encoding to name the file's encoding, or --errors replace",
                ) from None
            consumed += len(block)
            if first:
                if text.startswith("\ufeff"):
                    text = text[1:]
                first = False
            if "\x00" in text:
                raise InputError(f"{name}: looks like a binary file (contains NUL bytes)")
            text = carry + text
            if final:
                if text:
                    yield text if text.endswith("\n") else text + "\n"
                return
            cut = text.rfind("\n")
            if cut < 0:
                carry = text
                continue
            piece, carry = text[: cut + 1], text[cut + 1 :]
            lines_before += piece.count("\n")
            yield piece
    finally:
        if str(path) != STDIN:
            stream.close()


def read_lines(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    encoding: str = "utf-8",
    errors: str = "strict",
) -> Iterator[str]:
    """Lines of the inputs without their line ends (``\\n`` and ``\\r\\n``), streamed."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for chunk in iter_chunks(paths, encoding, errors):
        lines = chunk.split("\n")
        lines.pop()  # every chunk ends with "\n": the last piece is empty
        for line in lines:
            yield line[:-1] if line.endswith("\r") else line


def read_text(path: str | os.PathLike[str], encoding: str = "utf-8", errors: str = "strict") -> str:
    """A whole (small) input as one string, line ends normalised to ``\\n``."""
    return "".join(line + "\n" for line in read_lines([path], encoding, errors))


def nonempty(lines: Iterable[str], paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Pass lines through, refusing (at the end) an input that held no line at all.

    An empty input is almost always a mistake upstream (a wrong path, an empty
    pipe), so commands say so rather than succeed silently with no output.
    """
    seen = False
    for line in lines:
        seen = True
        yield line
    if not seen:
        names = ", ".join(display_name(p) for p in paths)
        raise InputError(f"{names}: empty input")


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", encoding: str = "utf-8"
) -> Iterator[IO]:
    """Write ``path`` all at once: readers see the old file or the complete new one.

    The data goes to a temporary file in the same folder, is flushed to disk, and is
    renamed over ``path`` only if the block finishes without an exception.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        binary = "b" in mode
        with os.fdopen(
            fd,
            "wb" if binary else "w",
            encoding=None if binary else encoding,
            newline=None if binary else "",
        ) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates files readable by the owner only; give the usual umask bits.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Fail early, before long work, if ``path`` cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{p}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{p}: folder {parent} is not writable")
    return p


# TSV fields: a tab, a line break or a carriage return inside a value (a character
# token, a translation) would split the record, so they are written as the two
# characters \t, \n, \r, and a backslash as \\ (the escapes of PostgreSQL's text
# COPY format and of `cut`-friendly TSV tools).
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_TSV_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def tsv_escape(field: str) -> str:
    """A value as one TSV field: ``\\``, tab, line break, carriage return escaped."""
    if "\\" not in field and field.isprintable():  # isprintable: no tab, \n or \r
        return field
    return field.translate(_TSV_ESCAPES)


def tsv_unescape(field: str) -> str:
    """The inverse of :func:`tsv_escape` (an unknown escape is kept as it is)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field) and field[i + 1] in _TSV_UNESCAPES:
            out.append(_TSV_UNESCAPES[field[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
