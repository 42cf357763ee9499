"""N-gram language models: Kneser-Ney by hand, normalisation, ARPA/binary round trips,
KenLM agreement (when the kenlm module is installed), bad input and the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_one_line_error
from seqtool.errors import InputError, UsageError
from seqtool.stats.arpa import read_arpa
from seqtool.stats.kneser_ney import KNConfig, _discounts, estimate_lm
from seqtool.stats.ngram_lm import BOS, NGramLM

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "english.txt"
HAND = "a b\na b\nb\na\nc\n"
RAINING = "It is raining outside\nbanana tree\npiouw;kcj\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def logp(lm: NGramLM, *words: str) -> float:
    """log10 p(last word | the words before it), the history taken as it is."""
    ids = np.asarray([lm.index[w] for w in words], dtype=np.int64)
    if len(ids) == 1:
        return float(lm.logp[0][ids[0]])
    lp, _ = lm.score_ids(ids, np.arange(len(ids)))
    return float(lp[-1])


def test_modified_kneser_ney_by_hand(tmp_path: Path) -> None:
    # Sentences: <s> a b </s> (twice), <s> b </s>, <s> a </s>, <s> c </s>; order 2.
    lm = estimate_lm([write(tmp_path, "hand.txt", HAND)], 2, discount_fallback=(0.5, 1, 1.5))
    # Unigram adjusted counts = distinct left neighbours: a {<s>} 1, b {a, <s>} 2,
    # c {<s>} 1, </s> {a, b, c} 3; counts-of-counts n1=2, n2=1, n3=1, n4=0.
    y = 2 / (2 + 2 * 1)
    d1 = 1 - 2 * y * 1 / 2  # Chen & Goodman (26): D_j = j - (j+1) Y n_{j+1} / n_j
    d2 = 2 - 3 * y * 1 / 1
    d3 = 3 - 4 * y * 0 / 1
    assert lm.meta["discounts"][0] == pytest.approx([d1, d2, d3])
    assert lm.meta["discount_fallback"] == [False, True]  # bigrams: n3=2 gives D2 < 0
    denom = 1 + 2 + 1 + 3
    gamma = (d1 * 1 + d2 * 1 + d1 * 1 + d3 * 1) / denom
    uniform = 1 / 5  # <unk>, </s>, a, b, c (<s> is never predicted)
    p1 = {
        "a": (1 - d1) / denom + gamma * uniform,
        "b": (2 - d2) / denom + gamma * uniform,
        "c": (1 - d1) / denom + gamma * uniform,
        "</s>": (3 - d3) / denom + gamma * uniform,
        "<unk>": gamma * uniform,
    }
    assert sum(p1.values()) == pytest.approx(1)
    for w, p in p1.items():
        assert logp(lm, w) == pytest.approx(math.log10(p), abs=1e-6)
    # Bigrams: raw counts, the fallback discounts 0.5, 1, 1.5 (bigrams were degenerate).
    D = {1: 0.5, 2: 1.0, 3: 1.5}
    after = {"<s>": {"a": 3, "b": 1, "c": 1}, "a": {"b": 2, "</s>": 1}, "b": {"</s>": 3}}
    for ctx, ext in after.items():
        total = sum(ext.values())
        g = sum(D[min(c, 3)] for c in ext.values()) / total
        for w, c in ext.items():
            want = (c - D[min(c, 3)]) / total + g * p1[w]
            assert logp(lm, ctx, w) == pytest.approx(math.log10(want), abs=1e-6)
        assert float(lm.logb[0][lm.index[ctx]]) == pytest.approx(math.log10(g), abs=1e-6)
        # an unseen word backs off: b(ctx) + log p(w)
        assert logp(lm, ctx, "<unk>") == pytest.approx(math.log10(g * p1["<unk>"]), abs=1e-6)
    assert float(lm.logp[0][BOS]) == 0.0  # lmplz writes <s> with log10 p 0


def test_lmplz_counts_of_counts_detail(tmp_path: Path) -> None:
    # lmplz enters the last unigram of its walk (b, the newest word) into the
    # counts-of-counts with its raw count 3, not its adjusted count 2:
    # n1=1 (a), n2=1 (</s>), n3=1 (b), so Y=1/3, D1=1/3, D2=1, D3+=3 (lmplz prints these).
    lm = estimate_lm(
        [write(tmp_path, "q.txt", "a b\na b\nb\na\n")], 2, discount_fallback=(0.5, 1, 1.5)
    )
    assert lm.meta["discounts"][0] == pytest.approx([1 / 3, 1, 3])


def test_discounts_formula_and_fallback() -> None:
    adjusted = np.array([1] * 10 + [2] * 4 + [3] * 2 + [4] * 1)
    d, n, fell = _discounts(2, adjusted, None)
    y = 10 / (10 + 8)
    assert not fell and list(n) == [10, 4, 2, 1]
    assert d[1:] == pytest.approx([1 - 2 * y * 4 / 10, 2 - 3 * y * 2 / 4, 3 - 4 * y * 1 / 2])
    with pytest.raises(InputError, match="discount_fallback"):
        _discounts(2, np.array([1, 1, 2]), None)
    d, _, fell = _discounts(2, np.array([1, 1, 2]), (0.5, 1.0, 1.5))
    assert fell and list(d) == [0, 0.5, 1.0, 1.5]


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_every_context_sums_to_one(order: int) -> None:
    lm = estimate_lm([SAMPLE], order, discount_fallback=(0.5, 1, 1.5))
    V = lm.vocab_size
    predicted = np.array([w for w in range(V) if w != BOS])
    # the empty context
    assert float(np.sum(10.0 ** lm.logp[0][predicted])) == pytest.approx(1, abs=1e-6)
    for k in range(1, order):
        rows = lm.ngram_rows(k)
        rows = rows[lm.logb[k - 1] != 0][:80]  # contexts with extensions (a sample)
        if not len(rows):
            continue
        seqs = np.concatenate(
            [np.repeat(rows, len(predicted), axis=0), np.tile(predicted, len(rows))[:, None]],
            axis=1,
        )
        ids = seqs.ravel()
        offset = np.tile(np.arange(k + 1), len(seqs))
        lp, _ = lm.score_ids(ids, offset)
        sums = (10.0 ** lp[k :: k + 1]).reshape(len(rows), len(predicted)).sum(axis=1)
        assert np.abs(sums - 1).max() < 1e-6, (k, sums)


def test_arpa_and_binary_round_trip(tmp_path: Path) -> None:
    lm = estimate_lm([SAMPLE], 4, discount_fallback=(0.5, 1, 1.5), prune=(0, 0, 1))
    arpa = tmp_path / "m.arpa"
    lm.write_arpa(arpa)
    back = NGramLM.load(arpa)
    assert back.words == lm.words and back.counts() == lm.counts()
    for k in range(4):
        assert np.array_equal(back.keys[k], lm.keys[k])
        assert np.abs(back.logp[k] - lm.logp[k]).max() <= 6e-7
        if k < 3:
            assert np.abs(back.logb[k] - lm.logb[k]).max() <= 6e-7
    binary = tmp_path / "m.npz"
    lm.save(binary)
    again = NGramLM.load(binary)
    assert again.words == lm.words and again.meta == lm.meta
    for k in range(4):
        assert np.array_equal(again.logp[k], lm.logp[k])
    text = SAMPLE.read_text(encoding="utf-8").splitlines()[:40]
    assert again.perplexity(text).perplexity == lm.perplexity(text).perplexity
    assert back.perplexity(text).perplexity == pytest.approx(
        lm.perplexity(text).perplexity, rel=1e-5
    )


def test_arpa_text_format(tmp_path: Path) -> None:
    lm = estimate_lm([write(tmp_path, "hand.txt", HAND)], 2, discount_fallback=(0.5, 1, 1.5))
    path = tmp_path / "m.arpa"
    lm.write_arpa(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:4] == ["\\data\\", "ngram 1=6", "ngram 2=7", ""]
    assert "0\t<s>\t-0.30103" in lines
    assert "-0.69897\ta\t-0.30103" in lines
    assert "-0.39794\t<s> a" in lines
    assert lines[-1] == "\\end\\"


def test_literal_unk_is_estimated_like_a_word(tmp_path: Path) -> None:
    text = "the <unk> sat\nthe cat sat\nthe <unk> ran\na dog ran\n"
    lm = estimate_lm([write(tmp_path, "u.txt", text)], 2, discount_fallback=(0.5, 1, 1.5))
    assert lm.words.count("<unk>") == 1
    assert logp(lm, "the", "<unk>") > logp(lm, "the", "cat")  # seen twice after "the"
    s = lm.score_sentences([["the", "zebra", "sat"]])
    assert s.ids.tolist()[1] == 0 and s.order.tolist()[1] == 2  # "the <unk>" is a bigram
    m = estimate_lm(
        [write(tmp_path, "m.txt", text)], 2, min_count=2, discount_fallback=(0.5, 1, 1.5)
    )
    assert "cat" not in m.index and "dog" not in m.index and "the" in m.index


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (KNConfig(order=0), "order must be >= 1"),
        (KNConfig(order=3, min_count=0), "min_count must be >= 1"),
        (KNConfig(order=3, prune=(1,)), "prune\\[0\\] must be 0"),
        (KNConfig(order=3, prune=(0, 2, 1)), "must not decrease"),
        (KNConfig(order=3, tokenizer="bpe"), "tokenizer must be word or char"),
    ],
)
def test_bad_settings(config: KNConfig, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        config.check()


def test_bad_corpora(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty corpus"):
        estimate_lm([write(tmp_path, "e.txt", "\n\n")], 3)
    with pytest.raises(InputError, match="reserved token"):
        estimate_lm([write(tmp_path, "s.txt", "a <s> b\n")], 3)
    with pytest.raises(InputError, match="discount_fallback"):
        estimate_lm([write(tmp_path, "r.txt", "a b c\n" * 50)], 3)


GOOD_ARPA = "\\data\\\nngram 1=4\nngram 2=1\n\n\\1-grams:\n-1\t<unk>\t0\n0\t<s>\t-0.3\n-0.5\t</s>\t0\n-0.6\ta\t-0.2\n\n\\2-grams:\n-0.1\t<s> a\n\n\\end\\\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello world\n", "not an ARPA file"),
        (GOOD_ARPA.replace("\\2-grams:", "\\3-grams:"), "no 2-gram section"),
        (GOOD_ARPA.replace("-0.6\ta", "x\ta"), "a 1-gram line must start with a number"),
        (GOOD_ARPA.replace("ngram 2=1", "ngram 2=2"), "promises 2 2-grams"),
        (GOOD_ARPA.replace("<s> a", "<s> b"), "'b' is not among the unigrams"),
        (GOOD_ARPA.replace("\\end\\\n", ""), "truncated"),
        (GOOD_ARPA.replace("ngram 1=4\n", ""), "every order from 1"),
    ],
)
def test_corrupt_arpa(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.arpa", text)
    with pytest.raises(InputError, match=message):
        read_arpa(path)


def test_good_arpa_without_unk_scores(tmp_path: Path) -> None:
    lm = NGramLM.load(
        write(tmp_path, "ok.arpa", GOOD_ARPA.replace("-1\t<unk>\t0\n", "").replace("1=4", "1=3"))
    )
    assert lm.words[:3] == ["<unk>", "<s>", "</s>"]
    assert lm.score("a") == pytest.approx(-0.1 + -0.2 + -0.5)  # p(a|<s>) b(a) p(</s>)


def test_kenlm_module_agrees(tmp_path: Path) -> None:
    kenlm = pytest.importorskip(
        "kenlm", reason="the kenlm module is not installed (pip install kenlm)"
    )
    lm = estimate_lm([SAMPLE], 5, discount_fallback=(0.5, 1, 1.5))
    path = tmp_path / "m.arpa"
    lm.write_arpa(path)
    model = kenlm.Model(str(path))
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[::7] + RAINING.splitlines()
    s = lm.score_text(lines)
    ours = np.bincount(s.line_of, weights=s.logprob, minlength=len(lines))
    theirs = np.array([model.score(ln, bos=True, eos=True) for ln in lines])
    assert np.abs(ours - theirs).max() < 1e-4
    words = list(model.full_scores(lines[3]))
    got = lm.score_text([lines[3]])
    assert [n for _, n, _ in words] == got.order.tolist()


# ---------------------------------------------------------------------- CLI
def test_cli_lm_and_score_file_and_stdin(cli, tmp_path: Path) -> None:
    arpa = tmp_path / "m.arpa"
    npz = tmp_path / "m.npz"
    r = cli("ngrams", "lm", SAMPLE, "-n", "3", "-o", arpa, "--binary", npz, "--discount-fallback")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "" and "3-gram model" in r.stderr
    assert arpa.read_text(encoding="utf-8").startswith("\\data\\\nngram 1=")
    r2 = cli(
        "ngrams",
        "lm",
        "-",
        "-n",
        "3",
        "-o",
        tmp_path / "s.npz",
        "--discount-fallback",
        input=SAMPLE.read_text(encoding="utf-8"),
    )
    assert r2.exit_code == 0, r2.stderr
    summary = cli("ngrams", "score", npz, SAMPLE, "-f", "json")
    assert summary.exit_code == 0, summary.stderr
    import json

    record = json.loads(summary.stdout)
    want = NGramLM.load(npz).perplexity(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert record["perplexity"] == pytest.approx(want.perplexity)
    assert record["tokens"] == want.tokens and record["oovs"] == want.oovs
    from_stdin = cli(
        "ngrams",
        "score",
        tmp_path / "s.npz",
        "-f",
        "json",
        input=SAMPLE.read_text(encoding="utf-8"),
    )
    assert json.loads(from_stdin.stdout)["perplexity"] == pytest.approx(want.perplexity)
    per_line = cli("ngrams", "score", arpa, "-", "--per-line", "-f", "tsv", input=RAINING)
    rows = [ln.split("\t") for ln in per_line.stdout.splitlines()]
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[2][5] == "piouw;kcj"
    assert [int(r[2]) for r in rows] == [5, 3, 2]  # words + </s>
    per_word = cli("ngrams", "score", arpa, "-", "--per-word", "-f", "jsonl", input="banana tree\n")
    words = [json.loads(ln) for ln in per_word.stdout.splitlines()]
    assert [w["word"] for w in words] == ["banana", "tree", "</s>"]
    total = sum(w["log10_prob"] for w in words)
    assert total == pytest.approx(float(rows[1][1]), abs=1e-5)


def test_cli_bad_input(cli, tmp_path: Path) -> None:
    out = tmp_path / "m.arpa"
    assert_one_line_error(cli("ngrams", "lm", SAMPLE, "-n", "0", "-o", out), 2)
    assert_one_line_error(cli("ngrams", "lm", write(tmp_path, "e.txt", "\n"), "-o", out), 1)
    r = cli("ngrams", "lm", write(tmp_path, "r.txt", "a b c\n" * 20), "-o", out)
    assert_one_line_error(r, 1)
    assert "--discount-fallback" in r.stderr
    assert_one_line_error(cli("ngrams", "lm", SAMPLE, "-o", out, "--prune", "1 1"), 2)
    assert_one_line_error(cli("ngrams", "score", tmp_path / "missing.arpa", SAMPLE), 1)
    assert_one_line_error(cli("ngrams", "score", write(tmp_path, "x.arpa", "junk\n"), SAMPLE), 1)
    assert not out.exists()


def test_counts_exact_across_chunks_and_widths(tmp_path: Path) -> None:
    # A vocabulary that grows to 6,000 words while reading 4 KB chunks counted in
    # batches of 3,000 tokens: every batch inserts n-grams among the counted ones
    # (rows move, the next order's keys are renumbered) and the word field widens
    # on the way (10 -> 13 bits).
    from collections import Counter

    from seqtool.stats.kneser_ney import count_sentences
    from seqtool.text.normalize import Normalizer

    rng = np.random.default_rng(0)
    lines = []
    for i in range(2500):
        old = [f"w{int(x)}" for x in rng.integers(0, 2 * i + 2, size=int(rng.integers(0, 7)))]
        words = [f"w{2 * i}", *old, f"w{2 * i + 1}"] if i % 7 else old  # some short or empty
        lines.append(" ".join(words))
    path = write(tmp_path, "grow.txt", "\n".join(lines) + "\n")
    counts = count_sentences(
        [path], 5, Normalizer("none", False), "word", chunk_bytes=4096, batch_tokens=3000
    )
    assert len(counts.words) > 4096
    want: Counter[tuple[str, ...]] = Counter()
    for ln in lines:
        seq = ["<s>", *ln.split(), "</s>"]
        for k in range(2, 6):
            want.update(tuple(seq[i : i + k]) for i in range(len(seq) - k + 1))
    got: Counter[tuple[str, ...]] = Counter()
    for k in range(2, 6):
        assert np.all(np.diff(counts.keys[k]) > 0)  # sorted, distinct
        for r, c in zip(counts.rows(k).tolist(), counts.counts[k].tolist()):
            got[tuple(counts.words[i] for i in r)] = c
    assert got == want
    # the same counts in one batch
    whole = count_sentences([path], 5, Normalizer("none", False), "word")
    for k in range(2, 6):
        assert np.array_equal(whole.keys[k], counts.keys[k])
        assert np.array_equal(whole.counts[k], counts.counts[k])


def test_counts_in_pieces_give_the_same_model(cli, tmp_path: Path) -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
    whole = write(tmp_path, "whole.txt", "".join(lines))
    a = write(tmp_path, "a.txt", "".join(lines[:150]))
    b = write(tmp_path, "b.txt", "".join(lines[150:]))
    for src, out in ((a, "a.npz"), (b, "b.npz")):
        r = cli("ngrams", "lm", src, "-n", "4", "--save-counts", tmp_path / out)
        assert r.exit_code == 0, r.stderr
    r = cli(
        "ngrams",
        "lm",
        tmp_path / "a.npz",
        tmp_path / "b.npz",
        "-n",
        "3",
        "-o",
        tmp_path / "p.arpa",
        "--discount-fallback",
    )
    assert r.exit_code == 0, r.stderr
    r = cli("ngrams", "lm", whole, "-n", "3", "-o", tmp_path / "w.arpa", "--discount-fallback")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "p.arpa").read_bytes() == (tmp_path / "w.arpa").read_bytes()
    r = cli("ngrams", "lm", tmp_path / "a.npz", "-n", "5", "-o", tmp_path / "x.arpa")
    assert_one_line_error(r, 2)
    assert_one_line_error(
        cli("ngrams", "lm", tmp_path / "a.npz", whole, "-o", tmp_path / "x.arpa"), 2
    )


@pytest.mark.slow
def test_ptb_five_gram_perplexity(shared_data: Path) -> None:
    # The published Kneser-Ney 5-gram setup; lmplz on the same text (with <unk> renamed
    # to a word, since it refuses <unk>) gives 148.007 too.
    ptb = shared_data / "ptb"
    if not (ptb / "ptb.train.txt").is_file():
        pytest.skip(f"PTB not found under {ptb}")
    lm = estimate_lm([ptb / "ptb.train.txt"], 5)
    assert lm.counts() == [10001, 264990, 586558, 717733, 737952]
    result = lm.perplexity((ptb / "ptb.valid.txt").read_text(encoding="utf-8").splitlines())
    assert result.perplexity == pytest.approx(148.008, abs=0.01)
    assert result.oovs == 3485 and result.tokens == 73760


def test_arpa_words_are_written_as_they_are(tmp_path: Path) -> None:
    # PTB holds words like 1\/2 and \*: an ARPA file has no escapes (TSV output does)
    text = "a 1\\/2 b\n\\* a b\na 1\\/2\n"
    lm = estimate_lm([write(tmp_path, "bs.txt", text)], 2, discount_fallback=(0.5, 1, 1.5))
    path = tmp_path / "bs.arpa"
    lm.write_arpa(path)
    raw = path.read_text(encoding="utf-8")
    assert "\t1\\/2\t" in raw and "\t\\*\t" in raw and "\\\\" not in raw
    back = NGramLM.load(path)
    assert back.words == lm.words and back.counts() == lm.counts()
    assert back.score("a 1\\/2 b") == pytest.approx(lm.score("a 1\\/2 b"), abs=1e-5)


# ---------------------------------------------------------------------- scoring paths
def test_score_stdin_answers_each_line_as_it_arrives(tmp_path: Path) -> None:
    # a co-process writes a line and waits for its answer before writing the next
    import os
    import select
    import subprocess
    import sys

    lm = estimate_lm([SAMPLE], 3, discount_fallback=(0.5, 1, 1.5))
    model = tmp_path / "m.npz"
    lm.save(model)
    want = lm.score_text(["the cat", "zzz qqq"])
    for mode, rows_per_line in (("--per-line", (1, 1)), ("--per-word", (3, 3))):
        cmd = [
            sys.executable,
            "-m",
            "seqtool",
            "ngrams",
            "score",
            str(model),
            "-",
            mode,
            "-f",
            "tsv",
        ]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None
        got = []
        for line, rows in zip((b"the cat\n", b"zzz qqq\n"), rows_per_line):
            proc.stdin.write(line)
            proc.stdin.flush()
            answer = b""
            while answer.count(b"\n") < rows:  # every row of it before the next line
                ready, _, _ = select.select([proc.stdout], [], [], 60)
                assert ready, f"{mode}: no answer to {line!r} while the input stays open"
                answer += os.read(proc.stdout.fileno(), 1 << 16)
            got += [r.split("\t") for r in answer.decode().splitlines()]
        proc.stdin.close()
        assert proc.stdout.read() == b"" and proc.wait(timeout=60) == 0
        if mode == "--per-line":
            assert [int(r[3]) for r in got] == want.per_line(2)[2].tolist()  # OOVs
            assert int(got[1][3]) == 2
            assert [float(r[1]) for r in got] == pytest.approx(
                np.bincount(want.line_of, weights=want.logprob).tolist(), abs=1e-5
            )
        else:
            assert [r[1] for r in got] == ["the", "cat", "</s>", "zzz", "qqq", "</s>"]
            assert [int(r[2]) for r in got] == want.order.tolist()
            assert [float(r[3]) for r in got] == pytest.approx(want.logprob.tolist(), abs=1e-5)


def test_per_word_orders_oovs_and_blocks_agree_with_one_at_a_time(tmp_path: Path) -> None:
    lm = estimate_lm([SAMPLE], 4, discount_fallback=(0.5, 1, 1.5))
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:40]
    lines += ["", "unknownword the", "the unknownword unknownword", "  tabs\tand  spaces "]
    whole = lm.score_text(lines)
    one = [lm.score_text([ln]) for ln in lines]
    assert np.array_equal(whole.logprob, np.concatenate([s.logprob for s in one]))
    assert np.array_equal(whole.order, np.concatenate([s.order for s in one]))
    oovs = [sum(w not in lm.index for w in ln.split()) for ln in lines]
    assert whole.per_line(len(lines))[2].tolist() == oovs and oovs[-3:-1] == [1, 2]
    assert set(whole.order.tolist()) <= {1, 2, 3, 4} and 4 in whole.order.tolist()
    oov = whole.ids == 0
    assert (whole.order[oov] == 1).all()  # an unknown word: its unigram (<unk>)
    # perplexity() sums what score_text gives, in blocks of lines with line ends
    monkey = [ln + "\n" for ln in lines]
    p = lm.perplexity(monkey)
    assert p.tokens == len(whole.ids) and p.oovs == int(oov.sum())
    assert p.log10_prob == pytest.approx(float(whole.logprob.sum()), abs=1e-9)
    assert p.oov_log10_prob == pytest.approx(float(whole.logprob[oov].sum()), abs=1e-9)
    import seqtool.stats.ngram_lm as ngram_lm

    small = ngram_lm.BLOCK_LINES
    try:
        ngram_lm.BLOCK_LINES = 7  # blocks cut anywhere give the same sums
        q = lm.perplexity(monkey)
    finally:
        ngram_lm.BLOCK_LINES = small
    assert (q.tokens, q.oovs, q.sentences) == (p.tokens, p.oovs, p.sentences)
    assert q.log10_prob == pytest.approx(p.log10_prob, abs=1e-9)


def test_arpa_numbers_are_the_values_float_gives() -> None:
    from seqtool.stats import arpa, wordbytes

    rng = np.random.default_rng(3)
    forms = ["%.6f", "%.7g", "%g", "%.3f", "%.11f", "%.15g", "%.1e", "%.8g", "%.0f"]
    values = [
        forms[i % len(forms)] % (-rng.random() * 10.0 ** rng.integers(-4, 5)) for i in range(5000)
    ]
    values += [
        "0",
        "-0",
        "-99",
        "1.",
        ".5",
        "-.5",
        "1234.5",
        "-1234.5",
        "99999.5",
        "-0.000000000015",
    ]
    values += ["+1.5", "inf", "-inf", "1e5", "-1.2e-07", "12345678901234567", "0.123456789012", "٣"]
    data = ("\t".join(values) + "\n").encode()
    text = arpa._bytes(data)
    starts, ends = wordbytes.spans(text.buf)
    got = arpa._numbers(data, text.win, starts, ends)
    assert got is not None
    want = np.array([float(v) for v in values])
    assert np.array_equal(got, want) and np.array_equal(np.signbit(got), np.signbit(want))
    for junk in ("1x", "--1", "1.2.3", "-", ".", "-.", "1-2", "1.5e", "abc", "1,5"):
        data = f"-1.5\t{junk}\t2\n".encode()
        text = arpa._bytes(data)
        starts, ends = wordbytes.spans(text.buf)
        assert arpa._numbers(data, text.win, starts, ends) is None, junk
