"""`seqtool bleu` and seqtool.metrics.bleu: identical to the sacrebleu CLI; the d2l formula."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu

from conftest import assert_one_line_error
from seqtool.errors import InputError, UsageError
from seqtool.metrics.bleu import corpus_scores, d2l_bleu, d2l_sentence_scores, sacrebleu_json

HYP = [
    "The cat sat on the mat.",
    "A dog, barking loudly, ran into the garden!",
    "Il fait très beau aujourd'hui.",
    "",
    "Numbers like 3.14 and 1,000 stay   together.",
    "   trailing spaces and tabs\t",
]
REF1 = [
    "The cat is sitting on the mat.",
    "A dog barked loudly and ran into the garden.",
    "Il fait beau aujourd'hui.",
    "Nothing here.",
    "Numbers like 3.14 and 1,000 stay together.",
    "trailing spaces and tabs",
]
REF2 = [
    "There is a cat on the mat.",
    "A barking dog ran into the garden!",
    "Le temps est très beau aujourd'hui.",
    "Empty.",
    "Numbers such as 3.14 and 1,000 stay together.",
    "trailing spaces, tabs",
]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, lines in (("hyp", HYP), ("ref1", REF1), ("ref2", REF2)):
        p = tmp_path / f"{name}.txt"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[name] = p
    return out


def sacrebleu_cli(*args: object) -> str:
    exe = shutil.which("sacrebleu") or str(Path(sys.executable).parent / "sacrebleu")
    if not Path(exe).exists():
        pytest.skip("the sacrebleu command is not installed")
    run = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, check=True)
    return run.stdout


# (seqtool flags, sacrebleu flags, references); each case runs the sacrebleu command once.
CASES = [
    ([], [], ["ref1"]),
    (["-m", "bleu", "-m", "chrf", "-m", "ter"], ["-m", "bleu", "chrf", "ter"], ["ref1", "ref2"]),
    (["--tokenize", "intl", "-m", "chrf"], ["-tok", "intl", "-m", "chrf"], ["ref1"]),
    (["--tokenize", "char"], ["-tok", "char"], ["ref1", "ref2"]),
    (["--tokenize", "none", "--lowercase"], ["-tok", "none", "-lc"], ["ref2"]),
    (["-m", "chrf", "--lowercase"], ["-m", "chrf", "--chrf-lowercase"], ["ref1"]),
]


@pytest.mark.parametrize(("ours", "theirs", "refs"), CASES)
def test_bleu_json_is_the_sacrebleu_cli_output(
    cli, files: dict[str, Path], ours: list[str], theirs: list[str], refs: list[str]
) -> None:
    ref_paths = [files[r] for r in refs]
    expected = sacrebleu_cli(*ref_paths, "-i", files["hyp"], *theirs, "-f", "json")
    run = cli("bleu", files["hyp"], *ref_paths, *ours, "--format", "json")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == expected


def test_bleu_tsv_and_stdin(cli, files: dict[str, Path]) -> None:
    text = sacrebleu_cli(files["ref1"], "-i", files["hyp"], "-f", "text")  # BLEU|sig = score ...
    sig, _, rest = text.strip().partition(" = ")
    run = cli("bleu", "-", files["ref1"], input=files["hyp"].read_text(encoding="utf-8"))
    name, score, signature, detail = run.stdout.rstrip("\n").split("\t")
    assert f"{name}|{signature}" == sig
    assert f"{score} {detail}" == rest


def test_corpus_scores_equal_the_sacrebleu_api() -> None:
    got = corpus_scores(HYP, [REF1, REF2], ["bleu", "chrf", "ter"])
    assert [s.name for s in got] == ["BLEU", "chrF2", "TER"]
    assert got[0].score == pytest.approx(sacrebleu.corpus_bleu(HYP, [REF1, REF2]).score)
    assert got[1].score == pytest.approx(sacrebleu.corpus_chrf(HYP, [REF1, REF2]).score)
    assert got[2].score == pytest.approx(sacrebleu.corpus_ter(HYP, [REF1, REF2]).score)
    assert json.loads(sacrebleu_json(got[:1]))["signature"].startswith("nrefs:2|case:mixed")
    assert got[0].text().startswith("BLEU|nrefs:2|")


@pytest.mark.parametrize(
    ("hyp", "ref", "expected"),
    [
        ([], [], None),
        (["a"], ["a", "b"], "1 lines but reference 1 has 2"),
    ],
)
def test_corpus_scores_refuse_bad_input(
    hyp: list[str], ref: list[str], expected: str | None
) -> None:
    if expected is None:
        with pytest.raises(UsageError):
            corpus_scores(hyp, [])
    else:
        with pytest.raises(InputError, match=expected):
            corpus_scores(hyp, [ref])
    with pytest.raises(UsageError):
        corpus_scores(["a"], [["a"]], ["meteor"])
    with pytest.raises(UsageError):
        corpus_scores(["a"], [["a"]], tokenize="moses")


# ---------------------------------------------------------------------- the d2l formula
# The d2l book's own examples (section 10.7, English->French), k = 2, and hand-computed ones.
D2L = [
    ("va !", "va !", 1.0),
    ("j'ai perdu .", "j'ai perdu .", 1.0),
    # p1 = 3/4, p2 = 1/3: (3/4)^(1/2) * (1/3)^(1/4)
    ("il est riche .", "il est calme .", math.sqrt(3 / 4) * (1 / 3) ** 0.25),
    ("je suis chez moi .", "je suis chez moi .", 1.0),
    # longer than the label: no brevity penalty; p1 = 2/4, p2 = 1/3
    ("a b c d", "a b e", math.sqrt(2 / 4) * (1 / 3) ** 0.25),
    # shorter: exp(1 - 4/2) = e^-1, p1 = p2 = 1
    ("a b", "a b c d", math.exp(-1)),
    # clipped counts: "the" matches once only; p1 = 2/4, p2 = 1/3 ("the cat")
    ("the the the cat", "the cat sat", math.sqrt(2 / 4) * (1 / 3) ** 0.25),
    # one token: only 1-grams count (n runs to min(k, len_pred))
    ("a", "a", 1.0),
    ("x y", "a b", 0.0),
    ("", "a b", 0.0),
]


@pytest.mark.parametrize(("pred", "label", "expected"), D2L)
def test_d2l_bleu_hand_computed(pred: str, label: str, expected: float) -> None:
    assert d2l_bleu(pred.split(), label.split(), 2) == pytest.approx(expected, abs=1e-12)


def test_d2l_bleu_book_value_printed() -> None:
    assert round(d2l_bleu("il est riche .".split(), "il est calme .".split(), 2), 3) == 0.658


def test_d2l_sentence_scores_tokenize_punctuation_first() -> None:
    # 13a separates the final period, as d2l's preprocessing does.
    got = d2l_sentence_scores(["il est riche."], ["il est calme."], 2)
    assert got[0] == pytest.approx(math.sqrt(3 / 4) * (1 / 3) ** 0.25)
    assert d2l_sentence_scores(["A B"], ["a b"], 2, lowercase=True) == [1.0]
    with pytest.raises(UsageError):
        d2l_bleu(["a"], ["a"], 0)


def test_bleu_d2l_k_command(cli, tmp_path: Path) -> None:
    hyp = tmp_path / "h.txt"
    ref = tmp_path / "r.txt"
    hyp.write_text("va !\nil est riche .\na b\n", encoding="utf-8")
    ref.write_text("va !\nil est calme .\na b c d\n", encoding="utf-8")
    run = cli("bleu", hyp, ref, "--d2l-k", "2")
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    assert [float(r[1]) for r in rows] == pytest.approx([1.0, 0.658037, 0.367879], abs=1e-6)
    assert run.stderr.startswith("BLEU|nrefs:1|")  # the corpus score stays visible on stderr
    as_json = json.loads(cli("bleu", hyp, ref, "--d2l-k", "2", "-f", "json").stdout)
    assert as_json["d2l_k"] == 2 and as_json["corpus"][0]["name"] == "BLEU"
    assert as_json["d2l_bleu"] == pytest.approx([1.0, 0.658037, 0.367879], abs=1e-6)


def test_bleu_bad_inputs(
    cli, files: dict[str, Path], bad_inputs: dict[str, Path], tmp_path: Path
) -> None:
    for name, path in bad_inputs.items():
        assert_one_line_error(cli("bleu", path, files["ref1"]))
        assert_one_line_error(cli("bleu", files["hyp"], path)), name
    short = tmp_path / "short.txt"
    short.write_text("one line\n", encoding="utf-8")
    run = cli("bleu", files["hyp"], short)
    assert_one_line_error(run, 1)
    assert "has 6 lines" in run.stderr and "has 1" in run.stderr
    assert_one_line_error(cli("bleu", files["hyp"], files["ref1"], "-m", "meteor"), 2)
    assert_one_line_error(cli("bleu", files["hyp"], files["ref1"], "--tokenize", "moses"), 2)
    assert_one_line_error(cli("bleu", files["hyp"], files["ref1"], "--d2l-k", "0"), 2)
    assert_one_line_error(cli("bleu", "-", "-", input="a\n"), 2)
    assert_one_line_error(cli("bleu", files["hyp"]), 2)  # no reference
