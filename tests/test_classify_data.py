"""Labelled-text readers and classification metrics (no torch needed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from seqtool.datasets import sample_path
from seqtool.errors import InputError, UsageError
from seqtool.metrics.classification import classification_scores, confusion_matrix
from seqtool.text.labels import LabelSet, parse_labelled, read_labelled


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------------- formats
def test_tsv_text_tab_label_without_final_newline(tmp_path: Path) -> None:
    p = write(tmp_path, "a.tsv", "a fine film\t1\nthe worst\t0\n\nok then\t1")
    data = read_labelled(p)
    assert data.texts == ["a fine film", "the worst", "ok then"]
    assert data.labels == ["1", "0", "1"]
    assert data.where == [f"{p}:1", f"{p}:2", f"{p}:4"]


def test_tsv_label_is_after_the_last_tab_and_header_is_skipped(tmp_path: Path) -> None:
    p = write(tmp_path, "a.tsv", "sentence\tlabel\nleft\tright text\tneg\n")
    data = read_labelled(p)
    assert data.texts == ["left\tright text"]
    assert data.labels == ["neg"]


def test_csv_with_header_and_named_columns(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "r.csv",
        'id,review,stars\n1,"Great, really great",5\n2,"Meh ""ok""",3\n3,Bad,1\n',
    )
    data = read_labelled(p, text_col="review", label_col="stars")
    assert data.texts == ["Great, really great", 'Meh "ok"', "Bad"]
    assert data.labels == ["5", "3", "1"]
    assert data.where[2].endswith(":4")
    by_number = read_labelled(p, text_col="2", label_col="3")
    assert by_number.labels == data.labels


def test_csv_defaults_and_two_column_tables(tmp_path: Path) -> None:
    p = write(tmp_path, "t.csv", "text,label\nhello there,greet\nbye now,leave\n")
    assert read_labelled(p).labels == ["greet", "leave"]
    q = write(tmp_path, "t2.csv", "label,sentence\nx,one two\ny,three\n")
    assert read_labelled(q).texts == ["one two", "three"]
    # a tab-separated table with a header, columns named: chosen by name
    r = write(tmp_path, "t.tsv", "sentence\tgold\nsome text\tA\n")
    assert read_labelled(r, label_col="gold").texts == ["some text"]


def test_fasttext_format_detected_and_explicit(tmp_path: Path) -> None:
    text = "__label__pos a good day\n__label__neg  a bad day\n__label__3 middle __x\n"
    p = write(tmp_path, "ft.txt", text)
    data = read_labelled(p)
    assert data.labels == ["pos", "neg", "3"]
    assert data.texts == ["a good day", "a bad day", "middle __x"]
    assert read_labelled(p, input_format="fasttext").texts == data.texts


def test_compressed_and_multiple_files_in_order(tmp_path: Path) -> None:
    p = tmp_path / "a.tsv.gz"
    p.write_bytes(gzip.compress(b"x y\tb\n"))
    q = write(tmp_path, "b.tsv", "z\ta\n")
    data = read_labelled([p, q])
    assert data.labels == ["b", "a"]
    assert data.where[1] == f"{q}:1"


def test_bundled_sentiment_sample() -> None:
    data = read_labelled(sample_path("sentiment.tsv"))
    assert len(data) == 200
    assert data.counts() == {"pos": 100, "neg": 100}


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("good\t1\nno label here\n", "auto", ":2: no label (expected text<TAB>label)"),
        ("good\t1\nempty\t \n", "auto", ":2: empty label"),
        ("__label__a x\njust text\n", "auto", ":2: no label (expected __label__NAME"),
        ("__label__a __label__b x\n", "fasttext", ":1: 2 labels on one line"),
        ("", "auto", ": empty input"),
        ("\n\n  \n", "tsv", ": empty input"),
        ("sentence\tlabel\n", "tsv", "no labelled examples, only a header"),
    ],
)
def test_bad_files_name_the_file_and_line(
    tmp_path: Path, text: str, fmt: str, message: str
) -> None:
    p = write(tmp_path, "bad.tsv", text)
    with pytest.raises(InputError) as e:
        read_labelled(p, input_format=fmt)
    assert str(e.value).startswith(str(p))
    assert message in str(e.value)


def test_csv_errors(tmp_path: Path) -> None:
    p = write(tmp_path, "r.csv", "id,review,stars\n1,fine,5\n2,short\n")
    with pytest.raises(InputError, match="no column 'label'.*the header has: id, review, stars"):
        read_labelled(p)
    with pytest.raises(InputError, match=r"r.csv:3: 2 fields, but the header has 3"):
        read_labelled(p, text_col="review", label_col="stars")
    with pytest.raises(UsageError, match="name the same column"):
        read_labelled(p, text_col="stars", label_col="stars")
    with pytest.raises(UsageError, match="need input_format 'csv'"):
        read_labelled(p, input_format="tsv", label_col="stars")
    with pytest.raises(UsageError, match="unknown input_format"):
        parse_labelled(["a\tb"], "xml")


def test_missing_and_binary_files_are_input_errors(bad_inputs: dict[str, Path]) -> None:
    for name in ("missing", "binary", "invalid-utf8"):
        with pytest.raises(InputError):
            read_labelled(bad_inputs[name])


# ---------------------------------------------------------------------- label sets
def test_label_set_order_is_natural_and_stable() -> None:
    labels = LabelSet.from_labels(["10", "2", "neg", "2", "1"])
    assert labels.names == ["1", "2", "10", "neg"]
    data = parse_labelled(["a\t10", "b\t1"], "tsv")
    assert labels.ids(data) == [2, 0]


def test_one_class_only_and_unknown_label() -> None:
    with pytest.raises(InputError, match="every example has the label 'pos'.*at least two"):
        LabelSet.from_labels(["pos", "pos"], source="train.tsv")
    labels = LabelSet(["neg", "pos"])
    data = parse_labelled(["fine\tpos", "hmm\tmixed"], "tsv", source="dev.tsv")
    with pytest.raises(
        InputError, match=r"dev.tsv:2: unknown label 'mixed' \(the model knows: neg, pos\)"
    ):
        labels.ids(data)


# ---------------------------------------------------------------------- metrics
def test_scores_on_a_hand_checked_case() -> None:
    gold = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 2]
    s = classification_scores(gold, pred, ["a", "b", "c"])
    assert s.n == 6
    assert s.accuracy == pytest.approx(4 / 6)
    assert s.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    a, b, c = s.per_class
    assert (a.precision, a.recall, a.support) == (1.0, pytest.approx(2 / 3), 3)
    assert (b.precision, b.recall) == (0.5, 0.5)
    assert (c.precision, c.recall, c.f1) == (0.5, 1.0, pytest.approx(2 / 3))
    assert s.macro_f1 == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)


def test_scores_with_a_class_never_seen_or_predicted() -> None:
    s = classification_scores([0, 0, 1], [0, 0, 1], ["a", "b", "c"])
    assert s.accuracy == 1.0
    assert s.per_class[2].f1 == 0.0 and s.per_class[2].support == 0
    assert s.macro_f1 == pytest.approx(2 / 3)  # averaged over every class the model knows
    assert s.to_dict()["confusion"][2] == [0, 0, 0]


def test_scores_agree_with_a_direct_count() -> None:
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    cm = confusion_matrix(gold, pred, 4)
    for i in range(4):
        for j in range(4):
            assert cm[i, j] == int(((gold == i) & (pred == j)).sum())
    s = classification_scores(gold, pred, list("abcd"))
    assert s.accuracy == pytest.approx(float((gold == pred).mean()))
    with pytest.raises(ValueError):
        confusion_matrix([0, 5], [0, 1], 4)
