"""The flags every training command shares, added by one decorator.

``@train_options`` appends the shared options (device, precision, optimizer,
schedule, stopping rules, checkpoints, logging, resume, quiet) to a command's
signature and hands the command one :class:`TrainOptions` value as ``train``::

    @app.command("train-mt")
    @train_options
    def train_mt(src: ..., train: TrainOptions) -> None:
        cfg = train.config(defaults={"lr": 5e-4, "warmup": 4000}, saved=None)

Every shared flag defaults to None, so :meth:`TrainOptions.config` can tell what
the user typed from what they left out: typed flags win over a resumed
checkpoint's settings, which win over the command's defaults.  The flag names
are the same in every command.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = r"(\d+(?:\.\d+)?)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)"


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``84s``, ``10m``, ``3min``, ``1h30m``, ``1.5h`` or ``2 hours``."""
    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        seconds = float(t)
    else:
        parts = re.findall(_PART, t)
        if not parts or re.sub(_PART, "", t).strip():
            raise UsageError(f"--time-budget: cannot read {text!r}; write e.g. 90s, 10m or 1h30m")
        seconds = sum(float(n) * _UNITS[u[0]] for n, u in parts)
    if not seconds > 0 or math.isinf(seconds):
        raise UsageError(f"--time-budget must be positive, not {text!r}")
    return seconds


_OPT = "Training"


def _opt(*decls: str, help: str, **kw: Any) -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=_OPT, show_default=False, **kw)


# name -> (annotation, help)
SHARED: dict[str, Any] = {
    "device": Annotated[
        str | None,
        _opt("--device", help="auto, cpu, cuda, cuda:N or mps (default auto: CUDA, MPS, CPU)."),
    ],
    "precision": Annotated[
        str | None,
        _opt(
            "--precision",
            help="auto, fp32, bf16 or fp16 (default auto: bf16 autocast on CUDA, and for "
            "train-mt also on CPUs that compute bf16 natively; fp32 elsewhere).",
        ),
    ],
    "compile": Annotated[
        bool | None, _opt("--compile/--no-compile", help="Compile the model (torch.compile).")
    ],
    "threads": Annotated[int | None, _opt("--threads", help="CPU threads for torch.")],
    "optimizer": Annotated[str | None, _opt("--optimizer", help="adamw (default) or sgd.")],
    "lr": Annotated[float | None, _opt("--lr", help="Peak learning rate.")],
    "weight_decay": Annotated[
        float | None, _opt("--weight-decay", help="Weight decay (on matrices only).")
    ],
    "momentum": Annotated[float | None, _opt("--momentum", help="SGD momentum (default 0).")],
    "schedule": Annotated[
        str | None,
        _opt(
            "--schedule",
            help="Learning-rate decay over the run: cosine (default), linear, constant or inverse-sqrt.",
        ),
    ],
    "warmup": Annotated[int | None, _opt("--warmup", help="Steps of linear warm-up.")],
    "min_lr": Annotated[
        float | None,
        _opt("--min-lr", help="Final learning rate as a fraction of --lr (default 0.1)."),
    ],
    "clip": Annotated[
        float | None, _opt("--clip", help="Clip the global gradient norm to this (0: off).")
    ],
    "accumulate": Annotated[
        int | None,
        _opt("--accumulate", help="Batches per optimizer step (gradient accumulation; default 1)."),
    ],
    "epochs": Annotated[
        int | None,
        _opt("--epochs", help="Stop after this many epochs (default 10 when no rule is given)."),
    ],
    "max_steps": Annotated[
        int | None, _opt("--max-steps", help="Stop after this many optimizer steps.")
    ],
    "time_budget": Annotated[
        str | None,
        _opt("--time-budget", help="Stop after this much time, e.g. 90s, 10m, 1h30m."),
    ],
    "patience": Annotated[
        int | None,
        _opt("--patience", help="Stop after this many evaluations without improvement."),
    ],
    "eval_every": Annotated[
        int | None,
        _opt("--eval-every", help="Evaluate every N steps (and always at each epoch end)."),
    ],
    "checkpoint_every": Annotated[
        float | None,
        _opt("--checkpoint-every", help="Minutes between resumable checkpoints (default 10)."),
    ],
    "seed": Annotated[int | None, _opt("--seed", help="Seed for every random source (default 0).")],
    "log": Annotated[
        Path | None,
        _opt("--log", help="JSONL file for the evaluations (default: next to the output)."),
    ],
    "resume": Annotated[
        Path | None,
        _opt("--resume", help="Continue from a resumable checkpoint (OUT.last.pt)."),
    ],
    "quiet": Annotated[bool, _opt("--quiet", "-q", help="No progress or summaries on stderr.")],
}
_RENAMED = {"checkpoint_every": "checkpoint_every_minutes"}


@dataclass
class TrainOptions:
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
    time_budget: str | None = None
    patience: int | None = None
    eval_every: int | None = None
    checkpoint_every: float | None = None
    seed: int | None = None
    log: Path | None = None
    resume: Path | None = None
    quiet: bool = False

    def given(self) -> dict[str, Any]:
        """The TrainConfig fields the user set on the command line."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("log", "resume", "quiet") or value is None:
                continue
            if f.name == "time_budget":
                value = parse_duration(value)
            out[_RENAMED.get(f.name, f.name)] = value
        return out

    def config(self, defaults: dict[str, Any], saved: dict[str, Any] | None = None) -> Any:
        """The TrainConfig: typed flags > ``saved`` (a resumed run's) > ``defaults``."""
        from seqtool.train.trainer import TrainConfig

        given = self.given()
        merged = {**defaults, **(saved or {}), **given}
        rules = ("epochs", "max_steps", "time_budget")
        if any(k in given for k in rules):
            # A stopping rule on the command line replaces the default or saved ones.
            for k in rules:
                merged[k] = given.get(k)
        cfg = TrainConfig(**merged)
        cfg.check()
        return cfg


def defaults_epilog(*tables: dict[str, dict[str, Any]]) -> str:
    """``--help`` text listing each model's default flags, merged from ``tables``
    (model name -> settings), so that the help always says what the code does."""
    lines = ["\b", "Defaults by --model (every one can be changed by its flag):"]
    for name in tables[0]:
        merged = {k: v for t in tables for k, v in t.get(name, {}).items()}
        flags = []
        for key, value in merged.items():
            flag = "--" + key.replace("_", "-")
            if isinstance(value, bool):
                flags.append(flag if value else f"--no-{key.replace('_', '-')}")
            else:
                flags.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
        lines.append(f"  {name}: {' '.join(flags)}")
    return "\n".join(lines)


def output_path(output: Path | None, resume: Path | None, default: str) -> Path:
    """``-o``; else, when resuming ``X.last.pt``, the run's own ``X.pt``; else ``default``.

    So `--resume run.last.pt` goes on writing run.pt and run.log.jsonl, never the
    default name of a fresh run.
    """
    if output is not None:
        return output
    if resume is not None and resume.name.endswith(".last.pt"):
        return resume.with_name(resume.name[: -len(".last.pt")] + ".pt")
    return Path(default)


def fit_for_demo(label: str, build: Callable[[Callable[[Any], None]], Any]) -> tuple[Any, Any]:
    """Train one of `seqtool demo`'s models behind a progress bar labelled ``label``.

    ``build(on_step)`` returns the Trainer; the resumable state it writes is
    removed afterwards (the demo keeps the model only).  Returns (trainer, result).
    """
    from seqtool.cli import render

    bar = render.Progress(label, total=100)
    trainer = build(lambda s: bar.update(100 * s.progress, loss=round(s.loss, 3)))
    with bar:
        result = trainer.fit()
    if trainer.last_path is not None:
        trainer.last_path.unlink(missing_ok=True)
    return trainer, result


def quiet_cpu_threads() -> None:
    """Let idle OpenMP threads sleep instead of spin (unless the user set a policy).

    Must run before torch is imported.  With the default policy, torch's two CPU
    threads spin-wait for each other; when anything else runs on the machine one
    of them is descheduled and training slowed down 30 to 100 times in our
    measurements (2 cores, char LMs), and beam-search decoding with 2 threads took
    86 s instead of 3 s; the passive policy costs nothing measurable.  ``cli.main()``
    calls this for every command; commands that use torch call it again so that
    in-process runs (tests, CliRunner) get it too.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def train_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared training flags to a typer command; it receives ``train: TrainOptions``."""
    sig = inspect.signature(fn, eval_str=True)
    own = [p for p in sig.parameters.values() if p.name != "train"]
    shared = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=annotation,
            default=False if name == "quiet" else None,
        )
        for name, annotation in SHARED.items()
    ]

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet_cpu_threads()
        opts = TrainOptions(**{name: kwargs.pop(name) for name in SHARED if name in kwargs})
        return fn(*args, train=opts, **kwargs)

    wrapper.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            else p
            for p in own
        ]
        + shared
    )
    wrapper.__annotations__ = {p.name: p.annotation for p in own + shared}
    return wrapper
