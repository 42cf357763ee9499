"""Forecasting as a trained task: one global model over many series.

:class:`ForecastTask` tells the runner how to train a
:class:`~seqtool.models.forecaster.Forecaster` on the series of one file: windows
of ``context`` values cut from every series (:mod:`seqtool.forecast.windows`),
the next ``horizon`` values as targets (``strategy="direct"``) or the next one
(``"recursive"``: the model is fed its own predictions for the later steps), and
validation on the last ``horizon`` values of each series, which training never
sees, scored with M4's sMAPE, MASE and OWA (the checkpoint kept is the one with
the lowest validation OWA).  The baselines (``naive``, ``snaive``, ``naive2``,
``drift``) need no training: :func:`train_forecaster` writes their model file
at once, so every forecast file can be compared the same way.

:class:`ForecastModel` is the trained artifact: ``load`` it, ``predict`` the
next ``horizon`` values of any series, ``evaluate`` forecasts against actuals.

Example::

    cfg = ForecastConfig(data="Hourly-train.csv", horizon=48, season=24, model="mlp")
    run, model = train_forecaster(cfg, TrainOptions(time_budget=600), output="fc.pt")
    series = read_series("Hourly-train.csv")
    forecasts = model.predict(series)              # (414, 48)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtool.errors import (
    CheckpointError,
    InputError,
    UsageError,
    check_at_least,
    check_choice,
    check_fraction,
)
from seqtool.forecast.baselines import BASELINES, forecast_baseline
from seqtool.forecast.data import LAYOUTS, SeriesSet, check_fill, read_series
from seqtool.forecast.metrics import Scores, evaluate
from seqtool.forecast.windows import WindowSampler
from seqtool.io import check_output_path
from seqtool.models.forecaster import ARCHS, LOSSES, SCALES, Forecaster, ForecasterConfig
from seqtool.train.checkpoint import load_checkpoint, restore_model, save_checkpoint
from seqtool.train.runner import Run, TrainOptions, run_training
from seqtool.train.task import Reporter
from seqtool.train.trainer import BatchSource, LossFn

KIND = "forecaster"
BASELINE_KIND = "forecast_baseline"
MODELS = (*ARCHS, *BASELINES)
STRATEGIES = ("direct", "recursive")

# Sizes and training settings per architecture: what learned well on M4 Hourly and
# Weekly on two loaded CPU cores in a few minutes (benchmarks/forecast.py).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"hidden": 256, "layers": 3, "blocks": 2, "dropout": 0.0},
    "rnn": {"hidden": 64, "layers": 1, "dropout": 0.0},
    "gru": {"hidden": 64, "layers": 1, "dropout": 0.0},
    "lstm": {"hidden": 64, "layers": 1, "dropout": 0.0},
    "transformer": {"hidden": 64, "layers": 2, "heads": 4, "dropout": 0.0},
}
TRAIN_DEFAULTS: dict[str, Any] = {"lr": 3e-3, "warmup": 20, "weight_decay": 0.0, "clip": 1.0}


@dataclass
class ForecastConfig:
    """What to train: the data, the forecast task, the model (None = its default)."""

    data: str  # a file, or "-" for stdin
    horizon: int
    season: int = 1  # MASE's lag and Naive2's period (M4: Hourly 24, Weekly 1)
    model: str = "mlp"  # mlp | rnn | gru | lstm | transformer | naive | snaive | naive2 | drift
    strategy: str = "direct"  # direct | recursive
    context: int | None = None  # values per window (default max(4 horizon, 2 season))
    layout: str = "auto"
    id_col: str = "id"
    time_col: str = "time"
    value_col: str = "value"
    fill: str = "error"
    hidden: int | None = None
    layers: int | None = None
    blocks: int | None = None
    heads: int | None = None
    patch: int | None = None  # transformer: values per token (default: season when it fits)
    dropout: float | None = None
    scale: str = "mean"  # mean | last | none
    loss: str = "mae"  # mae | mse | smape
    history: int | None = None  # windows end within the last `history` values of a series
    batch_size: int = 256
    batches_per_epoch: int = 100
    valid: bool = True  # hold out the last horizon values of every series

    def check(self) -> None:
        """Refuse impossible settings, naming the parameter."""
        check_at_least("horizon", self.horizon)
        check_at_least("season", self.season)
        check_choice("model", self.model, MODELS)
        if self.strategy not in STRATEGIES:
            raise UsageError(f"unknown `strategy` {self.strategy!r}; choose direct or recursive")
        if self.layout not in LAYOUTS:
            raise UsageError(f"unknown `layout` {self.layout!r}; choose {', '.join(LAYOUTS)}")
        check_fill(self.fill)
        check_fraction("dropout", self.dropout)
        if self.scale not in SCALES:
            raise UsageError(f"unknown `scale` {self.scale!r}; choose {', '.join(SCALES)}")
        if self.loss not in LOSSES:
            raise UsageError(f"unknown `loss` {self.loss!r}; choose {', '.join(LOSSES)}")
        for name in ("context", "history", "batch_size", "batches_per_epoch"):
            check_at_least(name, getattr(self, name))

    def read_data(self) -> SeriesSet:
        """The series of ``data``, read with these layout and fill settings."""
        return read_series(
            self.data,
            self.layout,
            id_col=self.id_col,
            time_col=self.time_col,
            value_col=self.value_col,
            fill=self.fill,
        )

    @property
    def baseline(self) -> bool:
        return self.model in BASELINES

    @property
    def outputs(self) -> int:
        return self.horizon if self.strategy == "direct" else 1

    def window(self) -> int:
        return self.context or max(4 * self.horizon, 2 * self.season)

    def model_config(self) -> ForecasterConfig:
        """The :class:`ForecasterConfig` these settings describe."""
        sizes = dict(MODEL_DEFAULTS[self.model])
        for name in ("hidden", "layers", "blocks", "heads", "dropout"):
            if getattr(self, name) is not None:
                sizes[name] = getattr(self, name)
        context = self.window()
        patch = self.patch
        if patch is None and self.model == "transformer":
            fits = self.season > 1 and context % self.season == 0 and context > self.season
            patch = self.season if fits else 1
        if patch is not None:
            sizes["patch"] = patch
        try:
            return ForecasterConfig(
                arch=self.model,
                context=context,
                outputs=self.outputs,
                scale=self.scale,
                loss=self.loss,
                **sizes,
            )
        except ValueError as e:
            raise UsageError(f"impossible {self.model} settings: {e}") from None


def check_lengths(series: SeriesSet, needed: int, why: str) -> None:
    """Every series must hold ``needed`` values; the error names the first that does not."""
    lengths = series.lengths()
    short = np.flatnonzero(lengths < needed)
    if len(short):
        i = int(short[0])
        more = f" ({len(short)} series are too short)" if len(short) > 1 else ""
        raise InputError(
            f"{series.where(i)} has {lengths[i]} values, fewer than {why} = {needed}{more}",
            hint="lower `context` (or `horizon`), or leave the short series out",
        )


class _TensorBatches:
    """The window sampler's numpy batches as the tensors the trainer moves."""

    def __init__(self, sampler: WindowSampler) -> None:
        self.sampler = sampler

    def __len__(self) -> int:
        return len(self.sampler)

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        for x, y in self.sampler.batches(epoch, start):
            yield {"x": torch.from_numpy(x), "y": torch.from_numpy(y)}


def _window_loss(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    _, loss = model(batch["x"], targets=batch["y"])
    n = batch["y"].numel()
    return loss * n, n


@dataclass
class ForecastTask:
    """Forecasting for the runner (see :class:`seqtool.train.task.Task`)."""

    config: ForecastConfig
    name: str = "forecast train"
    kinds: tuple[str, ...] = (KIND,)
    metric: str = "valid_owa"
    mode: str = "min"
    metric_label: str = "valid OWA"
    metric_digits: int = 4
    token_label: str = "values"
    series: SeriesSet | None = field(default=None, repr=False)

    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        cfg = self.config
        if resume is not None:  # the model settings come back as they were trained
            saved = resume.get("forecast", {}).get("task", {})
            keep = {f.name for f in dataclasses.fields(ForecastConfig)} - {"data"}
            self.config = cfg = dataclasses.replace(
                cfg, **{k: v for k, v in saved.items() if k in keep}
            )
        cfg.check()
        if cfg.baseline:
            raise UsageError(f"`model` {cfg.model} is a baseline: it needs no training")
        self.series = cfg.read_data()
        held = cfg.horizon if cfg.valid else 0
        need = cfg.window() + cfg.outputs + held
        why = "context + " + ("horizon" if cfg.strategy == "direct" else "1")
        check_lengths(self.series, need, why + (" + horizon (validation)" if held else ""))
        self.model_cfg = cfg.model_config()
        self.train_part = self.series.head(held)
        if held:
            self.naive2 = forecast_baseline("naive2", self.train_part, cfg.horizon, cfg.season)
            self.actual = self.series.tail(held)

    def train_defaults(self, device: torch.device) -> dict[str, Any]:
        return dict(TRAIN_DEFAULTS)

    def build_model(self) -> nn.Module:
        return Forecaster(self.model_cfg)

    def batches(self, seed: int, rank: int, world_size: int) -> BatchSource:
        cfg = self.config
        sampler = WindowSampler(
            self.train_part,
            self.model_cfg.context,
            self.model_cfg.outputs,
            cfg.batch_size,
            cfg.batches_per_epoch,
            seed=seed,
            history=cfg.history,
            stream=rank,
        )
        return _TensorBatches(sampler)

    def loss(self, model: nn.Module) -> LossFn:
        return _window_loss

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]] | None:
        if not self.config.valid:
            return None
        cfg = self.config

        def validate(model: nn.Module) -> dict[str, Any]:
            device = next(model.parameters()).device
            fc = _forecast(model, self.train_part, cfg.horizon, device)
            s = evaluate(self.train_part, self.actual, fc, self.naive2, cfg.season)
            return {"valid_owa": s.owa, "valid_smape": s.smape, "valid_mase": s.mase}

        return validate

    def payload(self) -> dict[str, Any]:
        task = {k: v for k, v in dataclasses.asdict(self.config).items() if k != "data"}
        return {
            "kind": KIND,
            "config": dataclasses.asdict(self.model_cfg),
            "forecast": {"task": task, "data": str(self.config.data)},
        }

    def describe(self, model: nn.Module, source: BatchSource) -> tuple[str, str]:
        cfg, mc = self.config, self.model_cfg
        params = sum(p.numel() for p in model.parameters())
        assert self.series is not None
        what = (
            f"{cfg.model} ({params / 1e3:.1f}k parameters), {cfg.strategy}, horizon "
            f"{cfg.horizon} on {len(self.series)} series"
        )
        how = f"batches of {cfg.batch_size} windows of {mc.context} values, {len(source)} per epoch"
        return what, how


@torch.no_grad()
def _forecast(
    model: nn.Module, series: list[np.ndarray], horizon: int, device: torch.device, rows: int = 1024
) -> np.ndarray:
    """``(len(series), horizon)`` forecasts from the last ``context`` values of each."""
    net: Forecaster = model  # type: ignore[assignment]
    c = net.config.context
    x = torch.tensor(np.stack([s[len(s) - c :] for s in series]), dtype=torch.float32)
    out = [
        net.forecast(x[i : i + rows].to(device), horizon).double().cpu()
        for i in range(0, len(x), rows)
    ]
    return torch.cat(out).numpy()


@dataclass
class ForecastModel:
    """A trained forecaster or a baseline, as :func:`train_forecaster` wrote it."""

    name: str  # the model: mlp, gru, ..., or a baseline
    horizon: int
    season: int
    strategy: str
    net: Forecaster | None = None  # None for a baseline
    checkpoint: dict[str, Any] = field(default_factory=dict, repr=False)
    run: Run | None = field(default=None, repr=False)  # the training run, when just trained

    @property
    def context(self) -> int:
        return self.net.config.context if self.net is not None else 1

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], device: str | torch.device = "cpu"
    ) -> ForecastModel:
        ckpt = load_checkpoint(path, kinds=(KIND, BASELINE_KIND))
        info = ckpt.get("forecast", {}).get("task", {})
        try:
            horizon, season = int(info["horizon"]), int(info["season"])
            name, strategy = str(info["model"]), str(info.get("strategy", "direct"))
        except (KeyError, TypeError, ValueError):
            raise CheckpointError(
                f"{path}: malformed forecast checkpoint (no task settings)"
            ) from None
        if ckpt["kind"] == BASELINE_KIND:
            return cls(name, horizon, season, strategy, None, ckpt)
        net: Forecaster = restore_model(ckpt, str(path), build=_build)  # type: ignore[assignment]
        net.to(torch.device(device)).eval()
        return cls(name, horizon, season, strategy, net, ckpt)

    def predict(self, series: SeriesSet, horizon: int | None = None) -> np.ndarray:
        """The next ``horizon`` (default: the trained horizon) values of every series,
        ``(len(series), horizon)``; a recursive model runs past its horizon, a direct
        one only up to it."""
        h = self.horizon if horizon is None else horizon
        check_at_least("horizon", h)
        if self.net is None:
            check_lengths(series, 1, "one value")
            return forecast_baseline(self.name, series.values, h, self.season)
        if self.strategy == "direct" and h > self.horizon:
            raise UsageError(
                f"`horizon` {h} is longer than the {self.horizon} values this direct model predicts"
            )
        check_lengths(series, self.context, "the model's context")
        device = next(self.net.parameters()).device
        return _forecast(self.net, series.values, h, device)

    def evaluate(
        self, series: SeriesSet, actuals: SeriesSet
    ) -> tuple[np.ndarray, np.ndarray, Scores]:
        """Forecast ``series`` and score against ``actuals`` (the same ids, at least
        ``horizon`` values each): returns the forecasts, the actual values used and
        the M4 scores (MASE scale and Naive2 from ``series``)."""
        actual = _actuals_for(series, actuals, self.horizon)
        fc = self.predict(series)
        n2 = forecast_baseline("naive2", series.values, self.horizon, self.season)
        return fc, actual, evaluate(series.values, actual, fc, n2, self.season)


def _build(config: dict[str, Any]) -> Forecaster:
    try:
        return Forecaster(ForecasterConfig(**config))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"bad forecaster config: {e}") from None


def _actuals_for(series: SeriesSet, actuals: SeriesSet, horizon: int) -> np.ndarray:
    pos = {k: i for i, k in enumerate(actuals.ids)}
    rows = []
    for k in series.ids:
        if k not in pos:
            raise InputError(f"{actuals.source}: no actual values for series {k!r}")
        a = actuals.values[pos[k]]
        if len(a) < horizon:
            raise InputError(
                f"{actuals.where(pos[k])} has {len(a)} actual values, fewer than the horizon {horizon}"
            )
        rows.append(a[:horizon])
    return np.stack(rows)


def save_baseline(cfg: ForecastConfig, output: str | os.PathLike[str]) -> Scores | None:
    """Write a baseline's model file; returns its validation scores when ``cfg.valid``."""
    cfg.check()
    task = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "data"}
    scores = None
    if cfg.valid:
        series = cfg.read_data()
        check_lengths(series, cfg.horizon + 1, "horizon + 1 (validation)")
        part = series.head(cfg.horizon)
        fc = forecast_baseline(cfg.model, part, cfg.horizon, cfg.season)
        n2 = forecast_baseline("naive2", part, cfg.horizon, cfg.season)
        scores = evaluate(part, series.tail(cfg.horizon), fc, n2, cfg.season)
    metrics = (
        {"valid_owa": scores.owa, "valid_smape": scores.smape, "valid_mase": scores.mase}
        if scores
        else {}
    )
    save_checkpoint(
        Path(output),
        {
            "kind": BASELINE_KIND,
            "config": {"name": cfg.model},
            "model": {},
            "forecast": {"task": task, "data": str(cfg.data)},
            "metrics": metrics,
        },
    )
    return scores


def train_forecaster(
    config: ForecastConfig,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    meta: dict[str, Any] | None = None,
    keep_last: bool = True,
) -> ForecastModel:
    """Train a forecaster on ``config.data`` (see
    :func:`~seqtool.train.runner.run_training` for ``options``, ``output`` (default
    ``fc.pt``) and ``reporter``), or write a baseline's model file; returns the best
    model (the final one without validation), with its run summary in ``.run``."""
    if config.baseline:
        out = check_output_path(output or "fc.pt", [config.data])
        save_baseline(config, out)
        return ForecastModel.load(out)
    run = run_training(
        ForecastTask(config),
        options,
        output,
        reporter,
        default_output="fc.pt",
        meta=meta,
        keep_last=keep_last,
        inputs=[config.data],
    )
    fm = ForecastModel.load(run.output, next(run.model.parameters()).device)
    fm.run = run
    return fm
