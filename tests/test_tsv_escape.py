"""TSV output escapes backslash, tab, line break and carriage return inside fields."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seqtool.io import tsv_escape, tsv_unescape

TEXT = "a\tb\\c d\n\tx\ty\\\\z\n e\rf\n"  # tabs, backslashes, a lone CR, line breaks


def records(out: str, fields: int) -> list[list[str]]:
    lines = out.split("\n")
    assert lines[-1] == ""
    rows = [ln.split("\t") for ln in lines[:-1]]
    bad = [r for r in rows if len(r) != fields]
    assert not bad, bad  # what `awk -F'\t' 'NF!=2'` prints
    return [[tsv_unescape(f) for f in r] for r in rows]


@given(st.text())
def test_escape_round_trip(s: str) -> None:
    e = tsv_escape(s)
    assert "\t" not in e and "\n" not in e and "\r" not in e
    assert tsv_unescape(e) == s


def test_escape_rule() -> None:
    assert tsv_escape("a\tb\nc\rd\\e") == "a\\tb\\nc\\rd\\\\e"
    assert tsv_escape("plain é ’") == "plain é ’"
    assert tsv_unescape("\\q\\") == "\\q\\"  # unknown escapes and a lone backslash stay


@pytest.mark.parametrize("top", ["0", "3"])  # 0: the bytes writer; 3: the row writer
def test_char_unigrams_of_tabs_keep_two_fields(cli, tmp_path: Path, top: str) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(TEXT.encode())
    r = cli("ngrams", p, "-t", "char", "--normalize", "none", "-n", "1", "--top", top, "-f", "tsv")
    assert r.exit_code == 0
    rows = records(r.stdout, 2)
    want = Counter(TEXT)
    if top == "0":
        assert {tok: int(c) for tok, c in rows} == dict(want)
    else:
        assert [(tok, int(c)) for tok, c in rows] == [("\t", 3), ("\n", 3), ("\\", 3)]


def test_char_bigrams_and_separator_escaped(cli, tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(TEXT.encode())
    args = ("ngrams", p, "-t", "char", "--normalize", "none", "-n", "2", "-f", "tsv")
    all_rows = records(cli(*args, "--top", "0", "--sep", "\\").stdout, 2)
    top_rows = records(cli(*args, "--top", "100", "--sep", "\\").stdout, 2)
    assert all_rows == top_rows
    want = Counter(a + "\\" + b for a, b in zip(TEXT, TEXT[1:]))
    assert {g: int(c) for g, c in all_rows} == dict(want)


def test_zipf_reads_escaped_counts(cli, tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes((TEXT * 20).encode())
    counts = tmp_path / "c.tsv"
    r = cli("ngrams", p, "-t", "char", "--normalize", "none", "-n", "2", "--top", "0", "-f", "tsv")
    counts.write_text(r.stdout, encoding="utf-8")
    z = cli("zipf", "--counts", counts, "-f", "json")
    assert z.exit_code == 0, z.stderr  # was: "c.tsv:17: expected a count ..., got 'd--'"
    fit = json.loads(z.stdout)[0]
    text = TEXT * 20
    assert fit["types"] == len(set(zip(text, text[1:])))
    assert fit["tokens"] == len(text) - 1


def test_vocab_show_tsv_escapes_tokens(cli, tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(TEXT.encode())
    v = tmp_path / "v.json"
    assert cli("vocab", "build", p, "-o", v, "-t", "char", "--normalize", "none").exit_code == 0
    out = cli("vocab", "show", v, "-f", "tsv", "--top", "50").stdout
    lines = out.split("\n")[:-1]
    assert all(ln.count("\t") in (1, 2) for ln in lines)  # summary fields, then token rows
    tokens = {tsv_unescape(ln.split("\t")[1]) for ln in lines if ln.count("\t") == 2}
    assert {"\t", "\\", "\r", " "} <= tokens
