"""Issue 12.10's inconsistencies: help that names each default normaliser, one
tokenizer flag name, typed `data list` JSON, quiet `ngrams merge --save`, the text
in `eval-lm --per-line`, the interrupt line, the progress bar at 80 columns and
UTF-16/binary inputs said for what they are."""

from __future__ import annotations

import io
import json
import re
import signal
import sys
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from seqtool.train.trainer import TrainingInterrupted


def _help(cli, *command: str) -> str:
    run = cli(*command, "--help")
    assert run.exit_code == 0, run.stderr
    return " ".join(run.stdout.split())  # rich wraps the help text at any word


@pytest.mark.parametrize(
    ("command", "default"),
    [
        (("vocab", "build"), "(default: letters for char and word, none for bpe and unigram)"),
        (("preprocess",), "(default: letters)"),
        (("ngrams", "count"), "(default: letters)"),
        (("zipf",), "(default: letters)"),
        (("train-lm",), "(default: none)"),
        (("word2vec", "train"), "(default: none: split on whitespace as it is)"),
    ],
)
def test_help_names_the_default_normaliser(cli, command: tuple[str, ...], default: str) -> None:
    text = _help(cli, *command)
    assert f"--normalize <str> Normaliser: d2l, letters, nfkc or none {default}" in text, text


def test_preprocess_takes_tokenizer_like_every_command(cli, tiny: Path) -> None:
    new = cli("preprocess", tiny, "--tokenizer", "char", "--normalize", "d2l")
    short = cli("preprocess", tiny, "-t", "char", "--normalize", "d2l")
    old = cli("preprocess", tiny, "--tokenize", "char", "--normalize", "d2l")  # old scripts
    assert new.exit_code == 0 and new.stdout.startswith("t h e   c a t")
    assert new.stdout == short.stdout == old.stdout
    text = _help(cli, "preprocess")
    assert "--tokenizer" in text and not re.search(r"--tokenize\b(?!r)", text)
    assert_one_line_error(cli("preprocess", tiny, "--tokenizer", "char", "--tokenize", "word"), 2)
    bad = cli("preprocess", tiny, "--tokenizer", "stem")
    assert_one_line_error(bad, 2)
    assert "--tokenizer must be" in bad.stderr


def test_data_list_header_and_typed_json(cli) -> None:
    tsv = cli("data", "list", "--format", "tsv", "--header")
    assert tsv.exit_code == 0, tsv.stderr
    lines = tsv.stdout.splitlines()
    assert lines[0] == "name\ton disk\tdownload\tdescription"
    assert lines[1:] == cli("data", "list", "--format", "tsv").stdout.splitlines()
    assert all(line.split("\t")[1] in ("yes", "no") for line in lines[1:])
    records = json.loads(cli("data", "list", "--format", "json").stdout)
    by_name = {r["name"]: r for r in records}
    assert set(by_name) >= {"timemachine", "ptb", "fra-eng", "multi30k"}
    for r in records:
        assert r["on_disk"] is False  # an empty cache (conftest's HOME)
        assert isinstance(r["download_bytes"], int) and r["download_bytes"] > 0
    assert [
        json.loads(x) for x in cli("data", "list", "-f", "jsonl").stdout.splitlines()
    ] == records


def test_ngrams_merge_save_prints_no_lists_unless_asked(cli, tiny: Path, tmp_path: Path) -> None:
    a, b, merged = tmp_path / "a.npz", tmp_path / "b.npz", tmp_path / "all.npz"
    for part in (a, b):
        assert cli("ngrams", tiny, "-n", "1", "-n", "2", "--save", part, "-q").exit_code == 0
    saved = cli("ngrams", "merge", a, b, "--save", merged, "-f", "tsv")
    assert saved.exit_code == 0 and saved.stdout == "" and merged.is_file()
    assert "saved all counts" in saved.stderr
    asked = cli("ngrams", "merge", a, b, "--save", merged, "--top", "2", "-f", "tsv")
    assert asked.stdout.splitlines() == ["the\t10", "a\t4", "on--the\t4", "sat--on\t4"]
    plain = cli("ngrams", "merge", a, b, "-f", "tsv")  # without --save: the top 10, as before
    top10 = cli("ngrams", "merge", a, b, "--save", merged, "--top", "10", "-f", "tsv")
    assert plain.stdout.splitlines()[0] == "the\t10" and plain.stdout == top10.stdout


def test_eval_lm_per_line_tsv_has_the_text(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcdefgh ijklmnop\n" * 40, encoding="utf-8")
    out = tmp_path / "lm.pt"
    train = cli("train-lm", corpus, "--model", "gru", "--embed", "8", "--hidden", "8",
                "--layers", "1", "--max-steps", "2", "--seq-len", "8", "-o", out, "-q")  # fmt: skip
    assert train.exit_code == 0, train.stderr
    text = "abc\tdef\nback\\slash\n\n"
    run = cli("eval-lm", out, "--per-line", "--format", "tsv", input=text)
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    assert [len(r) for r in rows] == [4, 4, 4]
    assert [r[3] for r in rows] == ["abc\\tdef", "back\\\\slash", ""]  # seqtool.io.tsv_escape
    table = cli("eval-lm", out, "--per-line", "--format", "table", input="hello\n")
    assert "text" in table.stdout and "hello" in table.stdout


def test_training_interrupt_is_not_an_error(
    cli, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = tmp_path / "lm.last.pt"

    def stopped(*args, **kwargs):
        raise TrainingInterrupted(signal.SIGINT, last, 57)

    monkeypatch.setattr("seqtool.tasks.lm.train_lm", stopped)
    run = cli("train-lm", tiny, "-o", tmp_path / "lm.pt")
    assert run.exit_code == 130
    assert run.stderr.splitlines()[-1] == (
        f"seqtool: training interrupted by SIGINT at step 57; resumable checkpoint saved to "
        f"{last} (to continue, run the same command with --resume {last})"
    )
    assert "error" not in run.stderr


def test_progress_bar_keeps_its_times_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    from seqtool.cli import render

    monkeypatch.setattr(render, "stderr_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    fields = {"step": 1200, "loss": 2.3456, "ppl": 10.443, "tok/s": "12.3k", "lr": "1.00e-03"}
    for label in ("train", "  language model", "a much longer description of the work"):
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        with render.Progress(label, total=100) as bar:
            bar.update(40, **fields)
        line = err.getvalue().rstrip("\n").splitlines()[-1]
        assert len(line) <= 80, line
        assert " 40.0% 0:00:00 -:--:-- step 1200  loss 2.3456" in line, line
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("COLUMNS", "120")
    with render.Progress("train", total=100) as bar:  # room for everything: a bar
        bar.update(40, **fields)
    line = err.getvalue().splitlines()[-1]
    assert line.startswith("train ━") and line.endswith("lr 1.00e-03"), line


@pytest.mark.parametrize(
    ("data", "message", "hint"),
    [
        ("hello\nworld\n".encode("utf-16"), r"looks like UTF-16 \(BOM\)", "--encoding utf-16"),
        ("hello\nworld\n".encode("utf-32"), r"looks like UTF-32 \(BOM\)", "--encoding utf-32"),
        ("hello world\n".encode("utf-16-le"), r"UTF-16-LE \(no BOM\)", "--encoding utf-16-le"),
        ("hello world\n".encode("utf-16-be"), r"UTF-16-BE \(no BOM\)", "--encoding utf-16-be"),
        # an ELF header: a NUL before the first byte that is not UTF-8
        (b"\x7fELF\x02\x01\x01\x00\x00\xd0\x8f\x00\x00\n", r":1: binary file \(NUL byte at line 1\)", None),
        (b"text\nmore\n\x00\x01\x02\n", r":3: binary file \(NUL byte at line 3\)", None),
    ],
    ids=["utf-16", "utf-32", "utf-16-le", "utf-16-be", "elf", "nul-line-3"],
)  # fmt: skip
def test_utf16_and_binary_inputs_say_what_they_are(
    cli, tmp_path: Path, data: bytes, message: str, hint: str | None
) -> None:
    f = tmp_path / "input.txt"
    f.write_bytes(data)
    for command in (["ngrams", f], ["vocab", "build", f, "-o", tmp_path / "v.json"]):
        run = cli(*command)
        assert_one_line_error(run, 1)
        assert re.search(message, run.stderr), run.stderr
        assert (hint or "--encoding") in run.stderr if hint else "--encoding" not in run.stderr


def test_utf16_reads_with_its_encoding(cli, tmp_path: Path) -> None:
    f = tmp_path / "u16.txt"
    f.write_bytes("hello world\nhello\n".encode("utf-16"))
    run = cli("ngrams", f, "--encoding", "utf-16", "-f", "tsv", "-q")
    assert run.exit_code == 0 and run.stdout.splitlines() == ["hello\t2", "world\t1"]
