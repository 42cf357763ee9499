"""The one runner every trained task goes through: :func:`run_training`.

A task (:class:`~seqtool.train.task.Task`) says what is trained; this module owns
how a run goes, the same for every task:

* **settings**: :class:`TrainOptions` holds what the caller set (``None`` = not
  set); :func:`resolve_config` merges it over a resumed run's settings over the
  task's defaults into the :class:`~seqtool.train.trainer.TrainConfig`, with the
  default stopping rule (``epochs=10``) when a fresh run names none;
* **resume**: the checkpoint is checked (kind, a training state in it), the task
  restores its vocabulary, model settings and data split from it, the weights,
  optimizer, schedule, RNG and data position come back, and training continues
  exactly where it stopped;
* **seeding** before the model is built, so ``seed`` fixes the initial weights;
* device, precision, threads, ``torchrun`` set-up and teardown, signals (SIGINT /
  SIGTERM write a resumable checkpoint), time budgets (the schedule fitted to the
  steps the budget allows, the final evaluation and save inside it), early stopping;
* reporting through a :class:`~seqtool.train.task.Reporter`: the start line, every
  step and evaluation, warnings and the final summary; the runner never prints.

Example (any task; :mod:`seqtool.tasks.lm` has the language model)::

    from seqtool.tasks.lm import LMConfig, LMTask
    run = run_training(LMTask(LMConfig(files=["train.txt"], model="lstm")),
                       TrainOptions(time_budget=60, seed=1), output="lm.pt")
    print(run.result.best, run.output)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from torch import nn

from seqtool.errors import CheckpointError, InputError
from seqtool.io import check_not_input, check_output_path
from seqtool.train import distributed as dist_util
from seqtool.train.checkpoint import check_shapes, check_weights, load_checkpoint
from seqtool.train.device import describe, resolve_device, seed_everything
from seqtool.train.options import TrainOptions, compact
from seqtool.train.task import NullReporter, Reporter, Task
from seqtool.train.trainer import TrainConfig, Trainer, TrainResult

DEFAULT_EPOCHS = 10  # the stopping rule of a fresh run that names none
STOPPING_RULES = ("epochs", "max_steps", "time_budget")


def resolve_config(
    options: TrainOptions,
    defaults: dict[str, Any] | None = None,
    saved: dict[str, Any] | None = None,
) -> TrainConfig:
    """The run's :class:`TrainConfig`: ``options`` > ``saved`` (a resumed run's) >
    ``defaults``.  A stopping rule in ``options`` replaces the others; a fresh run
    with none stops after :data:`DEFAULT_EPOCHS` epochs."""
    given = options.given()
    merged: dict[str, Any] = dict(defaults or {})
    if not saved and not any(merged.get(k) is not None for k in STOPPING_RULES):
        merged["epochs"] = DEFAULT_EPOCHS
    merged.update(saved or {})
    merged.update(given)
    if any(k in given for k in STOPPING_RULES):
        for k in STOPPING_RULES:
            merged[k] = given.get(k)
    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in merged.items() if k in names})
    cfg.check()
    return cfg


def saved_config(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The training settings a checkpoint was made with."""
    saved = ckpt.get("train_config") or {}
    names = {f.name for f in fields(TrainConfig)}
    return {k: v for k, v in saved.items() if k in names}


def output_path(output: str | os.PathLike[str] | None, resume: Path | None, default: str) -> Path:
    """``output``; else, when resuming ``X.last.pt``, the run's own ``X.pt``; else
    ``default``.  So resuming ``run.last.pt`` goes on writing ``run.pt`` and
    ``run.log.jsonl``, never the default name of a fresh run."""
    if output is not None:
        return Path(output)
    if resume is not None and resume.name.endswith(".last.pt"):
        return resume.with_name(resume.name[: -len(".last.pt")] + ".pt")
    return Path(default)


def check_log_path(path: Path, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """The metrics log is appended to: an existing one must be a writable file, a
    new one needs a writable folder; never an input.  Checked before training, so a
    run does not stop at its first evaluation."""
    if path.exists() and path.is_file():
        check_not_input(path, inputs, "`log`")
        if not os.access(path, os.W_OK):
            raise InputError(f"{path}: `log` is not writable")
        return
    check_output_path(path, inputs, "`log`")


def load_resume(path: Path, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The checkpoint to continue from; it must hold a training state."""
    ckpt = load_checkpoint(path, kinds)
    state = ckpt.get("train_state")
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: holds a finished model, not a training state",
            hint="resume from the .last.pt file written beside it",
        )
    check_weights(ckpt["model"], str(path))
    step, ranks = state.get("step"), state.get("world_size", 1)
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise CheckpointError(f"{path}: malformed training state (step {step!r})")
    if isinstance(ranks, bool) or not isinstance(ranks, int) or ranks < 1:
        raise CheckpointError(f"{path}: malformed training state (world_size {ranks!r})")
    return ckpt


@dataclass
class Run:
    """What :func:`run_training` returns."""

    result: TrainResult
    model: nn.Module  # the trained module (final weights; the best are in ``output``)
    output: Path
    last_path: Path | None
    log_path: Path | None
    trainer: Trainer


def run_training(
    task: Task,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    default_output: str = "model.pt",
    meta: dict[str, Any] | None = None,
    dist: dist_util.DistInfo | None = None,
    keep_last: bool = True,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
) -> Run:
    """Train ``task`` (see the module docstring); returns the summary and the model.

    ``output`` receives the best weights (``default_output`` when None, or the
    resumed run's own file); ``<output stem>.last.pt`` the resumable state (removed
    at the end when ``keep_last`` is False).  ``meta`` is stored in every
    checkpoint (the command line records its argv there).  ``dist`` defaults to
    what ``torchrun`` put in the environment (a single process otherwise).
    ``inputs`` are the files the task reads (text, vocabularies): neither ``output``
    nor the log may be one of them (nor, for the log, the resumed checkpoint).
    """
    options = options or TrainOptions()
    reporter = reporter or NullReporter()
    dinfo = dist if dist is not None else dist_util.from_env(os.environ)

    def say(level: str, text: str) -> None:
        if dinfo.is_main:
            reporter.on_message(level, text)

    resume_path = Path(options.resume) if options.resume is not None else None
    read = [p for p in inputs if p is not None]
    out = check_output_path(output_path(output, resume_path, default_output), read)
    # The resumable state is written beside the output during the run (whatever keep_last).
    check_output_path(out.with_name(out.stem + ".last" + out.suffix), read)
    log_path = Path(options.log) if options.log else out.with_name(out.stem + ".log.jsonl")
    check_log_path(log_path, [*read, resume_path, out])
    resume = saved = None
    if resume_path is not None:
        resume = load_resume(resume_path, task.kinds)
        saved = saved_config(resume)
        ranks = resume["train_state"].get("world_size", 1)
        if ranks != dinfo.world_size:
            say(
                "warning",
                f"`resume`: the run used {ranks} process(es), this one {dinfo.world_size}; "
                "training continues, but not exactly as an uninterrupted run would",
            )
    seed = options.seed if options.seed is not None else int((saved or {}).get("seed", 0))
    task.prepare(resume, seed, lambda text: say("warning", text))
    device_name = options.device or (saved or {}).get("device") or "auto"
    defaults = task.train_defaults(resolve_device(device_name))
    cfg = resolve_config(options, defaults, saved)
    if resume is not None:  # the stored weights must fit the config before it is built
        check_shapes(resume, str(resume_path), lambda config: task.build_model())
    device = dist_util.setup(dinfo, resolve_device(cfg.device))
    try:
        # Seed before the model exists: the seed fixes the initial weights too.
        seed_everything(cfg.seed)
        model = task.build_model()
        if resume is not None:
            model.load_state_dict(resume["model"])
        source = task.batches(cfg.seed, dinfo.rank, dinfo.world_size)
        payload_meta = dict(meta or {})

        def extra() -> dict[str, Any]:
            return {**task.payload(), **payload_meta}

        trainer = Trainer(
            model,
            cfg,
            source,
            task.loss(model),
            evaluate=task.evaluator(),
            metric=task.metric,
            mode=task.mode,
            output=out,
            log_path=log_path if dinfo.is_main else None,
            checkpoint_extra=extra,
            on_step=reporter.on_step,
            on_eval=reporter.on_eval,
            on_message=lambda text: say("info", text),
            on_warning=lambda text: say("warning", text),
            dist=dinfo,
            device=device,
        )
        what, batching = task.describe(model, source)
        say(
            "info",
            f"{task.name}: {what}; {describe(device, trainer.amp_dtype)}"
            + (f" x {dinfo.world_size} processes" if dinfo.enabled else "")
            + f"; {batching}"
            + (f"; resuming at step {resume['train_state']['step']}" if resume else ""),
        )
        result = trainer.fit(resume=resume["train_state"] if resume is not None else None)
    finally:
        dist_util.teardown()
    if not keep_last and trainer.last_path is not None:
        trainer.last_path.unlink(missing_ok=True)
    best = (
        f"best {task.metric_label} {result.best:.{task.metric_digits}f} at step {result.best_step}; "
        if result.best is not None
        else ""
    )
    say(
        "info",
        f"done ({result.stop_reason}): {result.steps} steps, {result.epochs:.2f} epochs, "
        f"{result.elapsed:.1f} s, {compact(result.tokens / max(result.elapsed, 1e-9))} "
        f"{task.token_label}/s; {best}model in {out}"
        + (f", resumable state in {trainer.last_path}" if keep_last else "")
        + f", log in {log_path}",
    )
    return Run(
        result, trainer.module, out, trainer.last_path if keep_last else None, log_path, trainer
    )


__all__ = [
    "DEFAULT_EPOCHS",
    "Run",
    "TrainOptions",
    "load_resume",
    "output_path",
    "resolve_config",
    "run_training",
    "saved_config",
]
