"""The flags every training command shares, added by one decorator.

``@train_options`` appends the shared options (device, precision, optimizer,
schedule, stopping rules, checkpoints, logging, resume, quiet) to a command's
signature and hands the command one :class:`TrainFlags` value as ``train``::

    @app.command("train-lm")
    @train_options
    def train_lm(files: ..., train: TrainFlags) -> None:
        lm_task.train_lm(config, train.options(), output, TrainProgress(...))

Every shared flag defaults to None, so the library's runner can tell what the
user typed from what they left out: typed flags win over a resumed checkpoint's
settings, which win over the command's defaults.  The flag names are the same
in every command.  :class:`TrainProgress` renders a run's reports (progress bar,
evaluations, messages) on stderr.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.errors import UsageError
from seqtool.train.options import TrainOptions, compact

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
    "warmup": Annotated[
        int | None,
        _opt("--warmup", help="Steps of linear warm-up (fitted to a --time-budget, see there)."),
    ],
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
        _opt(
            "--time-budget",
            help="Stop after this much time, e.g. 90s, 10m, 1h30m; the final evaluation and "
            "save fit inside it.  With a budget the warm-up is shortened to at most a quarter "
            "of the steps the budget allows (estimated after the first steps; a message says "
            "so), and the decay follows the clock.",
        ),
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


@dataclass
class TrainFlags:
    """What ``@train_options`` hands a command: the library's settings and ``--quiet``."""

    settings: TrainOptions = field(default_factory=TrainOptions)
    quiet: bool = False

    def options(self) -> TrainOptions:
        """The library's :class:`seqtool.train.options.TrainOptions`."""
        return self.settings


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


def train_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared training flags to a typer command; it receives ``train: TrainFlags``."""
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
        values = {name: kwargs.pop(name) for name in SHARED if name in kwargs}
        quiet = bool(values.pop("quiet", False))
        if values.get("time_budget") is not None:
            values["time_budget"] = parse_duration(values["time_budget"])
        return fn(*args, train=TrainFlags(TrainOptions(**values), quiet), **kwargs)

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


def eval_line(record: dict[str, Any], valid: str) -> str:
    """``step 60 epoch 1.00: train loss 1.2 ppl 3.3 | <valid> | 12.0k tokens/s | 5 s``."""
    parts = [f"step {record['step']} epoch {record['epoch']:.2f}:"]
    if record.get("train_loss") is not None:
        parts.append(f"train loss {record['train_loss']:.4f} ppl {record['train_ppl']:.3f}")
    if valid:
        parts.append(f"| {valid}")
    tps = record["tokens"] / max(record["elapsed"], 1e-9)
    parts.append(f"| {compact(tps)} tokens/s | {record['elapsed']:.0f} s")
    return " ".join(parts)


def valid_summary(record: dict[str, Any]) -> str:
    """The validation figures of an evaluation record: ``valid_loss 1.2 valid_acc 0.87``."""
    return " ".join(
        f"{k} {v:.4g}"
        for k, v in record.items()
        if k.startswith("valid_") and isinstance(v, (int, float))
    )


def valid_fields(*fields: tuple[str, str, str]) -> Callable[[dict[str, Any]], str]:
    """The validation part of an evaluation line from ``(record key, label, format)``
    triples: ``valid_fields(("valid_ppl", "ppl", ".3f"))`` renders ``valid ppl 4.213``,
    and nothing for a record without those figures (no validation split)."""

    def render(record: dict[str, Any]) -> str:
        shown = [f"{label} {record[key]:{fmt}}" for key, label, fmt in fields if key in record]
        return "valid " + " ".join(shown) if shown else ""

    return render


class TrainProgress:
    """A :class:`seqtool.train.task.Reporter` for the terminal: a progress bar with
    the step's loss, throughput and learning rate, one line per evaluation
    (``valid(record)`` renders its validation part; default: every ``valid_*``
    number), the runner's messages and warnings.  Use it as a context manager
    around the run, so the bar is drawn and closed."""

    def __init__(
        self,
        label: str,
        valid: Callable[[dict[str, Any]], str] = valid_summary,
        show_ppl: bool = True,
        messages: bool = True,
    ) -> None:
        from seqtool.cli import render

        self.render = render
        self.bar = render.Progress(label, total=100)
        self.valid, self.show_ppl, self.messages = valid, show_ppl, messages

    def __enter__(self) -> TrainProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def on_step(self, info: Any) -> None:
        fields: dict[str, Any] = {"step": info.step, "loss": round(info.loss, 4)}
        if self.show_ppl:
            fields["ppl"] = round(info.ppl, 3)
        fields.update({"tok/s": compact(info.tokens_per_s), "lr": f"{info.lr:.2e}"})
        self.bar.update(100 * info.progress, **fields)

    def on_eval(self, record: dict[str, Any]) -> None:
        if self.messages:
            self.render.info(eval_line(record, self.valid(record)))

    def on_message(self, level: str, text: str) -> None:
        if level == "warning":
            self.render.warn(text)
        elif self.messages:
            self.render.info(text)
