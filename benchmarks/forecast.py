"""Benchmark `seqtool forecast` against statsforecast on M4 Hourly and Weekly.

Validation only: every model sees each M4 training series without its last H
points and forecasts those H points (the M4 test files are kept for an
independent check and never read here).  Scores are M4's sMAPE, MASE and OWA
(relative to Naive2), computed by seqtool.forecast.metrics for every model, so
the peers are scored by the same code.

The slow statsforecast models (AutoETS on Hourly costs minutes of CPU) run once,
in a separate process, writing their forecasts and CPU times to a cache::

    pip install statsforecast           # the bench extra; never a runtime dependency
    python benchmarks/forecast.py --peers-only --cache /tmp/m4-peers.npz
    python benchmarks/forecast.py --cache /tmp/m4-peers.npz --budget 15m

The main run trains seqtool's models within ``--budget`` each (wall clock),
re-runs the cheap peers (SeasonalNaive, Naive) in the same process, reads the
slow ones from the cache, and prints one table per subset with the load average
next to it (the machine is shared; the ratios are what count).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtool.forecast.baselines import forecast_baseline  # noqa: E402
from seqtool.forecast.data import SeriesSet, read_series  # noqa: E402
from seqtool.forecast.metrics import evaluate  # noqa: E402

DATA = Path(os.environ.get("SEQTOOL_DATA", ROOT.parent.parent / "shared" / "data")) / "m4"
# subset -> (file, horizon H, MASE / Naive2 seasonality m as M4 defines it, seasonal period
# the models may use)
SUBSETS = {
    "hourly": ("Hourly-train.csv.gz", 48, 24, 24),
    "weekly": ("Weekly-train.csv.gz", 13, 1, 52),
}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def load_subset(name: str) -> tuple[SeriesSet, int, int, int]:
    file, horizon, season, period = SUBSETS[name]
    path = DATA / file
    if not path.is_file():
        sys.exit(f"{path}: not found (set SEQTOOL_DATA to the folder holding m4/)")
    return read_series(path), horizon, season, period


def peer_models(subset: str, period: int) -> list[tuple[str, object]]:
    """The statsforecast models worth their CPU time on each subset."""
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoCES,
        AutoETS,
        AutoTheta,
        SeasonalNaive,
        Theta,
    )

    if subset == "hourly":
        return [
            ("SeasonalNaive", SeasonalNaive(season_length=24)),
            ("AutoCES", AutoCES(season_length=24)),
            ("AutoTheta", AutoTheta(season_length=24)),
            ("MSTL", MSTL(season_length=[24, 168])),
            ("AutoETS", AutoETS(season_length=24)),
        ]
    return [
        ("SeasonalNaive", SeasonalNaive(season_length=period)),
        ("Theta", Theta(season_length=period)),
        ("AutoTheta", AutoTheta(season_length=period)),
        # ETS refuses seasons over 24 and ARIMA with m = 52 costs hours: both non-seasonal
        ("AutoETS", AutoETS(season_length=1)),
        ("AutoARIMA", AutoARIMA(season_length=1)),
    ]


def run_peer(model: object, series: list[np.ndarray], horizon: int) -> np.ndarray:
    import pandas as pd
    from statsforecast import StatsForecast

    ids = np.concatenate([np.full(len(y), i) for i, y in enumerate(series)])
    ds = np.concatenate([np.arange(len(y)) for y in series])
    df = pd.DataFrame({"unique_id": ids, "ds": ds, "y": np.concatenate(series)})
    sf = StatsForecast(models=[model], freq=1, n_jobs=1)
    fc = sf.forecast(df=df, h=horizon)
    col = [c for c in fc.columns if c not in ("unique_id", "ds")][0]
    fc = fc.sort_values(["unique_id", "ds"])
    return fc[col].to_numpy(dtype=np.float64).reshape(len(series), horizon)


# The order the peers run in: the cheap ones and the targets first, hourly AutoETS
# (minutes of CPU for a middling score) last.
PEER_ORDER = [
    ("hourly", "SeasonalNaive"),
    ("hourly", "AutoCES"),
    ("hourly", "AutoTheta"),
    ("hourly", "MSTL"),
    ("weekly", "SeasonalNaive"),
    ("weekly", "Theta"),
    ("weekly", "AutoARIMA"),
    ("weekly", "AutoTheta"),
    ("weekly", "AutoETS"),
    ("hourly", "AutoETS"),
]


def peers_only(subsets: list[str], cache: Path, skip: set[str]) -> None:
    """Run every statsforecast peer once; save forecasts, CPU and wall seconds."""
    saved: dict[str, np.ndarray] = dict(np.load(cache)) if cache.is_file() else {}
    loaded: dict[str, tuple[SeriesSet, int, int, int]] = {}
    for subset, name in PEER_ORDER:
        key = f"{subset}/{name}"
        if subset not in subsets or name in skip or key in saved:
            continue
        if subset not in loaded:
            loaded[subset] = load_subset(subset)
        data, horizon, _, period = loaded[subset]
        model = dict(peer_models(subset, period))[name]
        load0 = loadavg()
        c0, w0 = time.process_time(), time.perf_counter()
        fc = run_peer(model, data.head(horizon), horizon)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        saved[key] = fc
        saved[key + "#meta"] = np.array([cpu, wall])
        saved[key + "#load"] = np.array(load0 + " / " + loadavg())
        np.savez(cache, **saved)  # after each model: a crash keeps what finished
        print(f"{key}: {cpu:.1f} CPU s, {wall:.1f} s wall, load {load0}", flush=True)


# The seqtool models per subset: (label, settings for ForecastConfig).  Validation is
# off: every model trains on each series without its last H values (the window it is
# scored on) until its budget ends, and the final weights forecast; nothing is picked
# on the scored window.
SEQTOOL_MODELS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "hourly": [("mlp", {"model": "mlp", "context": 168})],
    "weekly": [("mlp", {"model": "mlp", "context": 52})],
}


def seqtool_model(
    subset: str, label: str, settings: dict[str, object], budget: float, seed: int, tmp: Path
) -> tuple[np.ndarray, float, float, int]:
    """Train one seqtool model on the in-sample part; its forecasts, CPU and wall seconds."""
    import torch

    from seqtool.forecast.data import write_series_csv
    from seqtool.tasks.forecast import ForecastConfig, train_forecaster
    from seqtool.train.runner import TrainOptions

    data, horizon, season, _ = load_subset(subset)
    insample = SeriesSet(data.ids, data.head(horizon), data.source)
    path = tmp / f"{subset}-insample.csv"
    path.write_text(write_series_csv(insample), encoding="utf-8")
    cfg = ForecastConfig(data=str(path), horizon=horizon, season=season, valid=False, **settings)  # type: ignore[arg-type]
    torch.set_num_threads(1)
    c0, w0 = time.process_time(), time.perf_counter()
    fm = train_forecaster(
        cfg, TrainOptions(time_budget=budget, seed=seed), tmp / f"{subset}-{label}.pt"
    )
    fc = fm.predict(insample)
    steps = fm.run.result.steps if fm.run is not None else 0
    return fc, time.process_time() - c0, time.perf_counter() - w0, steps


def table(subset: str, rows: list[dict[str, object]]) -> str:
    out = [
        f"| {subset} | sMAPE | MASE | OWA | CPU s | wall s | load (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: float(r["owa"])):  # type: ignore[arg-type]
        out.append(
            f"| {r['model']} | {float(r['smape']):.3f} | {float(r['mase']):.3f} | "  # type: ignore[arg-type]
            f"{float(r['owa']):.3f} | {r['cpu']} | {r['wall']} | {r['load']} |"  # type: ignore[arg-type]
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--subsets", nargs="+", default=["hourly", "weekly"], choices=list(SUBSETS))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/m4-peers.npz"))
    ap.add_argument("--peers-only", action="store_true")
    ap.add_argument("--skip", nargs="*", default=[], help="peer names to leave out")
    ap.add_argument("--budget", default="15m", help="training time per seqtool model (wall)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write every figure here")
    args = ap.parse_args()
    if args.peers_only:
        peers_only(args.subsets, args.cache, set(args.skip))
        return
    import tempfile

    from seqtool.cli.train_options import parse_duration

    budget = parse_duration(args.budget)
    everything: dict[str, list[dict[str, object]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for subset in args.subsets:
            data, horizon, season, period = load_subset(subset)
            insample = data.head(horizon)
            rows: list[dict[str, object]] = []
            for name in ("naive", "snaive", "naive2", "drift"):
                load0, c0 = loadavg(), time.process_time()
                fc = forecast_baseline(
                    name, insample, horizon, period if name == "snaive" else season
                )
                label = f"{name} ({period})" if name == "snaive" else name
                rows.append({"model": f"seqtool {label}", **score(data, horizon, season, fc),
                             "cpu": f"{time.process_time() - c0:.1f}", "wall": "", "load": load0})  # fmt: skip
            from statsforecast.models import Naive, SeasonalNaive

            for name, model in (("Naive", Naive()), ("SeasonalNaive", SeasonalNaive(period))):
                load0, c0, w0 = loadavg(), time.process_time(), time.perf_counter()
                fc = run_peer(model, insample, horizon)
                rows.append({"model": f"statsforecast {name} (this run)", **score(data, horizon, season, fc),
                             "cpu": f"{time.process_time() - c0:.1f}", "wall": f"{time.perf_counter() - w0:.1f}",
                             "load": load0})  # fmt: skip
            for label, settings in SEQTOOL_MODELS[subset]:
                load0 = loadavg()
                fc, cpu, wall, steps = seqtool_model(
                    subset, label, settings, budget, args.seed, Path(tmp)
                )
                rows.append({"model": f"seqtool {label} ({steps} steps)", **score(data, horizon, season, fc),
                             "cpu": f"{cpu:.0f}", "wall": f"{wall:.0f}", "load": f"{load0} -> {loadavg()}"})  # fmt: skip
            # read after training: the slow peers may still be filling the cache
            cache = dict(np.load(args.cache)) if args.cache.is_file() else {}
            for key in sorted(k for k in cache if k.startswith(subset + "/") and "#" not in k):
                cpu, wall = cache[key + "#meta"]
                rows.append({"model": f"statsforecast {key.split('/')[1]} (cached run)",
                             **score(data, horizon, season, cache[key]), "cpu": f"{cpu:.0f}",
                             "wall": f"{wall:.0f}", "load": str(cache[key + "#load"]).split(" / ")[0]})  # fmt: skip
            everything[subset] = rows
            print(f"\n{table(subset, rows)}\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1), encoding="utf-8")


def score(data: SeriesSet, horizon: int, season: int, forecast: np.ndarray) -> dict[str, float]:
    insample = data.head(horizon)
    n2 = forecast_baseline("naive2", insample, horizon, season)
    s = evaluate(insample, data.tail(horizon), forecast, n2, season)
    return {"smape": s.smape, "mase": s.mase, "owa": s.owa}


if __name__ == "__main__":
    main()
