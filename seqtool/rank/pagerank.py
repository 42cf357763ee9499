"""Weighted PageRank by power iteration over an edge list (numpy only).

A :class:`Graph` is ``n`` nodes and three parallel arrays ``src``, ``dst``,
``weight``: an undirected graph holds each edge in both directions.  A walker at
node ``i`` follows an out-edge with probability proportional to its weight; with
probability ``1 - damping`` (and always, from a node without out-edges) it jumps
to a node chosen uniformly.  The scores are the walk's stationary distribution,
so they sum to 1; this is networkx's ``pagerank`` with uniform teleport and
dangling vectors, and, up to the factor ``n``, TextRank's
``WS(i) = (1 - d) + d * sum_j w_ji / sum_k w_jk * WS(j)``.

Example::

    >>> import numpy as np
    >>> g = Graph(3, np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]), np.ones(4))
    >>> [round(x, 4) for x in pagerank(g).scores.tolist()]
    [0.2568, 0.4865, 0.2568]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqtool.errors import UsageError

__all__ = ["Graph", "PageRank", "pagerank"]


@dataclass
class Graph:
    """``n`` nodes and weighted directed edges ``src[e] -> dst[e]`` (no self-loops needed)."""

    n: int
    src: np.ndarray  # (E,) int
    dst: np.ndarray  # (E,) int
    weight: np.ndarray  # (E,) float, > 0
    # every edge stored both ways with one weight, edges sorted by src: PageRank then
    # reads each node's incoming sum from its own out-edges (a faster path)
    symmetric: bool = False

    @property
    def edges(self) -> int:
        return int(len(self.src))


@dataclass
class PageRank:
    scores: np.ndarray  # (n,) float64, sums to 1
    iterations: int
    converged: bool


def pagerank(
    graph: Graph, damping: float = 0.85, tolerance: float = 1e-8, max_iterations: int = 1000
) -> PageRank:
    """Stationary scores of ``graph``: iterate until the L1 change is below ``tolerance``."""
    if not 0.0 <= damping < 1.0:
        raise UsageError(f"damping must be in [0, 1), not {damping}")
    if tolerance <= 0:
        raise UsageError(f"tolerance must be positive, not {tolerance}")
    if max_iterations < 1:
        raise UsageError(f"max_iterations must be at least 1, not {max_iterations}")
    n = graph.n
    if n == 0:
        return PageRank(np.zeros(0), 0, True)
    src = np.asarray(graph.src, dtype=np.int64)
    dst = np.asarray(graph.dst, dtype=np.int64)
    weight = np.asarray(graph.weight, dtype=np.float64)
    if len(weight) and (not np.all(np.isfinite(weight)) or weight.min() < 0):
        raise UsageError("edge weights must be finite and non-negative")
    out = np.bincount(src, weights=weight, minlength=n)
    dangling = out <= 0
    if graph.symmetric:
        # in = sum over v's own edges (v, u) of w(v, u) x[u] / out[u]: one gather and
        # one segmented sum a round, in the order the edges are stored
        if len(src) and np.any(src[1:] < src[:-1]):
            raise UsageError("a symmetric graph needs its edges sorted by src")
        has = np.flatnonzero(~dangling)
        starts = np.searchsorted(src, has)
        inv_out = np.where(dangling, 0.0, 1.0 / np.where(dangling, 1.0, out))

        def spread_of(x: np.ndarray) -> np.ndarray:
            spread = np.zeros(n)
            if len(has):
                spread[has] = np.add.reduceat(weight * (x * inv_out)[dst], starts)
            return spread
    else:
        # transition probability of each edge; edges of a dangling node carry no weight
        prob = weight / np.where(out > 0, out, 1.0)[src]

        def spread_of(x: np.ndarray) -> np.ndarray:
            return np.bincount(dst, weights=prob * x[src], minlength=n)

    x = np.full(n, 1.0 / n)
    for it in range(1, max_iterations + 1):
        spread = spread_of(x)
        leak = x[dangling].sum()
        new = damping * (spread + leak / n) + (1.0 - damping) / n
        new /= new.sum()  # against rounding drift over many iterations
        change = float(np.abs(new - x).sum())
        x = new
        if change < tolerance:
            return PageRank(x, it, True)
    return PageRank(x, max_iterations, False)
