"""The benchmark forecasts every forecast is compared with, in numpy.

* ``naive``: the last value, repeated;
* ``snaive``: the last season repeated (``y[n - m + (h-1) mod m]``);
* ``drift``: the line through the first and last values, extended
  (``y_n + h (y_n - y_1) / (n - 1)``);
* ``naive2``: M4's benchmark.  When the series is seasonal at lag ``m`` by the
  90% autocorrelation test, it is divided by the seasonal indices of a classical
  multiplicative decomposition, forecast naively, and multiplied back by the
  indices of the forecast positions; otherwise it is ``naive``.

The seasonality test and the decomposition follow the organisers' R code
(``Benchmarks and Evaluation.R``, which calls R's ``acf`` and ``decompose``):
the series is seasonal when ``|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)``,
provided ``n >= 3m`` and ``m`` is within R's default number of lags,
``floor(10 log10 n)``; the trend is the centred moving average of order ``m``
(``2 x m`` when ``m`` is even), the index of season position ``i`` is the mean
ratio of the series to the trend at the positions ``i, i+m, ...``, and the
indices are scaled to average 1.

Example::

    >>> import numpy as np
    >>> forecast_baseline("drift", [np.array([1.0, 2.0, 3.0])], horizon=2, season=1)
    array([[4., 5.]])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqtool.errors import UsageError, check_at_least

BASELINES = ("naive", "snaive", "naive2", "drift")
TCRIT = 1.645  # one-sided 90%


def acf(x: np.ndarray, nlags: int) -> np.ndarray:
    """Autocorrelations ``r_0..r_nlags`` with R's (and the textbook) estimator:
    lag-k cross products over the squared deviations, both around the overall mean."""
    x = np.asarray(x, dtype=np.float64)
    d = x - x.mean()
    denom = float(d @ d)
    if denom == 0:
        return np.r_[1.0, np.zeros(nlags)]
    return np.array([1.0] + [float(d[k:] @ d[:-k]) / denom for k in range(1, nlags + 1)])


def seasonality_test(x: np.ndarray, season: int) -> bool:
    """M4's 90% autocorrelation test: is ``x`` seasonal at lag ``season``?"""
    n = len(x)
    if season <= 1 or n < 3 * season or season > math.floor(10 * math.log10(n)):
        return False
    r = acf(x, season)
    limit = TCRIT * math.sqrt((1.0 + 2.0 * float(np.sum(r[1:season] ** 2))) / n)
    return bool(abs(r[season]) > limit)


def seasonal_indices(x: np.ndarray, season: int) -> np.ndarray:
    """Multiplicative seasonal indices ``(season,)`` of a classical decomposition;
    index ``i`` belongs to the positions ``t`` with ``t mod season == i`` (0-based)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if season < 2 or n < 2 * season:
        raise UsageError(f"a decomposition needs season >= 2 and two seasons of data, not {n}")
    if season % 2 == 0:
        w = np.r_[0.5, np.ones(season - 1), 0.5] / season
    else:
        w = np.ones(season) / season
    half = len(w) // 2
    trend = np.full(n, np.nan)
    trend[half : n - half] = np.convolve(x, w, mode="valid")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = x / trend
    ratio[~np.isfinite(ratio)] = np.nan
    figure = np.array([np.nanmean(ratio[i::season]) for i in range(season)])
    return figure / figure.mean()  # type: ignore[no-any-return]


def naive(x: np.ndarray, horizon: int) -> np.ndarray:
    return np.full(horizon, float(x[-1]))


def snaive(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    if season <= 1 or len(x) < season:
        return naive(x, horizon)
    last = x[len(x) - season :]
    return np.asarray(last[np.arange(horizon) % season], dtype=np.float64)


def drift(x: np.ndarray, horizon: int) -> np.ndarray:
    n = len(x)
    slope = (float(x[-1]) - float(x[0])) / (n - 1) if n > 1 else 0.0
    return float(x[-1]) + slope * np.arange(1, horizon + 1)


def naive2(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    if not seasonality_test(x, season):
        return naive(x, horizon)
    idx = seasonal_indices(x, season)
    n = len(x)
    adjusted_last = float(x[-1]) / idx[(n - 1) % season]
    return adjusted_last * idx[(n + np.arange(horizon)) % season]  # type: ignore[no-any-return]


def forecast_baseline(
    name: str, series: Sequence[np.ndarray], horizon: int, season: int
) -> np.ndarray:
    """The ``(len(series), horizon)`` forecasts of baseline ``name`` for each series."""
    if name not in BASELINES:
        raise UsageError(f"unknown baseline {name!r}; choose {', '.join(BASELINES)}")
    check_at_least("horizon", horizon)
    check_at_least("season", season)
    out = np.empty((len(series), horizon))
    for i, x in enumerate(series):
        x = np.asarray(x, dtype=np.float64)
        if name == "naive":
            out[i] = naive(x, horizon)
        elif name == "snaive":
            out[i] = snaive(x, horizon, season)
        elif name == "drift":
            out[i] = drift(x, horizon)
        else:
            out[i] = naive2(x, horizon, season)
    return out
