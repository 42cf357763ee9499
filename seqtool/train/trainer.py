"""The one training loop every seqtool model uses.

The :class:`Trainer` knows nothing about language models or translation.  It is
given five things:

* ``model``: an ``nn.Module`` (moved to the device by the trainer);
* ``train``: a *batch source*, anything with ``len(source)`` (batches per epoch
  on this rank) and ``source.batches(epoch, start)`` yielding that epoch's
  batches from index ``start`` on.  The source derives all its randomness from
  ``(seed, epoch)``, so the data position ``(epoch, index)`` is all a checkpoint
  needs to resume it exactly; under ``torchrun`` it yields this rank's shard;
* ``loss_fn(model, batch) -> (loss_sum, n_tokens)``: the *summed* loss of a batch
  and how many tokens it covers.  The trainer divides by the tokens of the whole
  optimizer step (over accumulation steps and ranks), so every token weighs the
  same however batches are split.  A ``loss_fn`` with ``state_dict()`` /
  ``load_state_dict()`` (an RNN carrying its hidden state) is checkpointed too;
* ``evaluate(model) -> {"valid_ppl": 4.2, ...}``: called in eval mode under
  ``no_grad``; ``metric`` names the entry that decides ``best`` checkpoints and
  early stopping and ``mode`` says whether lower (``"min"``, perplexity) or higher
  (``"max"``, BLEU) is better;
* ``checkpoint_extra() -> {"kind": ..., "config": ..., "vocab": ...}``: what makes
  a checkpoint self-contained besides the weights.

Progress is reported through callbacks (``on_step(StepInfo)`` every
``log_every`` steps, ``on_eval(record)`` after each evaluation), rendered by the
CLI; each evaluation record is also appended to the JSONL ``log_path``.

Example::

    cfg = TrainConfig(lr=3e-3, max_steps=1000, eval_every=200)
    trainer = Trainer(model, cfg, source, loss_fn, evaluate=valid_ppl,
                      metric="valid_ppl", mode="min", output=Path("lm.pt"),
                      checkpoint_extra=lambda: {"kind": "rnn_lm", "config": ..., "vocab": ...})
    result = trainer.fit()                       # or fit(resume=ckpt["train_state"])
    print(result.best, result.stop_reason)

Files: ``output`` receives the best weights (or the final ones when there is no
evaluation) and ``last_path`` (default ``<output>.last.pt``) the full resumable
state: optimizer, schedule position, step, RNG states, data position, every
``checkpoint_every_minutes`` and at the end.  SIGINT / SIGTERM stop the loop
after the current step, write ``last_path`` and raise :class:`TrainingInterrupted`
(exit code 130 / 143).  Under ``torchrun`` the model is wrapped in
``DistributedDataParallel`` and only rank 0 reports and writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol

import torch
from torch import nn

from seqtool.errors import CheckpointError, SeqtoolError, UsageError, param
from seqtool.train import distributed as dist_util
from seqtool.train.checkpoint import save_checkpoint
from seqtool.train.device import (
    resolve_device,
    resolve_precision,
    rng_state,
    seed_everything,
    set_rng_state,
    set_threads,
)
from seqtool.train.options import StepInfo, TrainResult, check_train_values
from seqtool.train.signals import stop_signals

log = logging.getLogger("seqtool.train")

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "linear", "constant", "inverse-sqrt")


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def batches(self, epoch: int, start: int = 0) -> Iterator[Any]: ...


LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, int]]


named = param  # a parameter as errors name it (seqtool.errors.param)


@dataclass
class TrainConfig:
    """How to train, independent of what is trained (recorded in every checkpoint)."""

    device: str = "auto"
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    compile: bool = False
    threads: int | None = None
    optimizer: str = "adamw"  # adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.01  # on matrices only (not biases, norms)
    beta1: float = 0.9
    beta2: float = 0.99
    momentum: float = 0.0  # sgd
    schedule: str = "cosine"
    warmup: int = 0  # steps of linear warm-up
    min_lr: float = 0.1  # the decayed learning rate, as a fraction of lr
    clip: float = 1.0  # global gradient-norm clip; 0 turns it off
    accumulate: int = 1  # batches per optimizer step
    epochs: int | None = None
    max_steps: int | None = None
    time_budget: float | None = None  # seconds of wall-clock time, all runs together
    patience: int | None = None  # evaluations without improvement before stopping
    eval_every: int | None = None  # steps; evaluation also happens at each epoch end
    checkpoint_every_minutes: float = 10.0
    log_every: int = 10
    seed: int = 0

    def check(self) -> None:
        """Refuse impossible settings with a message naming the flag."""
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown `optimizer` {self.optimizer!r}; choose adamw or sgd")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown `schedule` {self.schedule!r}; choose {', '.join(SCHEDULES)}")
        check_train_values(dataclasses.asdict(self))
        if self.epochs is None and self.max_steps is None and self.time_budget is None:
            raise UsageError("give a stopping rule: `epochs`, max_steps or time_budget")


class TrainingDiverged(SeqtoolError):
    """The training loss (or the weights) stopped being finite numbers; nothing was
    saved after that, so the files on disk keep the last good state."""


class TrainingInterrupted(SeqtoolError):
    """SIGINT or SIGTERM stopped training; a resumable checkpoint was written.

    Not an error (the user asked for it): the command line prints it without the
    ``error:`` label.  The message says where training stopped (``at step 120``, or
    ``position`` such as ``in epoch 3 of 5``) and where the checkpoint is.
    """

    label = None

    def __init__(
        self, signum: int, path: Path | None, step: int | None = None, position: str | None = None
    ) -> None:
        name = signal.Signals(signum).name
        at = f" at step {step}" if step is not None else f" {position}" if position else ""
        where = (
            f"; resumable checkpoint saved to {path} (to continue, run the same command "
            f"with `resume` {path})"
            if path
            else ""
        )
        super().__init__(f"training interrupted by {name}{at}{where}")
        self.exit_code = 128 + signum


def move_to(batch: Any, device: torch.device) -> Any:
    """``batch`` with every tensor inside (dicts, lists, tuples) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch


def lr_factor(cfg: TrainConfig, step: int, progress: float, warmup: int | None = None) -> float:
    """The learning rate multiplier after ``step`` optimizer steps at ``progress`` (0..1).

    Warm-up is counted in steps (``warmup``, default ``cfg.warmup``; a time-budget
    run passes the warm-up fitted to its budget, see :func:`fit_warmup`); decay
    follows progress towards the stopping rule, which is how a time-budget run
    gets a complete cosine schedule.
    """
    warmup = cfg.warmup if warmup is None else warmup
    warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
    p = min(max(progress, 0.0), 1.0)
    if cfg.schedule == "constant":
        decay = 1.0
    elif cfg.schedule == "linear":
        decay = 1.0 - (1.0 - cfg.min_lr) * p
    elif cfg.schedule == "cosine":
        decay = cfg.min_lr + (1.0 - cfg.min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))
    else:  # inverse-sqrt: the "Attention is all you need" rule after warm-up
        decay = math.sqrt(max(warmup, 1) / max(step + 1, warmup, 1))
    return warm * decay


# A time-budget run's warm-up takes at most this share of the steps the budget allows.
WARMUP_SHARE = 0.25
# Steps timed (after the first, which pays one-off costs) before the budget's steps are estimated.
PROBE_STEPS = 4


def fit_warmup(warmup: int, expected_steps: float) -> int:
    """The warm-up for a run expected to take ``expected_steps`` steps: ``warmup``,
    or :data:`WARMUP_SHARE` of the steps when it is longer than that (a 200-step
    warm-up in a 74-step run would never reach the peak learning rate)."""
    cap = max(1, int(WARMUP_SHARE * expected_steps))
    return min(warmup, cap)


def build_optimizer(
    model: nn.Module, cfg: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """AdamW or SGD; weight decay only on matrices (embeddings and weights), not on
    biases and norm gains, as in nanoGPT."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    extra = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **extra)


class Trainer:
    """See the module docstring."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train: BatchSource,
        loss_fn: LossFn,
        *,
        evaluate: Callable[[nn.Module], dict[str, Any]] | None = None,
        metric: str = "valid_loss",
        mode: str = "min",
        output: Path | None = None,
        last_path: Path | None = None,
        log_path: Path | None = None,
        checkpoint_extra: Callable[[], dict[str, Any]] | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
        on_eval: Callable[[dict[str, Any]], None] | None = None,
        on_message: Callable[[str], None] | None = None,
        on_warning: Callable[[str], None] | None = None,
        dist: dist_util.DistInfo = dist_util.SINGLE,
        device: torch.device | None = None,
    ) -> None:
        config.check()
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        self.cfg = config
        self.module = model  # the unwrapped module: what is saved and evaluated
        self.train = train
        self.loss_fn = loss_fn
        self.evaluate_fn = evaluate
        self.metric, self.mode = metric, mode
        self.output = output
        self.last_path = last_path or (
            output.with_name(output.stem + ".last" + output.suffix) if output else None
        )
        self.log_path = log_path
        self.checkpoint_extra = checkpoint_extra or (lambda: {"kind": "model", "config": {}})
        self.on_step, self.on_eval, self.on_message = on_step, on_eval, on_message
        self.on_warning = on_warning or (lambda text: log.warning("%s", text))
        self._log_failed = False  # a log that could not be written is warned about once
        self.dist = dist
        self.device = device or resolve_device(config.device)
        self.amp_dtype = resolve_precision(config.precision, self.device)
        set_threads(config.threads)
        if len(train) == 0:
            raise UsageError("the training data does not fill a single batch")
        # Loop state (all of it goes into the resumable checkpoint).
        self.step = 0
        self.epoch = 0
        self.index = 0  # next batch of the epoch
        self.tokens = 0
        self.elapsed_before = 0.0
        self.best: float | None = None
        self.best_step: int | None = None
        self.bad_evals = 0
        self.last_eval: dict[str, Any] | None = None
        self._signal: int | None = None
        self._eval_seconds = 0.0  # the longest evaluation so far (the budget keeps room)
        self._save_seconds = 0.0  # the longest checkpoint save so far (likewise)
        self._step_seconds = 0.0  # the last optimizer step's duration
        self.warmup = config.warmup  # fitted to a time budget after PROBE_STEPS steps
        self._warmup_fitted = config.time_budget is None or config.warmup == 0
        self._stop_reason: str | None = None
        # The first step whose loss was NaN or infinite (see _watch; -1 on the device:
        # none); read at reports, evaluations and saves.
        self._first_bad: torch.Tensor | None = None
        self._bad_step: int | None = None  # the same on a CPU
        self._sync_free = self.device.type != "cpu"
        self._saved_step: int | None = None  # the step the resumable file holds
        self._t0 = time.perf_counter()

    # ------------------------------------------------------------------ public
    def request_stop(self, signum: int = signal.SIGINT) -> None:
        """Stop after the current step as if ``signum`` arrived (also used by tests)."""
        self._signal = signum

    @property
    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self._t0

    def progress(self) -> float:
        """How far along the nearest stopping rule the run is, 0..1."""
        c = self.cfg
        parts = [0.0]
        if c.max_steps:
            parts.append(self.step / c.max_steps)
        if c.time_budget:
            parts.append(self.elapsed / c.time_budget)
        if c.epochs:
            parts.append((self.epoch + self.index / len(self.train)) / c.epochs)
        return min(1.0, max(parts))

    def fit(self, resume: dict[str, Any] | None = None) -> TrainResult:
        """Train until a stopping rule fires; returns a summary."""
        cfg = self.cfg
        if resume is None:
            seed_everything(cfg.seed)
        self.module.to(self.device)
        self.optimizer = build_optimizer(self.module, cfg, self.device)
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        if resume is not None:
            self._load_state(resume)
        model: nn.Module = self.module
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            model = DDP(
                self.module, device_ids=[self.device] if self.device.type == "cuda" else None
            )
        if cfg.compile:
            model = torch.compile(model)  # type: ignore[assignment]
        self.model = model
        self._t0 = time.perf_counter()
        self._last_save = time.perf_counter()
        with self._signals():
            reason = self._loop()
        return TrainResult(
            steps=self.step,
            epochs=self.epoch + self.index / len(self.train),
            elapsed=self.elapsed,
            tokens=self.tokens,
            stop_reason=reason,
            best=self.best,
            best_step=self.best_step,
            last_eval=self.last_eval,
        )

    # ------------------------------------------------------------------ the loop
    def _stream(self) -> Iterator[tuple[Any, bool]]:
        """Batches from the saved position on, across epochs: (batch, ends_epoch)."""
        n = len(self.train)
        while self.cfg.epochs is None or self.epoch < self.cfg.epochs:
            start = self.index
            for batch in self.train.batches(self.epoch, self.index):
                self.index += 1
                end = self.index >= n
                if end:
                    self.epoch, self.index = self.epoch + 1, 0
                yield batch, end
                if end:
                    break
            else:
                if self.index == start:
                    raise RuntimeError(f"the batch source gave no batches for epoch {self.epoch}")
                self.epoch, self.index = self.epoch + 1, 0  # it gave fewer than it promised

    def _loop(self) -> str:
        cfg = self.cfg
        stream = self._stream()
        params = [p for p in self.module.parameters() if p.requires_grad]
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        # float64 sums stay exact over long reports (MPS has no float64).
        acc = torch.float32 if self.device.type == "mps" else torch.float64
        report_loss = torch.zeros((), device=self.device, dtype=acc)
        report_tokens = 0
        report_t = time.perf_counter()
        exhausted = False
        self.model.train()
        first_step = self.step
        step_t = time.perf_counter()
        probe_t = step_t
        while True:
            step_tokens = 0
            step_loss = torch.zeros((), device=self.device, dtype=acc)
            epoch_end = False
            for micro in range(cfg.accumulate):
                try:
                    batch, ends = next(stream)
                except StopIteration:
                    exhausted = True
                    break
                epoch_end |= ends
                batch = move_to(batch, self.device)
                last_micro = micro == cfg.accumulate - 1
                sync = (
                    self.model.no_sync()  # type: ignore[operator]
                    if self.dist.enabled and not last_micro and hasattr(self.model, "no_sync")
                    else contextlib.nullcontext()
                )
                with sync:
                    with autocast:
                        loss_sum, n = self.loss_fn(self.model, batch)
                    self.scaler.scale(loss_sum.float()).backward()
                step_loss = step_loss + loss_sum.detach().to(acc)
                step_tokens += int(n)
            if exhausted and step_tokens == 0:
                return self._finish("epochs")
            # The budget covers the final evaluation and save too: stop when they and
            # one more step no longer fit (a 170 s train-mt run took 201 s before).
            over_time = (
                cfg.time_budget is not None and self.elapsed + self._reserve() >= cfg.time_budget
            )
            # Every rank must stop at the same step: share the stop flags with the token count.
            total_tokens, signalled, timed_out = dist_util.all_sum(
                [float(step_tokens), float(self._signal is not None), float(over_time)],
                self.dist,
                self.device,
            )
            report_loss += step_loss
            self._watch(step_loss)
            self._optimizer_step(params, total_tokens)
            self.step += 1
            if self.step % cfg.log_every == 0 or self.step == first_step + 1:
                self._check_finite()
            self.tokens += int(total_tokens)
            report_tokens += int(total_tokens)
            now = time.perf_counter()
            self._step_seconds, step_t = now - step_t, now
            if self.step == first_step + 1:
                probe_t = now  # the first step pays one-off costs: time the ones after it
            elif not self._warmup_fitted and self.step == first_step + 1 + PROBE_STEPS:
                self._fit_warmup((now - probe_t) / PROBE_STEPS)

            if (
                self.dist.is_main
                and self.on_step
                and (self.step % cfg.log_every == 0 or self.step == 1)
            ):
                now = time.perf_counter()
                loss = float(report_loss) * self.dist.world_size / max(report_tokens, 1)
                self.on_step(
                    StepInfo(
                        step=self.step,
                        epoch=self.epoch,
                        loss=loss,
                        tokens_per_s=report_tokens / max(now - report_t, 1e-9),
                        lr=self.optimizer.param_groups[0]["lr"],
                        elapsed=self.elapsed,
                        progress=self.progress(),
                    )
                )
                self._train_loss = loss
                report_loss.zero_()
                report_tokens, report_t = 0, now

            # A signal that came during this step (or its report) stops the run now.
            if signalled > 0 or (not self.dist.enabled and self._signal is not None):
                self._save_last()
                raise TrainingInterrupted(
                    self._signal or signal.SIGTERM,
                    self.last_path if self.dist.is_main else None,
                    self.step,
                )
            done = self._stopping_rule(over_time=timed_out > 0) or (exhausted and "epochs")
            # A budget run that has not timed an evaluation yet does one a quarter of the
            # way in, so that the room kept for the final one is known.
            probe_eval = (
                cfg.time_budget is not None
                and self.evaluate_fn is not None
                and self._eval_seconds == 0
                and self.elapsed >= cfg.time_budget / 4
            )
            # (At the end _finish evaluates, if the evaluation still fits a budget.)
            if (cfg.eval_every and self.step % cfg.eval_every == 0) or epoch_end or probe_eval:
                self._run_eval()
                if self._stop_reason:
                    done = done or self._stop_reason
            if done:
                return self._finish(done)
            if time.perf_counter() - self._last_save >= cfg.checkpoint_every_minutes * 60:
                self._save_last()

    def _optimizer_step(self, params: list[nn.Parameter], total_tokens: float) -> None:
        cfg = self.cfg
        self.scaler.unscale_(self.optimizer)
        # DDP averaged the summed gradients over ranks; make them a per-token mean.
        scale = self.dist.world_size / max(total_tokens, 1.0)
        if cfg.clip > 0:
            # Clipping the summed gradients at clip / scale is clipping the per-token
            # ones at clip.
            torch.nn.utils.clip_grad_norm_(params, cfg.clip / scale, foreach=True)
        for p in params:
            if p.grad is not None:
                p.grad.mul_(scale)
        lr = cfg.lr * lr_factor(cfg, self.step, self.progress(), self.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)

    def _final_eval_fits(self) -> bool:
        """Whether a final evaluation fits the time budget; it is skipped only when an
        evaluation during the run already chose a best model (a tight budget whose
        one timed evaluation took most of it)."""
        budget = self.cfg.time_budget
        if budget is None or self.evaluate_fn is None or self.best is None:
            return True
        return self.elapsed + self._eval_seconds + self._save_seconds <= budget

    def _reserve(self) -> float:
        """Seconds the end of a budget run needs: a final evaluation and save and the
        step in flight.  The evaluation gets twice its longest time so far: a decoding
        evaluation slows as the model learns to write longer output (a 170 s train-mt
        run whose evaluation at 25% took the measure overran by 15 s with 1.25x)."""
        return 2.0 * self._eval_seconds + 1.5 * self._save_seconds + self._step_seconds

    def _fit_warmup(self, seconds_per_step: float) -> None:
        """Fit the warm-up to the steps the time budget allows (see :func:`fit_warmup`)."""
        self._warmup_fitted = True
        budget = self.cfg.time_budget or 0.0
        left = max(0.0, budget - self.elapsed - self._reserve())
        expected = self.step + left / max(seconds_per_step, 1e-9)
        if self.cfg.max_steps is not None:
            expected = min(expected, self.cfg.max_steps)
        fitted = fit_warmup(self.warmup, expected)
        if fitted < self.warmup and self.on_message is not None and self.dist.is_main:
            self.on_message(
                f"the time budget allows about {expected:.0f} steps: warm-up shortened "
                f"from {self.warmup} to {fitted} steps"
            )
        self.warmup = fitted

    def _stopping_rule(self, over_time: bool) -> str | None:
        if over_time:
            return "time budget"
        if self.cfg.max_steps is not None and self.step >= self.cfg.max_steps:
            return "max steps"
        if self.cfg.epochs is not None and self.epoch >= self.cfg.epochs:
            return "epochs"
        return None

    def _finish(self, reason: str) -> str:
        if self.last_eval is None or self.last_eval.get("step") != self.step:
            if self._final_eval_fits():
                self._run_eval()
            elif self.on_message is not None and self.dist.is_main:
                self.on_message(
                    f"the final evaluation ({self._eval_seconds:.0f} s) would not fit the time "
                    f"budget: skipped; the best model is from step {self.best_step}"
                )
        if self.evaluate_fn is None:
            self._save_best()  # no validation: the final weights are the result
        self._save_last()
        return reason

    # ------------------------------------------------------------------ evaluation
    # ------------------------------------------------------------------ divergence
    def _watch(self, step_loss: torch.Tensor) -> None:
        """Remember the first step whose loss is NaN or infinite.  On an accelerator the
        step is kept on the device, so watching never waits for the device (three tiny
        kernels a step); on a CPU reading the number is cheaper (3 us against 135 us)."""
        if not self._sync_free:
            if self._bad_step is None and not math.isfinite(float(step_loss)):
                self._bad_step = self.step + 1
            return
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, dtype=torch.long, device=step_loss.device)
        bad = (self._first_bad < 0) & ~torch.isfinite(step_loss)
        self._first_bad = torch.where(bad, self.step + 1, self._first_bad)

    def _check_finite(self) -> None:
        """Stop with :class:`TrainingDiverged` once a training loss was NaN or infinite:
        checked before anything is reported, evaluated or saved, so no file ever holds
        a diverged model.  Every process calls it at the same steps (the flag is shared)."""
        first = self._bad_step if self._bad_step is not None else -1
        if self._first_bad is not None:
            first = int(self._first_bad)
        (n_bad,) = dist_util.all_sum([float(first >= 0)], self.dist, self.device)
        if first >= 0:
            self._diverged(f"the training loss became NaN or infinite at step {first}")
        if n_bad:
            self._diverged(f"the training loss became NaN or infinite by step {self.step}")

    def _check_weights(self) -> None:
        """The same for the weights (a finite loss whose update overflowed them); local,
        since every process holds the same weights."""
        if not _all_finite(self.module):
            self._diverged(f"the weights became NaN or infinite by step {self.step}")

    def _diverged(self, what: str) -> NoReturn:
        kept = [
            f"{self.output} holds the best model, of step {self.best_step}"
            if self.output is not None and self.best_step is not None
            else "",
            f"{self.last_path} the resumable state of step {self._saved_step}"
            if self.last_path is not None and self._saved_step is not None
            else "",
        ]
        kept_text = " and ".join(k for k in kept if k) or "no model had been saved yet"
        clip = (
            "set `clip` (now off)"
            if self.cfg.clip == 0
            else f"lower `clip` (now {self.cfg.clip:g})"
        )
        resume = (
            f", then continue with `resume` {self.last_path}"
            if self._saved_step is not None
            else ""
        )
        raise TrainingDiverged(
            f"training diverged: {what}; stopped, saving nothing more ({kept_text})",
            hint=f"lower `lr` (now {self.cfg.lr:g}) or {clip}{resume}",
        )

    def _run_eval(self) -> None:
        self._check_finite()
        record: dict[str, Any] = {
            "step": self.step,
            "epoch": round(self.epoch + self.index / len(self.train), 4),
            "train_loss": getattr(self, "_train_loss", None),
        }
        if record["train_loss"] is not None:
            record["train_ppl"] = math.exp(min(record["train_loss"], 50.0))
        metrics: dict[str, Any] = {}
        if self.evaluate_fn is not None:
            self.module.eval()
            autocast = (
                torch.autocast(self.device.type, dtype=self.amp_dtype)
                if self.amp_dtype is not None
                else contextlib.nullcontext()
            )
            t = time.perf_counter()
            with torch.no_grad(), autocast:
                metrics = self.evaluate_fn(self.module)
            self._eval_seconds = max(self._eval_seconds, time.perf_counter() - t)
            self.model.train()
        record.update(metrics)
        record.update(
            tokens=self.tokens,
            lr=self.optimizer.param_groups[0]["lr"],
            elapsed=round(self.elapsed, 2),
        )
        self.last_eval = record
        value = metrics.get(self.metric)
        if value is not None:
            # A NaN or infinite score is never the best; any real score beats one kept
            # as best by an older resumable file.
            better = math.isfinite(value) and (
                self.best is None
                or not math.isfinite(self.best)
                or (self.mode == "min" and value < self.best)
                or (self.mode == "max" and value > self.best)
            )
            if better:
                self.best, self.best_step, self.bad_evals = float(value), self.step, 0
                self._save_best()
            else:
                self.bad_evals += 1
                if self.cfg.patience and self.bad_evals >= self.cfg.patience:
                    self._stop_reason = "early stopping"
            record["best"] = self.best
        if self.dist.is_main:
            self._write_log(record)
            if self.on_eval:
                self.on_eval(record)

    def _write_log(self, record: dict[str, Any]) -> None:
        """Append ``record`` to the metrics log.  The log is a by-product: a failure to
        write it (a full disk, a folder gone, permissions) is warned about once and
        training goes on, checkpoints included."""
        if self.log_path is None or self._log_failed:
            return
        try:
            with open(self.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as e:
            self._log_failed = True
            reason = e.strerror or type(e).__name__
            self.on_warning(
                f"{self.log_path}: cannot write the log ({reason}); training goes on "
                "without it, checkpoints are still written"
            )

    # ------------------------------------------------------------------ checkpoints
    def _payload(self, with_state: bool) -> dict[str, Any]:
        payload = dict(self.checkpoint_extra())
        payload["model"] = {k: v.detach().cpu() for k, v in self.module.state_dict().items()}
        payload["metrics"] = {
            k: v for k, v in (self.last_eval or {}).items() if isinstance(v, (int, float))
        } | {"best": self.best, "best_step": self.best_step, "step": self.step}
        payload["train_config"] = dataclasses.asdict(self.cfg)
        if with_state:
            payload["train_state"] = self._state()
        return payload

    def _save_best(self) -> None:
        self._check_weights()  # (the loss was checked by the evaluation that led here)
        if self.output is not None and self.dist.is_main:
            t = time.perf_counter()
            save_checkpoint(self.output, self._payload(with_state=False))
            self._save_seconds = max(self._save_seconds, time.perf_counter() - t)

    def _save_last(self) -> None:
        self._check_finite()
        self._check_weights()
        t = time.perf_counter()
        if self.last_path is not None and self.dist.is_main:
            save_checkpoint(self.last_path, self._payload(with_state=True))
            self._saved_step = self.step
        dist_util.barrier(self.dist)
        self._last_save = time.perf_counter()
        # The end of a run writes both files: keep room for the two.
        self._save_seconds = max(self._save_seconds, (self._last_save - t) * 2)

    def _state(self) -> dict[str, Any]:
        loss_state = None
        if hasattr(self.loss_fn, "state_dict"):
            loss_state = _to_cpu(self.loss_fn.state_dict())
        return {
            "optimizer": _to_cpu(self.optimizer.state_dict()),
            "scaler": self.scaler.state_dict(),
            "scheduler": {
                "schedule": self.cfg.schedule,
                "step": self.step,
                "warmup": self.warmup,
                "warmup_fitted": self._warmup_fitted,
            },
            "eval_seconds": self._eval_seconds,
            "save_seconds": self._save_seconds,
            "step": self.step,
            "epoch": self.epoch,
            "data_position": {"epoch": self.epoch, "index": self.index},
            "tokens": self.tokens,
            "elapsed": self.elapsed,
            "best": self.best,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "train_loss": getattr(self, "_train_loss", None),
            "rng": rng_state(),
            "loss_state": loss_state,
            "world_size": self.dist.world_size,
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        """Restore the loop from a resumable checkpoint's ``train_state``; a malformed
        one (optimizer, RNG, position) is one :class:`CheckpointError`."""
        try:
            self._restore(state)
        except (
            KeyError,
            TypeError,
            ValueError,
            RuntimeError,
            IndexError,
            AttributeError,
            OverflowError,
        ) as e:
            text = str(e).strip()
            first = text.splitlines()[0] if text else type(e).__name__
            raise CheckpointError(f"`resume`: malformed training state ({first[:120]})") from None

    def _restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        for p, saved in self.optimizer.state.items():
            for key, value in saved.items():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != p.shape:
                    raise ValueError(f"optimizer {key} has the wrong shape")
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.epoch = int(state["data_position"]["epoch"])
        self.index = int(state["data_position"]["index"])
        self.tokens = int(state.get("tokens", 0))
        self.elapsed_before = float(state.get("elapsed", 0.0))
        self.best = state.get("best")
        self.best_step = state.get("best_step")
        self.bad_evals = int(state.get("bad_evals", 0))
        sched = state.get("scheduler") or {}
        if "warmup" in sched:
            self.warmup = int(sched["warmup"])
            self._warmup_fitted = bool(sched.get("warmup_fitted", True)) or self._warmup_fitted
        self._eval_seconds = float(state.get("eval_seconds", 0.0))
        self._save_seconds = float(state.get("save_seconds", 0.0))
        if state.get("train_loss") is not None:
            self._train_loss = float(state["train_loss"])
        if self.index >= len(self.train):
            self.epoch, self.index = self.epoch + 1, 0
        if self.last_path is not None and self.last_path.exists():
            self._saved_step = self.step  # (resuming X.last.pt writes X.last.pt again)
        set_rng_state(state["rng"])
        if state.get("loss_state") is not None and hasattr(self.loss_fn, "load_state_dict"):
            self.loss_fn.load_state_dict(move_to(state["loss_state"], self.device))

    def _signals(self) -> contextlib.AbstractContextManager[None]:
        """SIGINT/SIGTERM set a flag the loop checks after each step; a second one
        acts immediately (the previous handlers are back by then)."""

        def stop(signum: int) -> None:
            self._signal = signum

        return stop_signals(stop)


def _all_finite(module: nn.Module) -> bool:
    """Whether every floating-point parameter and buffer holds finite numbers only."""
    flags = [
        torch.isfinite(t).all()
        for t in (*module.parameters(), *module.buffers())
        if t.is_floating_point() and t.numel()
    ]
    return bool(torch.stack(flags).all()) if flags else True


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
