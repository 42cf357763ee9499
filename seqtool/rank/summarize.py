"""Extractive summaries: rank sentences by centrality and keep the best, in document order.

TextRank (Mihalcea & Tarau 2004): sentences are nodes, a similarity is the edge
weight (:mod:`seqtool.rank.graph`), weighted PageRank gives each sentence its
score.  LexRank (Erkan & Radev 2004) keeps only the cosine edges above a
threshold, unweighted.  The summary is the top sentences by score (ties: the
earlier sentence), given back in the order of the document; with ``dedup`` a
sentence too similar to one already chosen is passed over.

Example::

    >>> doc = ["The cat sat on the mat.", "A dog chased the cat off the mat.",
    ...        "The cat and the dog are friends now.", "Stocks fell sharply today."]
    >>> [s.index for s in summarize(doc, SummaryConfig("textrank", "cosine", sentences=1)).selected]
    [1]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from seqtool.errors import InputError, UsageError
from seqtool.rank.graph import (
    SIMILARITIES,
    sentence_centroids,
    similarity_graph,
    threshold_graph,
    vector_graph,
)
from seqtool.rank.pagerank import Graph, pagerank
from seqtool.rank.terms import TermMatrix, term_matrix

__all__ = ["METHODS", "RankedSentence", "Summary", "SummaryConfig", "summarize"]

METHODS = ("textrank", "lexrank")


@dataclass(frozen=True)
class SummaryConfig:
    """How to rank and how much to keep (at most one of sentences, ratio, words)."""

    method: str = "textrank"  # textrank | lexrank
    similarity: str = "overlap"  # overlap | bm25 | cosine | vectors
    sentences: int | None = None  # keep this many (default 3 when nothing is given)
    ratio: float | None = None  # keep this fraction of the sentences (at least one)
    words: int | None = None  # keep sentences while their words fit this budget
    damping: float = 0.85
    tolerance: float = 1e-8  # L1 change of the scores that ends the power iteration
    threshold: float = 0.1  # lexrank: cosine an edge needs
    dedup: float | None = None  # skip a sentence this similar (cosine) to a chosen one
    stemming: bool = True
    max_edges: int = 12_000_000  # term-based graphs: past this, a sample of the edges
    neighbors: int = 100  # vectors: neighbours each sentence keeps past dense_limit
    dense_limit: int = 2000  # vectors: sentences whose all-pairs graph is kept whole

    def validate(self) -> None:
        if self.method not in METHODS:
            raise UsageError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.similarity not in SIMILARITIES:
            raise UsageError(
                f"similarity must be one of {', '.join(SIMILARITIES)}, not {self.similarity!r}"
            )
        if self.method == "lexrank" and self.similarity not in ("cosine", "vectors"):
            raise UsageError(
                "method 'lexrank' thresholds a cosine: use similarity cosine or vectors"
            )
        given = [x for x in (self.sentences, self.ratio, self.words) if x is not None]
        if len(given) > 1:
            raise UsageError("give at most one of sentences, ratio and words")
        if self.sentences is not None and self.sentences < 1:
            raise UsageError(f"sentences must be at least 1, not {self.sentences}")
        if self.ratio is not None and not 0.0 < self.ratio <= 1.0:
            raise UsageError(f"ratio must be in (0, 1], not {self.ratio}")
        if self.words is not None and self.words < 1:
            raise UsageError(f"words must be at least 1, not {self.words}")
        if not 0.0 <= self.damping < 1.0:
            raise UsageError(f"damping must be in [0, 1), not {self.damping}")
        if not 0.0 <= self.threshold < 1.0:
            raise UsageError(f"threshold must be in [0, 1), not {self.threshold}")
        if self.dedup is not None and not 0.0 < self.dedup <= 1.0:
            raise UsageError(f"dedup must be in (0, 1], not {self.dedup}")


@dataclass
class RankedSentence:
    index: int  # 0-based position in the document
    text: str
    score: float  # PageRank score; the scores of a document sum to 1
    rank: int  # 1 = most central
    selected: bool


@dataclass
class Summary:
    sentences: list[RankedSentence]  # every sentence, in document order
    iterations: int
    converged: bool
    edges: int  # directed edges of the sentence graph
    config: SummaryConfig = field(default_factory=SummaryConfig)

    @property
    def selected(self) -> list[RankedSentence]:
        """The summary: the chosen sentences in document order."""
        return [s for s in self.sentences if s.selected]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.selected)


def build_graph(
    sentences: Sequence[str], config: SummaryConfig, vectors: object | None = None
) -> tuple[Graph, TermMatrix]:
    """The sentence graph the config asks for, and the term matrix it came from."""
    tm = term_matrix(sentences, stemming=config.stemming)
    lexrank = config.method == "lexrank"
    if config.similarity == "vectors":
        if vectors is None:
            raise UsageError("similarity 'vectors' needs word vectors (vectors=...)")
        centroids = sentence_centroids(list(sentences), vectors)
        graph = vector_graph(centroids, config.neighbors, config.dense_limit)
        if lexrank:
            graph = threshold_graph(graph, config.threshold)
    else:
        similarity = "cosine" if lexrank else config.similarity
        threshold = config.threshold if lexrank else None
        graph = similarity_graph(tm, similarity, config.max_edges, threshold)
    return graph, tm


def summarize(
    sentences: Sequence[str],
    config: SummaryConfig | None = None,
    vectors: object | None = None,
    name: str = "document",
) -> Summary:
    """Rank ``sentences`` (one document) and choose the summary; see the module note.

    ``vectors`` (a :class:`~seqtool.wordvectors.WordVectors`) is needed for the
    ``vectors`` similarity only.  ``name`` is used in error messages.
    """
    config = config or SummaryConfig()
    config.validate()
    n = len(sentences)
    if n == 0:
        raise InputError(f"{name}: empty document (no sentences)")
    if n == 1:
        raise InputError(
            f"{name}: the document is a single sentence; there is nothing to rank",
            hint="check how the text was split (sentences per line? --sentences-per-line)",
        )
    graph, tm = build_graph(sentences, config, vectors)
    pr = pagerank(graph, config.damping, config.tolerance)
    scores = pr.scores
    order = np.lexsort((np.arange(n), -scores))  # by score, ties by position
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(1, n + 1)
    chosen = _choose(order, sentences, tm, config)
    ranked = [
        RankedSentence(i, sentences[i], float(scores[i]), int(ranks[i]), i in chosen)
        for i in range(n)
    ]
    return Summary(ranked, pr.iterations, pr.converged, graph.edges, config)


def _word_count(text: str) -> int:
    return len(text.split())


def _choose(
    order: np.ndarray, sentences: Sequence[str], tm: TermMatrix, config: SummaryConfig
) -> set[int]:
    n = len(sentences)
    if config.ratio is not None:
        want = max(1, math.floor(config.ratio * n + 0.5))
    elif config.words is not None:
        want = n
    else:
        want = config.sentences or 3
    chosen: list[int] = []
    used_words = 0
    for i in order.tolist():
        if len(chosen) >= want:
            break
        if config.words is not None:
            w = _word_count(sentences[i])
            if chosen and used_words + w > config.words:
                continue  # a shorter sentence further down may still fit
            used_words += w
        if config.dedup is not None and any(_cosine(tm, i, j) >= config.dedup for j in chosen):
            if config.words is not None:
                used_words -= _word_count(sentences[i])
            continue
        chosen.append(i)
    return set(chosen)


def _cosine(tm: TermMatrix, i: int, j: int) -> float:
    """Cosine of the term counts of sentences ``i`` and ``j`` (for ``dedup``)."""
    a0, a1, b0, b1 = tm.indptr[i], tm.indptr[i + 1], tm.indptr[j], tm.indptr[j + 1]
    ta, ca = tm.terms[a0:a1], tm.counts[a0:a1]
    tb, cb = tm.terms[b0:b1], tm.counts[b0:b1]
    if ta.size == 0 or tb.size == 0:
        return 0.0
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    dot = float(ca[ia] @ cb[ib])
    return dot / math.sqrt(float(ca @ ca) * float(cb @ cb))
