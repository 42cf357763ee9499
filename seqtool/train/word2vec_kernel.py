"""word2vec's CPU engine: one compiled loop over the centre words of a block (numba).

:func:`train_windows` trains skip-gram with negative sampling on a block of
subsampled words whose windows and noise words were drawn beforehand
(:func:`seqtool.train.word2vec.draw_windows`), updating the weight tables in place.
It is word2vec.c's inner loop: for every centre word, each context word's input
vector in turn predicts the centre word's output vector (label 1) and the noise
words' (label 0): all of its scores first, then the output rows' updates, and its
input row once with the summed gradient.  As in pWord2Vec (Ji et
al. 2016) the noise words are drawn once per centre word and shared by its context
words, so the up to ``1 + negative`` output rows of a window stay in the L1 cache
while its context rows stream past.  The sigmoid is word2vec.c's table (1,000 steps
on [-6, 6], saturated outside).

numba compiles the loop on first use (4-6 s on a busy 2-core Zen 3) and caches the
machine code (``cache=True``): next to this file in ``__pycache__``, or, when the
package folder is read-only, in numba's per-user cache folder (``~/.cache/numba``, or
``NUMBA_CACHE_DIR``); loading it back takes 1-2 s, mostly numba's own start-up.
The function releases the GIL (``nogil=True``), so Python threads running it on
different parts of the corpus train at once on the shared tables without locks
(Hogwild), as word2vec.c's threads and gensim's workers do.  With one thread the
result is a pure function of the inputs: same inputs, same bits.

Example::

    >>> import numpy as np
    >>> inp = np.full((3, 4), 0.1, dtype=np.float32)  # two words and the padding row
    >>> out = np.zeros((3, 4), dtype=np.float32)
    >>> words = np.array([0, 1], dtype=np.int32)  # one line: "w0 w1"
    >>> lines = np.zeros(2, dtype=np.int32)
    >>> reach = np.array([1, 0], dtype=np.int8)  # only w0 is trained as a centre word
    >>> noise = np.array([[1], [1]], dtype=np.int32)  # with w1 as its noise word
    >>> train_windows(inp, out, words, lines, reach, noise, 0.5, 0.5, sigmoid_table())
    >>> [round(float(x), 4) for x in out[:2, 0]]  # σ(0) = 0.5: ±(0.5 x lr 0.5 x input 0.1)
    [0.025, -0.025]
"""

from __future__ import annotations

import numpy as np
from numba import njit

MAX_EXP = 6.0  # scores beyond +-MAX_EXP saturate the sigmoid (word2vec.c)
TABLE_SIZE = 1000  # steps of the sigmoid table on [-MAX_EXP, MAX_EXP]


def sigmoid_table(size: int = TABLE_SIZE, max_exp: float = MAX_EXP) -> np.ndarray:
    """word2vec.c's table: ``σ(x)`` at ``size`` evenly spaced points of ``[-max_exp, max_exp)``."""
    x = (np.arange(size, dtype=np.float64) / size * 2 - 1) * max_exp
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


@njit(nogil=True, fastmath=True, cache=True)
def train_windows(inp, out, words, lines, reach, noise, lr_from, lr_to, table):  # type: ignore[no-untyped-def]
    """Train on every centre word of a block, in order; updates ``inp`` and ``out``.

    ``inp``, ``out`` (rows, dim) float32: the input and output vectors (C order);
    ``words`` (n,): the subsampled block; ``lines`` (n,): each word's line (contexts
    never cross lines); ``reach`` (n,): each centre word's shrunk window, 1..window;
    ``noise`` (n, negative): its noise words (one equal to the centre is skipped);
    ``lr_from``/``lr_to``: the learning rate at the first centre word and after the
    last (it moves linearly in between); ``table``: :func:`sigmoid_table`.
    """
    n = words.shape[0]
    dim = inp.shape[1]
    k = noise.shape[1]
    size = table.shape[0]
    scale = size / (2.0 * MAX_EXP)
    grad = np.empty(dim, dtype=np.float32)
    targets = np.empty(k + 1, dtype=np.int64)
    g = np.empty(k + 1, dtype=np.float32)
    for i in range(n):
        lr = np.float32(lr_from + (lr_to - lr_from) * (i / n))
        centre = words[i]
        line = lines[i]
        r = np.int64(reach[i])
        # the window's output rows: the centre word, then its noise words
        targets[0] = centre
        m = 1
        for t in range(k):
            w = noise[i, t]
            if w != centre:
                targets[m] = w
                m += 1
        for j in range(max(i - r, 0), min(i + r, n - 1) + 1):
            if j == i or lines[j] != line:
                continue
            v = inp[words[j]]
            # all scores first (independent dot products), then the updates
            for t in range(m):
                u = out[targets[t]]
                f = np.float32(0.0)
                for d in range(dim):
                    f += v[d] * u[d]
                g[t] = f
            for t in range(m):
                f = g[t]
                label = np.float32(1.0) if t == 0 else np.float32(0.0)
                if f >= MAX_EXP:
                    p = np.float32(1.0)
                elif f <= -MAX_EXP:
                    p = np.float32(0.0)
                else:
                    p = table[min(int((f + MAX_EXP) * scale), size - 1)]
                g[t] = (label - p) * lr
            for d in range(dim):
                grad[d] = 0.0
            for t in range(m):
                u = out[targets[t]]
                gt = g[t]
                for d in range(dim):
                    grad[d] += gt * u[d]
                    u[d] += gt * v[d]
            for d in range(dim):
                v[d] += grad[d]
