"""vocab build -t char counts characters as ngrams -t char does; n-gram JSON carries
token lists; durations read with long unit names (issue 12, item 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqtool.cli.train_options import parse_duration
from seqtool.errors import UsageError
from seqtool.io import read_lines
from seqtool.stats.ngrams import Settings, count_ngrams
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab, char_counts

TEXT = "...Leading dots\r\nÉcole, naïve—café!\n\n  two  spaces \t tab\nlast line no break"


@pytest.mark.parametrize("norm", ["letters", "d2l", "none", "nfkc"])
@pytest.mark.parametrize("block", [1, 8, 1 << 20])
def test_vocab_char_counts_equal_ngram_unigrams(tmp_path: Path, norm: str, block: int) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(TEXT.encode())
    b.write_bytes(TEXT.upper().encode())
    normalizer = Normalizer.make(norm)
    ngrams = count_ngrams([a, b], (1,), Settings(normalizer, "char"))
    want = dict(ngrams.top(1, 0))
    got = char_counts(read_lines([a, b]), normalizer, block=block)
    assert dict(got) == want
    assert sum(got.values()) == ngrams.n_tokens


def test_cli_vocab_and_ngrams_count_the_same_characters(cli, tmp_path: Path) -> None:
    p = tmp_path / "c.txt"
    p.write_bytes(((TEXT + "\n") * 30).encode())
    v = tmp_path / "v.json"
    assert cli("vocab", "build", p, "-o", v, "-t", "char").exit_code == 0
    vocab = Vocab.load(v)
    r = cli("ngrams", p, "-t", "char", "-n", "1", "--top", "0", "-f", "json")
    from_ngrams = {row["ngram"]: row["count"] for row in json.loads(r.stdout)}
    from_vocab = {t: c for t, c in zip(vocab.tokens[4:], vocab.counts[4:])}
    assert from_vocab == from_ngrams  # was 1,026,804 vs 1,059,581 characters on a novel


def test_ngram_json_records_carry_token_lists(cli, tmp_path: Path) -> None:
    p = tmp_path / "c.txt"
    p.write_text("a-b a-b c\n", encoding="utf-8")
    r = cli("ngrams", p, "-n", "2", "--sep", "-", "--top", "2", "-f", "jsonl")
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert rows[0] == {"n": 2, "ngram": "a-b", "count": 2, "tokens": ["a", "b"]}
    assert all(row["ngram"] == "-".join(row["tokens"]) for row in rows)
    r = cli("ngrams", p, "-t", "char", "-n", "3", "--top", "1", "-f", "json")
    assert json.loads(r.stdout)[0]["tokens"] == [" ", "b", " "]  # "a b a b c "


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("3min", 180),
        ("3m", 180),
        ("90s", 90),
        ("90", 90),
        ("1h30m", 5400),
        ("1hr30min", 5400),
        ("2.5m", 150),
        ("1.5 hours", 5400),
        ("10 minutes 5 sec", 605),
        ("1d", 86400),
        ("2 days", 172800),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["3ms", "min", "3 mintues", "1h30", "-5m", "0s", "3mm"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(bad)
