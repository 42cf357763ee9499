"""Data-parallel training under ``torchrun``, with no code changes elsewhere.

``torchrun --nproc-per-node N seqtool train-lm ...`` starts N copies of the
command with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and ``MASTER_ADDR/PORT`` in
their environment.  :func:`setup` reads those (the caller passes the environment
in, so the library reads no globals), joins the process group -- NCCL when the
device is a GPU, gloo on the CPU -- and pins each rank to its own GPU.  The
:class:`~seqtool.train.trainer.Trainer` then wraps the model in
``DistributedDataParallel`` (gradients are averaged), every batch source gives
each rank its own shard, and only rank 0 logs and writes files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seqtool.errors import ResourceError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistInfo()


def from_env(environ: Mapping[str, str]) -> DistInfo:
    """The rank layout torchrun put in the environment (single process when absent)."""
    if "WORLD_SIZE" not in environ or int(environ["WORLD_SIZE"]) <= 1:
        return SINGLE
    return DistInfo(
        rank=int(environ.get("RANK", 0)),
        world_size=int(environ["WORLD_SIZE"]),
        local_rank=int(environ.get("LOCAL_RANK", 0)),
        local_world_size=int(environ.get("LOCAL_WORLD_SIZE", environ["WORLD_SIZE"])),
    )


def setup(info: DistInfo, device: torch.device) -> torch.device:
    """Join the process group (once) and return this rank's device."""
    if not info.enabled:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
        # Share the cores between the ranks instead of oversubscribing them.
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // info.local_world_size))
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend=backend)
        except (RuntimeError, ValueError) as e:
            raise ResourceError(
                f"cannot join the torchrun process group ({backend}): {e}"
            ) from None
    return device


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_sum(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Sum a few numbers over all ranks (one small all-reduce)."""
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return [float(x) for x in t.tolist()]
