"""word2vec's interrupt/resume contract and seed, through the API and the CLI.

SIGINT/SIGTERM stop training at the end of a block, write OUTPUT.last.pt (atomic,
``weights_only``-loadable) and exit 128+signal; ``--resume`` goes on and, with one
thread, ends with exactly the vectors of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

import seqtool.train.word2vec as w2v
from conftest import assert_one_line_error
from seqtool.errors import CheckpointError, InputError
from seqtool.train.trainer import TrainingInterrupted
from seqtool.wordvectors import WordVectors


def text(lines: int = 400, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{j}" for j in rng.integers(0, 40, 12)) for _ in range(lines)]


CFG = dict(dim=8, window=2, epochs=3, threads=1, batch_size=16, min_count=1, seed=7)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1,024-token blocks (64 steps of 16): a few blocks per epoch of the test text,
    # so a stop can land inside an epoch
    monkeypatch.setattr(w2v, "BLOCK", 1024)


def interrupt_after(monkeypatch: pytest.MonkeyPatch, blocks: int, signum: int) -> None:
    """Send ``signum`` to this process once ``blocks`` blocks have been trained."""
    real = w2v._train_block
    calls = [0]

    def counting(*args: object) -> int:
        effective = real(*args)  # type: ignore[arg-type]
        calls[0] += 1
        if calls[0] == blocks:
            os.kill(os.getpid(), signum)
        return effective

    monkeypatch.setattr(w2v, "_train_block", counting)


@pytest.mark.parametrize(
    ("blocks", "signum", "engine"),
    [(2, signal.SIGINT, "numba"), (7, signal.SIGTERM, "numba"), (2, signal.SIGINT, "torch")],
)
def test_stop_and_resume_equals_a_straight_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocks: int, signum: int, engine: str
) -> None:
    lines = text()
    cfg = {**CFG, "engine": engine}
    straight_run = w2v.train_word2vec(lines, w2v.Word2VecConfig(**cfg))
    assert straight_run.train.engine == engine
    straight = straight_run.vectors
    last = tmp_path / "v.last.pt"
    with monkeypatch.context() as m:
        interrupt_after(m, blocks, signum)
        with pytest.raises(TrainingInterrupted) as stopped:
            w2v.train_word2vec(lines, w2v.Word2VecConfig(**cfg), checkpoint=last)
    assert stopped.value.exit_code == 128 + signum and str(last) in stopped.value.message
    assert " in epoch " in stopped.value.message and stopped.value.label is None
    saved = torch.load(last, weights_only=True)  # loads without unpickling code
    assert saved["kind"] == "word2vec" and saved["train_state"]["epoch"] < 3
    assert [p.name for p in tmp_path.iterdir()] == ["v.last.pt"]  # no temp files left
    resumed = w2v.train_word2vec(lines, resume=last, checkpoint=last)
    assert resumed.train.start_epoch == saved["train_state"]["epoch"]
    assert resumed.train.engine == engine
    assert resumed.vectors.words == straight.words
    np.testing.assert_array_equal(resumed.vectors.vectors, straight.vectors)
    assert resumed.train.raw_words == straight_run.train.raw_words


def test_a_checkpoint_is_written_after_every_epoch(tmp_path: Path) -> None:
    seen: list[int] = []

    class Epochs(w2v.SilentReporter):
        def checkpoint(self, path: Path, epoch: int) -> None:
            seen.append(torch.load(path, weights_only=True)["train_state"]["epoch"])

    w2v.train_word2vec(
        text(), w2v.Word2VecConfig(**CFG), checkpoint=tmp_path / "c.pt", reporter=Epochs()
    )
    assert seen == [1, 2, 3]


def test_resume_refuses_other_text_and_other_checkpoints(tmp_path: Path) -> None:
    last = tmp_path / "v.last.pt"
    w2v.train_word2vec(text(), w2v.Word2VecConfig(**CFG), checkpoint=last)
    with pytest.raises(InputError, match="trained on other text"):
        w2v.train_word2vec(text(seed=1), resume=last)
    data = torch.load(last, weights_only=True)
    data["config"]["dim"] = "eight"
    data["config"]["bogus"] = 1
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="config fields differ"):
        w2v.train_word2vec(text(), resume=tmp_path / "bad.pt")


def test_one_thread_and_a_seed_give_bit_identical_vectors() -> None:
    lines = text()
    a = w2v.train_word2vec(lines, w2v.Word2VecConfig(**CFG)).vectors
    b = w2v.train_word2vec(lines, w2v.Word2VecConfig(**CFG)).vectors
    c = w2v.train_word2vec(lines, w2v.Word2VecConfig(**{**CFG, "seed": 8})).vectors
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


# ---------------------------------------------------------------------- CLI
ARGS = (
    "--dim",
    8,
    "--window",
    2,
    "--epochs",
    3,
    "--threads",
    1,
    "--batch-size",
    16,
    "--min-count",
    1,
    "--seed",
    7,
    "-q",
)


def test_cli_sigint_saves_and_resume_matches_a_straight_run(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(text()) + "\n", encoding="utf-8")
    straight = cli("word2vec", "train", corpus, "-o", tmp_path / "a.vec", *ARGS)
    assert straight.exit_code == 0, straight.stderr
    out = tmp_path / "b.vec"
    with monkeypatch.context() as m:
        interrupt_after(m, 3, signal.SIGINT)
        run = cli("word2vec", "train", corpus, "-o", out, *ARGS)
    assert run.exit_code == 130 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith(
        "seqtool: training interrupted by SIGINT in epoch"
    )
    last = tmp_path / "b.vec.last.pt"
    assert f"resumable checkpoint saved to {last}" in run.stderr and not out.exists()
    run = cli("word2vec", "train", corpus, "-o", out, "--resume", last, *ARGS)
    assert run.exit_code == 0, run.stderr
    assert out.read_bytes() == (tmp_path / "a.vec").read_bytes()


def test_cli_seed_with_one_thread_is_bit_identical(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(text()) + "\n", encoding="utf-8")
    for name in ("a", "b"):
        assert (
            cli("word2vec", "train", corpus, "-o", tmp_path / f"{name}.vec", *ARGS).exit_code == 0
        )
    assert (tmp_path / "a.vec").read_bytes() == (tmp_path / "b.vec").read_bytes()
    assert WordVectors.load(tmp_path / "a.vec").dim == 8


def test_cli_resume_of_a_missing_or_foreign_file_is_one_line(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(text(50)) + "\n", encoding="utf-8")
    run = cli("word2vec", "train", corpus, "--resume", tmp_path / "nope.pt", *ARGS)
    assert_one_line_error(run, 1)
    assert "nope.pt: no such file" in run.stderr
