"""Corpus reading and atomic writing."""

from __future__ import annotations

import bz2
import gzip
import lzma
import multiprocessing as mp
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtool.errors import InputError, UsageError
from seqtool.io import (
    atomic_write,
    iter_chunks,
    iter_chunks_utf8,
    iter_utf8_bytes,
    read_lines,
    read_text,
    utf8_chars,
    utf8_leads,
    utf8_valid,
    write_text,
)

TEXT = "first line\nsecond line\n\nfourth, with é and ß\n"


@pytest.mark.parametrize(
    "suffix,compress",
    [
        (".txt", lambda b: b),
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
        (".data", gzip.compress),  # recognised by content, not by name
    ],
)
def test_reads_plain_and_compressed(tmp_path: Path, suffix: str, compress) -> None:
    p = tmp_path / f"corpus{suffix}"
    p.write_bytes(compress(TEXT.encode("utf-8")))
    assert list(read_lines(p)) == ["first line", "second line", "", "fourth, with é and ß"]


def test_crlf_bom_and_missing_final_newline(tmp_path: Path) -> None:
    p = tmp_path / "win.txt"
    p.write_bytes("\ufeffone\r\ntwo\r\nthree".encode())
    assert list(read_lines(p)) == ["one", "two", "three"]


def test_multiple_files_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("a1\na2")
    b.write_text("b1\n")
    assert list(read_lines([a, b])) == ["a1", "a2", "b1"]


def test_chunks_never_split_lines(tmp_path: Path) -> None:
    p = tmp_path / "long.txt"
    lines = [f"line {i} " + "x" * (i % 37) for i in range(5000)]
    p.write_text("\n".join(lines) + "\n")
    chunks = list(iter_chunks([p], chunk_bytes=1000))
    assert len(chunks) > 10
    assert all(c.endswith("\n") for c in chunks)
    assert "".join(chunks).split("\n")[:-1] == lines


def test_multibyte_character_across_chunk_boundary(tmp_path: Path) -> None:
    p = tmp_path / "utf8.txt"
    text = ("é" * 999 + "\n") * 3
    p.write_text(text, encoding="utf-8")
    assert "".join(iter_chunks([p], chunk_bytes=7)) == text


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 64, 1 << 20])
def test_chunks_with_utf8_bytes_are_the_file_bytes(tmp_path: Path, chunk_bytes: int) -> None:
    # BOM, multibyte characters cut by block ends, a line longer than a block, no final newline
    text = "é’x\n𝔸 b\r\n" + "«ça» " * 9 + "\n\nÉTÉ fin"
    p = tmp_path / "u.txt"
    p.write_bytes(b"\xef\xbb\xbf" + text.encode())
    pairs = list(iter_chunks_utf8([p, p], chunk_bytes=chunk_bytes))
    assert [t for t, _ in pairs] == list(iter_chunks([p, p], chunk_bytes=chunk_bytes))
    assert all(raw == t.encode() for t, raw in pairs)
    if chunk_bytes >= 3:  # the BOM is dropped when the first block holds all of it
        assert b"".join(raw or b"" for _, raw in pairs) == 2 * (text + "\n").encode()


def test_chunks_without_utf8_bytes_for_other_decodings(tmp_path: Path) -> None:
    p = tmp_path / "u.txt"
    p.write_bytes("été\n".encode())
    assert list(iter_chunks_utf8([p], errors="replace")) == [("été\n", None)]
    assert list(iter_chunks_utf8([p], encoding="latin-1")) == [("Ã©tÃ©\n", None)]
    p.write_bytes(b"ok\n\xff\n")
    with pytest.raises(InputError, match=r"u.txt:2: invalid utf-8 byte 0xff"):
        list(iter_chunks_utf8([p]))


def test_invalid_utf8_names_file_line_and_offset(tmp_path: Path) -> None:
    p = tmp_path / "bad.txt"
    p.write_bytes(b"good\nalso good\nbad \xff here\n")
    with pytest.raises(InputError) as e:
        list(read_lines(p))
    assert str(e.value) == f"{p}:3: invalid utf-8 byte 0xff at byte offset 19"
    assert "--errors replace" in (e.value.hint or "")


def test_invalid_utf8_offset_in_a_later_chunk(tmp_path: Path) -> None:
    p = tmp_path / "bad.txt"
    p.write_bytes(b"abc\n" * 1000 + b"\xc3\x28\n")
    with pytest.raises(InputError, match=r":1001: invalid utf-8 byte 0xc3 at byte offset 4000$"):
        list(iter_chunks([p], chunk_bytes=64))


def test_errors_replace_and_other_encodings(tmp_path: Path) -> None:
    p = tmp_path / "latin.txt"
    p.write_bytes("café\n".encode("latin-1"))
    assert list(read_lines(p, errors="replace")) == ["caf\ufffd"]
    assert list(read_lines(p, encoding="latin-1")) == ["café"]
    with pytest.raises(UsageError):
        list(read_lines(p, encoding="no-such-codec"))


def test_binary_file_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc\x00def\n")
    with pytest.raises(InputError, match="binary"):
        list(read_lines(p))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(read_lines(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="is a directory"):
        list(read_lines(tmp_path))


def test_read_text_normalises_line_ends(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(b"a\r\nb")
    assert read_text(p) == "a\nb\n"


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    p = tmp_path / "out.txt"
    write_text(p, "old\n")
    with pytest.raises(RuntimeError), atomic_write(p) as f:
        f.write("partial")
        raise RuntimeError("boom")
    assert p.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def _writer(path: str, letter: str) -> None:
    for _ in range(30):
        write_text(path, letter * 200_000)


def test_concurrent_writers_never_corrupt(tmp_path: Path) -> None:
    p = tmp_path / "shared.txt"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(p), c)) for c in "ab"]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    content = p.read_text()
    assert content in ("a" * 200_000, "b" * 200_000)
    assert sorted(os.listdir(tmp_path)) == ["shared.txt"]


# Bytes the UTF-8 checks must tell apart: every kind of first byte (C0/C1 and F5+
# are never valid), the second bytes that make E0/F0 overlong, ED a surrogate and
# F4 too large, stray continuation bytes, and whole characters of each length.
UTF8_PIECES = [b"a", b"\n", b"\x80", b"\x8f", b"\x90", b"\x9f", b"\xa0", b"\xbf", b"\xc0",
               b"\xc1", b"\xc2", b"\xdf", b"\xe0", b"\xed", b"\xef", b"\xf0", b"\xf4", b"\xf5",
               b"\xff", "é".encode(), "’".encode(), "𝔸".encode(), "\U0010ffff".encode(),
               b"\xed\x9f\xbf", b"\xee\x80\x80"]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(UTF8_PIECES), max_size=10))
def test_utf8_valid_judges_as_decoding_does(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    try:
        text: str | None = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    assert utf8_valid(data) == (text is not None)
    leads = utf8_leads(data)
    assert (leads is not None) == (text is not None)
    if text is not None:
        assert utf8_chars(data) == len(text)
        starts = [i for i, b in enumerate(data) if b >= 0xC0]  # where the characters start
        assert leads is not None and leads.tolist() == starts


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from([*UTF8_PIECES, b"\r\n", b" ", b"\x00"]), max_size=30),
    bom=st.booleans(),
    chunk_bytes=st.sampled_from([1, 2, 3, 5, 16, 1 << 20]),
)
def test_utf8_bytes_are_the_pieces_with_the_same_errors(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[bytes], bom: bool, chunk_bytes: int
) -> None:
    """Pieces checked but not decoded: the bytes of the decoded pieces, and for bad
    input (undecodable, binary) the same error at the same point."""
    p = tmp_path_factory.mktemp("b") / "x.txt"
    p.write_bytes(b"\xef\xbb\xbf" * bom + b"".join(pieces))

    def outcome(read: Callable[[], list[bytes]]) -> tuple[str, object]:
        try:
            return "ok", read()
        except InputError as e:
            return "error", str(e)

    want = outcome(
        lambda: [raw or b"" for _, raw in iter_chunks_utf8([p], chunk_bytes=chunk_bytes)]
    )
    assert outcome(lambda: [b for b, _ in iter_utf8_bytes([p], chunk_bytes=chunk_bytes)]) == want
