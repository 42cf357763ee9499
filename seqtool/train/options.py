"""The shared training settings a caller chooses: :class:`TrainOptions`; what a run
reports back: :class:`StepInfo` (each progress report), :class:`TrainResult`.

Kept free of torch, so the command line can build it while parsing flags; the
runner (:mod:`seqtool.train.runner`) turns it into a
:class:`~seqtool.train.trainer.TrainConfig`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol

from seqtool.errors import (
    UsageError,
    check_at_least,
    check_finite,
    check_fraction,
    check_positive,
    check_seed,
)

# TrainConfig's fields, by the check each one gets (``None`` always passes: "not set").
POSITIVE = ("lr", "accumulate", "epochs", "max_steps", "time_budget", "patience", "eval_every",
            "log_every")  # fmt: skip
AT_LEAST_ZERO = ("warmup", "clip", "weight_decay", "checkpoint_every_minutes")
FRACTIONS = ("momentum", "beta1", "beta2")


def check_train_values(values: Mapping[str, Any]) -> None:
    """Refuse impossible training settings, given by :class:`TrainConfig` field name
    (``checkpoint_every_minutes``): NaN, infinities, values out of range.  Shared by
    :meth:`TrainOptions.check` and ``TrainConfig.check``."""
    for name in POSITIVE:
        check_positive(name, values.get(name))
    for name in AT_LEAST_ZERO:
        check_at_least(name, values.get(name), 0)
    for name in FRACTIONS:
        check_fraction(name, values.get(name))
    min_lr = values.get("min_lr")
    check_finite("min_lr", min_lr)
    if min_lr is not None and not 0 <= min_lr <= 1:
        raise UsageError(f"min_lr must be a fraction of `lr` in [0, 1], not {min_lr}")
    check_seed("seed", values.get("seed"))


@dataclass
class TrainOptions:
    """The shared training settings a caller chose; ``None`` means "not set": the
    resumed run's value, else the task's default, else :class:`TrainConfig`'s.

    ``time_budget`` is in seconds, ``checkpoint_every`` in minutes; ``log`` is the
    JSONL file of evaluations (default: ``<output stem>.log.jsonl``) and
    ``resume`` a resumable checkpoint (``<output stem>.last.pt``).
    """

    device: str | None = None
    precision: str | None = None
    compile: bool | None = None
    threads: int | None = None
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    schedule: str | None = None
    warmup: int | None = None
    min_lr: float | None = None
    clip: float | None = None
    accumulate: int | None = None
    epochs: int | None = None
    max_steps: int | None = None
    time_budget: float | None = None
    patience: int | None = None
    eval_every: int | None = None
    checkpoint_every: float | None = None
    seed: int | None = None
    log: str | os.PathLike[str] | None = None
    resume: str | os.PathLike[str] | None = None

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Refuse impossible values now, before any data is read (also run on creation)."""
        check_train_values(self.given())

    def given(self) -> dict[str, Any]:
        """The :class:`TrainConfig` fields set here."""
        renamed = {"checkpoint_every": "checkpoint_every_minutes"}
        return {
            renamed.get(f.name, f.name): getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("log", "resume") and getattr(self, f.name) is not None
        }


@dataclass
class StepInfo:
    """What ``on_step`` receives."""

    step: int
    epoch: int
    loss: float  # mean per token since the previous report
    tokens_per_s: float
    lr: float
    elapsed: float
    progress: float  # 0..1 towards the nearest stopping rule

    @property
    def ppl(self) -> float:
        return math.exp(min(self.loss, 50.0))


@dataclass
class TrainResult:
    steps: int
    epochs: float
    elapsed: float
    tokens: int
    stop_reason: str
    best: float | None
    best_step: int | None
    last_eval: dict[str, Any] | None


class Reporter(Protocol):
    """How the runner reports progress; the command line renders it, a notebook
    may print it or ignore it (:class:`NullReporter`).  Only rank 0 reports."""

    def on_step(self, info: StepInfo) -> None: ...

    def on_eval(self, record: dict[str, Any]) -> None: ...

    def on_message(self, level: str, text: str) -> None:
        """``level`` is ``"info"`` (start and summary lines) or ``"warning"``."""
        ...


class NullReporter:
    """Reports nothing."""

    def on_step(self, info: StepInfo) -> None:
        pass

    def on_eval(self, record: dict[str, Any]) -> None:
        pass

    def on_message(self, level: str, text: str) -> None:
        pass


def compact(n: float) -> str:
    """A count as the progress lines show it: ``950``, ``12.3k``, ``1.25M``."""
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"
