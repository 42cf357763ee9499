"""Forecast accuracy as the M4 competition defines it: sMAPE, MASE and OWA.

For a series with in-sample values ``y_1..y_n``, actuals ``a`` and forecasts
``f`` over ``h = 1..H`` (Makridakis, Spiliotis & Assimakopoulos 2020, and the
organisers' ``Benchmarks and Evaluation.R``):

* ``sMAPE = mean_h 200 |a_h - f_h| / (|a_h| + |f_h|)`` (a point with
  ``a_h = f_h = 0`` counts 0);
* ``MASE = mean_h |a_h - f_h| / scale`` with ``scale = mean_{t>m} |y_t - y_{t-m}|``,
  the in-sample error of the seasonal naive forecast at lag ``m`` (M4 uses
  ``m = 24`` for Hourly, 12 Monthly, 4 Quarterly and 1 for Yearly, Weekly and Daily);
* ``OWA = (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2``, where each term is
  the mean over all series first (OWA is a property of a whole set of
  forecasts, not averaged per series).

:func:`evaluate` gives all three overall and for each horizon step (step ``h``
averages the series' errors at that step only).  A series whose in-sample
seasonal differences are all zero has no MASE scale; it is left out of the
MASE means (``Scores.mase_undefined`` counts them) rather than making them infinite.

Example::

    >>> import numpy as np
    >>> s = evaluate([np.array([1.0, 2, 3, 4])], np.array([[5.0, 6]]),
    ...              np.array([[5.0, 5]]), np.array([[4.0, 4]]), season=1)
    >>> round(s.smape, 3), round(s.mase, 3), round(s.owa, 3)
    (9.091, 0.5, 0.313)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqtool.errors import UsageError, check_at_least


def smape(actual: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Pointwise sMAPE terms in percent, ``200 |a - f| / (|a| + |f|)`` (0 where both are 0)."""
    num = 200.0 * np.abs(actual - forecast)
    den = np.abs(actual) + np.abs(forecast)
    return np.divide(num, den, out=np.zeros_like(num, dtype=np.float64), where=den > 0)


def mase_scale(insample: np.ndarray, season: int) -> float:
    """``mean |y_t - y_{t-m}|`` over the in-sample values; NaN when undefined
    (too short a series, or every seasonal difference zero)."""
    y = np.asarray(insample, dtype=np.float64)
    if len(y) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(y[season:] - y[:-season])))
    return scale if scale > 0 else float("nan")


@dataclass
class Scores:
    """Overall and per-step accuracy of one set of forecasts (``*_step[h-1]`` is step h)."""

    smape: float
    mase: float
    owa: float
    smape_step: list[float]
    mase_step: list[float]
    owa_step: list[float]
    naive2_smape: float
    naive2_mase: float
    series: int
    horizon: int
    season: int
    mase_undefined: int = 0

    def rows(self) -> list[dict[str, float | int | str]]:
        """One record per horizon step, then ``step="all"``: for tables and JSON."""
        out: list[dict[str, float | int | str]] = [
            {"step": h + 1, "smape": s, "mase": m, "owa": o}
            for h, (s, m, o) in enumerate(zip(self.smape_step, self.mase_step, self.owa_step))
        ]
        out.append({"step": "all", "smape": self.smape, "mase": self.mase, "owa": self.owa})
        return out


def _check(name: str, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape != shape:
        raise UsageError(f"{name} has shape {a.shape}, expected {shape} (series, horizon)")
    return a


def evaluate(
    insample: Sequence[np.ndarray],
    actual: np.ndarray,
    forecast: np.ndarray,
    naive2: np.ndarray,
    season: int,
) -> Scores:
    """Score ``forecast`` against ``actual`` (both ``(series, horizon)``), relative
    to the Naive2 forecasts ``naive2`` of the same series, with MASE's lag ``season``."""
    check_at_least("season", season)
    actual = np.asarray(actual, dtype=np.float64)
    if actual.ndim != 2 or actual.shape[0] != len(insample) or actual.shape[1] < 1:
        raise UsageError(
            f"actual has shape {actual.shape}, expected ({len(insample)}, horizon >= 1)"
        )
    forecast = _check("forecast", forecast, actual.shape)
    naive2 = _check("naive2", naive2, actual.shape)
    scale = np.array([mase_scale(y, season) for y in insample])
    ok = np.isfinite(scale)
    s_f, s_n = smape(actual, forecast), smape(actual, naive2)  # (N, H)
    m_f = np.abs(actual - forecast)[ok] / scale[ok, None]
    m_n = np.abs(actual - naive2)[ok] / scale[ok, None]
    sm_f, sm_n = s_f.mean(0), s_n.mean(0)  # per step
    ma_f, ma_n = (m_f.mean(0), m_n.mean(0)) if ok.any() else (sm_f * np.nan, sm_n * np.nan)
    owa_step = 0.5 * (_ratio(sm_f, sm_n) + _ratio(ma_f, ma_n))
    smape_all, smape_n2 = float(s_f.mean()), float(s_n.mean())
    mase_all = float(m_f.mean()) if ok.any() else float("nan")
    mase_n2 = float(m_n.mean()) if ok.any() else float("nan")
    owa = 0.5 * (
        float(_ratio(np.array(smape_all), np.array(smape_n2)))
        + float(_ratio(np.array(mase_all), np.array(mase_n2)))
    )
    return Scores(
        smape=smape_all,
        mase=mase_all,
        owa=owa,
        smape_step=sm_f.tolist(),
        mase_step=ma_f.tolist(),
        owa_step=owa_step.tolist(),
        naive2_smape=smape_n2,
        naive2_mase=mase_n2,
        series=len(insample),
        horizon=actual.shape[1],
        season=season,
        mase_undefined=int((~ok).sum()),
    )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b``; 1 where both are 0 (a forecast as good as a perfect Naive2), NaN
    where only ``b`` is."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a == 0, 1.0, np.nan))
    return r
