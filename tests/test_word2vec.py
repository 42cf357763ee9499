"""word2vec library: formulas, examples, gradients, learning, vector files, metrics."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtool.errors import InputError, UsageError
from seqtool.metrics.wordvec import evaluate_analogies, evaluate_pairs, rankdata, spearman
from seqtool.models.skipgram import SkipGram, StepRows
from seqtool.text import Normalizer, Vocab
from seqtool.train.word2vec import (
    SilentReporter,
    encode_corpus,
    keep_probability,
    make_examples,
    noise_distribution,
    noise_table,
    train,
)
from seqtool.train.word2vec import Word2VecConfig as SkipGramConfig
from seqtool.wordvectors import WordVectors

NONE = Normalizer.make("none")


def planted(seed: int, groups: int = 4, size: int = 5, lines: int = 300) -> list[str]:
    """Lines of 8 words, each line from one group: words co-occur only within their group."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(lines):
        g = rng.integers(groups)
        out.append(" ".join(f"g{g}w{j}" for j in rng.integers(0, size, 8)))
    return out


def corpus_of(lines: list[str], min_count: int = 1):
    return encode_corpus(lines, Vocab.build(lines, "word", NONE), min_count)


# ---------------------------------------------------------------------- formulas
def test_keep_probability_is_mikolovs_formula_on_small_counts() -> None:
    counts = np.array([1000, 100, 10, 1])
    t = 0.01 * counts.sum()  # 11.11
    expected = [(np.sqrt(c / t) + 1) * t / c for c in (1000, 100)] + [1.0, 1.0]
    np.testing.assert_allclose(keep_probability(counts, 0.01), expected)
    assert keep_probability(counts, 0.01)[0] == pytest.approx(0.1165, abs=1e-4)
    np.testing.assert_array_equal(keep_probability(counts, 0.0), 1.0)


def test_noise_distribution_and_table_follow_counts_to_the_075() -> None:
    counts = np.array([81, 16, 1, 0])
    p = noise_distribution(counts)
    np.testing.assert_allclose(p, np.array([27, 8, 1, 0]) / 36)
    table = noise_table(counts, size=36_000)
    assert len(table) == 36_000
    np.testing.assert_array_equal(np.bincount(table, minlength=4), [27_000, 8_000, 1_000, 0])
    big = noise_table(np.array([3, 5, 7]))  # default size: largest-remainder rounding
    share = np.bincount(big, minlength=3) / len(big)
    np.testing.assert_allclose(share, noise_distribution(np.array([3, 5, 7])), atol=1 / len(big))


def test_sampled_subsampling_and_noise_match_their_formulas() -> None:
    counts = np.array([5000, 1000, 200, 50])
    ids = np.repeat(np.arange(4, dtype=np.int32), counts)
    np.random.default_rng(0).shuffle(ids)
    sentences = np.zeros(len(ids), dtype=np.int32)
    keep = keep_probability(counts, 0.01).astype(np.float32)
    rng = np.random.default_rng(1)
    kept = np.zeros(4)
    noise = np.zeros(4)
    reps = 40
    for _ in range(reps):
        ex = make_examples(ids, sentences, keep, noise_table(counts), 2, 5, 4, rng, 1 << 10)
        kept += np.bincount(ex.centres, minlength=4)
        noise += np.bincount(ex.noise.ravel(), minlength=4)
    n = reps * counts
    sd = np.sqrt(n * keep * (1 - keep)) + 1e-9
    assert np.all(np.abs(kept - n * keep) < 5 * sd), (kept / n, keep)
    q = noise_distribution(counts)
    sd = np.sqrt(noise.sum() * q * (1 - q))
    assert np.all(np.abs(noise - noise.sum() * q) < 5 * sd), (noise / noise.sum(), q)


def test_examples_respect_lines_and_the_shrunk_window() -> None:
    ids = np.arange(12, dtype=np.int32)
    sentences = np.array([0] * 7 + [1] * 5, dtype=np.int32)
    rng = np.random.default_rng(3)
    reaches = []
    for _ in range(30):
        ex = make_examples(
            ids, sentences, np.ones(12, np.float32), np.zeros(4, np.int32), 3, 2, 99, rng, 4
        )
        assert sorted(ex.centres.tolist()) == list(range(12))  # nothing subsampled at 1.0
        for centre, row, reach in zip(ex.centres, ex.contexts, ex.reach):
            want = [
                j
                for j in range(12)
                if j != centre and abs(j - centre) <= reach and sentences[j] == sentences[centre]
            ]
            assert sorted(x for x in row.tolist() if x != 99) == want
            # nearest first, left before right: slot 2(d-1) holds centre-d, 2d-1 holds centre+d
            for d in range(1, 4):
                assert row[2 * d - 2] in (centre - d, 99) and row[2 * d - 1] in (centre + d, 99)
        for span in range(0, 12, 4):  # sorted by reach within spans
            assert list(ex.reach[span : span + 4]) == sorted(ex.reach[span : span + 4])
        reaches += ex.reach.tolist()
    assert set(reaches) == {1, 2, 3}


# ---------------------------------------------------------------------- the step
def test_hand_written_step_is_sgd_on_the_d2l_loss() -> None:
    model = SkipGram(6, 4, seed=0)
    with torch.no_grad():
        model.out.normal_(0, 0.5)  # outputs start at zero; make the check non-trivial
        model.out[model.pad] = 0.0  # but the padding rows always are (the model keeps them so)
    pad = model.pad
    contexts = torch.tensor([[1, 2, pad, pad], [0, 0, 3, 4], [5, pad, pad, pad]])
    targets = torch.tensor([[0, 3, 0, 5], [2, 2, 1, 2], [1, 1, 4, 0]])  # noise == centre skipped
    lr = 0.1
    reference = SkipGram(6, 4)
    reference.inp = torch.nn.Parameter(model.inp.detach().clone())
    reference.out = torch.nn.Parameter(model.out.detach().clone())
    reference(contexts, targets).backward()  # autograd on the d2l loss
    model.sgd_step(contexts, targets, lr)
    for mine, theirs in ((model.inp, reference.inp), (model.out, reference.out)):
        assert theirs.grad is not None and theirs.grad.abs().sum() > 0
        torch.testing.assert_close(mine.detach(), theirs.detach() - lr * theirs.grad)
    assert torch.all(model.inp[pad] == 0) and torch.all(model.out[pad] == 0)  # padding never moves


def test_row_cap_scales_down_rows_hit_many_times() -> None:
    contexts = torch.arange(40).reshape(40, 1) % 8  # eight rows, five hits each
    targets = torch.stack([torch.full((40,), 9), torch.arange(40) % 8 + 10], 1)  # row 9: 40 hits
    free, capped = SkipGram(20, 3, seed=1), SkipGram(20, 3, seed=1)
    for m in (free, capped):
        with torch.no_grad():
            m.out.normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
    before = free.out.detach().clone()
    free.sgd_step(contexts, targets, 0.05)
    capped.sgd_step(contexts, targets, 0.05, row_cap=8)
    torch.testing.assert_close(capped.out[9] - before[9], (free.out[9] - before[9]) * 8 / 40)
    torch.testing.assert_close(capped.out[10:18], free.out[10:18])  # 5 hits each: under the cap
    torch.testing.assert_close(capped.inp, free.inp)


def test_prepared_steps_reuse_scratch_counters_without_carry_over() -> None:
    # training reuses one StepRows per thread: each step must count only its own hits
    pad = 20
    contexts = torch.arange(40).reshape(40, 1) % 8
    targets = torch.stack([torch.full((40,), 9), torch.arange(40) % 8 + 10], 1)
    shared_rows, fresh = SkipGram(20, 3, seed=1), SkipGram(20, 3, seed=1)
    for m in (shared_rows, fresh):
        with torch.no_grad():
            m.out[:pad].normal_(0, 0.5, generator=torch.Generator().manual_seed(2))
    hit = shared_rows.hit_index(contexts, targets)
    rows = StepRows(shared_rows, hit.numel(), 2)
    for _ in range(3):
        shared_rows.prepared_step(contexts, targets, hit, 1, 0.05, 8, rows)
        fresh.prepared_step(contexts, targets, hit, 1, 0.05, 8, StepRows(fresh, hit.numel(), 2))
        assert torch.equal(shared_rows.inp, fresh.inp) and torch.equal(shared_rows.out, fresh.out)
    assert rows.counts[:-1].abs().sum() == 0  # touched counters are reset after a step


# ---------------------------------------------------------------------- training
@pytest.mark.parametrize("engine", ["numba", "torch"])
@pytest.mark.parametrize("threads", [1, 2])
def test_planted_groups_are_each_others_nearest_neighbours(threads: int, engine: str) -> None:
    # calibrated: 0 failures in 300 seeds with 5 epochs (and in 100 with 3), each engine
    lines = planted(seed=threads)
    corpus = corpus_of(lines)
    cfg = SkipGramConfig(
        dim=16, window=3, sample=0, epochs=5, threads=threads, seed=threads, engine=engine
    )
    result = train(corpus, cfg)
    assert result.engine == engine
    wv = WordVectors(corpus.words, result.vectors)
    for word in wv.words:
        neighbours = [w for w, _ in wv.most_similar([word], top=4)]
        assert all(w[:2] == word[:2] for w in neighbours), (word, neighbours)
    assert (
        result.raw_words == len(corpus.ids) * 5 and 0 < result.effective_words <= result.raw_words
    )


@pytest.mark.parametrize("engine", ["numba", "torch"])
def test_one_thread_is_reproducible_and_the_seed_matters(engine: str) -> None:
    corpus = corpus_of(planted(seed=0, lines=60))
    cfg = SkipGramConfig(dim=8, window=2, epochs=2, threads=1, batch_size=32, engine=engine)
    a, b = train(corpus, cfg).vectors, train(corpus, cfg).vectors
    np.testing.assert_array_equal(a, b)
    cfg.seed = 1
    assert not np.array_equal(a, train(corpus, cfg).vectors)


def test_progress_is_reported_and_ends_at_the_total() -> None:
    corpus = corpus_of(planted(seed=0, lines=60))
    seen = []

    class Seen(SilentReporter):
        def progress(self, progress):
            seen.append(progress)

    train(corpus, SkipGramConfig(dim=8, epochs=2, threads=1), Seen())
    assert seen and seen[-1].raw_words == seen[-1].total_words == 2 * len(corpus.ids)


def test_the_row_cap_keeps_large_steps_from_diverging() -> None:
    # one word is half the text: each 8192-word step hits its output row ~20,000 times
    rng = np.random.default_rng(0)
    other = np.char.add("w", rng.integers(0, 50, 20_000).astype(str))
    words = np.where(rng.random(20_000) < 0.5, "the", other)
    lines = [" ".join(words[i : i + 20]) for i in range(0, len(words), 20)]
    corpus = corpus_of(lines)
    cfg = SkipGramConfig(
        dim=32, sample=0, epochs=2, threads=1, batch_size=8192, lr=0.05, engine="torch"
    )
    assert np.abs(train(corpus, cfg).vectors).max() < 10
    cfg.row_cap = 0  # plain summed updates overshoot (measured: |v| ~ 3e11)
    assert not np.abs(train(corpus, cfg).vectors).max() < 1e3


@pytest.mark.parametrize(
    "change, flag",
    [
        ({"dim": 0}, "`dim`"),
        ({"window": 0}, "`window`"),
        ({"negative": 0}, "`negative`"),
        ({"epochs": 0}, "`epochs`"),
        ({"lr": 0.0}, "`lr`"),
        ({"sample": -1.0}, "`sample`"),
        ({"batch_size": 0}, "batch_size"),
        ({"threads": -1}, "`threads`"),
    ],
)
def test_impossible_settings_are_usage_errors(change: dict, flag: str) -> None:
    with pytest.raises(UsageError, match=flag):
        SkipGramConfig(**change).check()


def test_encode_corpus_orders_by_count_and_drops_specials_and_rare_words() -> None:
    lines = ["b a <unk> a c", "a b <pad> d", "b a"]
    vocab = Vocab.build(lines, "word", NONE)
    corpus = encode_corpus(lines, vocab, min_count=2)
    assert corpus.words == ["a", "b"] and corpus.counts.tolist() == [4, 3]
    assert corpus.ids.tolist() == [1, 0, 0, 0, 1, 1, 0]
    assert corpus.sentences.tolist() == [0, 0, 0, 1, 1, 2, 2]
    assert encode_corpus(lines, vocab, 1, max_vocab=3).words == ["a", "b", "c"]
    with pytest.raises(InputError, match="at least 2"):
        encode_corpus(lines, vocab, min_count=4)


def test_encode_corpus_counts_this_corpus_even_with_a_reused_vocabulary() -> None:
    vocab = Vocab.build(["x x x y y z"], "word", NONE)
    corpus = encode_corpus(["z z y", "z q"], vocab, min_count=1)
    assert corpus.words == ["z", "y"] and corpus.counts.tolist() == [3, 1]


# ---------------------------------------------------------------------- files
@pytest.fixture
def vectors() -> WordVectors:
    rng = np.random.default_rng(0)
    words = ["the", "Straße", "king", "queen", "man", "woman", "x1"]
    return WordVectors(words, rng.standard_normal((len(words), 5)).astype(np.float32))


@pytest.mark.parametrize("binary", [False, True])
def test_save_and_load_round_trip(tmp_path: Path, vectors: WordVectors, binary: bool) -> None:
    path = tmp_path / "v.vec"
    vectors.save(path, binary=binary)
    back = WordVectors.load(path)  # format told by content
    assert back.words == vectors.words
    if binary:
        np.testing.assert_array_equal(back.vectors, vectors.vectors)
    else:
        np.testing.assert_allclose(back.vectors, vectors.vectors, rtol=1e-6, atol=1e-7)
    assert path.read_bytes().startswith(b"7 5\n")
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left nothing behind


@pytest.mark.parametrize("opener", [gzip.open, bz2.open])
def test_compressed_vector_files_load(tmp_path: Path, vectors: WordVectors, opener) -> None:
    vectors.save(tmp_path / "v.bin", binary=True)
    with opener(tmp_path / "v.bin.z", "wb") as f:
        f.write((tmp_path / "v.bin").read_bytes())
    assert WordVectors.load(tmp_path / "v.bin.z").words == vectors.words


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_ours_and_we_read_gensims(
    tmp_path: Path, vectors: WordVectors, binary: bool
) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    vectors.save(tmp_path / "ours", binary=binary)
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "ours"), binary=binary)
    assert list(kv.index_to_key) == vectors.words
    np.testing.assert_allclose(kv.vectors, vectors.vectors, rtol=1e-6, atol=1e-7)
    kv.save_word2vec_format(str(tmp_path / "theirs"), binary=binary)  # no newline after vectors
    back = WordVectors.load(tmp_path / "theirs")
    assert back.words == vectors.words
    np.testing.assert_allclose(back.vectors, vectors.vectors, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"hello world\n", "1: not a word2vec file"),
        (b"3\n", "1: not a word2vec file"),
        (b"2 3\na 1 2 3\n", "truncated: the header promises 2 vectors, the file has 1"),
        (b"1 3\na 1 2\n", "2: expected a word and 3 numbers, found 2"),
        (b"1 3\na 1 2 x\n", "2: not a number"),
        (b"1 3\na 1 2 3\nb 1 2 3\n", "more lines than the 1 vectors"),
        (b"2 2\na 1 2\na 3 4\n", "'a' appears more than once"),
        (b"0 3\n", "the header says 0 vectors"),
        (b"2 2\na " + np.ones(2, "<f4").tobytes() + b"\nb " + b"\x00\x00", "truncated"),
    ],
)
def test_malformed_vector_files_are_one_line_errors(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.vec"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as e:
        WordVectors.load(path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_queries_cosine_and_3cosadd() -> None:
    wv = WordVectors(
        ["king", "queen", "man", "woman", "apple"],
        np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1], [-1, 0, 0]], dtype=np.float32),
    )
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    assert wv.similarity("man", "woman") == pytest.approx(0.0)
    near = wv.most_similar(["king"], top=10)
    assert [w for w, _ in near][:1] in (["man"], ["queen"]) and "king" not in dict(near)
    assert len(near) == 4 and near[0][1] >= near[-1][1]
    with pytest.raises(InputError, match="unknown word 'King'") as e:
        wv.most_similar(["King"])
    assert e.value.hint == "did you mean 'king'?"


# ---------------------------------------------------------------------- metrics
def test_rankdata_and_spearman_with_ties() -> None:
    np.testing.assert_array_equal(rankdata([10, 20, 20, 5]), [2, 3.5, 3.5, 1])
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # scipy.stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 3]).statistic == 0.39473684210526316
    assert spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 3]) == pytest.approx(0.39473684210526316)


def test_analogy_and_pair_evaluation_follow_gensims_rules() -> None:
    wv = WordVectors(
        ["king", "queen", "man", "woman", "apple", "King"],
        np.array(
            [[1, 1, 0], [1, 0, 1], [0, 1, 0], [0, 0, 1], [-1, 0, 0], [1, 1, 0.1]], dtype=np.float32
        ),
    )
    questions = [
        ": family",
        "man king woman queen",  # right: King is excluded as a case variant of king
        "MAN WOMAN KING QUEEN",  # compared case-insensitively
        "man king woman pear",  # unknown: skipped
        ": other",
        "king queen man apple",
    ]
    score = evaluate_analogies(wv, questions)
    assert [(s.name, s.correct, s.answered, s.skipped) for s in score.sections] == [
        ("family", 2, 2, 1),
        ("other", 0, 1, 0),
    ]
    assert score.accuracy == pytest.approx(2 / 3)
    pairs = [
        "# comment",
        "king\tqueen\t8",
        "man\twoman\t7",
        "king\tapple\t1",
        "pear\tking\t3",
        "bad line",
    ]
    p = evaluate_pairs(wv, pairs)
    assert (p.pairs, p.unknown, p.invalid) == (3, 1, 1) and p.coverage == 0.75
    with pytest.raises(InputError, match="no word pair"):
        evaluate_pairs(wv, ["pear\tplum\t1"])


def test_metrics_equal_gensims_on_random_vectors(tmp_path: Path) -> None:
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(60)]
    wv = WordVectors(words, rng.standard_normal((60, 8)).astype(np.float32))
    wv.save(tmp_path / "v.txt")
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"))
    qs = [": a"] + [" ".join(rng.choice(words + ["zz"], 4, replace=False)) for _ in range(300)]
    (tmp_path / "q.txt").write_text("\n".join(qs) + "\n")
    # distinct words per pair: self-pairs all score ~1.0 and rank by float rounding
    ps = [
        f"{a}\t{b}\t{rng.random() * 10:.2f}"
        for a, b in (rng.choice(words + ["zz"], 2, replace=False) for _ in range(80))
    ]
    (tmp_path / "p.tsv").write_text("\n".join(ps) + "\n")
    ours = evaluate_analogies(wv, qs)
    theirs = kv.evaluate_word_analogies(str(tmp_path / "q.txt"))
    assert ours.accuracy == pytest.approx(theirs[0])
    p = evaluate_pairs(wv, ps)
    (pearson, _), (rho, _), oov = kv.evaluate_word_pairs(str(tmp_path / "p.tsv"))
    assert p.spearman == pytest.approx(rho, abs=1e-6) and p.pearson == pytest.approx(
        pearson, abs=1e-6
    )
    assert (1 - p.coverage) * 100 == pytest.approx(oov)
