"""Library errors name parameters; the CLI shows the running command's flags instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from conftest import assert_one_line_error
from seqtool.cli import app, flags
from seqtool.errors import UsageError
from seqtool.text.vocab import Vocab

ROOT = get_command(app)


def table_for(*args: str) -> dict[str, str]:
    return flags.flag_table(flags.command_path(ROOT, list(args)))


def test_the_table_comes_from_the_running_command() -> None:
    names = [c.name for c in flags.command_path(ROOT, ["--debug", "vocab", "build", "x.txt"])]
    assert names[1:] == ["vocab", "build"]
    table = table_for("vocab", "build", "x.txt", "-o", "v.json")
    assert table["min_freq"] == "--min-freq"
    assert table["vocab_size"] == "--vocab-size"
    assert table["tokenizer"] == "--tokenizer"  # the long flag, not -t
    assert table["lower"] == "--lower"  # a --x/--no-x pair: its first flag
    assert table["debug"] == "--debug"  # the root group's options count too
    assert "top" not in table  # an option of `vocab show`, not of `vocab build`
    assert table_for("vocab", "show", "v.json")["top"] == "--top"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("min_freq must be at least 1, not 0", "--min-freq must be at least 1, not 0"),
        ("`lower` and min_freq clash", "--lower and --min-freq clash"),
        ("`nosuch` must be 1", "nosuch must be 1"),  # no such flag: just the name
        ("no_such_param must be 1", "no_such_param must be 1"),
        # prose, quotes and paths are left alone
        ("the tokenizer is unknown", "the tokenizer is unknown"),
        ("'min_freq' in data/min_freq.txt", "'min_freq' in data/min_freq.txt"),
        ("min_freq.txt: empty", "min_freq.txt: empty"),
        ("--min-freq stays", "--min-freq stays"),
        ("use vocab_size 9 or more", "use --vocab-size 9 or more"),
    ],
)
def test_rewrite_replaces_whole_parameter_names_only(message: str, expected: str) -> None:
    assert flags.rewrite(message, table_for("vocab", "build", "x")) == expected


def test_overrides_apply_only_where_their_flag_exists() -> None:
    assert table_for("bleu", "h", "r")["d2l_k"] == "--d2l-k"
    assert "d2l_k" not in table_for("vocab", "build", "x")


def test_the_library_names_the_parameter(tiny: Path) -> None:
    with pytest.raises(UsageError, match="^min_freq must be at least 1, not 0$"):
        Vocab.build(["a b"], "word", min_freq=0)


def test_the_cli_names_the_flag(cli, tiny: Path, tmp_path: Path) -> None:
    run = cli("vocab", "build", tiny, "-o", tmp_path / "v.json", "--min-freq", "0")
    assert_one_line_error(run, 2)
    assert "seqtool: error: --min-freq must be at least 1, not 0" in run.stderr
