"""The shared runner, through a task defined entirely in this file.

The task (which of three marker tokens is most frequent in a random sequence) is
what a new trained command adds: a config, a model, a batch source, a loss, an
evaluation, a checkpoint payload and a loader.  Everything else (seeding,
resume, signals, checkpoints, budgets, the summary) is the runner's.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.testing import assert_close

from seqtool.errors import CheckpointError
from seqtool.train.checkpoint import load_checkpoint, restore_model
from seqtool.train.runner import TrainOptions, resolve_config, run_training
from seqtool.train.trainer import (
    StepInfo,
    TrainConfig,
    Trainer,
    TrainingInterrupted,
    fit_warmup,
    lr_factor,
)

V, L, CLASSES = 12, 16, 3  # vocabulary, sequence length; tokens 1, 2, 3 are the markers


# ---------------------------------------------------------------------- the toy task
@dataclass
class ToyConfig:
    dim: int = 16
    dropout: float = 0.1


class ToyModel(nn.Module):
    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.dim, CLASSES)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.drop(self.embed(x).mean(1)))  # (B, CLASSES)


def toy_data(n: int, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, V, (n, L), generator=g)
    # Plant a random number of each marker; the label is the most planted one.
    counts = torch.randint(0, 5, (n, CLASSES), generator=g)
    counts[torch.arange(n), torch.randint(0, CLASSES, (n,), generator=g)] += 5
    for i in range(n):
        pos = torch.randperm(L, generator=g)
        k = 0
        for c in range(CLASSES):
            m = int(counts[i, c])
            x[i, pos[k : k + m]] = c + 1
            k += m
    return x, counts.argmax(1)


class ToyBatches:
    def __init__(self, x: Tensor, y: Tensor, batch: int, seed: int) -> None:
        self.x, self.y, self.batch, self.seed = x, y, batch, seed

    def __len__(self) -> int:
        return len(self.x) // self.batch

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        order = torch.randperm(
            len(self.x), generator=torch.Generator().manual_seed(self.seed + epoch)
        )
        for i in range(start, len(self)):
            idx = order[i * self.batch : (i + 1) * self.batch]
            yield {"x": self.x[idx], "y": self.y[idx]}


class ToyTask:
    name = "toy"
    kinds: tuple[str, ...] = ("toy_majority",)
    metric, mode = "valid_acc", "max"
    metric_label, metric_digits, token_label = "valid accuracy", 3, "examples"

    def __init__(self, cfg: ToyConfig) -> None:
        self.cfg = cfg

    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        if resume is not None:
            self.cfg = ToyConfig(**resume["config"])
        self.train = toy_data(256, seed=1)
        self.valid = toy_data(128, seed=2)

    def train_defaults(self, device: torch.device) -> dict[str, Any]:
        return {"lr": 3e-2, "warmup": 2}

    def build_model(self) -> nn.Module:
        return ToyModel(self.cfg)

    def batches(self, seed: int, rank: int, world_size: int) -> ToyBatches:
        return ToyBatches(*self.train, batch=16, seed=seed)

    def loss(self, model: nn.Module) -> Callable[[nn.Module, Any], tuple[Tensor, int]]:
        def loss_fn(m: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
            return F.cross_entropy(m(batch["x"]), batch["y"], reduction="sum"), len(batch["y"])

        return loss_fn

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]]:
        x, y = self.valid

        def evaluate(m: nn.Module) -> dict[str, Any]:
            return {"valid_acc": float((m(x).argmax(1) == y).float().mean())}

        return evaluate

    def payload(self) -> dict[str, Any]:
        return {"kind": "toy_majority", "config": asdict(self.cfg)}

    def describe(self, model: nn.Module, source: Any) -> tuple[str, str]:
        return "toy", f"{len(source)} batches per epoch"


def load_toy(path: Path) -> nn.Module:
    ckpt = load_checkpoint(path, kinds=ToyTask.kinds)
    return restore_model(ckpt, str(path), build=lambda c: ToyModel(ToyConfig(**c))).eval()


class Recorder:
    def __init__(self) -> None:
        self.steps: list[StepInfo] = []
        self.evals: list[dict[str, Any]] = []
        self.messages: list[tuple[str, str]] = []

    def on_step(self, info: StepInfo) -> None:
        self.steps.append(info)

    def on_eval(self, record: dict[str, Any]) -> None:
        self.evals.append(record)

    def on_message(self, level: str, text: str) -> None:
        self.messages.append((level, text))


def options(**kw: Any) -> TrainOptions:
    base: dict[str, Any] = dict(device="cpu", threads=1, max_steps=12, eval_every=4, seed=5)
    base.update(kw)
    return TrainOptions(**base)


def weights(model: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------------- tests
def test_a_task_defined_here_trains_checkpoints_and_reloads(tmp_path: Path) -> None:
    rec = Recorder()
    run = run_training(
        ToyTask(ToyConfig()), options(max_steps=60, eval_every=20), tmp_path / "toy.pt", rec
    )
    assert run.result.steps == 60 and run.result.stop_reason == "max steps"
    assert run.result.best is not None and run.result.best > 0.8, rec.evals  # it learns
    assert [r["step"] for r in rec.evals][-1] == 60
    levels = [lv for lv, _ in rec.messages]
    assert levels[0] == "info" and rec.messages[0][1].startswith("toy: toy; cpu")
    assert rec.messages[-1][1].startswith("done (max steps): 60 steps")
    assert (tmp_path / "toy.log.jsonl").is_file() and (tmp_path / "toy.last.pt").is_file()
    best = load_toy(tmp_path / "toy.pt")  # the best weights, through the task's own loader
    x, y = toy_data(128, seed=2)
    with torch.no_grad():
        acc = float((best(x).argmax(1) == y).float().mean())
    assert acc == pytest.approx(run.result.best)


@pytest.mark.parametrize("signal_at", [4, 8])
def test_interrupt_and_resume_equals_a_straight_run(tmp_path: Path, signal_at: int) -> None:
    straight = run_training(ToyTask(ToyConfig()), options(), tmp_path / "a.pt")
    expected = weights(straight.model)

    class Interrupting(Recorder):
        def on_eval(self, record: dict[str, Any]) -> None:
            if record["step"] == signal_at:
                os.kill(os.getpid(), signal.SIGTERM)  # what `kill` does to a run

    with pytest.raises(TrainingInterrupted) as exc:
        run_training(ToyTask(ToyConfig()), options(), tmp_path / "b.pt", Interrupting())
    stop_at = signal_at + 1  # the step under way finishes first
    assert exc.value.exit_code == 143 and f"at step {stop_at}" in exc.value.message
    last = tmp_path / "b.last.pt"
    assert load_checkpoint(last)["train_state"]["step"] == stop_at
    # The resumed run takes its model settings from the checkpoint, not the config.
    resumed = run_training(ToyTask(ToyConfig(dim=99)), options(resume=last), None)
    assert resumed.output == tmp_path / "b.pt"  # resuming X.last.pt writes X.pt
    assert resumed.result.steps == 12
    for name, value in weights(resumed.model).items():
        assert_close(value, expected[name], msg=name)


def test_same_seed_same_weights_bit_for_bit(tmp_path: Path) -> None:
    runs = [
        run_training(ToyTask(ToyConfig()), options(seed=s), tmp_path / f"{i}.pt")
        for i, s in enumerate((3, 3, 4))
    ]
    a, b, c = (weights(r.model) for r in runs)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_resuming_a_finished_model_or_another_kind_is_refused(tmp_path: Path) -> None:
    run_training(ToyTask(ToyConfig()), options(max_steps=2), tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="not a training state"):
        run_training(ToyTask(ToyConfig()), options(resume=tmp_path / "t.pt"), tmp_path / "u.pt")

    class Other(ToyTask):
        kinds = ("something_else",)

    with pytest.raises(CheckpointError, match="'toy_majority' checkpoint"):
        run_training(Other(ToyConfig()), options(resume=tmp_path / "t.last.pt"), tmp_path / "v.pt")


def test_settings_merge_typed_over_resumed_over_defaults() -> None:
    cfg = resolve_config(TrainOptions(lr=0.5), {"lr": 0.1, "warmup": 7}, None)
    assert (cfg.lr, cfg.warmup, cfg.epochs) == (0.5, 7, 10)  # fresh run: 10 epochs by default
    cfg = resolve_config(TrainOptions(), {"lr": 0.1}, {"lr": 0.2, "max_steps": 50, "epochs": None})
    assert (cfg.lr, cfg.max_steps, cfg.epochs) == (0.2, 50, None)
    cfg = resolve_config(TrainOptions(time_budget=9.0), {}, {"max_steps": 50})
    assert (cfg.time_budget, cfg.max_steps) == (9.0, None)  # a typed rule replaces saved ones


# ---------------------------------------------------------------------- budgets (issue 12.3, 12.4)
def test_warmup_is_fitted_to_the_steps_a_budget_allows() -> None:
    assert fit_warmup(200, 74) == 18  # issue 12.3: 74 steps in the budget
    assert fit_warmup(50, 1000) == 50  # a warm-up that fits is left alone
    assert fit_warmup(200, 2) == 1
    cfg = TrainConfig(lr=1.0, warmup=200, schedule="constant", max_steps=10)
    assert lr_factor(cfg, 9, 0.5) == pytest.approx(10 / 200)
    assert lr_factor(cfg, 9, 0.5, warmup=10) == 1.0


class SlowLoss:
    """The toy loss, slowed to a known step time."""

    def __init__(self, inner: Callable[..., tuple[Tensor, int]], seconds: float) -> None:
        self.inner, self.seconds = inner, seconds

    def __call__(self, m: nn.Module, batch: Any) -> tuple[Tensor, int]:
        time.sleep(self.seconds)
        return self.inner(m, batch)


def toy_trainer(
    tmp_path: Path, step_seconds: float, eval_seconds: float, batch: int = 16, **cfg: Any
) -> Trainer:
    task = ToyTask(ToyConfig())
    task.prepare(None, 0, lambda text: None)
    evaluate = task.evaluator()

    def slow_eval(m: nn.Module) -> dict[str, Any]:
        time.sleep(eval_seconds)
        return evaluate(m)

    torch.manual_seed(0)
    messages: list[str] = []
    trainer = Trainer(
        task.build_model(),
        TrainConfig(**{"device": "cpu", "threads": 1, "log_every": 1, **cfg}),
        ToyBatches(*task.train, batch=batch, seed=0),
        SlowLoss(task.loss(task.build_model()), step_seconds),
        evaluate=slow_eval,
        metric="valid_acc",
        mode="max",
        output=tmp_path / "slow.pt",
        checkpoint_extra=task.payload,
        on_message=messages.append,
    )
    trainer.messages = messages  # type: ignore[attr-defined]
    return trainer


def test_a_short_budget_run_reaches_the_peak_learning_rate(tmp_path: Path) -> None:
    # At most 80 steps fit in 4 s; a warm-up of 200 steps would peak below 0.4 * lr.
    t = toy_trainer(tmp_path, 0.05, 0.0, lr=1e-2, warmup=200, time_budget=4.0)
    lrs: list[float] = []
    t.on_step = lambda s: lrs.append(s.lr)
    t.fit()
    assert t.warmup <= 20 and max(lrs) > 0.8e-2, (t.warmup, max(lrs))
    assert any("warm-up shortened from 200" in m for m in t.messages)  # type: ignore[attr-defined]


def test_a_budget_covers_the_final_evaluation_and_save(tmp_path: Path) -> None:
    # No evaluation is due before the end (no eval_every; an epoch of 256 batches is
    # longer than the run) and one takes a third of the budget: the run must still end
    # within the budget (it used to evaluate after it).
    t = toy_trainer(tmp_path, 0.02, 1.0, batch=1, lr=1e-2, time_budget=3.0, epochs=1000)
    result = t.fit()
    assert result.stop_reason == "time budget"
    # The run's own clock, from the first step to the last save (one-off start-up
    # costs before it, such as torch's first optimizer, are not the budget's).
    assert result.elapsed < 3.0 + 0.25, result.elapsed


def test_a_final_evaluation_that_cannot_fit_is_skipped(tmp_path: Path) -> None:
    # The one evaluation (timed a quarter of the way in) takes most of the budget: the
    # run stops right after it instead of evaluating again past the budget.
    t = toy_trainer(tmp_path, 0.02, 1.2, lr=1e-2, time_budget=2.0, epochs=1000)
    result = t.fit()
    assert result.elapsed < 2.0 + 0.25, result.elapsed
    assert result.best_step is not None and result.last_eval is not None
    assert any("final evaluation" in m for m in t.messages)  # type: ignore[attr-defined]
    assert load_checkpoint(tmp_path / "slow.pt")["metrics"]["best_step"] == result.best_step
