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
from typer.testing import CliRunner

from conftest import Run
from seqtool.cli import app

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

TINY_RNN = ["--embed", "16", "--hidden", "16", "--layers", "1", "--dropout", "0"]
ONE_STEP = ["--max-steps", "1", "--precision", "fp32", "-q"]

# The statistics, training and scoring commands of the later feature areas; the
# scoring ones use the tiny models of the `models` fixture (in the work folder).
COMMANDS.update(
    {
        "ngrams": lambda f, o, d: ["ngrams", f, "-n", "1", "-n", "2"],
        "ngrams --save": lambda f, o, d: ["ngrams", f, "-n", "3", "--save", o, "-q"],
        "ngrams char --per-line": lambda f, o, d: [
            "ngrams", f, "--tokenizer", "char", "--per-line", "-n", "2", "--format", "json",
        ],
        "zipf": lambda f, o, d: ["zipf", f],
        "zipf --counts": lambda f, o, d: ["zipf", "--counts", f],
        "bleu (hypothesis)": lambda f, o, d: ["bleu", f, d / "seed.txt"],
        "bleu (reference) --d2l-k": lambda f, o, d: ["bleu", d / "seed.txt", f, "--d2l-k", "2"],
        "train-lm char": lambda f, o, d: [
            "train-lm", f, "--tokenizer", "char", "--model", "gru", *TINY_RNN,
            "--seq-len", "4", "--batch-size", "2", "-o", o, *ONE_STEP,
        ],
        "eval-lm --per-line": lambda f, o, d: ["eval-lm", d / "lm.pt", f, "--per-line"],
        "train-mt --pairs": lambda f, o, d: [
            "train-mt", "--pairs", f, "--model", "gru-attn", *TINY_RNN, "--vocab-size", "40",
            "-o", o, *ONE_STEP,
        ],
        "translate": lambda f, o, d: ["translate", d / "mt.pt", f, "--beam", "2"],
        "ngrams lm": lambda f, o, d: ["ngrams", "lm", f, "-n", "3", "-o", o, "--discount-fallback"],
        "ngrams score --per-line": lambda f, o, d: ["ngrams", "score", d / "seed.arpa", f, "--per-line"],
        "ngrams score": lambda f, o, d: ["ngrams", "score", d / "seed.arpa", f, "-f", "json"],
    }
)  # fmt: skip

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


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny character LM and a tiny translation model, trained once for the module."""
    d = tmp_path_factory.mktemp("models")
    text = d / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20, encoding="utf-8")
    pairs = d / "pairs.tsv"
    pairs.write_text("the cat\tle chat\na dog\tun chien\n" * 20, encoding="utf-8")
    runner = CliRunner()
    made = {"lm.pt": d / "lm.pt", "mt.pt": d / "mt.pt"}
    for argv in (
        COMMANDS["train-lm char"](text, made["lm.pt"], d),
        COMMANDS["train-mt --pairs"](pairs, made["mt.pt"], d),
    ):
        result = runner.invoke(app, [str(a) for a in argv], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    return made


@pytest.fixture
def workdir(tmp_path: Path, cli, models: dict[str, Path]) -> Path:
    (tmp_path / "seed.txt").write_text("the cat sat on the mat\n")
    assert (
        cli("vocab", "build", tmp_path / "seed.txt", "-o", tmp_path / "vocab.json").exit_code == 0
    )
    seed_lm = cli("ngrams", "lm", tmp_path / "seed.txt", "-n", "2", "-o", tmp_path / "seed.arpa",
                  "--discount-fallback", "-q")  # fmt: skip
    assert seed_lm.exit_code == 0, seed_lm.stderr
    for name, path in models.items():
        (tmp_path / name).symlink_to(path)
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
