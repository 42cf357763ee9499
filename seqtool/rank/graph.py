"""Sentence similarity graphs, built sparsely from an inverted index (numpy only).

Two sentences are joined only if they share a term, so the graph comes from the
postings lists: every sentence pairs with the other sentences of each of its
terms.  The work is ``sum_t df(t)^2`` pairs (``df``: sentences holding term
``t``), not ``n^2``; the pairs of a block of rows are added up with one
``bincount`` into a dense ``rows x n`` strip (or, when they are few, by sorting)
whose positive cells become edges, so memory stays bounded by the strip size
plus the edges kept.  The pairs still grow as ``n^2`` (a book's sentences share
a word with a few per cent of the others), so past ``max_edges`` pairs the graph
keeps a uniform, hashed sample of the edges, reweighted to keep every sentence's
expected total weight: memory stays bounded, the work stays ``sum_t df(t)^2``.

Similarities (``w(i, j)``, both directions stored):

* ``overlap``: Mihalcea & Tarau's normalised word overlap,
  ``|S_i & S_j| / (log |S_i| + log |S_j|)`` over kept (stemmed, non-stop) words;
* ``bm25``: the BM25 score of one sentence as a query against the other
  (k1 = 1.5, b = 0.75, negative idf floored at 0.25 x the mean idf, as gensim's
  TextRank used it), averaged over the two directions;
* ``cosine``: cosine of tf-idf vectors (idf = ``ln((1 + n) / (1 + df)) + 1``);
* ``vectors``: cosine of sentence centroids of word vectors, negative values
  dropped (the products are dense: past ``dense_limit`` sentences each keeps
  its ``neighbors`` nearest).

LexRank (Erkan & Radev 2004) is the ``cosine`` graph with edges under a
threshold removed and the rest set to 1: :func:`threshold_graph`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from seqtool.errors import InputError, UsageError
from seqtool.rank.pagerank import Graph
from seqtool.rank.terms import TermMatrix, words

__all__ = [
    "SIMILARITIES",
    "pair_count",
    "sentence_centroids",
    "similarity_graph",
    "threshold_graph",
    "vector_graph",
]

SIMILARITIES = ("overlap", "bm25", "cosine", "vectors")
BM25_K1, BM25_B, BM25_EPSILON = 1.5, 0.75, 0.25
STRIP_CELLS = 1 << 22  # cells of one dense strip of pair sums (32 MiB of float64)
PAIRS_PER_STRIP = 1 << 22  # postings pairs handled in one go
SPARSE_RATIO = 16  # a strip with fewer pairs than cells / 16 is summed by sorting


def _strips(
    tm: TermMatrix, a: np.ndarray, b: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(i, j, S_ij)`` for the pairs ``i != j`` that share a term, a block of rows at a time.

    ``S_ij = sum_t (a_it b_jt + b_it a_jt) / 2`` where ``a`` and ``b`` weigh the
    stored entries of ``tm`` (CSR order).  A block's sums are added up in a dense
    ``rows x n`` strip; ``i`` comes back grouped by row.
    """
    n = tm.n
    if tm.terms.size == 0:
        return
    rows = tm.rows
    order = np.argsort(tm.terms, kind="stable")  # entries by term: the postings lists
    post_rows = rows[order]
    post_a, post_b = a[order], b[order]
    df = np.bincount(tm.terms, minlength=len(tm.vocabulary)).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(df)[:-1]))  # where each postings list starts
    deg = df[tm.terms]  # pairs each entry makes
    row_pairs = np.bincount(rows, weights=deg, minlength=n).astype(np.int64)
    cum = np.concatenate(([0], np.cumsum(row_pairs)))
    max_rows = max(1, STRIP_CELLS // n)
    symmetric = a is b
    lo = 0
    while lo < n:
        # as many rows as fit both budgets (at least one)
        hi = int(np.searchsorted(cum, cum[lo] + PAIRS_PER_STRIP, side="right")) - 1
        hi = min(max(hi, lo + 1), lo + max_rows, n)
        width = hi - lo
        e0, e1 = int(tm.indptr[lo]), int(tm.indptr[hi])
        ent_deg = deg[e0:e1]
        total = int(ent_deg.sum())
        entry = np.repeat(np.arange(e0, e1), ent_deg)
        # position of each pair's partner in the postings arrays
        offset = np.arange(total) - np.repeat(np.cumsum(ent_deg) - ent_deg, ent_deg)
        partner = np.repeat(first[tm.terms[e0:e1]], ent_deg) + offset
        cell = (rows[entry] - lo) * n + post_rows[partner]
        if symmetric:
            w = a[entry] * post_a[partner]
        else:
            w = 0.5 * (a[entry] * post_b[partner] + b[entry] * post_a[partner])
        if total * SPARSE_RATIO < width * n:  # few pairs for the strip: sort them
            nz, inverse = np.unique(cell, return_inverse=True)
            sums = np.bincount(inverse, weights=w)
            self_loop = nz // n + lo == nz % n
            nz, sums = nz[~self_loop], sums[~self_loop]
        else:  # add them up in place
            strip = np.bincount(cell, weights=w, minlength=width * n)
            strip[np.arange(width) * (n + 1) + lo] = 0.0  # no self-loops
            nz = np.flatnonzero(strip)
            sums = strip[nz]
        yield lo + nz // n, nz % n, sums  # row-major: grouped by row
        lo = hi


def _strongest(
    i: np.ndarray, j: np.ndarray, x: np.ndarray, keep: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positive edges; with ``keep``, each row's ``keep`` largest (``i`` grouped by row)."""
    pos = x > 0
    i, j, x = i[pos], j[pos], x[pos]
    if keep is None or len(x) == 0:
        return i, j, x
    starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
    counts = np.diff(np.r_[starts, len(i)])
    if counts.max() <= keep:
        return i, j, x
    # order each row by weight, largest first: one argsort of (row, -weight) keys
    row = np.repeat(np.arange(len(starts)), counts)
    span = float(x.max()) * 2.0 + 1.0
    order = np.argsort(row * span - x, kind="stable")
    rank = np.arange(len(x)) - np.repeat(starts, counts)
    chosen = order[rank < keep]
    return i[chosen], j[chosen], x[chosen]


def _collect(parts: Iterable[tuple[np.ndarray, ...]], n: int, pruned: bool) -> Graph:
    src, dst, w = [], [], []
    for i, j, x in parts:
        src.append(i.astype(np.int32))
        dst.append(j.astype(np.int32))
        w.append(x.astype(np.float32))
    if not src:
        return Graph(n, np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32))
    g = Graph(n, np.concatenate(src), np.concatenate(dst), np.concatenate(w))
    return _union(g) if pruned else g


def _union(g: Graph) -> Graph:
    """Make a nearest-neighbour graph undirected: keep an edge found from either end."""
    src = np.concatenate([g.src, g.dst])
    dst = np.concatenate([g.dst, g.src])
    w = np.concatenate([g.weight, g.weight])
    _, first = np.unique(src.astype(np.int64) * g.n + dst, return_index=True)
    return Graph(g.n, src[first], dst[first], w[first])


def pair_count(tm: TermMatrix) -> int:
    """Postings pairs the inverted index visits: ``sum_t df(t)^2``."""
    df = tm.document_frequency()
    return int((df * df).sum())


def _tfidf(tm: TermMatrix) -> np.ndarray:
    """L2-normalised tf-idf weight of every stored entry."""
    idf = np.log((1.0 + tm.n) / (1.0 + tm.document_frequency())) + 1.0
    x = tm.counts * idf[tm.terms]
    norms = np.sqrt(np.bincount(tm.rows, weights=x * x, minlength=tm.n))
    return x / np.where(norms > 0, norms, 1.0)[tm.rows]


def _bm25(tm: TermMatrix) -> np.ndarray:
    """BM25 document-side weight of every stored entry (the query side is the count)."""
    df = tm.document_frequency()
    idf = np.log((tm.n - df + 0.5) / (df + 0.5))
    seen = df > 0
    mean_idf = float(idf[seen].mean()) if seen.any() else 0.0
    idf = np.where(idf < 0, BM25_EPSILON * mean_idf, idf)
    avg_len = float(tm.lengths.mean()) or 1.0
    f = tm.counts
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * tm.lengths[tm.rows] / avg_len)
    return idf[tm.terms] * f * (BM25_K1 + 1.0) / (f + norm)


def similarity_graph(
    tm: TermMatrix, similarity: str, max_edges: int = 12_000_000, threshold: float | None = None
) -> Graph:
    """The sentence graph of ``tm`` under a term-based ``similarity`` (see the module note).

    With ``threshold`` (LexRank), edges under it are dropped and the rest weigh 1.

    When the index pairs exceed ``max_edges``, each pair of sentences is kept with
    probability ``p = max_edges / pairs`` (decided by a hash of the pair, so the
    same both ways and the same every run) and its weight divided by ``p``.
    """
    if similarity not in SIMILARITIES or similarity == "vectors":
        raise UsageError(f"similarity must be one of overlap, bm25, cosine, not {similarity!r}")
    if max_edges < 1:
        raise UsageError(f"max_edges must be at least 1, not {max_edges}")
    keep = min(1.0, max_edges / max(pair_count(tm), 1))
    if similarity == "overlap":
        ones = np.ones_like(tm.counts)
        logs = np.log(np.maximum(tm.lengths, 1.0))
        floor = np.log(2.0)

        def overlap() -> Iterator[tuple[np.ndarray, ...]]:
            for i, j, common in _strips(tm, ones, ones):
                x = common / np.maximum(logs[i] + logs[j], floor)
                yield _sample(i, j, x, tm.n, keep, threshold)

        parts: Iterable[tuple[np.ndarray, ...]] = overlap()
    elif similarity == "cosine":
        x = _tfidf(tm)
        parts = (_sample(*p, tm.n, keep, threshold) for p in _strips(tm, x, x))
    else:  # BM25 of each sentence as a query (its counts) against the other
        strips = _strips(tm, _bm25(tm), tm.counts)
        parts = (_sample(*p, tm.n, keep, threshold) for p in strips)
    graph = _collect(parts, tm.n, False)
    graph.symmetric = True  # both ways, one weight, in row order
    return graph


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: a multiplicative hash


def _sample(
    i: np.ndarray, j: np.ndarray, x: np.ndarray, n: int, keep: float, threshold: float | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The positive edges; with ``keep < 1`` a hashed sample of the pairs, reweighted by 1/keep.

    Sampling every edge with the same probability keeps each sentence's expected
    total weight, which is what PageRank's scores mostly follow; dropping a
    sentence's weak edges instead (a nearest-neighbour graph) or the commonest
    terms changed the top sentences far more in our measurements.
    """
    pos = x > 0 if threshold is None else x >= threshold
    i, j, x = i[pos], j[pos], x[pos]
    if threshold is not None:
        x = np.ones_like(x)
    if keep >= 1.0:
        return i, j, x
    lo = np.minimum(i, j).astype(np.uint64)
    hi = np.maximum(i, j).astype(np.uint64)
    u = ((lo * np.uint64(n) + hi) * _GOLDEN) >> np.uint64(40)  # 24 well-mixed bits
    chosen = u < np.uint64(keep * (1 << 24))
    return i[chosen], j[chosen], x[chosen] / keep


def threshold_graph(g: Graph, threshold: float) -> Graph:
    """LexRank's graph: the edges of weight ``>= threshold``, each of weight 1."""
    if not 0.0 <= threshold < 1.0:
        raise UsageError(f"threshold must be in [0, 1), not {threshold}")
    keep = g.weight >= threshold
    return Graph(g.n, g.src[keep], g.dst[keep], np.ones(int(keep.sum()), np.float32))


def sentence_centroids(sentences: list[str], vectors: object) -> np.ndarray:
    """Mean unit word vector of each sentence (lower-cased lookup; unknown words skipped)."""
    from seqtool.wordvectors import WordVectors

    if not isinstance(vectors, WordVectors):
        raise UsageError("vectors must be WordVectors")
    index = vectors.index
    unit = vectors.unit
    out = np.zeros((len(sentences), vectors.dim), dtype=np.float32)
    found = 0
    for s, sentence in enumerate(sentences):
        ids = [
            i for w in words(sentence) if (i := index.get(w, index.get(w.capitalize(), -1))) >= 0
        ]
        if ids:
            out[s] = unit[ids].mean(0)
            found += 1
    if found == 0:
        raise InputError(
            f"{vectors.source}: none of the document's words has a vector; "
            "are these vectors trained on text of the same language and case?"
        )
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms > 0, norms, 1.0)


def vector_graph(
    centroids: np.ndarray, neighbors: int = 100, dense_limit: int = 2000, block: int = 1024
) -> Graph:
    """Cosine graph of unit ``centroids`` (positive similarities only), k-NN past ``dense_limit``."""
    if neighbors < 1:
        raise UsageError(f"neighbors must be at least 1, not {neighbors}")
    n = len(centroids)
    keep = None if n <= dense_limit or neighbors >= n - 1 else neighbors

    def strips() -> Iterator[tuple[np.ndarray, ...]]:
        for lo in range(0, n, block):
            sims = centroids[lo : lo + block] @ centroids.T  # (b, n)
            width = len(sims)
            sims[np.arange(width), np.arange(lo, lo + width)] = 0.0
            if keep is None:
                i, j = np.nonzero(sims > 0)
                yield i + lo, j, sims[i, j]
            else:  # dense rows: partition, don't sort
                j = np.argpartition(sims, n - keep, axis=1)[:, n - keep :]
                x = np.take_along_axis(sims, j, axis=1).ravel()
                yield _strongest(np.repeat(np.arange(lo, lo + width), keep), j.ravel(), x, None)

    return _collect(strips(), n, keep is not None)
