"""Batch sources for language models: the token stream cut into training batches.

Both sources follow the :class:`~seqtool.train.trainer.BatchSource` protocol:
``len(source)`` batches per epoch on this rank, ``source.batches(epoch, start)``
yields them from index ``start`` on, and every random choice comes from a
generator seeded with ``(seed, epoch)``, so ``(epoch, index)`` is the whole data
position a checkpoint needs.  Under data parallelism each of ``world`` ranks takes
its own disjoint share, and all ranks get the same number of batches.

* :class:`StreamBatches` (RNNs): d2l's *sequential partitioning*.  Each epoch
  starts at a random offset below ``seq_len``; the stream is cut into
  ``batch_size`` long rows read side by side in consecutive windows, so row ``b``
  of window ``i + 1`` continues row ``b`` of window ``i`` and the hidden state can
  be carried over (and detached): truncated backpropagation through time.
* :class:`WindowBatches` (Transformers): independent windows of ``seq_len + 1``
  tokens at a random offset each epoch, in a shuffled order.

A batch is ``{"x": (B, T) ids, "y": (B, T) next ids, "carry": bool}``; ``carry``
says whether the previous batch's state continues into this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from seqtool.errors import InputError, UsageError


def _generator(seed: int, epoch: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + epoch)
    return g


def _check(ids: Tensor, batch_size: int, seq_len: int) -> None:
    if seq_len < 1:
        raise UsageError(f"seq_len must be at least 1, not {seq_len}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, not {batch_size}")
    if ids.dim() != 1:
        raise ValueError("expected a 1-d stream of token ids")
    if len(ids) < 2 * seq_len + 1:
        raise InputError(
            f"the training text has {len(ids)} tokens, too few for one window of "
            f"seq_len {seq_len} (at least {2 * seq_len + 1} are needed)",
            hint="give a longer corpus or a smaller seq_len",
        )


class StreamBatches:
    """Consecutive windows over ``batch_size`` parallel rows of the stream (TBPTT)."""

    def __init__(
        self,
        ids: Tensor,
        batch_size: int,
        seq_len: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        _check(ids, batch_size, seq_len)
        self.ids, self.seq_len, self.seed = ids, seq_len, seed
        self.rank, self.world = rank, world
        usable = len(ids) - seq_len  # the worst-case offset still leaves this many
        # Shrink the batch when the corpus cannot fill batch_size rows of one window.
        self.batch_size = max(1, min(batch_size, (usable - 1) // (seq_len * world)))
        rows = self.batch_size * world
        self.row_len = (usable - 1) // rows
        self.n = self.row_len // seq_len
        if self.n < 1:
            raise InputError(
                f"the training text ({len(ids)} tokens) is shorter than one window of "
                f"seq_len {seq_len} per process"
            )

    def __len__(self) -> int:
        return self.n

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Any]]:
        offset = int(torch.randint(self.seq_len, (1,), generator=_generator(self.seed, epoch)))
        rows = self.batch_size * self.world
        span = rows * self.row_len
        x = self.ids[offset : offset + span].view(rows, self.row_len)  # (rows, L)
        y = self.ids[offset + 1 : offset + span + 1].view(rows, self.row_len)
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        x, y = x[mine], y[mine]  # (B, L)
        t = self.seq_len
        for i in range(start, self.n):
            yield {"x": x[:, i * t : (i + 1) * t], "y": y[:, i * t : (i + 1) * t], "carry": i > 0}


class WindowBatches:
    """Shuffled independent windows of ``seq_len`` inputs and their next tokens."""

    def __init__(
        self,
        ids: Tensor,
        batch_size: int,
        seq_len: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        _check(ids, batch_size, seq_len)
        self.ids, self.seq_len, self.seed = ids, seq_len, seed
        self.rank, self.world = rank, world
        # Windows available at the worst offset (seq_len - 1), so every epoch has as many.
        self.windows = (len(ids) - seq_len) // seq_len
        per_rank = self.windows // world
        if per_rank < 1:
            raise InputError(
                f"the training text ({len(ids)} tokens) is shorter than one window of "
                f"seq_len {seq_len} per process"
            )
        self.batch_size = min(batch_size, per_rank)
        self.n = per_rank // self.batch_size

    def __len__(self) -> int:
        return self.n

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Any]]:
        g = _generator(self.seed, epoch)
        offset = int(torch.randint(self.seq_len, (1,), generator=g))
        order = torch.randperm(self.windows, generator=g)[self.rank :: self.world]
        starts = offset + order * self.seq_len  # (windows per rank,)
        span = torch.arange(self.seq_len + 1)  # (T+1,)
        b = self.batch_size
        for i in range(start, self.n):
            w = self.ids[starts[i * b : (i + 1) * b, None] + span]  # (B, T+1)
            yield {"x": w[:, :-1], "y": w[:, 1:], "carry": False}
