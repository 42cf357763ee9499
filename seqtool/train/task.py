"""What a trained task tells the runner: the :class:`Task` protocol, and the
:class:`Reporter` protocol the runner talks through.

A task (language modelling, translation, classification, forecasting, ...) is one
module holding a class that satisfies :class:`Task`; the runner
(:func:`seqtool.train.runner.run_training`) does everything else: device and
precision, seeding before the model is built, resuming, signals, time budgets,
stopping rules, distributed set-up, checkpoints and the final summary.  The
order in which the runner calls a task:

1. ``prepare(resume, seed, warn)``: read and encode the data, build or restore the
   vocabulary and the model settings (from ``resume``, the checkpoint of the run
   being continued, when given; the data split must come back as it was);
2. ``train_defaults(device)``: the task's default :class:`TrainConfig` values
   (``lr``, ``warmup``, ...); what the user sets wins, then a resumed run's;
3. ``build_model()``: after the runner has seeded every random source;
4. ``batches(seed, rank, world_size)``, ``loss(model)``, ``evaluator()``;
5. ``payload()``: what makes a checkpoint self-contained besides the weights
   (``kind``, ``config``, vocabularies, the data split), on every save.

Loading a trained model back is the task module's own business (a ``load``
class method on its artifact class, e.g. :meth:`seqtool.tasks.lm.LanguageModel.load`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import nn

from seqtool.train.options import NullReporter as NullReporter  # (re-exported)
from seqtool.train.options import Reporter as Reporter
from seqtool.train.trainer import BatchSource, LossFn


class Task(Protocol):
    """One trained task (see the module docstring for when each method is called)."""

    #: the command's name, which starts the run's first line (``train-lm``)
    name: str
    #: checkpoint kinds this task writes and accepts for resuming
    kinds: tuple[str, ...]
    #: the evaluation entry that decides the best checkpoint and early stopping
    metric: str
    #: ``"min"`` if lower ``metric`` is better (loss, perplexity), ``"max"`` if higher
    mode: str
    #: how the summary names ``metric`` (``valid ppl``) and with how many decimals
    metric_label: str
    metric_digits: int
    #: what the throughput counts (``tokens``, ``target tokens``, ``examples``)
    token_label: str

    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        """Read the data; ``warn(text)`` reports a warning (now or later, e.g. in
        :meth:`batches`)."""
        ...

    def train_defaults(self, device: torch.device) -> dict[str, Any]: ...

    def build_model(self) -> nn.Module: ...

    def batches(self, seed: int, rank: int, world_size: int) -> BatchSource: ...

    def loss(self, model: nn.Module) -> LossFn: ...

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]] | None: ...

    def payload(self) -> dict[str, Any]: ...

    def describe(self, model: nn.Module, source: BatchSource) -> tuple[str, str]:
        """For the start line: what is trained on what, and how it is batched."""
        ...
