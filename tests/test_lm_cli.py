"""`train-lm`, `generate` and `eval-lm` through the command line, on tiny models."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import assert_one_line_error
from seqtool.datasets import sample_path
from seqtool.train.checkpoint import load_checkpoint

TINY_TF = ["--dim", "32", "--layers", "1", "--heads", "2", "--dropout", "0"]
TINY_RNN = ["--embed", "32", "--hidden", "32", "--layers", "1", "--dropout", "0"]


@pytest.fixture
def periodic(tmp_path: Path) -> Path:
    p = tmp_path / "periodic.txt"
    p.write_text("abcdefgh ijklmnop\n" * 150, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("model", "flags"), [("transformer", TINY_TF), ("gru", TINY_RNN)], ids=["transformer", "gru"]
)
def test_tiny_lm_learns_repeating_text_to_near_one_perplexity(
    cli, periodic: Path, tmp_path: Path, model: str, flags: list[str]
) -> None:
    out = tmp_path / "lm.pt"
    run = cli(
        "train-lm", periodic, "--model", model, *flags, "--seq-len", "16", "--batch-size", "16",
        "--lr", "1e-2", "--warmup", "10", "--max-steps", "120", "--eval-every", "60", "-o", out,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""  # training talks on stderr only
    assert "valid ppl" in run.stderr and "done (max steps)" in run.stderr
    ckpt = load_checkpoint(out)
    assert ckpt["metrics"]["best"] < 1.5, ckpt["metrics"]
    records = [json.loads(x) for x in (tmp_path / "lm.log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records]  # every --eval-every steps and at each epoch end
    assert {60, 120} <= set(steps) and steps == sorted(steps)
    ev = cli("eval-lm", out, periodic, "--format", "json")
    assert ev.exit_code == 0, ev.stderr
    result = json.loads(ev.stdout)
    assert result["ppl"] < 1.5 and result["oov_rate"] == 0
    assert result["signature"].startswith(f"model:{model}|tok:char|")
    gen = cli("generate", out, "--prefix", "abcd", "--max-tokens", "30", "--greedy")
    assert gen.exit_code == 0, gen.stderr
    assert gen.stdout.startswith("abcdefgh ijklmnop\nabcdefgh")


def test_lm_beats_unigram_on_held_out_slice_of_bundled_sample(cli, tmp_path: Path) -> None:
    text = sample_path("english.txt").read_text(encoding="utf-8")
    lines = text.splitlines()
    cut = int(len(lines) * 0.9)
    train, held = tmp_path / "train.txt", tmp_path / "held.txt"
    train.write_text("\n".join(lines[:cut]) + "\n", encoding="utf-8")
    held.write_text("\n".join(lines[cut:]) + "\n", encoding="utf-8")
    out = tmp_path / "lm.pt"
    run = cli(
        "train-lm", train, "--model", "gru", "--embed", "64", "--hidden", "64", "--layers", "1",
        "--seq-len", "32", "--batch-size", "16", "--lr", "1e-2", "--max-steps", "150",
        "--valid-fraction", "0.05", "-o", out, "-q",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""  # --quiet
    ev = json.loads(cli("eval-lm", out, held, "--format", "json").stdout)
    # The unigram (character frequency) model of the training text, with add-one smoothing.
    counts = Counter(train.read_text(encoding="utf-8"))
    total = sum(counts.values()) + len(counts) + 1
    held_text = held.read_text(encoding="utf-8")
    unigram_nll = -sum(math.log((counts.get(c, 0) + 1) / total) for c in held_text)
    unigram_ppl = math.exp(unigram_nll / len(held_text))
    assert ev["tokens"] == len(held_text)
    assert ev["ppl"] < 0.75 * unigram_ppl, (ev["ppl"], unigram_ppl)


def test_generate_batches_prefixes_from_stdin_one_line_each(
    cli, periodic: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lm.pt"
    assert (
        cli(
            "train-lm", periodic, "--model", "lstm", *TINY_RNN, "--max-steps", "3", "-o", out, "-q"
        ).exit_code
        == 0
    )
    gen = cli(
        "generate", out, "--one-line", "--num", "2", "--max-tokens", "12", input="ab\n\nabcdefgh\n"
    )
    assert gen.exit_code == 0, gen.stderr
    lines = gen.stdout.split("\n")[:-1]
    assert len(lines) == 6
    assert lines[0].startswith("ab") and lines[4].startswith("abcdefgh")
    same = cli(
        "generate", out, "--one-line", "--num", "2", "--max-tokens", "12", input="ab\n\nabcdefgh\n"
    )
    assert same.stdout == gen.stdout  # seeded
    js = cli("generate", out, "--prefix", "a", "--format", "jsonl", "--max-tokens", "5")
    record = json.loads(js.stdout)
    assert record["prefix"] == "a" and record["text"].startswith("a")


def test_eval_lm_per_line_one_output_line_per_input_line(
    cli, periodic: Path, tmp_path: Path
) -> None:
    out = tmp_path / "lm.pt"
    cli(
        "train-lm",
        periodic,
        "--model",
        "gru",
        *TINY_RNN,
        "--max-steps",
        "40",
        "--lr",
        "1e-2",
        "-o",
        out,
        "-q",
    )
    ev = cli("eval-lm", out, "--per-line", "--format", "tsv", input="abcdefgh\n\nqqqqqqqq\n")
    assert ev.exit_code == 0, ev.stderr
    rows = [line.split("\t") for line in ev.stdout.splitlines()]
    assert len(rows) == 3
    assert [int(r[1]) for r in rows] == [9, 1, 9]  # line end counted
    assert float(rows[0][0]) > float(rows[2][0])  # the familiar line is likelier
    jl = cli("eval-lm", out, "--per-line", "--format", "jsonl", input="abc\n")
    assert json.loads(jl.stdout)["text"] == "abc"


def test_resume_continues_a_run(cli, periodic: Path, tmp_path: Path) -> None:
    out = tmp_path / "lm.pt"
    args = ["train-lm", periodic, "--model", "gru", *TINY_RNN, "-o", out, "-q"]
    assert cli(*args, "--max-steps", "4").exit_code == 0
    run = cli(*args, "--max-steps", "8", "--resume", tmp_path / "lm.last.pt")
    assert run.exit_code == 0, run.stderr
    assert load_checkpoint(tmp_path / "lm.last.pt")["train_state"]["step"] == 8
    bad = cli(*args, "--resume", out)  # the best/final model carries no training state
    assert_one_line_error(bad, 1)
    assert "not a training state" in bad.stderr


def test_resume_without_output_keeps_the_runs_own_files(
    cli, periodic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["train-lm", periodic, "--model", "gru", *TINY_RNN, "-q"]
    assert cli(*base, "--max-steps", "2", "-o", "run.pt").exit_code == 0
    run = cli(*base, "--max-steps", "4", "--resume", "run.last.pt")
    assert run.exit_code == 0, run.stderr
    assert load_checkpoint(tmp_path / "run.last.pt")["train_state"]["step"] == 4
    assert not (tmp_path / "lm.pt").exists() and not (tmp_path / "lm.last.pt").exists()
    assert len((tmp_path / "run.log.jsonl").read_text().splitlines()) >= 2


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--model", "mamba"], 2, "unknown --model 'mamba'"),
        (["--seq-len", "0"], 2, "--seq-len must be at least 1"),
        (["--seq-len", "5000"], 1, "too few for one window"),
        (["--lr", "-1"], 2, "--lr must be positive"),
        (["--time-budget", "soon"], 2, "--time-budget"),
        (
            ["--device", "cuda:7"] if not torch.cuda.is_available() else ["--device", "tpu"],
            None,
            "--device",
        ),
        (["--dim", "30", "--heads", "4"], 2, "not divisible"),
        (["--optimizer", "adam"], 2, "--optimizer"),
        (["--tokenizer", "morse"], 2, "unknown tokenizer"),
        (["--hidden", "64"], 2, "--hidden: not a setting of --model transformer"),
        (["--model", "lstm", "--heads", "2"], 2, "--heads: not a setting of --model lstm"),
    ],
)
def test_train_lm_bad_settings_give_one_line(
    cli, periodic: Path, tmp_path: Path, extra: list[str], code: int | None, message: str
) -> None:
    run = cli("train-lm", periodic, *TINY_TF, "--max-steps", "1", "-o", tmp_path / "x.pt", *extra)
    assert_one_line_error(run, code)
    assert message in run.stderr
    assert not (tmp_path / "x.pt").exists()


def test_train_lm_bad_inputs(cli, bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    for name, path in bad_inputs.items():
        run = cli("train-lm", path, "--max-steps", "1", "-o", tmp_path / "x.pt")
        assert_one_line_error(run, 1)
        assert str(path.name) in run.stderr or name == "empty", run.stderr


def test_wrong_and_truncated_checkpoints_give_one_line(cli, periodic: Path, tmp_path: Path) -> None:
    out = tmp_path / "lm.pt"
    assert (
        cli(
            "train-lm", periodic, "--model", "gru", *TINY_RNN, "--max-steps", "2", "-o", out, "-q"
        ).exit_code
        == 0
    )
    cut = tmp_path / "cut.pt"
    cut.write_bytes(out.read_bytes()[:1000])
    vocab = tmp_path / "v.json"
    assert cli("vocab", "build", periodic, "-o", vocab, "-q").exit_code == 0
    other = tmp_path / "mt.pt"
    ckpt = load_checkpoint(out)
    ckpt["kind"] = "seq2seq"
    torch.save(ckpt, other)
    for bad, message in [
        (cut, "truncated"),
        (vocab, "not a readable checkpoint"),
        (other, "'seq2seq' checkpoint"),
        (tmp_path / "missing.pt", "no such file"),
    ]:
        for command in (["generate", bad, "--prefix", "a"], ["eval-lm", bad, periodic]):
            run = cli(*command)
            assert_one_line_error(run, 1)
            assert message in run.stderr, run.stderr


def test_help_for_every_lm_command(cli) -> None:
    for command in ("train-lm", "generate", "eval-lm"):
        run = cli(command, "--help")
        assert run.exit_code == 0 and "Example:" in run.stdout


def test_sigint_saves_a_resumable_checkpoint_and_exits_130(periodic: Path, tmp_path: Path) -> None:
    out = tmp_path / "lm.pt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "seqtool", "train-lm", str(periodic), "--model", "gru", *TINY_RNN,
           "--seq-len", "8", "--batch-size", "2", "--epochs", "1000", "--threads", "1", "-o", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    for line in proc.stderr:  # wait until it is training
        if line.startswith("step ") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 130, err
    assert "interrupted by SIGINT" in err and "--resume" in err and "Traceback" not in err
    step = load_checkpoint(tmp_path / "lm.last.pt")["train_state"]["step"]
    assert step > 0
    # not an error: it says where training stopped and where the checkpoint is
    assert "error" not in err and f"at step {step};" in err and str(tmp_path / "lm.last.pt") in err
