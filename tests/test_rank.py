"""TextRank, LexRank, keywords and ROUGE: the library."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from seqtool.errors import InputError, ResourceError, UsageError
from seqtool.rank.graph import pair_count, similarity_graph, threshold_graph, vector_graph
from seqtool.rank.keywords import KeywordConfig, keywords
from seqtool.rank.pagerank import Graph, pagerank
from seqtool.rank.summarize import SummaryConfig, summarize
from seqtool.rank.terms import stem, term_matrix
from seqtool.wordvectors import WordVectors

SIMILARITIES = ("overlap", "bm25", "cosine")

# One sentence shares its words with every other; the others share little with each other.
CENTRAL_DOC = [
    "The garden has roses and tulips.",
    "Bees visit the roses every morning.",
    "Tulips bloom early in spring.",
    "The garden roses, tulips, bees and spring rain make the garden bloom every morning.",
    "Rain fell on the roof.",
    "Stock markets closed lower on Friday.",
]
CENTRAL = 3


# ---------------------------------------------------------------------- PageRank
def test_pagerank_hand_computed_path() -> None:
    # 0 - 1 - 2, unweighted: x0 = x2 = 0.05 + 0.425 x1 and x1 = 1 - 2 x0
    g = Graph(3, np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]), np.ones(4))
    end = 0.475 / 1.85
    np.testing.assert_allclose(pagerank(g, tolerance=1e-14).scores, [end, 1 - 2 * end, end])


def test_pagerank_equals_networkx_on_weighted_graphs() -> None:
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(0)
    for seed in range(5):
        g = nx.gnp_random_graph(25, 0.2, seed=seed, directed=True)
        g.add_node(25)  # a dangling node
        for u, v in g.edges:
            g[u][v]["weight"] = float(rng.uniform(0.1, 2.0))
        src = np.array([u for u, _ in g.edges])
        dst = np.array([v for _, v in g.edges])
        w = np.array([g[u][v]["weight"] for u, v in g.edges])
        ours = pagerank(Graph(26, src, dst, w), damping=0.85, tolerance=1e-13)
        ref = nx.pagerank(g, alpha=0.85, tol=1e-15, max_iter=10_000)
        assert ours.converged
        np.testing.assert_allclose(ours.scores, [ref[i] for i in range(26)], atol=1e-10)


def test_pagerank_symmetric_path_equals_the_general_one() -> None:
    rng = np.random.default_rng(3)
    w = np.triu(rng.uniform(0, 1, (30, 30)) * (rng.uniform(0, 1, (30, 30)) < 0.2), 1)
    w = w + w.T
    w[7, :] = w[:, 7] = 0  # an isolated node
    src, dst = np.nonzero(w)  # row-major: sorted by src
    general = pagerank(Graph(30, src, dst, w[src, dst]), tolerance=1e-13)
    fast = pagerank(Graph(30, src, dst, w[src, dst], symmetric=True), tolerance=1e-13)
    np.testing.assert_allclose(fast.scores, general.scores, atol=1e-12)
    with pytest.raises(UsageError, match="sorted by src"):
        pagerank(Graph(30, src[::-1], dst[::-1], w[src, dst][::-1], symmetric=True))


def test_pagerank_edge_cases() -> None:
    empty = pagerank(Graph(0, np.zeros(0), np.zeros(0), np.zeros(0)))
    assert empty.scores.size == 0
    lonely = pagerank(Graph(4, np.zeros(0), np.zeros(0), np.zeros(0)))
    np.testing.assert_allclose(lonely.scores, 0.25)
    with pytest.raises(UsageError, match="damping"):
        pagerank(Graph(1, np.zeros(0), np.zeros(0), np.zeros(0)), damping=1.0)
    bad = Graph(2, np.array([0]), np.array([1]), np.array([-1.0]))
    with pytest.raises(UsageError, match="non-negative"):
        pagerank(bad)


# ---------------------------------------------------------------------- graphs
def _brute(
    sentences: list[str], similarity: str, dropped: frozenset[int] = frozenset()
) -> np.ndarray:
    """The similarity matrix straight from the definitions, with Python loops.

    Terms in ``dropped`` count for idf and lengths but join no sentences.
    """
    tm = term_matrix(sentences)
    n = tm.n
    bags = []
    for i in range(n):
        lo, hi = tm.indptr[i], tm.indptr[i + 1]
        bags.append(dict(zip(tm.terms[lo:hi].tolist(), tm.counts[lo:hi].tolist())))
    df = np.zeros(len(tm.vocabulary))
    for b in bags:
        for t in b:
            df[t] += 1
    avg = sum(sum(b.values()) for b in bags) / n
    idf = {t: math.log((n - df[t] + 0.5) / (df[t] + 0.5)) for t in range(len(df))}
    mean_idf = sum(idf.values()) / len(idf)
    idf = {t: (v if v >= 0 else 0.25 * mean_idf) for t, v in idf.items()}

    def bm25(q: dict, d: dict, dl: float) -> float:
        return sum(
            idf[t] * d[t] * 2.5 / (d[t] + 1.5 * (0.25 + 0.75 * dl / avg)) * c
            for t, c in q.items()
            if t in d
        )

    tfidf = []
    for b in bags:
        v = {t: c * (math.log((1 + n) / (1 + df[t])) + 1) for t, c in b.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        tfidf.append({t: x / norm for t, x in v.items()})
    lengths = [sum(b.values()) for b in bags]
    bags = [{t: c for t, c in b.items() if t not in dropped} for b in bags]
    tfidf = [{t: x for t, x in v.items() if t not in dropped} for v in tfidf]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if similarity == "overlap":
                common = len(bags[i].keys() & bags[j].keys())
                li, lj = lengths[i], lengths[j]
                denom = max(math.log(max(li, 1)) + math.log(max(lj, 1)), math.log(2))
                out[i, j] = common / denom
            elif similarity == "bm25":
                out[i, j] = (
                    bm25(bags[j], bags[i], lengths[i]) + bm25(bags[i], bags[j], lengths[j])
                ) / 2
            else:
                out[i, j] = sum(x * tfidf[j].get(t, 0.0) for t, x in tfidf[i].items())
    return out


def _dense(g: Graph) -> np.ndarray:
    m = np.zeros((g.n, g.n))
    m[g.src, g.dst] = g.weight
    return m


DOC = CENTRAL_DOC + [
    "Bees and bees and more bees.",
    "Spring rain, spring sun.",
    "Nothing here matches at all, honestly.",
]


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_sparse_graph_equals_brute_force(similarity: str) -> None:
    tm = term_matrix(DOC)
    got = _dense(similarity_graph(tm, similarity))
    np.testing.assert_allclose(got, _brute(DOC, similarity), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("similarity", SIMILARITIES)
def test_over_budget_keeps_a_reweighted_symmetric_sample(similarity: str) -> None:
    tm = term_matrix(DOC)
    full = _brute(DOC, similarity)
    budget = pair_count(tm) // 3
    keep = budget / pair_count(tm)
    got = _dense(similarity_graph(tm, similarity, max_edges=budget))
    again = _dense(similarity_graph(tm, similarity, max_edges=budget))
    np.testing.assert_array_equal(got, again)  # the same sample every run
    kept = got > 0
    assert 0 < kept.sum() < (full > 0).sum()
    assert np.array_equal(kept, kept.T)  # a pair is kept or dropped both ways
    np.testing.assert_allclose(got[kept], full[kept] / keep, rtol=1e-5)


def test_sampling_keeps_the_ranking_of_a_big_graph() -> None:
    """Each edge kept with p = 1/4 (about 20 of 80 a sentence), weights x 4: scores stay close."""
    rng = np.random.default_rng(0)
    vocab = [f"w{k}" for k in range(300)]
    weights = 1.0 / np.arange(1, 301)
    doc = [
        " ".join(rng.choice(vocab, size=8, p=weights / weights.sum()).tolist()) + "."
        for _ in range(600)
    ]
    tm = term_matrix(doc)
    whole = pagerank(similarity_graph(tm, "overlap")).scores
    sample = pagerank(similarity_graph(tm, "overlap", max_edges=pair_count(tm) // 4)).scores
    assert np.corrcoef(whole, sample)[0, 1] > 0.88  # 0.92 (0.914-0.924 over 3 seeds)
    top = set(np.argsort(-whole)[:20].tolist())
    assert len(top & set(np.argsort(-sample)[:20].tolist())) >= 11  # 14 of 20


def test_lexrank_threshold_graph() -> None:
    g = similarity_graph(term_matrix(DOC), "cosine")
    t = threshold_graph(g, 0.2)
    assert set(t.weight.tolist()) <= {1.0}
    assert t.edges == int((g.weight >= 0.2).sum())
    direct = similarity_graph(term_matrix(DOC), "cosine", threshold=0.2)
    np.testing.assert_array_equal(_dense(direct), _dense(t))


def test_vector_graph_dense_and_knn() -> None:
    rng = np.random.default_rng(1)
    c = rng.normal(size=(40, 8)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    sims = c @ c.T
    np.fill_diagonal(sims, 0)
    dense = _dense(vector_graph(c))
    np.testing.assert_allclose(dense, np.where(sims > 0, sims, 0), atol=1e-6)
    knn = _dense(vector_graph(c, neighbors=3, dense_limit=10))
    for i in range(40):
        top = np.argsort(-sims[i])[:3]
        for j in top:
            if sims[i, j] > 0:
                assert knn[i, j] == pytest.approx(sims[i, j], abs=1e-6)
    assert np.allclose(knn, knn.T)


# ---------------------------------------------------------------------- summaries
@pytest.mark.parametrize(
    "config",
    [SummaryConfig(similarity=s, sentences=1) for s in SIMILARITIES]
    + [SummaryConfig("lexrank", "cosine", sentences=1)],
    ids=[*SIMILARITIES, "lexrank"],
)
def test_the_central_sentence_is_chosen(config: SummaryConfig) -> None:
    summary = summarize(CENTRAL_DOC, config)
    assert [s.index for s in summary.selected] == [CENTRAL]
    assert summary.sentences[CENTRAL].rank == 1
    assert sum(s.score for s in summary.sentences) == pytest.approx(1.0)


def test_summary_is_in_document_order_and_deterministic() -> None:
    a = summarize(DOC, SummaryConfig(sentences=3))
    b = summarize(list(DOC), SummaryConfig(sentences=3))
    assert [s.score for s in a.sentences] == [s.score for s in b.sentences]
    chosen = [s.index for s in a.selected]
    assert chosen == sorted(chosen) and len(chosen) == 3
    ranks = sorted(s.rank for s in a.sentences)
    assert ranks == list(range(1, len(DOC) + 1))
    # the chosen ones are the best ranked
    assert {s.rank for s in a.selected} == {1, 2, 3}


def test_ratio_words_and_dedup() -> None:
    assert len(summarize(DOC, SummaryConfig(ratio=0.34)).selected) == 3  # round(0.34 * 9)
    assert len(summarize(DOC, SummaryConfig(ratio=0.01)).selected) == 1
    budget = summarize(DOC, SummaryConfig(words=12)).selected
    assert 1 <= len(budget) and sum(len(s.text.split()) for s in budget) <= max(
        12, len(budget[0].text.split())
    )
    twins = [
        "The battery lasts all day long.",
        "The battery lasts all day long!",
        "Battery life is long and the battery charges fast.",
        "The screen is bright.",
        "The screen is bright and the battery is fine.",
    ]
    plain = summarize(twins, SummaryConfig(sentences=2))
    dedup = summarize(twins, SummaryConfig(sentences=2, dedup=0.8))
    texts = [s.text for s in dedup.selected]
    assert not ({twins[0], twins[1]} <= set(texts))
    assert len(texts) == 2
    assert [s.score for s in plain.sentences] == [s.score for s in dedup.sentences]


def test_vectors_similarity() -> None:
    words = ["garden", "roses", "tulips", "bees", "spring", "stock", "markets", "friday"]
    v = np.zeros((len(words), 4), dtype=np.float32)
    v[:5, 0] = 1.0  # the garden words point one way
    v[5:, 1] = 1.0  # finance another
    v[:, 2] = np.linspace(0, 0.1, len(words))
    wv = WordVectors(words, v)
    doc = [
        "Roses and tulips.",
        "Garden bees in spring.",
        "Tulips, roses, bees and the garden in spring.",
        "Stock markets on Friday.",
    ]
    s = summarize(doc, SummaryConfig(similarity="vectors", sentences=1), vectors=wv)
    assert s.sentences[3].rank == 4
    with pytest.raises(UsageError, match="needs word vectors"):
        summarize(doc, SummaryConfig(similarity="vectors"))
    unknown = WordVectors(["zzz"], np.ones((1, 4), dtype=np.float32), source="v.txt")
    with pytest.raises(InputError, match="v.txt: none of the document's words"):
        summarize(doc, SummaryConfig(similarity="vectors"), vectors=unknown)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (SummaryConfig(sentences=0), "sentences must be at least 1, not 0"),
        (SummaryConfig(ratio=0.0), "ratio must be in"),
        (SummaryConfig(words=0), "words must be at least 1"),
        (SummaryConfig(sentences=2, ratio=0.5), "at most one of"),
        (SummaryConfig(method="pagerank"), "method must be one of"),
        (SummaryConfig(similarity="jaccard"), "similarity must be one of"),
        (SummaryConfig("lexrank", "bm25"), "thresholds a cosine"),
        (SummaryConfig(dedup=1.5), "dedup must be in"),
    ],
)
def test_bad_configs_name_the_parameter(config: SummaryConfig, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        summarize(DOC, config)


def test_empty_and_single_sentence_documents() -> None:
    with pytest.raises(InputError, match="doc.txt: empty document"):
        summarize([], name="doc.txt")
    with pytest.raises(InputError, match="single sentence"):
        summarize(["Only this."])


def test_sentences_without_shared_words_still_rank() -> None:
    s = summarize(["Alpha beta.", "Gamma delta.", "Epsilon zeta."], SummaryConfig(sentences=1))
    assert [x.index for x in s.selected] == [0]  # all equal: the first wins the tie
    assert s.edges == 0


def test_stemmer_folds_variants() -> None:
    assert len({stem(w) for w in ("use", "uses", "used", "using")}) == 1
    assert stem("running") == stem("run") and stem("stopped") == stem("stop")
    assert stem("batteries") == stem("battery")
    assert stem("is") == "is" and stem("glass") == "glass"


# ---------------------------------------------------------------------- keywords
def test_keywords_rank_and_merge_phrases() -> None:
    text = (
        "The time machine stood in the laboratory. The time traveller built the time "
        "machine in the laboratory. The time traveller smiled. The machine was made of brass."
    )
    found = keywords(text, KeywordConfig(top=3))
    assert [k.phrase for k in found] == ["time machine", "time traveller", "machine"]
    assert [k.count for k in found] == [2, 2, 1]
    assert found[0].score > found[1].score > found[2].score
    assert found == keywords(text, KeywordConfig(top=3))  # deterministic
    single = keywords(text, KeywordConfig(top=3, phrases=False))
    assert all(" " not in k.phrase for k in single)
    rare = keywords(text, KeywordConfig(top=3, min_count=3))  # the phrases occur twice
    assert rare and all(" " not in k.phrase for k in rare)


def test_keywords_errors() -> None:
    with pytest.raises(InputError, match="no candidate words"):
        keywords("the and of it is", name="x.txt")
    with pytest.raises(UsageError, match="top must be at least 1"):
        keywords("cats chase mice", KeywordConfig(top=0))


# ---------------------------------------------------------------------- ROUGE
def test_rouge_equals_rouge_score_best_reference() -> None:
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    from seqtool.metrics.rouge import rouge_scores

    hyps = ["the cat sat on the mat", "dogs run fast in parks"]
    refs = [["a cat was sitting on a mat", "the dog runs fast"], ["cats sit on mats", ""]]
    got = rouge_scores(hyps, refs, ("rouge1", "rouge2", "rougeL"))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    first = scorer.score_multi([refs[0][0], refs[1][0]], hyps[0])
    second = scorer.score_multi([refs[0][1]], hyps[1])
    for score, key in zip(got, ("rouge1", "rouge2", "rougeL")):
        assert score.f1 == pytest.approx((first[key].fmeasure + second[key].fmeasure) / 2)
        assert score.recall == pytest.approx((first[key].recall + second[key].recall) / 2)
        assert score.signature.startswith("nrefs:2|stem:yes|combine:best|tok:rouge-score|")
    mean = rouge_scores(hyps[:1], [refs[0][:1], refs[1][:1]], ("rouge1",), combine="mean")[0]
    a = scorer.score(refs[0][0], hyps[0])["rouge1"].fmeasure
    b = scorer.score(refs[1][0], hyps[0])["rouge1"].fmeasure
    assert mean.f1 == pytest.approx((a + b) / 2)


def test_rouge_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from seqtool.metrics.rouge import rouge_scores

    with pytest.raises(InputError, match="line-aligned"):
        rouge_scores(["a b"], [["a", "b"]])
    with pytest.raises(InputError, match="hypothesis 1 has no non-empty reference"):
        rouge_scores(["a b"], [[""]])
    with pytest.raises(UsageError, match="unknown ROUGE type"):
        rouge_scores(["a"], [["a"]], ("rouge9",))
    monkeypatch.setitem(sys.modules, "rouge_score", None)
    with pytest.raises(ResourceError, match="needs the rouge-score package"):
        rouge_scores(["a"], [["a"]])


def test_rank_layers_import_neither_cli_nor_torch() -> None:
    code = (
        "import sys, seqtool.rank.summarize, seqtool.rank.keywords, seqtool.metrics.rouge, "
        "seqtool.text.sentences; print(' '.join(sorted(sys.modules)))"
    )
    mods = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True).stdout.split())  # fmt: skip
    assert not {"typer", "rich", "seqtool.cli", "torch", "rouge_score"} & mods
