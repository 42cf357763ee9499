"""Forecasting through the shared runner: the Python API and `seqtool forecast`."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtool.errors import InputError, UsageError
from seqtool.forecast.data import from_arrays, read_series
from seqtool.tasks.forecast import ForecastConfig, ForecastModel, train_forecaster
from seqtool.train.runner import TrainOptions
from seqtool.train.trainer import TrainingInterrupted


def write_values(path: Path, values: np.ndarray) -> Path:
    path.write_text("".join(f"{v!r}\n" for v in values.tolist()), encoding="utf-8")
    return path


def write_wide(path: Path, rows: dict[str, np.ndarray]) -> Path:
    path.write_text(
        "".join(k + "," + ",".join(repr(float(v)) for v in r) + "\n" for k, r in rows.items()),
        encoding="utf-8",
    )
    return path


def sines(n: int = 160, k: int = 6) -> dict[str, np.ndarray]:
    """k noiseless sines of different phase, period and magnitude."""
    t = np.arange(n)
    return {f"s{i}": (2 + i) * (3 + np.sin(2 * np.pi * t / (12 + 2 * i) + i)) for i in range(k)}


def trends(n: int = 120, k: int = 6) -> dict[str, np.ndarray]:
    t = np.arange(n)
    return {f"t{i}": 10 * (i + 1) + (0.5 + 0.3 * i) * t for i in range(k)}


# ----------------------------------------------------------------------------- API


def test_mlp_learns_noiseless_sines_and_reloads(tmp_path: Path) -> None:
    data = write_wide(tmp_path / "sines.csv", sines())
    cfg = ForecastConfig(data=str(data), horizon=8, context=24, model="mlp", hidden=64, layers=2,
                         blocks=1, batch_size=64)  # fmt: skip
    fm = train_forecaster(
        cfg, TrainOptions(max_steps=400, seed=0, eval_every=100), tmp_path / "fc.pt"
    )
    assert fm.run.result.best is not None and fm.run.result.best < 0.1  # valid OWA
    again = ForecastModel.load(tmp_path / "fc.pt")
    series = read_series(data)
    np.testing.assert_allclose(again.predict(series), fm.predict(series))
    truth = np.stack([v[-8:] for v in sines(168).values()])
    part = from_arrays([v[:-8] for v in sines(168).values()], ids=series.ids)
    assert np.abs(again.predict(part) - truth).mean() / truth.mean() < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "rnn", "gru", "lstm", "transformer"])
@pytest.mark.parametrize("shape", ["sine", "trend"])
def test_every_model_fits_a_sine_and_a_trend(tmp_path: Path, model: str, shape: str) -> None:
    rows = sines() if shape == "sine" else trends()
    data = write_wide(tmp_path / f"{shape}.csv", rows)
    cfg = ForecastConfig(data=str(data), horizon=6, context=24, model=model, hidden=32, layers=2,
                         blocks=2, batch_size=64, patch=4 if model == "transformer" else None)  # fmt: skip
    fm = train_forecaster(cfg, TrainOptions(max_steps=600, seed=0, eval_every=100, lr=1e-2),
                          tmp_path / "fc.pt")  # fmt: skip
    rec = fm.run.result.last_eval
    assert rec is not None
    assert fm.run.result.best < 0.15, rec  # OWA: far better than Naive2
    assert rec["valid_smape"] < 1.5, rec  # percent


def d2l_sine(t_max: int = 1000, seed: int = 0) -> np.ndarray:
    """The d2l book's series: sin(0.01 t) plus normal noise of sd 0.2."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, t_max + 1)
    return np.sin(0.01 * t) + 0.2 * rng.standard_normal(t_max)


@pytest.mark.slow
def test_recursive_forecasts_degrade_with_k(tmp_path: Path) -> None:
    """d2l's experiment (examples/forecast_sine.py): tau = 4, trained on 600 points; the
    k-step predictions of the recursive model get worse with k, as the book shows, and
    the direct model, trained for every step up to 64, ends no worse than it."""
    x = d2l_sine()
    data = write_values(tmp_path / "sine.txt", x[:600])
    common = dict(data=str(data), horizon=64, context=4, model="mlp", hidden=10, layers=1,
                  blocks=1, scale="none", loss="mse", batch_size=16, valid=False)  # fmt: skip
    opts = TrainOptions(max_steps=1500, seed=0, lr=0.01)
    rec = train_forecaster(ForecastConfig(**common, strategy="recursive"), opts, tmp_path / "r.pt")
    direct = train_forecaster(ForecastConfig(**common, strategy="direct"), opts, tmp_path / "d.pt")
    truth = np.sin(0.01 * np.arange(1, 1001))
    times = np.arange(4 + 64 - 1, 1000)  # every k predicts each of these times
    rmse: dict[str, list[float]] = {}
    for name, fm in (("recursive", rec), ("direct", direct)):
        assert fm.net is not None
        rmse[name] = []
        for k in (1, 4, 16, 64):
            w = torch.tensor(
                np.stack([x[i - k - 3 : i - k + 1] for i in times]), dtype=torch.float32
            )
            fc = fm.net.forecast(w, k)[:, k - 1].numpy()
            rmse[name].append(float(np.sqrt(np.mean((fc - truth[times]) ** 2))))
    r, d = rmse["recursive"], rmse["direct"]
    assert r[0] < 0.15  # 1 step: about the noise left after averaging 4 values
    assert r[0] < r[1] < r[2] < r[3] and r[3] > 3 * r[0], r
    assert d[3] < r[3], (r, d)


class StopAt:
    """A reporter that sends the run SIGTERM (what `kill` does) after evaluation ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step(self, info: object) -> None:
        pass

    def on_eval(self, record: dict) -> None:
        if record["step"] == self.step:
            os.kill(os.getpid(), signal.SIGTERM)

    def on_message(self, level: str, text: str) -> None:
        pass


def test_same_seed_same_model_and_exact_resume(tmp_path: Path) -> None:
    data = write_wide(tmp_path / "s.csv", sines(100, 4))
    cfg = ForecastConfig(data=str(data), horizon=4, context=8, model="gru", hidden=8, layers=1,
                         batch_size=16, batches_per_epoch=10)  # fmt: skip
    opts = dict(max_steps=30, seed=3, eval_every=6)
    a = train_forecaster(cfg, TrainOptions(**opts), tmp_path / "a.pt")
    b = train_forecaster(cfg, TrainOptions(**opts), tmp_path / "b.pt")
    for (k, v), w in zip(a.run.model.state_dict().items(), b.run.model.state_dict().values()):
        assert torch.equal(v, w), k
    # stopped by SIGTERM after step 13, resumed to 30: the same weights as 30 straight
    with pytest.raises(TrainingInterrupted):
        train_forecaster(cfg, TrainOptions(**opts), tmp_path / "c.pt", StopAt(12))
    other = dataclasses.replace(cfg, hidden=99)  # the resumed run keeps its own settings
    c = train_forecaster(other, TrainOptions(resume=tmp_path / "c.last.pt"), None)
    assert c.run.result.steps == 30 and c.run.output == tmp_path / "c.pt"
    for (k, v), w in zip(a.run.model.state_dict().items(), c.run.model.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=0, atol=0, msg=k)


def test_baselines_write_model_files_that_predict(tmp_path: Path) -> None:
    data = write_wide(tmp_path / "t.csv", trends(40, 3))
    fm = train_forecaster(ForecastConfig(data=str(data), horizon=5, model="drift"),
                          output=tmp_path / "drift.pt")  # fmt: skip
    series = read_series(data)
    fc = fm.predict(series)
    np.testing.assert_allclose(fc[0], series.values[0][-1] + 0.5 * np.arange(1, 6))
    assert ForecastModel.load(tmp_path / "drift.pt").predict(series).shape == (3, 5)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"horizon": 0}, UsageError, "`horizon` must be at least 1, not 0"),
        ({"model": "prophet"}, UsageError, "unknown `model` 'prophet'"),
        ({"strategy": "dirty"}, UsageError, "unknown `strategy`"),
        ({"context": 60}, InputError, r"t.csv:1: series 't0' has 40 values, fewer than context"),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, settings: dict, error: type, message: str
) -> None:
    data = write_wide(tmp_path / "t.csv", trends(40, 3))
    cfg = ForecastConfig(**{"data": str(data), "horizon": 5, **settings})
    with pytest.raises(error, match=message) as e:
        train_forecaster(cfg, TrainOptions(max_steps=1), tmp_path / "x.pt")
    assert "\n" not in str(e.value)


# ----------------------------------------------------------------------------- CLI


def test_cli_train_predict_eval(tmp_path: Path, cli) -> None:
    rows = sines(120, 4)
    history = write_wide(tmp_path / "h.csv", {k: v[:-6] for k, v in rows.items()})
    future = write_wide(tmp_path / "f.csv", {k: v[-6:] for k, v in rows.items()})
    model = tmp_path / "m.pt"
    r = cli("forecast", "train", history, "-H", "6", "--context", "12", "--hidden", "16",
            "--blocks", "1", "--max-steps", "20", "-o", model, "-q")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    r = cli("forecast", "predict", model, history)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "id,step,forecast" and len(lines) == 1 + 4 * 6
    assert lines[1].startswith("s0,1,") and lines[-1].startswith("s3,6,")
    r = cli("forecast", "predict", model, history, "--format", "jsonl")
    objs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["id"] for o in objs] == ["s0", "s1", "s2", "s3"] and len(objs[0]["forecast"]) == 6
    # the plot needs the optional matplotlib (the `plot` extra): without it, a one-line error
    has_mpl = importlib.util.find_spec("matplotlib") is not None
    plot = ["--plot", tmp_path / "fc.png"] if has_mpl else []
    r = cli("forecast", "eval", model, history, "--actuals", future, "--format", "tsv", *plot)
    assert r.exit_code == 0, r.stderr
    table = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[0] for row in table] == ["1", "2", "3", "4", "5", "6", "all"]
    assert all(math.isfinite(float(x)) for row in table for x in row[1:])
    assert "OWA" in r.stderr
    if has_mpl:
        assert (tmp_path / "fc.png").read_bytes()[:4] == b"\x89PNG"
    else:
        r = cli(
            "forecast", "eval", model, history, "--actuals", future, "--plot", tmp_path / "x.png"
        )
        assert (
            r.exit_code == 1
            and "needs matplotlib" in r.stderr
            and not (tmp_path / "x.png").exists()
        )


def test_cli_baseline_from_stdin_and_naive2_scores_one(tmp_path: Path, cli) -> None:
    values = "".join(f"{10 + (i % 4)}\n" for i in range(40))
    model = tmp_path / "n2.pt"
    r = cli("forecast", "train", "-", "-H", "4", "--season", "4", "--model", "naive2",
            "-o", model, input=values)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "naive2: valid sMAPE 0.000" in r.stderr
    r = cli("forecast", "predict", model, "-", input=values)
    rows = [line.split(",") for line in r.stdout.splitlines()[1:]]
    assert [(k, int(h)) for k, h, _ in rows] == [("series", h) for h in (1, 2, 3, 4)]
    assert [float(v) for _, _, v in rows] == pytest.approx([10, 11, 12, 13])


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ('"V1","V2","V3"\n"a","1","2"\n"b","1","2","3"\n', [], "3: 4 fields, but the header has 3"),
        ("a,1,2,x,4\n", [], "1: field 4: 'x' is not a number"),
        ("a," + ",".join(["1"] * 10) + "\n", [], "has 10 values, fewer than context"),
        ("a," + ",".join(["1"] * 50) + "\n", ["-H", "0"], "--horizon must be at least 1, not 0"),
    ],
)
def test_cli_bad_input_one_line(tmp_path: Path, cli, text: str, args: list, message: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_text(text, encoding="utf-8")
    argv = [
        "forecast",
        "train",
        data,
        "-H",
        "4",
        *args,
        "--max-steps",
        "1",
        "-o",
        tmp_path / "x.pt",
    ]
    r = cli(*argv)
    assert r.exit_code in (1, 2)
    err = [line for line in r.stderr.splitlines() if line.startswith("seqtool: error:")]
    assert len(err) == 1 and message in err[0], r.stderr
    if message == "horizon":  # `horizon` here, --horizon once the CLI rewrites names into flags
        assert "must be at least 1, not 0" in err[0]
