"""Sentence similarity graphs, built sparsely from an inverted index (numpy only).

Two sentences are joined only if they share a term, so the graph comes from the
postings lists: every sentence pairs with the other sentences of each of its
terms.  The work is ``sum_t df(t)^2`` pairs (``df``: sentences holding term
``t``), not ``n^2``; the pairs of a block of rows are added up with one
``bincount`` into a dense ``rows x n`` strip whose positive cells become edges,
so memory stays bounded by the strip size plus the edges kept.  When the index
would visit more than ``max_pairs`` pairs (a book: the pairs grow as ``n^2``,
with a density of a few per cent), each sentence keeps only its ``neighbors``
strongest edges (a nearest-neighbour graph, made undirected), which bounds the
graph at ``2 n neighbors`` edges.

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
    tm: TermMatrix, similarity: str, neighbors: int = 100, max_pairs: int = 20_000_000
) -> Graph:
    """The sentence graph of ``tm`` under a term-based ``similarity`` (see the module note)."""
    if neighbors < 1:
        raise UsageError(f"neighbors must be at least 1, not {neighbors}")
    if similarity not in SIMILARITIES or similarity == "vectors":
        raise UsageError(f"similarity must be one of overlap, bm25, cosine, not {similarity!r}")
    keep = neighbors if pair_count(tm) > max_pairs else None
    if similarity == "overlap":
        ones = np.ones_like(tm.counts)
        index, (w,) = _within_budget(tm, max_pairs, ones)
        logs = np.log(np.maximum(tm.lengths, 1.0))
        floor = np.log(2.0)

        def overlap() -> Iterator[tuple[np.ndarray, ...]]:
            for i, j, common in _strips(index, w, w):
                x = common / np.maximum(logs[i] + logs[j], floor)
                yield _strongest(i, j, x, keep)

        parts: Iterable[tuple[np.ndarray, ...]] = overlap()
    elif similarity == "cosine":
        index, (x,) = _within_budget(tm, max_pairs, _tfidf(tm))
        parts = (_strongest(*p, keep) for p in _strips(index, x, x))
    else:
        # BM25 of each sentence as a query (its counts) against the other
        index, (d, c) = _within_budget(tm, max_pairs, _bm25(tm), tm.counts)
        parts = (_strongest(*p, keep) for p in _strips(index, d, c))
    return _collect(parts, tm.n, keep is not None)


def _within_budget(
    tm: TermMatrix, max_pairs: int, *weights: np.ndarray
) -> tuple[TermMatrix, tuple[np.ndarray, ...]]:
    """The index without its most frequent terms, as few as bring the pairs under budget.

    A term in ``df`` sentences costs ``df^2`` pairs; in a book the commonest
    content words (*time*, *little*, *came*) join nearly every sentence to every
    other and carry the least information about which are central.  Weights are
    computed on the whole index first, so idf and lengths are unchanged.
    """
    df = tm.document_frequency()
    if float((df * df).sum()) <= max_pairs:
        return tm, weights
    order = np.argsort(-df, kind="stable")
    rest = np.cumsum((df * df)[order][::-1])[::-1]  # pairs of the terms from here on
    drop = order[: int(np.searchsorted(-rest, -max_pairs))]  # first k with rest <= budget
    keep = ~np.isin(tm.terms, drop)
    rows = tm.rows[keep]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=tm.n))))
    sub = TermMatrix(indptr, tm.terms[keep], tm.counts[keep], tm.vocabulary, tm.lengths)
    return sub, tuple(w[keep] for w in weights)


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
