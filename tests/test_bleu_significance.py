"""`seqtool bleu --paired-bs / --confidence` and seqtool.metrics.bleu's resampling:
the numbers of sacrebleu's own significance code, seeded and reproducible; the
JSON width as `sacrebleu -w`."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from seqtool.metrics.bleu import corpus_scores, paired_bootstrap

WORDS = "the a cat dog sat on mat house big small red blue ran jumped over under".split()


def _corpus(n: int = 40) -> tuple[list[str], list[str], list[str], list[str]]:
    """A reference and three systems of different quality (fixed, made up)."""
    rng = random.Random(3)
    refs, base, better, worse = [], [], [], []
    for _ in range(n):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(3, 11))]
        refs.append(" ".join(ref))
        for out, keep in ((base, 0.6), (better, 0.8), (worse, 0.45)):
            out.append(" ".join(w if rng.random() < keep else rng.choice(WORDS) for w in ref))
    return refs, base, better, worse


REFS, BASE, BETTER, WORSE = _corpus()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, lines in (("ref", REFS), ("base", BASE), ("better", BETTER), ("worse", WORSE)):
        p = tmp_path / f"{name}.txt"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[name] = p
    return out


def sacrebleu_cli(*args: object, seed: int = 12345) -> str:
    exe = shutil.which("sacrebleu") or str(Path(sys.executable).parent / "sacrebleu")
    if not Path(exe).exists():
        pytest.skip("the sacrebleu command is not installed")
    env = {"SACREBLEU_SEED": str(seed), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}
    run = subprocess.run(
        [exe, *map(str, args)], capture_output=True, text=True, check=True, env=env
    )
    return run.stdout


@pytest.mark.parametrize("seed", [12345, 7])
def test_paired_bootstrap_is_sacrebleus_paired_test(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    from sacrebleu.metrics import BLEU, CHRF, TER
    from sacrebleu.significance import PairedTest

    monkeypatch.setenv("SACREBLEU_SEED", str(seed))
    systems = [("base", BASE), ("better", BETTER), ("worse", WORSE)]
    metrics = {"BLEU": BLEU(), "CHRF": CHRF(), "TER": TER()}
    sigs, expected = PairedTest(systems, metrics, [REFS], "bs", n_samples=200)()
    ours = paired_bootstrap(systems, [REFS], ["bleu", "chrf", "ter"], samples=200, seed=seed)
    assert [(r.system, r.name) for r in ours] == [
        (s, m) for s in ("base", "better", "worse") for m in ("BLEU", "chrF2", "TER")
    ]
    for r in ours:
        theirs = expected[r.name][[s for s, _ in systems].index(r.system)]
        assert (r.score, r.mean, r.ci) == (theirs.score, theirs.mean, theirs.ci)
        assert r.p_value == theirs.p_value
        assert r.signature == sigs[r.name].format()
    assert next(r for r in ours if r.system == "base").p_value is None
    # the better system is told apart from the baseline; a p-value is a probability
    bleu = {r.system: r for r in ours if r.name == "BLEU"}
    assert bleu["better"].score > bleu["base"].score > bleu["worse"].score
    assert bleu["better"].p_value is not None and bleu["better"].p_value < 0.05


def test_confidence_is_sacrebleus_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    from sacrebleu.metrics import BLEU, CHRF

    monkeypatch.setenv("SACREBLEU_SEED", "99")
    for metric, name in ((BLEU(), "bleu"), (CHRF(), "chrf")):
        expected = metric.corpus_score(BASE, [REFS], n_bootstrap=300)
        sig = metric.get_signature().format()
        (ours,) = corpus_scores(BASE, [REFS], [name], samples=300, seed=99)
        assert (ours.score, ours.mean, ours.ci) == (expected.score, expected._mean, expected._ci)
        assert ours.signature == sig and "bs:300" in sig and "seed:99" in sig
        assert ours.json(3) == expected.format(3, False, sig, True)


def test_seed_makes_resampling_reproducible() -> None:
    systems = [("base", BASE), ("better", BETTER)]
    one = paired_bootstrap(systems, [REFS], samples=100, seed=1)
    assert one == paired_bootstrap(systems, [REFS], samples=100, seed=1)
    other = paired_bootstrap(systems, [REFS], samples=100, seed=2)
    assert [r.score for r in one] == [r.score for r in other]  # the scores are not resampled
    assert [r.mean for r in one] != [r.mean for r in other]


def test_cli_paired_bs_agrees_with_sacrebleu_cli(cli, files: dict[str, Path]) -> None:
    args = ["-i", files["base"], "-i", files["better"], "-i", files["worse"]]
    run = cli("bleu", files["ref"], *args, "--paired-bs", "--samples", "300", "--seed", "5",
              "-f", "jsonl", "-w", "3")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    theirs = json.loads(
        sacrebleu_cli(
            files["ref"],
            "-i",
            files["base"],
            files["better"],
            files["worse"],
            "--paired-bs",
            "-pbsn",
            "300",
            "-f",
            "json",
            seed=5,
        )  # fmt: skip
    )
    assert [r["system"] for r in rows] == [str(files[n]) for n in ("base", "better", "worse")]
    for row, expected in zip(rows, theirs):
        bleu = expected["BLEU"]
        assert row["metric"] == "BLEU"
        assert row["score"] == round(bleu["score"], 3) and row["mean"] == round(bleu["mean"], 3)
        assert row["ci95"] == round(bleu["ci"], 3)
        assert row["p_value"] == bleu["p_value"]  # None for the baseline
        assert "bs:300|seed:5" in row["signature"]
    again = cli("bleu", files["ref"], *args, "--paired-bs", "--samples", "300", "--seed", "5",
                "-f", "jsonl", "-w", "3")  # fmt: skip
    assert again.stdout == run.stdout


def test_cli_paired_bs_tsv_and_table(cli, files: dict[str, Path]) -> None:
    args = ["bleu", files["ref"], "-i", files["base"], "-i", files["better"], "--paired-bs"]
    tsv = cli(*args, "--samples", "100", "-m", "bleu", "-m", "chrf", "-f", "tsv")
    assert tsv.exit_code == 0, tsv.stderr
    rows = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [
        (str(files["base"]), "BLEU"), (str(files["base"]), "chrF2"),
        (str(files["better"]), "BLEU"), (str(files["better"]), "chrF2"),
    ]  # fmt: skip
    assert all(len(r) == 7 for r in rows)
    assert rows[0][5] == "" and 0 < float(rows[2][5]) < 1  # p-value: none for the baseline
    table = cli(*args, "--samples", "100", "-f", "table")
    assert table.exit_code == 0 and "paired bootstrap" in table.stdout and "p_value" in table.stdout


def test_cli_confidence_is_sacrebleu_confidence(cli, files: dict[str, Path]) -> None:
    run = cli("bleu", files["base"], files["ref"], "--confidence", "-f", "json", "-w", "4")
    assert run.exit_code == 0, run.stderr
    expected = sacrebleu_cli(files["ref"], "-i", files["base"], "--confidence", "-w", "4",
                             "-f", "json")  # fmt: skip
    assert run.stdout == expected
    tsv = cli("bleu", files["base"], files["ref"], "--confidence", "-f", "tsv", "--seed", "3")
    name, score, mean, ci, signature, _ = tsv.stdout.rstrip("\n").split("\t")
    assert name == "BLEU" and float(ci) > 0 and "seed:3" in signature
    # each of several systems, without a paired test
    each = cli("bleu", files["ref"], "-i", files["base"], "-i", files["worse"], "--confidence",
               "-f", "jsonl")  # fmt: skip
    rows = [json.loads(line) for line in each.stdout.splitlines()]
    assert [r["system"] for r in rows] == [str(files["base"]), str(files["worse"])]
    (alone,) = corpus_scores(BASE, [REFS], samples=1000)
    assert rows[0]["mean"] == float(f"{alone.mean:.1f}") and rows[0]["score"] == float(
        f"{alone.score:.1f}"
    )


def test_json_honours_width_like_sacrebleu(cli, files: dict[str, Path]) -> None:
    for width in (0, 4):
        run = cli("bleu", files["base"], files["ref"], "-m", "bleu", "-m", "chrf",
                  "-f", "json", "-w", width)  # fmt: skip
        expected = sacrebleu_cli(files["ref"], "-i", files["base"], "-m", "bleu", "chrf",
                                 "-w", width, "-f", "json")  # fmt: skip
        assert run.stdout == expected
    score = json.loads(cli("bleu", files["base"], files["ref"], "-f", "json", "-w", "4").stdout)
    assert score["score"] != round(score["score"], 1)  # four decimals, not one


def test_significance_usage_errors(cli, files: dict[str, Path]) -> None:
    ref, base, better = files["ref"], files["base"], files["better"]
    assert_one_line_error(cli("bleu", base, ref, "--paired-bs"), 2)  # one system
    assert_one_line_error(cli("bleu", ref, "-i", base, "--paired-bs"), 2)
    assert_one_line_error(cli("bleu", ref, "-i", base, "-i", better, "--samples", "10",
                              "--paired-bs"), 2)  # fmt: skip
    assert_one_line_error(cli("bleu", ref, "-i", base, "-i", base, "--paired-bs"), 2)
    assert_one_line_error(cli("bleu", ref, "-i", base, "-i", better, "--d2l-k", "2"), 2)
    assert_one_line_error(cli("bleu", base), 2)  # no reference
    short = files["ref"].parent / "short.txt"
    short.write_text("the cat\n", encoding="utf-8")
    run = cli("bleu", ref, "-i", base, "-i", short, "--paired-bs")
    assert_one_line_error(run, 1)
    assert "short.txt has 1 lines" in run.stderr


def test_a_ci_narrows_with_more_segments() -> None:
    """A learning-free sanity check: 4x the segments, about half the interval."""
    refs, base, _, _ = _corpus(160)
    (small,) = corpus_scores(BASE, [REFS], samples=400, seed=0)
    (large,) = corpus_scores(base, [refs], samples=400, seed=0)
    assert large.ci is not None and small.ci is not None
    assert 0.3 < large.ci / small.ci < 0.75, (small.ci, large.ci)
    assert np.isfinite(large.mean or np.nan)
