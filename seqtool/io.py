"""Reading corpora and writing results safely.

Inputs are paths or ``-`` (stdin), read as a stream of decoded text; gzip, bzip2
and xz are recognised by their magic bytes, whatever the file is called.  A
decoding error names the file, the line and the byte offset; a NUL byte marks
the input as binary and is refused, and UTF-16/32 text read as UTF-8 is named as
such (by its byte-order mark, or by its NUL bytes in every other position).
Every file seqtool writes goes through
:func:`atomic_write`: a temporary file in the same folder, renamed over the
target only when complete, so a crash or a concurrent writer never leaves a
half-written file.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import errno
import gzip
import io
import itertools
import lzma
import os
import re
import stat
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from seqtool import limits
from seqtool.errors import InputError, ResourceError, SeqtoolError, UsageError

if TYPE_CHECKING:
    import numpy as np

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
        if sys.stdin is None or sys.stdin.closed:
            raise InputError("<stdin>: standard input is closed; give a file name")
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
        info = codecs.lookup(encoding)
    except LookupError:
        raise UsageError(f"unknown encoding {encoding!r}") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, zlib, rot13, hex...
        raise UsageError(
            f"encoding {encoding!r} is a {info.name} transform, not a text encoding; "
            "name a character set such as utf-8 or latin-1"
        )
    if errors not in ERROR_POLICIES:
        raise UsageError(f"--errors must be one of {', '.join(ERROR_POLICIES)}, not {errors!r}")


def iter_chunks(
    paths: Iterable[str | os.PathLike[str]],
    encoding: str = "utf-8",
    errors: str = "strict",
    chunk_bytes: int = CHUNK_BYTES,
    max_line_bytes: int | None = None,
    eager: bool = False,
) -> Iterator[str]:
    """Decoded text of the inputs in large pieces, each ending at a line break.

    A piece never splits a line, so callers can process pieces independently.
    Each input's last line is completed with a newline if it lacks one.  This is
    the fast path for whole-corpus work (counting); :func:`read_lines` builds on it.
    A line longer than ``max_line_bytes`` (default: :func:`seqtool.limits.max_line_bytes`)
    is refused with its line number; reading is linear in the input's size, however
    long its lines.  ``eager``: a piece holds what one read returned (what a pipe
    had), so it is handed on as soon as a line is complete, without waiting for
    ``chunk_bytes`` to arrive (for interactive input: :func:`read_line_batches`).
    """
    check_encoding(encoding, errors)
    cap = limits.max_line_bytes() if max_line_bytes is None else max_line_bytes
    if cap < 1:
        raise UsageError(f"max_line_bytes must be at least 1, not {cap}")
    for path in paths:
        for text, _, _ in _chunks_of(path, encoding, errors, chunk_bytes, cap, eager):
            yield text


def iter_chunks_utf8(
    paths: Iterable[str | os.PathLike[str]],
    encoding: str = "utf-8",
    errors: str = "strict",
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[tuple[str, bytes | None]]:
    """The pieces of :func:`iter_chunks`, each with its UTF-8 bytes when the input is
    strict UTF-8 (``bytes`` equal to ``text.encode("utf-8")``, taken from the file
    rather than encoded again), else None.  Byte-level tokenisers skip one encode of
    the whole text."""
    check_encoding(encoding, errors)
    cap = limits.max_line_bytes()
    for path in paths:
        for text, raw, _ in _chunks_of(path, encoding, errors, chunk_bytes, cap, raw=True):
            yield text, raw


def iter_utf8_bytes(
    paths: Iterable[str | os.PathLike[str]], chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[bytes, np.ndarray]]:
    """The UTF-8 bytes of the pieces :func:`iter_chunks` gives for strict UTF-8 input,
    checked (:func:`utf8_leads`; the same errors) but not decoded, for tokenisers
    that work on bytes alone, each with where its non-ASCII characters start.  A
    byte-order mark is dropped."""
    cap = limits.max_line_bytes()
    for path in paths:
        for _, piece, leads in _chunks_of(
            path, "utf-8", "strict", chunk_bytes, cap, raw=True, decode=False
        ):
            assert piece is not None and leads is not None  # strict UTF-8, not decoded
            yield piece, leads


def utf8_valid(data: bytes) -> bool:
    """Whether ``data`` is UTF-8, as ``data.decode("utf-8")`` judges it."""
    return data.isascii() or utf8_leads(data) is not None


def utf8_leads(data: bytes) -> np.ndarray | None:
    """Where the non-ASCII characters of ``data`` start (int64 offsets of their first
    bytes), or None when ``data`` is not UTF-8 as ``data.decode("utf-8")`` judges it
    (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF).  Array
    work on the non-ASCII bytes: text that is mostly ASCII is checked several times
    faster than it is decoded.

    Each first byte (>= 0xC0) gives its character's length; the bytes that follow it
    must be continuation bytes (0x80-0xBF), and there must be no others: if every
    character's are, they are distinct (a first byte is no continuation byte), so
    equal counts leave no stray continuation byte."""
    import numpy as np

    if data.isascii():
        return np.zeros(0, dtype=np.intp)
    arr = np.frombuffer(data, dtype=np.uint8)
    lead = np.flatnonzero(arr >= 0xC0)  # fewer hits to list than all bytes >= 0x80
    if not len(lead):
        return None  # continuation bytes alone
    first = arr[lead]
    if first.min() < 0xC2 or first.max() > 0xF4:  # C0/C1: overlong; F5+: beyond U+10FFFF
        return None
    size = (first >= 0xE0).astype(np.intp)
    size += first >= 0xF0
    size += 2
    if int(lead[-1] + size[-1]) > len(arr):
        return None  # the last character is cut short
    if np.count_nonzero(arr >= 0x80) != int(size.sum()):  # no byte >= 0x80 left over
        return None
    last = len(arr) - 1
    # A character cut short by the end of the data holds the next first byte (checked
    # below, in range) unless it is the last one (checked above): clipping is safe.
    second = arr[lead + 1]
    ok = (second & 0xC0) == 0x80
    for k in (2, 3):
        more = np.flatnonzero(size > k)
        if len(more):
            ok[more] &= (arr[np.minimum(lead[more] + k, last)] & 0xC0) == 0x80
    if not ok.all():
        return None
    # second bytes that make overlong forms (E0, F0), surrogates (ED), too large (F4)
    bad = ((first == 0xE0) & (second < 0xA0)) | ((first == 0xED) & (second >= 0xA0))
    bad |= ((first == 0xF0) & (second < 0x90)) | ((first == 0xF4) & (second >= 0x90))
    return None if bad.any() else lead


def utf8_chars(data: bytes) -> int:
    """The number of characters of valid UTF-8 (its bytes less the continuation bytes)."""
    if data.isascii():
        return len(data)
    import numpy as np

    arr = np.frombuffer(data, dtype=np.uint8)
    return len(data) - int(np.count_nonzero((arr & 0xC0) == 0x80))


def _too_long(name: str, line: int, cap: int) -> InputError:
    return InputError(
        f"{name}:{line}: line longer than {cap} bytes (max_line_bytes); "
        "is this a text file with line breaks?",
        hint="raise the limit with `seqtool --max-line-bytes SIZE COMMAND ...` (e.g. 1G)",
    )


_BOMS = (  # longest first: the UTF-32-LE mark starts with the UTF-16-LE one
    (codecs.BOM_UTF32_LE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF32_BE, "UTF-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "UTF-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "UTF-16", "utf-16"),
)


def _binary(name: str, line: int) -> InputError:
    return InputError(f"{name}:{line}: binary file (NUL byte at line {line}), not text")


def _sniff(name: str, head: bytes, encoding: str) -> None:
    """Say what a file is when its first bytes show UTF-16/32 text read as ``encoding``.

    A byte-order mark names the encoding outright.  Without one, ASCII text in
    UTF-16 has a NUL byte in every other position (odd positions: little-endian).
    """
    for bom, what, codec in _BOMS:
        if head.startswith(bom):
            raise InputError(
                f"{name}: looks like {what} (BOM), not {encoding}",
                hint=f"pass --encoding {codec}",
            )
    sample = head[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return
    even_nul = sample[0 : 2 * pairs : 2].count(0)
    odd_nul = sample[1 : 2 * pairs : 2].count(0)
    for nuls, other, order in ((odd_nul, even_nul, "le"), (even_nul, odd_nul, "be")):
        if nuls >= 0.9 * pairs and other == 0:
            raise InputError(
                f"{name}: looks like UTF-16-{order.upper()} (no BOM), not {encoding}",
                hint=f"pass --encoding utf-16-{order}",
            )


def _chunks_of(
    path: str | os.PathLike[str],
    encoding: str,
    errors: str,
    chunk_bytes: int,
    cap: int,
    eager: bool = False,
    raw: bool = False,
    decode: bool = True,
) -> Iterator[tuple[str, bytes | None, np.ndarray | None]]:
    """(text, its UTF-8 bytes or None, None) of each piece; the bytes only with ``raw``
    and a strict UTF-8 codec, where the decoded text is the file's bytes exactly
    (less a byte-order mark).  Those bytes come with ``decode`` False checked but not
    decoded: the text is then empty, and the third item says where the non-ASCII
    characters start (:func:`utf8_leads`)."""
    name = display_name(path)
    # Blocks no longer than the cap: a line inside one block is then within the cap,
    # and only lines spanning blocks need counting (``open_bytes``).
    block_size = max(1, min(chunk_bytes, cap))
    keep = raw and errors == "strict" and codecs.lookup(encoding).name == "utf-8"
    stream = open_binary(path)
    # read1: at most one read of the file underneath, so it returns what has arrived
    read = getattr(stream, "read1", stream.read) if eager else stream.read
    blocks = _checked_blocks(name, read, block_size, cap, encoding)
    try:
        if keep:
            yield from _utf8_pieces(name, blocks, decode)
        else:
            yield from _decoded_pieces(name, blocks, encoding, errors)
    finally:
        if str(path) != STDIN:
            stream.close()


class _Block:
    """One block read from an input; ``lines_before``: the complete lines handed on
    before it (the reader of the blocks keeps it up to date, for error messages)."""

    __slots__ = ("data", "lines_before")

    def __init__(self) -> None:
        self.data = b""
        self.lines_before = 0


def _checked_blocks(
    name: str, read: Callable[[int], bytes], block_size: int, cap: int, encoding: str
) -> Iterator[_Block]:
    """The blocks of a stream, the last one empty, each checked before it is decoded:
    no line longer than ``cap``, no UTF-16/32 text read as another encoding, no NUL
    byte (binary data) except in UTF-16/32.  The same object comes every time."""
    # In UTF-16/32 NUL bytes are ordinary; in every other codec they mean binary data.
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    open_bytes = 0  # raw bytes of the unfinished line
    first = True
    out = _Block()
    while True:
        try:
            block = read(block_size)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as e:
            raise InputError(f"{name}: cannot read compressed data: {e}") from None
        if block:
            nl = block.find(b"\n")
            if open_bytes + (len(block) if nl < 0 else nl) > cap:
                raise _too_long(name, out.lines_before + 1, cap)
            last = block.rfind(b"\n") if nl >= 0 else -1
            open_bytes = open_bytes + len(block) if nl < 0 else len(block) - last - 1
        if first and not wide:
            _sniff(name, block, encoding)
        first = False
        if not wide and b"\x00" in block:  # before decoding: a binary file is not text
            line = out.lines_before + block[: block.index(b"\x00")].count(b"\n") + 1
            raise _binary(name, line)
        out.data = block
        yield out
        if not block:
            return


def _decode_error(
    name: str, e: UnicodeDecodeError, data: bytes, offset: int, lines_before: int, encoding: str
) -> InputError:
    """The error for an undecodable byte of ``data``, which starts at byte ``offset``
    of the input after ``lines_before`` complete lines."""
    line = lines_before + data[: e.start].count(b"\n") + 1
    bad = data[e.start : e.end][:1]
    return InputError(
        f"{name}:{line}: invalid {encoding} byte 0x{bad.hex()} at byte offset {offset + e.start}",
        hint="pass --encoding to name the file's encoding, or --errors replace",
    )


def _decoded_pieces(
    name: str, blocks: Iterator[_Block], encoding: str, errors: str
) -> Iterator[tuple[str, None, None]]:
    """Pieces of text ending at line breaks, decoded block by block."""
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    consumed = 0  # bytes handed to the decoder so far
    parts: list[str] = []  # the unfinished line, decoded, in pieces: joined once (linear)
    first = True
    for b in blocks:
        block, lines_before = b.data, b.lines_before
        final = not block
        pending = decoder.getstate()[0]
        try:
            text = decoder.decode(block, final=final)
        except UnicodeDecodeError as e:
            raise _decode_error(
                name, e, pending + block, consumed - len(pending), lines_before, encoding
            ) from None
        except UnicodeError as e:  # utf-16/32 without a byte-order mark, and the like
            raise InputError(
                f"{name}: cannot decode as {encoding}: {e}",
                hint="name the byte order (e.g. --encoding utf-16-le or utf-16-be)",
            ) from None
        consumed += len(block)
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        nul = text.find("\x00")
        if nul >= 0:
            raise _binary(name, lines_before + text[:nul].count("\n") + 1)
        if final:
            rest = "".join(parts) + text
            if rest:
                yield rest + ("" if rest.endswith("\n") else "\n"), None, None
            return
        cut = text.rfind("\n")
        if cut < 0:
            if text:
                parts.append(text)
            continue
        piece = "".join(parts) + text[: cut + 1] if parts else text[: cut + 1]
        parts = [text[cut + 1 :]] if cut + 1 < len(text) else []
        b.lines_before += piece.count("\n")
        yield piece, None, None


def _utf8_pieces(
    name: str, blocks: Iterator[_Block], decode: bool = True
) -> Iterator[tuple[str, bytes, np.ndarray | None]]:
    """Pieces of strict UTF-8 input ending at line breaks, with their bytes as read
    (without ``decode``, the bytes are checked by :func:`utf8_leads`, which also says
    where the non-ASCII characters start, and the text is empty: decoding is then for
    the error message alone).

    A line break is one byte in UTF-8 and never part of another character, so the
    pieces are cut in the bytes and each is decoded once, whole: no text is sliced
    or joined (which costs more than decoding for text that is not ASCII).  The
    bytes after the last line break of a block are checked as they arrive, so an
    invalid byte is reported where the block-by-block decoder reports it.
    """
    check = codecs.getincrementaldecoder("utf-8")("strict")  # the unfinished line
    checked = 0  # bytes of the unfinished line handed to ``check``
    start = 0  # byte offset of the unfinished line
    parts: list[bytes] = []  # the unfinished line's bytes
    first = True

    def feed(data: bytes, lines_before: int) -> None:
        nonlocal checked
        pending = check.getstate()[0]
        try:
            check.decode(data)
        except UnicodeDecodeError as e:
            at = start + checked - len(pending)
            raise _decode_error(name, e, pending + data, at, lines_before, "utf-8") from None
        checked += len(data)

    for b in blocks:
        block = b.data
        if first:
            first = False
            if block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
                start = len(codecs.BOM_UTF8)
        cut = block.rfind(b"\n")
        if block and cut < 0:  # a line longer than a block goes on
            parts.append(block)
            feed(block, b.lines_before)
            continue
        piece = b"".join((*parts, block[: cut + 1]))
        tail = block[cut + 1 :]
        if not block and piece and not piece.endswith(b"\n"):
            piece += b"\n"  # the last line of an input without a final line break
        leads = None if decode else utf8_leads(piece)
        try:
            text = piece.decode("utf-8") if leads is None else ""
        except UnicodeDecodeError as e:
            raise _decode_error(name, e, piece, start, b.lines_before, "utf-8") from None
        if piece:
            b.lines_before += piece.count(b"\n")
            start += len(piece)
            yield text, piece, leads
        parts = [tail] if tail else []
        check.reset()
        checked = 0
        if tail:
            feed(tail, b.lines_before)


def read_lines(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    encoding: str = "utf-8",
    errors: str = "strict",
    max_line_bytes: int | None = None,
) -> Iterator[str]:
    """Lines of the inputs without their line ends (``\\n`` and ``\\r\\n``), streamed."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for chunk in iter_chunks(paths, encoding, errors, max_line_bytes=max_line_bytes):
        yield from _lines_of(chunk)


def _lines_of(chunk: str) -> list[str]:
    """The lines of a piece from :func:`iter_chunks`, without their ``\\n`` or ``\\r\\n``."""
    lines = chunk.split("\n")
    lines.pop()  # every chunk ends with "\n": the last piece is empty
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def stdin_is_live() -> bool:
    """Whether standard input is a pipe, terminal or socket: lines arrive over time
    (a co-process, ``tail -f``), so answers must not wait for more of them.  A file
    redirected to stdin, or stdin that is no descriptor at all, is not live."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return False
    try:
        mode = os.fstat(stdin.fileno()).st_mode
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return not stat.S_ISREG(mode)


def read_line_batches(
    path: str | os.PathLike[str],
    batch_lines: int,
    encoding: str = "utf-8",
    errors: str = "strict",
    max_line_bytes: int | None = None,
) -> Iterator[list[str]]:
    """The lines of one input (as :func:`read_lines`) in lists of at most ``batch_lines``.

    From a file every list is full but the last.  From live stdin (a pipe or
    terminal: :func:`stdin_is_live`) a list holds the lines that have arrived,
    and it is handed on as soon as one line is complete: a reader answering each
    list never waits for more input before answering the lines it has, and yet
    gets large lists when lines come faster than it answers them.
    """
    if batch_lines < 1:
        raise UsageError(f"batch_lines must be at least 1, not {batch_lines}")
    if not (str(path) == STDIN and stdin_is_live()):
        it = read_lines([path], encoding, errors, max_line_bytes)
        while batch := list(itertools.islice(it, batch_lines)):
            yield batch
        return
    for chunk in iter_chunks([path], encoding, errors, max_line_bytes=max_line_bytes, eager=True):
        lines = _lines_of(chunk)
        for start in range(0, len(lines), batch_lines):
            yield lines[start : start + batch_lines]


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


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _full_error(target: object, e: OSError) -> ResourceError:
    what = "no space left on the device" if e.errno != errno.EFBIG else "file too large"
    return ResourceError(f"{target}: cannot write: {what}")


def _existing(target: Path) -> os.stat_result | None:
    """What is at ``target`` (symbolic links followed), None if nothing; refuses what
    can never be written (a folder, a link to nothing)."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        if os.path.lexists(target):
            raise UsageError(f"{target}: is a symbolic link to a missing file") from None
        return None
    except OSError as e:
        raise InputError(f"{target}: cannot write: {e.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{target}: is a directory; give a file name")
    return st


_TEMP = re.compile(r"(?:(\d+)\.)?[A-Za-z0-9_]{8}\.tmp")
LEGACY_TEMP_AGE = 3600.0  # seconds: a temp without an owner pid older than this is stale


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that a killed write of ``target`` left behind.

    Temps are named ``.NAME.PID.XXXXXXXX.tmp``; one whose process no longer exists is
    stale (a live writer's temp, even a concurrent one's, is kept).  Temps of older
    seqtool versions (no pid) count as stale after an hour.  Returns what was removed.
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    prefix = f".{target.name}."
    removed: list[Path] = []
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return removed
    now = time.time()
    for n in names:
        m = _TEMP.fullmatch(n[len(prefix) :])
        if not m:
            continue
        p = folder / n
        try:
            if m.group(1) is not None:
                if _pid_alive(int(m.group(1))):
                    continue
            elif now - p.lstat().st_mtime < LEGACY_TEMP_AGE:
                continue
            if p.is_symlink() or not p.is_file():
                continue
            p.unlink()
            removed.append(p)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", encoding: str = "utf-8"
) -> Iterator[IO]:
    """Write ``path`` all at once: readers see the old file or the complete new one.

    The data goes to a temporary file in the same folder, is flushed to disk, and is
    renamed over ``path`` only if the block finishes without an exception.  The new
    file keeps the old one's permission bits (and owner, where allowed).  A symbolic
    link is followed: the file it points to is replaced, the link stays.  A target
    that is not a regular file (``/dev/null``, ``/dev/stdout``, a FIFO, a terminal) is
    written directly, never replaced.  Temps left by a killed earlier write of the
    same file are removed first.  A full disk is one :class:`ResourceError`.
    """
    target = Path(path)
    binary = "b" in mode
    kw: dict[str, Any] = {} if binary else {"encoding": encoding, "newline": ""}
    st = _existing(target)
    if st is not None and not stat.S_ISREG(st.st_mode):
        try:
            with open(target, "wb" if binary else "w", **kw) as f:
                yield f
        except OSError as e:
            if e.errno in _FULL:
                raise _full_error(target, e) from None
            raise
        return
    if st is not None and target.is_symlink():
        target = Path(os.path.realpath(target))
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{target}: folder {folder} does not exist")
    remove_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        try:
            with os.fdopen(fd, "wb" if binary else "w", **kw) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            if e.errno in _FULL:
                raise _full_error(target, e) from None
            raise
        if st is not None:  # keep the old file's mode (a 0600 file stays 0600) and owner
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):
                    os.chown(tmp, st.st_uid, st.st_gid)
        else:  # mkstemp creates files readable by the owner only; give the usual umask bits
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


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(device, inode) of a file (of stdin for ``-``), None if there is none."""
    try:
        st = os.fstat(0) if str(path) == STDIN else os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_not_input(
    output: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None],
    name: str = "output",
) -> None:
    """Refuse an output that is one of the inputs (the same file: device and inode).

    Writing it would replace (or append to) the data being read: ``vocab build c.txt
    -o c.txt`` would lose the corpus.  Links and other names of the same file count.
    """
    out = _identity(output)
    if out is None:
        return
    if not stat.S_ISREG(os.stat(output).st_mode):
        return  # /dev/null, a terminal, a FIFO: writing does not destroy an input
    for inp in inputs:
        if inp is not None and _identity(inp) == out:
            same = "" if str(inp) == str(output) else f" (the same file as {display_name(inp)})"
            raise UsageError(
                f"{output}: {name} is also an input{same}; writing it would destroy the input"
            )


def check_output_path(
    path: str | os.PathLike[str],
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    name: str = "output",
) -> Path:
    """Fail early, before long work, if ``path`` cannot be written (or is an input)."""
    p = Path(path)
    st = _existing(p)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{p}: is a directory; {name} must name a file")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not os.access(p, os.W_OK):
            raise InputError(f"{p}: not writable")
        return p
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"{p}: folder {parent} is not writable")
    check_not_input(p, inputs, name)
    return p


# ---------------------------------------------------------------------- structured files
def load_json(
    text: str | bytes, name: str, what: str, error: type[SeqtoolError] = InputError
) -> Any:
    """``json.loads`` that refuses deep nesting and non-finite numbers, one line each.

    The C parser stops a 100,000-deep file with a RecursionError (caught here).

    ``what`` names the kind of file in the message ("a seqtool vocabulary").
    """
    import json

    def no_constant(word: str) -> Any:
        raise ValueError(f"{word} is not a number JSON allows")

    try:
        return json.loads(text, parse_constant=no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise error(f"{name}: not {what} (not a JSON file)") from None
    except ValueError as e:
        raise error(f"{name}: not {what}: {e}") from None
    except RecursionError:
        raise error(f"{name}: not {what}: JSON nested too deeply") from None


NPZ_MIN_BUDGET = 256 << 20  # bytes any .npz may expand to
NPZ_MAX_RATIO = 64  # beyond this, the expansion must come from a decompression bomb


def read_npz(
    path: str | os.PathLike[str], name: str, dtypes: str = "biuf", budget: int | None = None
) -> dict[str, Any]:
    """The arrays of an ``.npz`` file, after checking what each member declares.

    Every member must be a plain ``.npy`` array (no pickled objects) of a dtype kind
    in ``dtypes``, whose header's shape matches the member's size in the zip
    directory; the declared sizes together may not exceed ``budget`` (default: the
    larger of 256 MiB and 64 times the file's size), so a small file that would
    inflate to gigabytes is refused before anything is decompressed.
    """
    import numpy as np

    try:
        size = os.path.getsize(path)
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, NotImplementedError) as e:
        raise InputError(f"{name}: not a valid .npz file ({type(e).__name__})") from None
    limit = budget if budget is not None else max(NPZ_MIN_BUDGET, NPZ_MAX_RATIO * size)
    out: dict[str, Any] = {}
    with zf:
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos)
        if declared > limit:
            raise InputError(
                f"{name}: its members would expand to {declared} bytes from a {size}-byte "
                f"file (more than the {limit} allowed); refusing a possible decompression bomb"
            )
        for info in infos:
            key = info.filename.removesuffix(".npy")
            try:
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
                    else:
                        raise ValueError(f"unsupported .npy version {version}")
                    if dtype.hasobject or dtype.kind not in dtypes:
                        raise ValueError(f"member {key!r} has dtype {dtype}, not numbers")
                    count = 1
                    for d in shape:
                        count *= int(d)
                    need = count * dtype.itemsize
                    if need != info.file_size - f.tell():
                        raise ValueError(
                            f"member {key!r} declares {need} bytes of data, "
                            f"the archive {info.file_size - f.tell()}"
                        )
                    data = f.read(need)
                    arr = np.frombuffer(data, dtype=dtype, count=count)
                    out[key] = arr.reshape(shape, order="F" if fortran else "C")
            except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
                raise InputError(f"{name}: damaged .npz file: {e}") from None
            except (NotImplementedError, RuntimeError) as e:  # zip flags: encrypted, patched
                raise InputError(f"{name}: unsupported or damaged .npz file: {e}") from None
    return out


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
