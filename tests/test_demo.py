"""`seqtool demo` trains by steps, not by the clock: the same seed prints the same
results however loaded the machine is (issue 12.9)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import assert_one_line_error

# What depends on the clock: durations, rates, and the occasional progress line.
CLOCK = re.compile(r"\d[\d,.]* (s|words/s)\b|\bin \d+ s\b|tok/s \S+")
PROGRESS = re.compile(r"^\s+[\w ]+: \d+/100 ")


def _results(stderr: str, out: Path) -> list[str]:
    lines = [ln.replace(str(out), "OUT") for ln in stderr.splitlines() if not PROGRESS.match(ln)]
    return [CLOCK.sub("#", ln) for ln in lines]


def test_demo_results_do_not_depend_on_the_clock(cli, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name / "demo"
        run = cli("demo", "--out", out, "--seed", "3", "--scale", "0.05")
        assert run.exit_code == 0, run.stderr
        assert run.stdout == ""  # the demo talks on stderr
        runs.append(_results(run.stderr, out))
    assert runs[0] == runs[1]
    text = "\n".join(runs[0])
    # fixed step counts (300 and 400 at scale 0.05), not time budgets
    assert re.search(r"char Transformer, .* parameters, 15 steps # on ", text), text
    assert re.search(r"gru-attn en->fr, .* 20 steps \(\d+ epochs\)", text), text
    assert "window 1, 8 epochs" in text  # word2vec: the bundled sample's settings
    assert "nearest to 'she'" in text and "held-out (51 pairs, beam 3): BLEU|" in text


def test_demo_scale_is_checked(cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("demo", "--out", tmp_path / "d", "--scale", "0"), 2)
