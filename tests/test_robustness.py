"""Property-based checks: text-reading commands never crash on arbitrary input.

Each command is fed random bytes, random Unicode, empty input, one enormous line,
CRLF and BOM files.  It must either succeed or fail with one `seqtool: error:`
line and a non-zero exit, without a traceback, and must never leave a partial
output file behind.  Commands from other feature areas add themselves to
COMMANDS as they land.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Run

# Each entry: name -> (argv builder taking (input file, output path, work dir), output path or None)
Builder = Callable[[Path, Path, Path], list[object]]
COMMANDS: dict[str, Builder] = {
    "preprocess": lambda f, o, d: ["preprocess", f],
    "preprocess --tokenize char": lambda f, o, d: [
        "preprocess",
        f,
        "--tokenize",
        "char",
        "--normalize",
        "none",
    ],
    "vocab build word": lambda f, o, d: ["vocab", "build", f, "-o", o],
    "vocab build char": lambda f, o, d: [
        "vocab",
        "build",
        f,
        "-o",
        o,
        "-t",
        "char",
        "--normalize",
        "none",
    ],
    "vocab encode": lambda f, o, d: ["vocab", "encode", d / "vocab.json", f],
    "vocab decode": lambda f, o, d: ["vocab", "decode", d / "vocab.json", f],
    "vocab show --corpus": lambda f, o, d: [
        "vocab",
        "show",
        d / "vocab.json",
        "--corpus",
        f,
        "--format",
        "json",
    ],
}

SPECIAL_INPUTS = {
    "empty": b"",
    "crlf": b"one line\r\nanother line\r\n",
    "bom": "\ufeffbom first\nsecond\n".encode(),
    "huge line": b"word " * 200_000,
    "only newlines": b"\n\n\n",
    "nul": b"a\x00b\n",
    "invalid utf8": b"ok\n\xff\xfe broken\n",
    "gzip magic but truncated": b"\x1f\x8b\x08\x00broken",
    "xz magic but garbage": b"\xfd7zXZ\x00garbage",
}


def check(run: Run, out: Path) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    if run.exit_code != 0:
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("seqtool: error: ")]
        assert len(errors) == 1, run.stderr
        assert "unexpected" not in errors[0], run.stderr  # an unexpected exception is a bug
        assert not out.exists()
    leftovers = [p for p in os.listdir(out.parent) if p.endswith(".tmp") or p.endswith(".part")]
    assert not leftovers


@pytest.fixture
def workdir(tmp_path: Path, cli) -> Path:
    (tmp_path / "seed.txt").write_text("the cat sat on the mat\n")
    assert (
        cli("vocab", "build", tmp_path / "seed.txt", "-o", tmp_path / "vocab.json").exit_code == 0
    )
    return tmp_path


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(SPECIAL_INPUTS))
def test_special_inputs(cli, workdir: Path, command: str, case: str) -> None:
    f = workdir / "input.txt"
    f.write_bytes(SPECIAL_INPUTS[case])
    out = workdir / "out.file"
    check(cli(*COMMANDS[command](f, out, workdir)), out)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )
)
def test_random_input(cli, workdir: Path, command: str, data: bytes) -> None:
    f = workdir / "input.txt"
    f.write_bytes(data)
    out = workdir / "out.file"
    if out.exists():
        out.unlink()
    check(cli(*COMMANDS[command](f, out, workdir)), out)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stdin_input(cli, workdir: Path, command: str) -> None:
    out = workdir / "out.file"
    argv = [
        a if not (isinstance(a, Path) and a.name == "input.txt") else "-"
        for a in COMMANDS[command](workdir / "input.txt", out, workdir)
    ]
    check(cli(*argv, input="some text\nmore text\n"), out)
