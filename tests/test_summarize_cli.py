"""`seqtool summarize`, `seqtool keywords` and `seqtool rouge` through typer's CliRunner."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from seqtool.wordvectors import WordVectors

DOC = (
    "The garden has roses and tulips. Bees visit the roses every morning.\n"
    "Tulips bloom early in spring.\n\n"
    "The garden roses, tulips, bees and spring rain make the garden bloom every morning. "
    "Rain fell on the roof. Stock markets closed lower on Friday.\n"
)
CENTRAL = "The garden roses, tulips, bees and spring rain make the garden bloom every morning."


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    p = tmp_path / "doc.txt"
    p.write_text(DOC, encoding="utf-8")
    return p


def test_summarize_file_and_stdin(cli, doc: Path) -> None:
    run = cli("summarize", doc, "-n", "1")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == CENTRAL + "\n"
    assert "doc.txt: 6 sentences" in run.stderr
    piped = cli("summarize", "-", "-n", "1", "-q", input=DOC)
    assert piped.exit_code == 0 and piped.stdout == run.stdout and piped.stderr == ""
    two = cli("summarize", doc, "-n", "2", "-q").stdout.splitlines()
    assert len(two) == 2 and CENTRAL in two
    assert DOC.index(two[0]) < DOC.index(two[1])  # document order


def test_summarize_jsonl_gives_every_sentence(cli, doc: Path) -> None:
    run = cli("summarize", doc, "-n", "2", "--format", "jsonl", "-q")
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    assert [r["sentence"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert sorted(r["rank"] for r in rows) == [1, 2, 3, 4, 5, 6]
    assert sum(r["selected"] for r in rows) == 2
    assert abs(sum(r["score"] for r in rows) - 1) < 1e-6
    best = min(rows, key=lambda r: r["rank"])
    assert best["text"] == CENTRAL and best["selected"] is True and best["doc"].endswith("doc.txt")
    tsv = cli("summarize", doc, "--scores", "--header", "-q").stdout.splitlines()
    assert tsv[0] == "doc\tsentence\trank\tscore\tselected\ttext" and len(tsv) == 7


def test_summarize_split_docs_and_sentences_per_line(cli, tmp_path: Path) -> None:
    p = tmp_path / "docs.txt"
    p.write_text(
        "cats chase mice\nmice eat cheese\ncats and mice and cheese\n\n"
        "rain falls\nsun shines on the rain\nrain and sun\n",
        encoding="utf-8",
    )
    run = cli("summarize", p, "--split-docs", "--sentences-per-line", "-n", "1", "-q")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "cats and mice and cheese\n\nrain and sun\n"
    rows = cli("summarize", p, "--split-docs", "--sentences-per-line", "-f", "jsonl", "-q")
    docs = {json.loads(line)["doc"] for line in rows.stdout.splitlines()}
    assert docs == {f"{p}#1", f"{p}#2"}


def test_summarize_options_and_methods(cli, doc: Path) -> None:
    for args in (
        ["-s", "bm25"],
        ["-s", "cosine"],
        ["-m", "lexrank", "-s", "cosine"],
        ["--no-stem"],
    ):
        run = cli("summarize", doc, "-n", "1", "-q", *args)
        assert run.exit_code == 0 and run.stdout == CENTRAL + "\n", (args, run.stderr)
    assert len(cli("summarize", doc, "--ratio", "0.5", "-q").stdout.splitlines()) == 3
    words = cli("summarize", doc, "--words", "8", "-q").stdout.split()
    assert 0 < len(words) <= 14  # the best sentence that fits, maybe with one more


def test_summarize_with_vectors(cli, doc: Path, tmp_path: Path) -> None:
    words = ["garden", "roses", "tulips", "bees", "spring", "rain", "stock", "markets"]
    v = np.eye(len(words), 8, dtype=np.float32) + 0.5
    v[6:, :] = -v[6:, :]
    vec = tmp_path / "vec.txt"
    WordVectors(words, v).save(vec)
    run = cli("summarize", doc, "-s", "vectors", "--vectors", vec, "-n", "1", "-q")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == CENTRAL + "\n"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-n", "0"], 2, "--sentences must be at least 1, not 0"),
        (["--ratio", "1.5"], 2, "--ratio must be in (0, 1]"),
        (["-n", "2", "--words", "5"], 2, "only one of --sentences, --ratio and --words"),
        (["-s", "vectors"], 2, "--similarity vectors needs --vectors"),
        (["-s", "jaccard"], 2, "--similarity must be one of"),
        (["-m", "lexrank", "-s", "bm25"], 2, "--method lexrank"),
        (["--dedup", "0"], 2, "--dedup must be in"),
        (["-f", "xml"], 2, "--format must be one of"),
    ],
)
def test_summarize_bad_flags(cli, doc: Path, args: list[str], code: int, message: str) -> None:
    run = cli("summarize", doc, *args)
    assert_one_line_error(run, code)
    assert message in run.stderr


def test_summarize_bad_input(cli, tmp_path: Path, bad_inputs: dict[str, Path], doc: Path) -> None:
    for path in bad_inputs.values():
        assert_one_line_error(cli("summarize", path), 1)
    one = tmp_path / "one.txt"
    one.write_text("Only one sentence here.\n", encoding="utf-8")
    run = cli("summarize", one)
    assert_one_line_error(run, 1)
    assert "single sentence" in run.stderr
    blank = cli("summarize", "-", input="\n\n  \n")
    assert_one_line_error(blank, 1)
    assert "empty" in blank.stderr
    # a vectors file of the wrong kind: a vocabulary / a text file
    wrong = tmp_path / "vocab.json"
    wrong.write_text('{"format": "seqtool-vocab"}\n', encoding="utf-8")
    run = cli("summarize", doc, "-s", "vectors", "--vectors", wrong)
    assert_one_line_error(run, 1)
    assert "not a word2vec file" in run.stderr
    run = cli("summarize", doc, "-s", "vectors", "--vectors", tmp_path / "nope.vec")
    assert_one_line_error(run, 1)


def test_summarize_non_utf8_needs_encoding(cli, tmp_path: Path) -> None:
    p = tmp_path / "cp1252.txt"
    p.write_bytes(
        "The room cost \u00a3120 a night. The room was clean.\nThe staff\u2019s welcome was warm.\n"
        .encode("cp1252")
    )  # fmt: skip
    run = cli("summarize", p)
    assert_one_line_error(run, 1)
    assert "cp1252.txt:1: invalid utf-8 byte 0xa3" in run.stderr and "--encoding" in run.stderr
    ok = cli("summarize", p, "--encoding", "cp1252", "-n", "1", "-q")
    assert ok.exit_code == 0 and ok.stdout.strip() in (
        "The room cost \u00a3120 a night.",
        "The room was clean.",
        "The staff\u2019s welcome was warm.",
    )


def test_keywords_file_stdin_and_formats(cli, tmp_path: Path) -> None:
    text = (
        "The time machine stood in the laboratory. The time traveller built the time "
        "machine in the laboratory. The time traveller smiled. The machine was made of brass.\n"
    )
    p = tmp_path / "tm.txt"
    p.write_text(text, encoding="utf-8")
    run = cli("keywords", p, "-k", "2")
    assert run.exit_code == 0, run.stderr
    assert [line.split("\t")[0] for line in run.stdout.splitlines()] == [
        "time machine",
        "time traveller",
    ]
    piped = cli("keywords", "-", "-k", "2", "-f", "jsonl", "-q", input=text)
    rows = [json.loads(line) for line in piped.stdout.splitlines()]
    assert [r["phrase"] for r in rows] == ["time machine", "time traveller"]
    assert rows[0]["count"] == 2 and rows[0]["score"] > rows[1]["score"]
    assert_one_line_error(cli("keywords", p, "--top", "0"), 2)
    assert_one_line_error(cli("keywords", p, "--window", "1"), 2)
    assert_one_line_error(cli("keywords", "-", input="the and of\n"), 1)


@pytest.fixture
def summaries(tmp_path: Path) -> dict[str, Path]:
    files = {
        "hyp": "the battery lasts long\nthe screen is sharp\n",
        "ref1": "battery life is long\nthe screen is very sharp\n",
        "ref2": "the battery lasts for days\n\n",
    }
    out = {}
    for name, text in files.items():
        out[name] = tmp_path / f"{name}.txt"
        out[name].write_text(text, encoding="utf-8")
    return out


def test_rouge_cli(cli, summaries: dict[str, Path]) -> None:
    pytest.importorskip("rouge_score")
    from seqtool.metrics.rouge import rouge_scores

    run = cli("rouge", summaries["hyp"], summaries["ref1"], summaries["ref2"])
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    assert [r[0] for r in rows] == ["ROUGE-1", "ROUGE-2", "ROUGE-L"]
    expect = rouge_scores(
        ["the battery lasts long", "the screen is sharp"],
        [["battery life is long", "the screen is very sharp"], ["the battery lasts for days", ""]],
    )
    assert rows[0][3] == f"{100 * expect[0].f1:.2f}"
    assert rows[0][4].startswith("nrefs:2|stem:yes|combine:best|tok:rouge-score|version:")
    assert run.stderr.startswith("ROUGE-1|nrefs:2|")
    piped = cli("rouge", "-", summaries["ref1"], "-m", "rouge1", "-f", "json", "-q",
                input=summaries["hyp"].read_text(encoding="utf-8"))  # fmt: skip
    data = json.loads(piped.stdout)
    assert len(data) == 1 and data[0]["name"] == "ROUGE-1" and 0 < data[0]["f1"] <= 1
    whole = cli("rouge", summaries["hyp"], summaries["ref1"], "--whole", "-q")
    assert whole.exit_code == 0 and len(whole.stdout.splitlines()) == 3


def test_rouge_cli_errors(cli, summaries: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    short = tmp_path / "short.txt"
    short.write_text("one line\n", encoding="utf-8")
    run = cli("rouge", summaries["hyp"], short)
    assert_one_line_error(run, 1)
    assert "line-aligned" in run.stderr
    assert_one_line_error(cli("rouge", summaries["hyp"], summaries["ref1"], "--combine", "max"), 2)
    assert_one_line_error(cli("rouge", "-", "-", input="x\n"), 2)
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    run = cli("rouge", summaries["hyp"], summaries["ref1"])
    assert_one_line_error(run, 1)
    assert "pip install 'seqtool[rouge]'" in run.stderr


def test_demo_step_writes_a_summary(tmp_path: Path) -> None:
    from seqtool.cli.summarize import demo_step, first_chapter

    corpus = tmp_path / "book.txt"
    chapter_one = " ".join(DOC.split("\n"))
    corpus.write_text(f"A Book\n\n\nI\n\n{chapter_one}\n\n\nII\n\nOther text. More of it.\n")
    assert first_chapter(corpus.read_text()).strip() == chapter_one.strip()

    class Ctx:
        out = tmp_path
        made: list = []

    Ctx.corpus = corpus  # type: ignore[attr-defined]
    demo_step(Ctx)
    written = (tmp_path / "summary.txt").read_text(encoding="utf-8").splitlines()
    assert len(written) == 3 and CENTRAL in written
    assert Ctx.made[0][1] == tmp_path / "summary.txt"
