"""Forecasting without torch: reading series, the M4 metrics, the baselines."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from seqtool.errors import InputError, UsageError
from seqtool.forecast.baselines import (
    acf,
    forecast_baseline,
    naive2,
    seasonal_indices,
    seasonality_test,
)
from seqtool.forecast.data import from_arrays, read_series, write_series_csv
from seqtool.forecast.metrics import evaluate, mase_scale, smape
from seqtool.forecast.windows import WindowSampler

# ----------------------------------------------------------------------------- data

M4_LIKE = '"V1","V2","V3","V4","V5"\n"H1","1","2","3","4"\n"H2","10","20","",""\n'


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_wide_m4_layout_with_header_and_padding(tmp_path: Path) -> None:
    s = read_series(write(tmp_path, "m4.csv", M4_LIKE))
    assert s.ids == ["H1", "H2"]
    assert [v.tolist() for v in s.values] == [[1, 2, 3, 4], [10, 20]]
    assert s.lines == [2, 3]


def test_wide_gzip_and_no_header(tmp_path: Path) -> None:
    p = tmp_path / "w.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write("a,1,2,3\nb,4,5\n")
    s = read_series(p)
    assert s.ids == ["a", "b"] and s.values[1].tolist() == [4, 5]


def test_round_trip_through_wide_csv(tmp_path: Path) -> None:
    s = from_arrays([[1.5, 2.25], [3.0]], ids=["x,y", "z"])
    back = read_series(write(tmp_path, "rt.csv", write_series_csv(s)), layout="wide")
    assert back.ids == s.ids
    assert [v.tolist() for v in back.values] == [[1.5, 2.25], [3.0]]


def test_long_layout_sorted_by_time_with_named_columns(tmp_path: Path) -> None:
    text = "when,key,y\n2024-01-03,a,3\n2024-01-01,a,1\n2024-01-02,a,2\n3,b,9\n10,b,7\n"
    p = write(tmp_path, "long.csv", text)
    s = read_series(p, id_col="key", time_col="when", value_col="y")
    assert s.ids == ["a", "b"]
    assert s.values[0].tolist() == [1, 2, 3]
    assert s.values[1].tolist() == [9, 7]  # 3 < 10 numerically, not as text


def test_long_layout_duplicate_time_is_an_error(tmp_path: Path) -> None:
    p = write(tmp_path, "dup.csv", "id,time,value\na,1,1\na,1,2\n")
    with pytest.raises(InputError, match=r"dup.csv:3: series 'a' has time '1' twice"):
        read_series(p)


def test_values_layout(tmp_path: Path) -> None:
    s = read_series(write(tmp_path, "one.txt", "1\n2.5\n-3e2\n\n"))
    assert s.ids == ["one"] and s.values[0].tolist() == [1, 2.5, -300]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "ragged.csv",
            '"V1","V2","V3"\n"a","1","2"\n"b","1","2","3"\n',
            r"ragged.csv:3: 4 fields, but the header has 3",
        ),
        ("nan.csv", "a,1,2,x7,4\n", r"nan.csv:1: field 4: 'x7' is not a number"),
        ("gap.csv", "a,1,,3\n", r"gap.csv:1: series 'a', point 2: missing value"),
        ("inf.txt", "1\ninf\n", r"inf.txt:2: 'inf' is not a finite number"),
        ("hole.txt", "1\n\n3\n", r"hole.txt:2: missing value"),
        ("empty.csv", "\n\n", r"empty.csv: empty input"),
        ("twice.csv", "a,1\na,2\n", r"twice.csv:2: series 'a' appears twice"),
        ("long.csv", "id,time,value\na,1\n", r"long.csv:2: 2 fields, but the header has 3"),
    ],
)
def test_bad_input_is_one_line_with_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=message) as e:
        read_series(write(tmp_path, name, text))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ("drop", [1, 3, 4]),
        ("previous", [1, 1, 3, 4]),
        ("linear", [1, 2, 3, 4]),
        ("zero", [1, 0, 3, 4]),
    ],
)
def test_fill_rules(tmp_path: Path, fill: str, expected: list[float]) -> None:
    s = read_series(write(tmp_path, "g.csv", "a,1,NA,3,4\n"), fill=fill)
    assert s.values[0].tolist() == expected


def test_leading_gap_with_previous_takes_the_first_value(tmp_path: Path) -> None:
    s = read_series(write(tmp_path, "g.txt", "NA\n5\nNA\n6\n"), fill="previous")
    assert s.values[0].tolist() == [5, 5, 5, 6]


def test_unknown_options_name_the_parameter(tmp_path: Path) -> None:
    p = write(tmp_path, "a.txt", "1\n")
    with pytest.raises(UsageError, match="unknown fill 'mean'"):
        read_series(p, fill="mean")
    with pytest.raises(UsageError, match="unknown layout 'tall'"):
        read_series(p, layout="tall")
    with pytest.raises(InputError, match=r"no column 'v' \(value_col\)"):
        read_series(
            write(tmp_path, "l.csv", "id,time,value\na,1,2\n"), layout="long", value_col="v"
        )


# ----------------------------------------------------------------------------- metrics

# A 3-series toy, every number worked out by hand (season 1: scale = mean |y_t - y_{t-1}|).
INSAMPLE = [
    np.array([1.0, 2, 3, 4]),
    np.array([10.0, 10, 20]),
    np.array([2.0, 4]),
]  # scales 1, 5, 2
ACTUAL = np.array([[5.0, 6], [20, 10], [4, 4]])
FORECAST = np.array([[5.0, 5], [10, 10], [4, 4]])
NAIVE2 = np.array([[4.0, 4], [20, 20], [2, 2]])


def test_metrics_on_a_hand_computed_toy() -> None:
    s = evaluate(INSAMPLE, ACTUAL, FORECAST, NAIVE2, season=1)
    # sMAPE terms: A 0, 200/11; B 200*10/30, 0; C 0, 0
    assert s.smape == pytest.approx((200 / 11 + 2000 / 30) / 6)
    # naive2: A 200/9, 400/10; B 0, 2000/30; C 400/6, 400/6
    assert s.naive2_smape == pytest.approx((200 / 9 + 40 + 2000 / 30 + 400 / 3) / 6)
    # MASE terms: A 0, 1/1; B 10/5, 0; C 0, 0 -- naive2: A 1, 2; B 0, 2; C 1, 1
    assert s.mase == pytest.approx(3 / 6)
    assert s.naive2_mase == pytest.approx(7 / 6)
    owa = 0.5 * (s.smape / s.naive2_smape + (3 / 6) / (7 / 6))
    assert s.owa == pytest.approx(owa)
    assert s.owa == pytest.approx(0.376073, abs=1e-6)
    # per step: step 1 sMAPE (0 + 200/3 + 0)/3, naive2 (200/9 + 0 + 200/3)/3; MASE 2/3 vs 2/3
    assert s.smape_step[0] == pytest.approx(200 / 9)
    assert s.mase_step == pytest.approx([2 / 3, 1 / 3])
    assert s.owa_step[0] == pytest.approx(0.5 * ((200 / 9) / ((200 / 9 + 200 / 3) / 3) + 1))
    assert s.owa_step[1] == pytest.approx(0.5 * ((200 / 11 / 3) / ((40 + 400 / 3) / 3) + 0.2))
    assert [r["step"] for r in s.rows()] == [1, 2, "all"]


def test_naive2_scores_owa_one_against_itself() -> None:
    s = evaluate(INSAMPLE, ACTUAL, NAIVE2, NAIVE2, season=1)
    assert s.owa == pytest.approx(1.0) and s.owa_step == pytest.approx([1.0, 1.0])


def test_smape_and_mase_scale_edge_cases() -> None:
    assert smape(np.array([0.0]), np.array([0.0])).tolist() == [0.0]
    assert smape(np.array([1.0]), np.array([-1.0])).tolist() == [200.0]
    assert mase_scale(np.array([1.0, 5, 2, 6]), 2) == pytest.approx(1.0)
    assert math.isnan(mase_scale(np.array([3.0, 3, 3]), 1))  # no scale: left out
    s = evaluate(
        [np.array([3.0, 3, 3]), np.array([1.0, 2])],
        np.array([[3.0], [3]]),
        np.array([[3.0], [2]]),
        np.array([[3.0], [2]]),
        season=1,
    )
    assert s.mase_undefined == 1 and s.mase == pytest.approx(1.0)


def test_metric_shapes_are_checked() -> None:
    with pytest.raises(UsageError, match=r"forecast has shape \(3, 1\)"):
        evaluate(INSAMPLE, ACTUAL, FORECAST[:, :1], NAIVE2, season=1)


# ----------------------------------------------------------------------------- baselines


def seasonal_series(n: int, m: int = 12, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (100 + 0.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / m)) + noise * rng.standard_normal(n)


def test_acf_matches_the_textbook_estimator() -> None:
    x = np.array([1.0, 3, 2, 5, 4])
    d = x - 3.0
    assert acf(x, 2)[2] == pytest.approx((d[2:] @ d[:-2]) / (d @ d))


def test_seasonality_test() -> None:
    assert seasonality_test(seasonal_series(120, noise=2.0), 12)
    rng = np.random.default_rng(1)
    assert not seasonality_test(100 + rng.standard_normal(120), 12)  # white noise
    assert not seasonality_test(seasonal_series(35), 12)  # under 3 seasons: never seasonal
    assert not seasonality_test(seasonal_series(120), 1)


def test_decomposition_recovers_the_seasonal_indices() -> None:
    m = 12
    idx = seasonal_indices(seasonal_series(240, m), m)
    truth = 1 + 0.3 * np.sin(2 * np.pi * np.arange(m) / m)
    assert idx.mean() == pytest.approx(1.0)
    np.testing.assert_allclose(idx, truth, atol=0.01)


def test_naive2_continues_a_purely_seasonal_series_exactly() -> None:
    m = 6
    season = np.array([0.5, 0.8, 1.0, 1.2, 1.5, 1.0])
    season /= season.mean()
    x = 50 * np.tile(season, 7)[:40]  # ends mid-season
    fc = naive2(x, 9, m)
    np.testing.assert_allclose(fc, 50 * season[(40 + np.arange(9)) % m], rtol=1e-12)
    assert forecast_baseline("naive", [x], 3, m).tolist() == [[x[-1]] * 3]
    assert forecast_baseline("snaive", [x], 8, m)[0].tolist() == [*x[-6:], *x[-6:-4]]


def test_baselines_refuse_bad_settings() -> None:
    with pytest.raises(UsageError, match="`horizon` must be at least 1, not 0"):
        forecast_baseline("naive", INSAMPLE, 0, 1)
    with pytest.raises(UsageError, match="unknown baseline 'theta'"):
        forecast_baseline("theta", INSAMPLE, 2, 1)


# ----------------------------------------------------------------------------- windows


def test_windows_are_reproducible_and_resume_mid_epoch() -> None:
    series = [np.arange(30.0), 100 + np.arange(50.0)]
    w = WindowSampler(series, 4, 2, batch_size=8, batches_per_epoch=6, seed=3, history=10)
    full = list(w.batches(2))
    again = list(w.batches(2, start=4))
    assert len(full) == 6
    for (x1, y1), (x2, y2) in zip(full[4:], again):
        assert (x1 == x2).all() and (y1 == y2).all()
    x, y = full[0]
    assert (np.diff(np.concatenate([x, y], 1), axis=1) == 1).all()  # consecutive values
    # history=10: the targets start among the last 10 cut points of each series
    assert ((y[:, 0] >= 20) & (y[:, 0] <= 28) | (y[:, 0] >= 140) & (y[:, 0] <= 148)).all()
    assert not (list(w.batches(1))[0][0] == x).all()


def test_windows_refuse_a_short_series() -> None:
    with pytest.raises(UsageError, match="series 2 has 5 values; a window needs"):
        WindowSampler([np.arange(20.0), np.arange(5.0)], 4, 2, 8, 2)


def test_forecast_numerics_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, seqtool.forecast.data, seqtool.forecast.metrics, "
        "seqtool.forecast.baselines, seqtool.forecast.windows, seqtool.forecast.plot; "
        "print(sorted(m for m in ('torch', 'typer', 'rich', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
