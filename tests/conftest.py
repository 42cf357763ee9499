"""Shared fixtures: a CliRunner wrapper, tiny corpora, one torch thread, fixed seeds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seqtool.cli import app

# The slow tests' real corpora: the same layout as a `seqtool data` mirror, so
# SEQTOOL_DATA works too when SEQTOOL_SHARED_DATA is not set.
SHARED_DATA = Path(
    os.environ.get("SEQTOOL_SHARED_DATA")
    or os.environ.get("SEQTOOL_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)


@pytest.fixture(autouse=True)
def _isolated_env(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never touch the user's cache or pick up a developer's SEQTOOL_DATA by accident.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("SEQTOOL_DATA", raising=False)
    monkeypatch.delenv("SEQTOOL_DEBUG", raising=False)
    try:
        import torch

        torch.set_num_threads(1)
        torch.manual_seed(0)
    except ImportError:
        pass


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli():
    """Run seqtool in-process: ``cli("vocab", "show", path, input="...")`` -> Run."""
    runner = CliRunner()

    def run(*args: object, input: str | bytes | None = None) -> Run:
        result = runner.invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def shared_data() -> Path:
    """The reference corpora of the development environment; skips the test when absent."""
    if not (SHARED_DATA / "timemachine.txt").is_file():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set SEQTOOL_SHARED_DATA)")
    return SHARED_DATA


TINY = "The cat sat on the mat.\nThe dog sat on the log!\n\nA cat, a dog; the end.\n"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.txt"
    p.write_text(TINY, encoding="utf-8")
    return p


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """The inputs every text-reading command must refuse with one line and a non-zero exit."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00hello\n")
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\u00e9 au lait\n".encode("latin-1"))
    return {
        "missing": tmp_path / "missing.txt",
        "empty": empty,
        "binary": binary,
        "invalid-utf8": latin,
    }


def assert_one_line_error(run: Run, code: int | None = None) -> None:
    """A user mistake: non-zero exit, a `seqtool: error:` line, no traceback."""
    assert run.exit_code != 0, run.stdout
    if code is not None:
        assert run.exit_code == code, (run.exit_code, run.stderr)
    assert "Traceback" not in run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    assert lines and lines[-1].startswith("seqtool: error: "), run.stderr
    assert len([ln for ln in lines if ln.startswith("seqtool: error:")]) == 1
