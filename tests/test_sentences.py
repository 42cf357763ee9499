"""The sentence splitter: hand cases, and accuracy on text with known boundaries."""

from __future__ import annotations

import importlib.util
import random
from pathlib import Path

import pytest

from seqtool.text.sentences import split_accuracy, split_paragraphs, split_sentences

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "summarize.py"

CASES = [
    # abbreviations before names and numbers
    ("Mr. Smith met Dr. Jones. They talked.", ["Mr. Smith met Dr. Jones.", "They talked."]),
    ("See p. 12 and No. 5 for details. Then stop.", ["See p. 12 and No. 5 for details.", "Then stop."]),
    ("I said no. Then I left.", ["I said no.", "Then I left."]),
    ("J. R. R. Tolkien wrote it. He was English.", ["J. R. R. Tolkien wrote it.", "He was English."]),
    ("The U.S. Army left. The war ended.", ["The U.S. Army left.", "The war ended."]),
    ("Use tools, e.g. a hammer. Or not.", ["Use tools, e.g. a hammer.", "Or not."]),
    ("We met at 10 a.m. and ate.", ["We met at 10 a.m. and ate."]),
    ("Apples, pears, etc. are fruit.", ["Apples, pears, etc. are fruit."]),
    # decimals, prices, file names
    ("Pi is 3.14 or so. It costs $5.99 today.", ["Pi is 3.14 or so.", "It costs $5.99 today."]),
    ("Open setup.exe now. Done.", ["Open setup.exe now.", "Done."]),
    # quotes
    ("'Really?' she asked. 'Yes!'", ["'Really?' she asked.", "'Yes!'"]),
    ('"I know." Then he left.', ['"I know."', "Then he left."]),
    ("He said \u201cstop.\u201d She did.", ["He said \u201cstop.\u201d", "She did."]),
    ("'Not exactly,' said the Medical Man. 'There are balloons.'",
     ["'Not exactly,' said the Medical Man.", "'There are balloons.'"]),
    # ellipses
    ("Wait... and see. Fine.", ["Wait... and see.", "Fine."]),
    ("It rained... Then it stopped.", ["It rained...", "Then it stopped."]),
    ("So\u2026 What now?", ["So\u2026", "What now?"]),
    # exclamations and questions
    ("Stop! Go away. Why? Because!", ["Stop!", "Go away.", "Why?", "Because!"]),
    ("Good heavens! man, be careful.", ["Good heavens! man, be careful."]),
    # informal text: a small letter after a plain full stop starts a sentence
    ("great screen. works well.", ["great screen.", "works well."]),
    # hard-wrapped lines are one paragraph; blank lines end sentences
    ("A line that\nwraps here. Next one\n\nNew paragraph without stop\n\nLast.",
     ["A line that wraps here.", "Next one", "New paragraph without stop", "Last."]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_cases(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_per_line_keeps_lines_and_drops_empty_ones() -> None:
    text = "first line. still first\n\n  second  line \nthird\n"
    assert split_sentences(text, per_line=True) == [
        "first line. still first",
        "second line",
        "third",
    ]


def test_lines_iterable_and_paragraphs() -> None:
    assert split_sentences(["One. Two", "three."]) == ["One.", "Two three."]
    assert split_paragraphs("a\n\n \n b\n") == ["a", "b"]
    assert split_sentences("") == [] and split_sentences("   \n\n") == []


KNOWN = [
    "Mr. Hyde and Mrs. Hyde are here.",
    "Dr. No paid $3.50 for 2.5 kg of it.",
    "'Why?' he asked.",
    "Nobody answered him.",
    "The results (see Fig. 3) were clear.",
    "It was 5 p.m. on a Sunday.",
    '"We won!" they cried.',
    "Prices rose 4.5% in the U.K. last year.",
    "Wait... what was that?",
    "St. Petersburg is cold in Jan. and Feb.",
    "The end.",
]


def test_accuracy_on_known_boundaries() -> None:
    """Every boundary of texts made of tricky known sentences is found, and no other."""
    rng = random.Random(0)
    score = split_accuracy(rng.sample(KNOWN, 6) for _ in range(20))
    assert score.boundaries == 100
    assert (score.precision, score.recall, score.exact) == (1.0, 1.0, 1.0)
    merged = split_accuracy([["It costs 5 dollars in the U.S.", "Then it rose."]])
    assert (merged.recall, merged.exact) == (0.0, 0.0)  # the acronym wins: a known miss


@pytest.mark.slow
def test_accuracy_on_tatoeba_and_opinosis(shared_data: Path) -> None:
    """The figures benchmarks/summarize.py reports: Tatoeba F1 0.9997, Opinosis recall 0.949."""
    spec = importlib.util.spec_from_file_location("bench_summarize", BENCH)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sample = random.Random(0).sample(bench.tatoeba_single(shared_data), 20000)
    tatoeba = split_accuracy(sample[i : i + 5] for i in range(0, len(sample), 5))
    assert tatoeba.precision == 1.0 and tatoeba.recall > 0.999
    _, docs, _ = bench.opinosis(shared_data)
    reviews = split_accuracy(docs.values())
    assert reviews.precision == 1.0 and reviews.recall > 0.94
