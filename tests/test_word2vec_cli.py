"""`seqtool word2vec train|similar|analogy|eval` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assert_one_line_error
from seqtool.wordvectors import WordVectors

FAST = ["--dim", "16", "--window", "3", "--sample", "0", "--min-count", "1", "--threads", "1"]


def planted_text(lines: int = 300, seed: int = 0) -> str:
    """Two groups of words that never share a line."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(lines):
        g = rng.integers(2)
        out.append(" ".join(f"g{g}w{j}" for j in rng.integers(0, 5, 8)))
    return "\n".join(out) + "\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    p = tmp_path / "corpus.txt"
    p.write_text(planted_text(), encoding="utf-8")
    return p


@pytest.fixture
def trained(cli, corpus: Path, tmp_path: Path) -> Path:
    out = tmp_path / "v.vec"
    r = cli("word2vec", "train", corpus, "-o", out, *FAST)
    assert r.exit_code == 0, r.stderr
    return out


def test_train_writes_text_vectors_and_reports_speed(cli, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.vec"
    r = cli("word2vec", "train", corpus, "-o", out, *FAST)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # data goes to the file; messages to stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("trained on 12,000 words") and "words/s" in last and str(out) in last
    assert out.read_text(encoding="utf-8").startswith("10 16\n")
    wv = WordVectors.load(out)
    assert sorted(wv.words) == sorted(f"g{g}w{j}" for g in range(2) for j in range(5))
    assert not any(w.startswith("<") for w in wv.words)  # no <pad>, <unk>, ... rows


def test_train_from_stdin_binary_and_quiet(cli, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.bin"
    r = cli("word2vec", "train", "-o", out, "--binary", "-q", *FAST, input=corpus.read_text())
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ""
    forced, detected = WordVectors.load(out, binary=True), WordVectors.load(out)
    assert len(detected) == 10 and detected.words == forced.words


def test_train_with_a_reused_vocabulary(cli, corpus: Path, tmp_path: Path) -> None:
    vocab = tmp_path / "v.json"
    assert cli("vocab", "build", corpus, "-o", vocab, "--normalize", "none").exit_code == 0
    out = tmp_path / "v.vec"
    r = cli("word2vec", "train", corpus, "-o", out, "--vocab", vocab, *FAST)
    assert r.exit_code == 0, r.stderr
    assert len(WordVectors.load(out)) == 10
    r = cli("word2vec", "train", corpus, "-o", out, "--vocab", vocab, "--normalize", "d2l")
    assert_one_line_error(r, 2)


def test_similar_lists_group_mates_first(cli, trained: Path) -> None:
    r = cli("word2vec", "similar", trained, "g0w1", "g1w2", "--top", "4")
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert len(rows) == 8 and all(len(row) == 4 for row in rows)
    for word, _rank, other, cosine in rows:
        assert other[:2] == word[:2] and other != word and -1 <= float(cosine) <= 1
    assert [row[1] for row in rows[:4]] == ["1", "2", "3", "4"]


def test_similar_and_analogy_json(cli, trained: Path) -> None:
    r = cli("word2vec", "similar", trained, "g0w0", "--top", "2", "--format", "json")
    assert [d["rank"] for d in json.loads(r.stdout)] == [1, 2]
    r = cli("word2vec", "analogy", trained, "g0w0", "g0w1", "g1w0", "--format", "jsonl", "-k", "3")
    assert r.exit_code == 0, r.stderr
    answers = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(answers) == 3 and {"g0w0", "g0w1", "g1w0"}.isdisjoint(a["word"] for a in answers)


def test_eval_reports_sections_total_and_spearman(cli, trained: Path, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text(": same\ng0w0 g0w1 g1w0 g1w1\n: unknown\ng0w0 g0w1 g1w0 nope\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text(
        "# word1\tword2\tscore\ng0w0\tg0w1\t9\ng0w0\tg1w1\t1\ng1w2\tg1w3\t8\nx\ty\t3\n"
    )
    r = cli("word2vec", "eval", trained, "--analogies", questions, "--pairs", pairs)
    assert r.exit_code == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[:3] for row in rows] == [
        ["q.txt", "same", "accuracy"],
        ["q.txt", "unknown", "accuracy"],
        ["q.txt", "total", "accuracy"],
        ["p.tsv", "all", "spearman"],
        ["p.tsv", "all", "pearson"],
    ]
    assert rows[1][4:] == ["0", "1"] and rows[2][4:] == ["1", "1"]  # answered, skipped
    assert rows[3][4:] == ["3", "1"]
    assert "signature: restrict:300000" in r.stderr
    r = cli("word2vec", "eval", trained, "--pairs", pairs, "--format", "jsonl")
    assert json.loads(r.stdout.splitlines()[0])["signature"].startswith("restrict:")


# ---------------------------------------------------------------------- bad input
def test_unknown_word_in_similar_is_one_line(cli, trained: Path) -> None:
    r = cli("word2vec", "similar", trained, "G0W1")
    assert_one_line_error(r, 1)
    assert "unknown word 'G0W1'" in r.stderr and "hint: did you mean 'g0w1'?" in r.stderr


@pytest.mark.parametrize(
    "content",
    [b"not a header\n", b"3 4\nword 1 2 3 4\n", b"", b"1 2\n" + b"\x00" * 5],
    ids=["header", "truncated", "empty", "binary-truncated"],
)
def test_bad_vector_files_are_one_line(cli, tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.vec"
    bad.write_bytes(content)
    for args in (
        ["similar", bad, "w"],
        ["analogy", bad, "a", "b", "c"],
        ["eval", bad, "--pairs", bad],
    ):
        assert_one_line_error(cli("word2vec", *args), 1)


@pytest.mark.parametrize(
    "args",
    [
        ["--dim", "0"],
        ["--window", "0"],
        ["--negative", "0"],
        ["--epochs", "0"],
        ["--min-count", "0"],
        ["--max-vocab", "1"],
        ["--lr", "-1"],
        ["--sample", "-0.5"],
        ["--threads", "-2"],
        ["--batch-size", "0"],
        ["--device", "tpu"],
        ["--normalize", "bogus"],
        ["--errors", "bogus"],
    ],
)
def test_impossible_options_are_usage_errors(cli, corpus: Path, tmp_path: Path, args) -> None:
    out = tmp_path / "v.vec"
    assert_one_line_error(cli("word2vec", "train", corpus, "-o", out, *args), 2)
    assert not out.exists()


def test_too_few_words_after_min_count(cli, tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("a a a a a b c d\n")
    r = cli("word2vec", "train", small, "-o", tmp_path / "v.vec", "--min-count", "5")
    assert_one_line_error(r, 1)
    assert "only 1 distinct word" in r.stderr and "--min-count" in r.stderr


def test_cuda_without_a_gpu_is_one_line(cli, corpus: Path, tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    r = cli("word2vec", "train", corpus, "-o", tmp_path / "v.vec", "--device", "cuda")
    assert_one_line_error(r, 1)
    assert "CUDA is not available" in r.stderr


def test_missing_folder_for_output(cli, corpus: Path, tmp_path: Path) -> None:
    assert_one_line_error(cli("word2vec", "train", corpus, "-o", tmp_path / "no" / "v.vec"), 2)


def test_eval_needs_something_to_evaluate(cli, trained: Path) -> None:
    assert_one_line_error(cli("word2vec", "eval", trained), 2)


@pytest.mark.parametrize("case", ["missing", "empty", "binary", "invalid-utf8"])
def test_bad_inputs_are_one_line(
    cli, bad_inputs: dict[str, Path], tmp_path: Path, case: str
) -> None:
    out = tmp_path / "v.vec"
    r = cli("word2vec", "train", bad_inputs[case], "-o", out, "--min-count", "1")
    assert_one_line_error(r, 1)
    assert str(bad_inputs[case]) in r.stderr
    assert not out.exists()
    if case != "empty":
        assert_one_line_error(cli("word2vec", "similar", bad_inputs[case], "w"), 1)


@pytest.mark.parametrize("command", ["train", "similar", "analogy", "eval"])
def test_help_has_an_example(cli, command: str) -> None:
    r = cli("word2vec", command, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout


# ---------------------------------------------------------------------- real data
@pytest.mark.slow
def test_ptb_quality_is_gensims(cli, shared_data: Path, tmp_path: Path) -> None:
    """5 epochs on PTB: gensim 4.4 scores analogy 2.9-3.4%, WordSim353 0.18-0.19, SimLex 0.12-0.13."""
    gensim_test = pytest.importorskip("gensim.test.utils")
    out = tmp_path / "ptb.vec"
    r = cli("word2vec", "train", shared_data / "ptb" / "ptb.train.txt", "-o", out, "--threads", "2")
    assert r.exit_code == 0, r.stderr
    r = cli(
        "word2vec",
        "eval",
        out,
        "--analogies",
        gensim_test.datapath("questions-words.txt"),
        "--pairs",
        gensim_test.datapath("wordsim353.tsv"),
        "--pairs",
        gensim_test.datapath("simlex999.txt"),
        "--format",
        "jsonl",
    )
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    total = next(x for x in rows if x["part"] == "total")
    spearman = {x["test"]: x["value"] for x in rows if x["metric"] == "spearman"}
    assert total["n"] == 4575 and total["value"] > 0.022
    assert spearman["wordsim353.tsv"] > 0.14 and spearman["simlex999.txt"] > 0.09


# ---------------------------------------------------------------------- robustness
SPECIAL = {
    "crlf": b"one two\r\nthree one\r\n",
    "bom": "\ufeffone two\ntwo one\n".encode(),
    "huge line": b"word " * 200_000,
    "only newlines": b"\n\n\n",
    "nul": b"a\x00b\n",
    "gzip magic but truncated": b"\x1f\x8b\x08\x00broken",
}
TINY_RUN = ["--min-count", "1", "--dim", "8", "--epochs", "1", "--threads", "1"]


def no_crash(run, out: Path) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    if run.exit_code != 0:
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("seqtool: error: ")]
        assert len(errors) == 1 and "unexpected" not in errors[0], run.stderr
        assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("case", sorted(SPECIAL))
def test_train_on_special_inputs(cli, tmp_path: Path, case: str) -> None:
    f = tmp_path / "in.txt"
    f.write_bytes(SPECIAL[case])
    out = tmp_path / "v.vec"
    no_crash(cli("word2vec", "train", f, "-o", out, *TINY_RUN), out)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=200), text=st.text(max_size=200))
def test_random_text_and_vector_files(cli, tmp_path: Path, data: bytes, text: str) -> None:
    f = tmp_path / "in.txt"
    f.write_bytes(text.encode("utf-8", "surrogatepass"))
    out = tmp_path / "v.vec"
    out.unlink(missing_ok=True)
    no_crash(cli("word2vec", "train", f, "-o", out, *TINY_RUN), out)
    for header in (b"", b"2 3\n", b"1 1\n"):
        f.write_bytes(header + data)
        no_crash(cli("word2vec", "similar", f, "w"), tmp_path / "never-written")
