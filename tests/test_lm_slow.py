"""Slow language-model checks on real text (run with `pytest -m slow`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

D2L_SENTENCES = [
    "It is raining outside",
    "It is raining banana tree",
    "It is raining piouw;kcj pwepoiut",
]


def test_per_line_scores_rank_the_d2l_sentences(cli, shared_data: Path, tmp_path: Path) -> None:
    """d2l 9.3: a trained model finds the sensible sentence likelier than the odd one,
    and both far likelier than gibberish."""
    out = tmp_path / "tm.pt"
    run = cli("train-lm", shared_data / "timemachine.txt", "--model", "gru", "--time-budget", "25s",
              "--eval-every", "1000", "-o", out, "-q")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    scored = cli(
        "eval-lm", out, "--per-line", "--format", "jsonl", input="\n".join(D2L_SENTENCES) + "\n"
    )
    assert scored.exit_code == 0, scored.stderr
    rows = [json.loads(line) for line in scored.stdout.splitlines()]
    assert [r["text"] for r in rows] == D2L_SENTENCES
    logprobs = [r["log_prob"] for r in rows]
    assert logprobs[0] > logprobs[1] > logprobs[2], logprobs


def test_demo_language_model_step(tmp_path: Path, monkeypatch) -> None:
    from seqtool.cli.demo import DemoContext
    from seqtool.cli.lm import demo_step
    from seqtool.datasets import sample_path

    ctx = DemoContext(tmp_path, sample_path("english.txt"), "the bundled English sample",
                      sample_path("en-fr.tsv"), "pairs", 0)  # fmt: skip
    demo_step(ctx, steps=20)
    assert (tmp_path / "lm.pt").is_file() and not (tmp_path / "lm.last.pt").exists()
    assert ctx.made[-1][1] == tmp_path / "lm.pt"
