"""Training windows cut from many series, reproducibly, in numpy.

A window is ``context`` consecutive values and the ``outputs`` values after
them.  Each batch picks its series uniformly (so a long series does not drown
the short ones, as in N-BEATS) and, in each, a cut point uniformly among the
last ``history`` possible ones (all of them when ``history`` is None).  All the
randomness of an epoch comes from ``(seed, epoch, stream)``, so ``batches(epoch, start)``
resumes an interrupted epoch exactly.

Example::

    >>> import numpy as np
    >>> w = WindowSampler([np.arange(10.0), np.arange(20.0)], context=3, outputs=2,
    ...                   batch_size=4, batches_per_epoch=5, seed=0)
    >>> x, y = next(w.batches(0))
    >>> x.shape, y.shape, bool(((y[:, 0] - x[:, -1]) == 1).all())
    ((4, 3), (4, 2), True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from seqtool.errors import UsageError, check_at_least


class WindowSampler:
    def __init__(
        self,
        series: Sequence[np.ndarray],
        context: int,
        outputs: int,
        batch_size: int,
        batches_per_epoch: int,
        seed: int = 0,
        history: int | None = None,
        stream: int = 0,
    ) -> None:
        check_at_least("batch_size", batch_size)
        check_at_least("batches_per_epoch", batches_per_epoch)
        check_at_least("history", history)
        self.context, self.outputs = context, outputs
        self.batch_size, self.per_epoch, self.seed = batch_size, batches_per_epoch, seed
        self.stream = stream  # e.g. the rank: each stream draws its own windows
        lengths = np.array([len(s) for s in series], dtype=np.int64)
        if (lengths < context + outputs).any():
            i = int(np.argmax(lengths < context + outputs))
            raise UsageError(
                f"series {i + 1} has {lengths[i]} values; a window needs context + outputs = "
                f"{context + outputs}"
            )
        self.flat = np.concatenate([np.asarray(s, dtype=np.float32) for s in series])
        self.starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # cut point t (the first target) ranges over [lo, hi] within each series
        self.hi = lengths - outputs
        lo = np.full_like(lengths, context)
        if history is not None:
            lo = np.maximum(lo, self.hi - history + 1)
        self.lo = lo
        self.span = np.arange(-context, outputs)

    def __len__(self) -> int:
        return self.per_epoch

    def batches(self, epoch: int, start: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        rng = np.random.default_rng([self.seed, epoch, self.stream])
        n = len(self.starts)
        which = rng.integers(0, n, size=(self.per_epoch, self.batch_size))
        frac = rng.random(size=(self.per_epoch, self.batch_size))
        for b in range(start, self.per_epoch):
            s = which[b]
            t = self.lo[s] + (frac[b] * (self.hi[s] - self.lo[s] + 1)).astype(np.int64)
            idx = (self.starts[s] + t)[:, None] + self.span  # (B, context + outputs)
            w = self.flat[idx]
            yield w[:, : self.context], w[:, self.context :]
