"""Issue 12.1 and 12.5: ``--seed`` makes training reproducible bit for bit, and a
resumed run keeps the data split it started with.  Through the command line and
through the library (``train_lm`` / ``train_mt``)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
import torch

from conftest import assert_one_line_error
from seqtool.errors import UsageError
from seqtool.tasks.lm import LMConfig, train_lm
from seqtool.tasks.mt import MTConfig, train_mt
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.runner import TrainOptions

TINY_RNN = ["--embed", "16", "--hidden", "16", "--layers", "1"]


@pytest.fixture
def text(tmp_path: Path) -> Path:
    r = random.Random(0)
    words = ["time", "machine", "the", "traveller", "said", "and", "of", "a"]
    p = tmp_path / "text.txt"
    p.write_text(
        "".join(" ".join(r.choice(words) for _ in range(9)) + "\n" for _ in range(200)),
        encoding="utf-8",
    )
    return p


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    r = random.Random(1)
    letters = "a b c d e f g h".split()
    lines = []
    for _ in range(300):
        w = [r.choice(letters) for _ in range(r.randint(2, 6))]
        lines.append(" ".join(w) + "\t" + " ".join(reversed(w)))
    p = tmp_path / "pairs.tsv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def same_weights(a: Path, b: Path) -> bool:
    wa, wb = load_checkpoint(a)["model"], load_checkpoint(b)["model"]
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_train_lm_same_seed_bit_identical(cli, text: Path, tmp_path: Path, model: str) -> None:
    sizes = TINY_RNN if model == "lstm" else ["--dim", "16", "--heads", "2", "--layers", "1"]
    args = ["train-lm", text, "--model", model, *sizes, "--dropout", "0.1", "--max-steps", "3",
            "--seq-len", "16", "--batch-size", "4", "--threads", "1", "-q"]  # fmt: skip
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        torch.manual_seed(hash(name) % 1000)  # whatever ran before must not matter
        assert cli(*args, "--seed", seed, "-o", tmp_path / f"{name}.pt").exit_code == 0
    assert same_weights(tmp_path / "a.pt", tmp_path / "b.pt")
    assert not same_weights(tmp_path / "a.pt", tmp_path / "c.pt")


def test_train_mt_same_seed_bit_identical(cli, pairs: Path, tmp_path: Path) -> None:
    args = ["train-mt", "--pairs", pairs, "--model", "gru-attn", "--embed", "16", "--hidden",
            "16", "--tokenizer", "word", "--max-steps", "2", "--threads", "1",
            "--precision", "fp32", "-q"]  # fmt: skip
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        torch.manual_seed(hash(name) % 1000)
        assert cli(*args, "--seed", seed, "-o", tmp_path / f"{name}.pt").exit_code == 0
    assert same_weights(tmp_path / "a.last.pt", tmp_path / "b.last.pt")
    assert not same_weights(tmp_path / "a.last.pt", tmp_path / "c.last.pt")


def test_library_runs_are_reproducible_too(text: Path, pairs: Path, tmp_path: Path) -> None:
    opts = TrainOptions(max_steps=2, threads=1, seed=11, device="cpu")
    lm_cfg = LMConfig(files=[str(text)], model="gru", embed=16, hidden=16, layers=1)
    lms = [train_lm(lm_cfg, opts, tmp_path / f"lm{i}.pt") for i in range(2)]
    a, b = (lm.model.state_dict() for lm in lms)
    assert all(torch.equal(a[k], b[k]) for k in a)
    mt_cfg = MTConfig(pairs=str(pairs), model="gru-attn", embed=16, hidden=16, tokenizer="word")
    mts = [train_mt(mt_cfg, opts, tmp_path / f"mt{i}.pt") for i in range(2)]
    a, b = (mt.model.state_dict() for mt in mts)
    assert all(torch.equal(a[k], b[k]) for k in a)


def _token_counts(stderr: str) -> tuple[str, str]:
    m = re.search(r"([\d.]+k?) training tokens, ([\d.]+k?) validation tokens", stderr)
    assert m, stderr
    return m.group(1), m.group(2)


def test_resume_keeps_the_data_split(cli, text: Path, tmp_path: Path) -> None:
    base = ["train-lm", text, "--model", "gru", *TINY_RNN, "--seq-len", "16", "--threads", "1"]
    first = cli(*base, "--valid-fraction", "0.3", "--max-steps", "2", "-o", tmp_path / "r.pt")
    assert first.exit_code == 0, first.stderr
    # Resuming without --valid-fraction used to hold out the default 10% instead.
    again = cli(*base, "--max-steps", "4", "--resume", tmp_path / "r.last.pt")
    assert again.exit_code == 0, again.stderr
    assert _token_counts(again.stderr) == _token_counts(first.stderr)
    split = load_checkpoint(tmp_path / "r.last.pt")["lm"]["split"]
    assert split["valid_fraction"] == 0.3
    other = cli(
        *base, "--valid-fraction", "0.1", "--max-steps", "6", "--resume", tmp_path / "r.last.pt"
    )
    assert_one_line_error(other, 2)
    assert "0.1 differs from the 0.3" in other.stderr


def test_library_refuses_a_different_split_on_resume(text: Path, tmp_path: Path) -> None:
    opts = TrainOptions(max_steps=1, threads=1, device="cpu")
    cfg = LMConfig(
        files=[str(text)], model="gru", embed=16, hidden=16, layers=1, valid_fraction=0.2
    )
    train_lm(cfg, opts, tmp_path / "s.pt")
    cfg.valid_fraction = 0.25
    resume = TrainOptions(max_steps=2, threads=1, device="cpu", resume=tmp_path / "s.last.pt")
    with pytest.raises(UsageError, match="valid_fraction 0.25 differs"):
        train_lm(cfg, resume)


def test_mt_resume_holds_out_the_same_pairs(pairs: Path, tmp_path: Path) -> None:
    cfg = MTConfig(
        pairs=str(pairs), model="gru-attn", embed=16, hidden=16, tokenizer="word", valid_size=40
    )
    train_mt(cfg, TrainOptions(max_steps=1, threads=1, device="cpu", seed=2), tmp_path / "m.pt")
    split = load_checkpoint(tmp_path / "m.last.pt")["mt"]["split"]
    assert split == {"held_out": True, "valid_size": 40, "seed": 2}
    # A different --seed on resume must not reshuffle which pairs are held out.
    resumed = train_mt(
        MTConfig(pairs=str(pairs), model="gru-attn", tokenizer="word"),
        TrainOptions(max_steps=2, threads=1, device="cpu", seed=9, resume=tmp_path / "m.last.pt"),
    )
    assert resumed.run is not None
    assert load_checkpoint(tmp_path / "m.last.pt")["mt"]["split"]["seed"] == 2
