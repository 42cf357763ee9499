"""Zipf's law, the discrete power law and Heaps' law, fitted to frequency data.

Three views of the same counts:

* **Rank-frequency (Zipf)**: ``n_i ∝ 1/i^s`` for the i-th most frequent type.
  :func:`zipf_mle` treats every token as a draw of a rank from a Zipf
  distribution over the observed ranks ``1..V`` and maximises the likelihood
  (standard error from the Fisher information); :func:`zipf_least_squares` is
  the familiar straight line on log-log axes, over the ranks whose count is at
  least ``LS_MIN_COUNT`` (below that the plateaus of equal counts bend it).
* **Frequency distribution (Clauset, Shalizi & Newman 2009)**: the counts
  themselves follow ``p(x) = x^-alpha / zeta(alpha, x_min)`` for ``x >= x_min``.
  :func:`fit_power_law` is the exact discrete maximum-likelihood estimate (the
  Hurwitz zeta, :func:`hurwitz_zeta`, is computed here, vectorised, so scipy is
  not needed) with ``x_min`` chosen to minimise the Kolmogorov-Smirnov distance;
  :func:`bootstrap_pvalue` is their semi-parametric goodness-of-fit test.
  Conventions follow the ``powerlaw`` package (candidates are the distinct
  values but the largest; D compares ``P(X < x)`` at the observed values;
  sigma is ``(alpha-1)/sqrt(n_tail)``), so the results agree with it.
* **Heaps' law**: vocabulary growth ``V(N) = K N^beta``, by least squares on the
  log-log points recorded while counting (:func:`heaps_fit`).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from seqtool import __version__
from seqtool.errors import InputError, UsageError, check_seed
from seqtool.io import display_name, read_lines

LS_MIN_COUNT = 5
HEAPS_MIN_TOKENS = 100
_BLOCK = 1 << 20  # elements per block of the x_min search
_ALPHA_MAX = 50.0

# B_2j / (2j)! for the Euler-Maclaurin tail of the Hurwitz zeta (j = 1..7).
_BERNOULLI = [1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6]
_EM_COEF = [b / math.factorial(2 * j + 2) for j, b in enumerate(_BERNOULLI)]
_EM_START = 12.0  # sum terms directly until q + k >= this + 2s, then the tail formula


def hurwitz_zeta(s: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """zeta(s, q) = sum_k (q + k)^-s for s > 1, q > 0, elementwise, as a flat array."""
    return _hurwitz(s, q, deriv=False)[0]


def hurwitz_zeta_ds(s: np.ndarray | float, q: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """zeta(s, q) and its derivative in s, elementwise, as flat arrays."""
    return _hurwitz(s, q, deriv=True)


def _hurwitz(
    s: np.ndarray | float, q: np.ndarray | float, deriv: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The Hurwitz zeta and (with ``deriv``) its s-derivative.

    Euler-Maclaurin summation: direct terms until ``q + k >= 12 + 2s``, then the
    integral, half the first term and seven Bernoulli corrections; the remainder
    is then below about 1e-14 relative for every s < 50 met here.
    """
    s, q = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(q, dtype=float))
    s, q = s.ravel(), q.ravel()
    z = np.zeros(s.shape)
    dz = np.zeros(s.shape)
    n_direct = np.maximum(0, np.ceil(_EM_START + 2 * s - q)).astype(np.int64)
    near = np.flatnonzero(n_direct)  # only small q need direct terms
    if len(near):
        sn, qn, kn = s[near], q[near], n_direct[near]
        for k in range(int(kn.max())):
            live = k < kn
            t = np.where(live, (qn + k) ** -sn, 0.0)
            z[near] += t
            if deriv:
                dz[near] -= np.log(qn + k) * t
    a = q + n_direct
    log_a = np.log(a)
    a_1s = a ** (1 - s)
    a_s = a_1s / a
    z += a_1s / (s - 1) + 0.5 * a_s
    if deriv:
        dz -= log_a * a_1s / (s - 1) + a_1s / (s - 1) ** 2 + 0.5 * log_a * a_s
    poch = s.copy()  # s (s+1) ... (s+2j), and its derivative
    dpoch = np.ones(s.shape)
    power = a_s / a  # a^(-s-2j-1)
    for j, c in enumerate(_EM_COEF):
        z += c * poch * power
        if deriv:
            dz += c * (dpoch - log_a * poch) * power
        f1, f2 = s + 2 * j + 1, s + 2 * j + 2
        dpoch = dpoch * f1 * f2 + poch * (f1 + f2)
        poch = poch * f1 * f2
        power = power / (a * a)
    return z, dz


# ------------------------------------------------------------------ power law
@dataclass
class PowerLawFit:
    """The Clauset-Shalizi-Newman fit of the tail x >= xmin of a frequency list."""

    alpha: float
    sigma: float  # standard error, (alpha - 1) / sqrt(n_tail)
    xmin: int
    ks_d: float
    n_tail: int
    n: int
    p_value: float | None = None
    bootstrap: int = 0

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def _mle_alpha(sum_log: np.ndarray, n_tail: np.ndarray, xmin: np.ndarray) -> np.ndarray:
    """Solve the discrete likelihood equation for many x_min at once (bisection).

    The score ``-sum(log x) - n zeta'(a, xmin)/zeta(a, xmin)`` falls with alpha
    (the log-likelihood is concave), so bisection cannot fail; 52 halvings of
    (1, 50] reach double precision.
    """
    lo = np.full(len(xmin), 1.0 + 1e-12)
    hi = np.full(len(xmin), _ALPHA_MAX)
    for _ in range(52):
        mid = 0.5 * (lo + hi)
        z, dz = hurwitz_zeta_ds(mid, xmin)
        up = -sum_log - n_tail * dz / z > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def _ks_distances(
    values: np.ndarray, first: np.ndarray, n: int, cand: np.ndarray, alpha: np.ndarray
) -> np.ndarray:
    """KS distance of each candidate fit, over the distinct values of its tail.

    ``values``/``first``: the distinct data values and where each starts in the
    sorted data; ``cand``: indices into ``values`` of the x_min candidates.
    """
    out = np.empty(len(cand))
    z_min = hurwitz_zeta(alpha, values[cand])
    start = 0
    while start < len(cand):
        j0 = cand[start]
        width = len(values) - j0
        rows = max(1, _BLOCK // max(width, 1))
        sl = slice(start, start + rows)
        c, a, zm = cand[sl], alpha[sl], z_min[sl]
        tail_n = n - first[c]  # (r,)
        emp = (first[None, j0:] - first[c][:, None]) / tail_n[:, None]  # P(X < v), (r, w)
        zv = hurwitz_zeta(a[:, None], values[None, j0:]).reshape(len(c), width)
        diff = np.abs(emp - (1.0 - zv / zm[:, None]))
        diff[np.arange(j0, len(values))[None, :] < c[:, None]] = 0.0  # below this x_min
        out[sl] = diff.max(axis=1)
        start += rows
    return out


def fit_power_law(x: np.ndarray, xmin: int | None = None) -> PowerLawFit:
    """Discrete power-law MLE of positive integer data, x_min by KS (or fixed)."""
    xs = np.sort(np.asarray(x, dtype=np.int64))
    if len(xs) == 0 or xs[0] < 1:
        raise InputError("a power-law fit needs positive counts")
    values, first = np.unique(xs, return_index=True)
    if xmin is None:
        if len(values) < 2:
            raise InputError("a power-law fit needs at least two distinct counts")
        cand = np.arange(len(values) - 1)
    else:
        j = int(np.searchsorted(values, xmin))
        if j >= len(values):
            raise InputError(f"`xmin` {xmin} is above every count (the largest is {values[-1]})")
        cand = np.array([j])
    n = len(xs)
    suffix_log = np.concatenate((np.cumsum(np.log(xs)[::-1])[::-1], [0.0]))
    starts = first[cand]
    n_tail = n - starts
    x0 = values[cand].astype(float) if xmin is None else np.array([float(xmin)])
    sum_log = suffix_log[starts]
    alpha = _mle_alpha(sum_log, n_tail.astype(float), x0)
    if xmin is None:
        d = _ks_distances(values, first, n, cand, alpha)
        best = int(np.argmin(d))
    else:
        d = _ks_fixed(values, first, n, cand[0], float(xmin), alpha[0])
        best = 0
    a = float(alpha[best])
    nt = int(n_tail[best])
    return PowerLawFit(a, (a - 1) / math.sqrt(nt), int(x0[best]), float(d[best]), nt, n)


def _ks_fixed(
    values: np.ndarray, first: np.ndarray, n: int, j: int, xmin: float, alpha: float
) -> np.ndarray:
    tail_n = n - first[j]
    emp = (first[j:] - first[j]) / tail_n
    model = 1.0 - hurwitz_zeta(alpha, values[j:]) / hurwitz_zeta(alpha, xmin)
    return np.array([float(np.max(np.abs(emp - model)))])


def sample_power_law(
    alpha: float, xmin: int, size: int, rng: np.random.Generator, table: int = 100_000
) -> np.ndarray:
    """Draws from the discrete power law: exact inverse CDF over ``table`` values, then
    the continuous approximation of Clauset et al. (eq. D.6) for the far tail."""
    x = np.arange(xmin, xmin + table, dtype=float)
    ccdf = hurwitz_zeta(alpha, x) / hurwitz_zeta(alpha, float(xmin))  # P(X >= x), falling
    u = rng.random(size)
    # the largest x with P(X >= x) >= u: count the table entries at or above u
    idx = np.searchsorted(-ccdf, -u, side="right") - 1
    out = (xmin + np.maximum(idx, 0)).astype(np.int64)
    far = u < ccdf[-1]
    if far.any():
        approx = np.floor((xmin - 0.5) * u[far] ** (-1.0 / (alpha - 1.0)) + 0.5)
        out[far] = np.maximum(approx, xmin + table).astype(np.int64)
    return out


def bootstrap_pvalue(
    x: np.ndarray, fit: PowerLawFit, reps: int, seed: int = 0, fixed_xmin: bool = False
) -> float:
    """Goodness-of-fit p-value (Clauset et al. 2009, section 4.1).

    Each synthetic data set keeps the size of the data: a binomial share comes
    from the fitted power law, the rest is resampled from the data below x_min;
    it is fitted the same way (x_min searched again unless fixed), and p is the
    share of synthetic KS distances at least as large as the observed one.
    """
    rng = np.random.default_rng(seed)
    xs = np.asarray(x, dtype=np.int64)
    body = xs[xs < fit.xmin]
    share = fit.n_tail / fit.n
    worse = 0
    for _ in range(reps):
        n_tail = int(rng.binomial(fit.n, share)) if len(body) else fit.n
        parts = [sample_power_law(fit.alpha, fit.xmin, n_tail, rng)]
        if fit.n - n_tail:
            parts.append(rng.choice(body, fit.n - n_tail))
        synth = np.concatenate(parts)
        try:
            d = fit_power_law(synth, fit.xmin if fixed_xmin else None).ks_d
        except InputError:
            continue  # a degenerate draw (one distinct value): no evidence either way
        worse += d >= fit.ks_d
    return worse / reps if reps else float("nan")


# ------------------------------------------------------------------ rank-frequency
@dataclass
class ZipfFit:
    """Rank-frequency exponent s of n_i ∝ 1/i^s, by MLE and by least squares."""

    s: float
    s_se: float
    mle_ranks: tuple[int, int]
    s_ls: float
    s_ls_se: float
    ls_ranks: tuple[int, int]


def zipf_mle(freqs: np.ndarray) -> tuple[float, float]:
    """MLE of s for counts sorted high to low, ranks 1..V; returns (s, standard error).

    Newton's method on the concave log-likelihood ``-s sum f_r log r - N log H_V(s)``:
    the score is ``N (E_s[log r] - mean log r)`` and its slope ``-N Var_s[log r]``.
    """
    f = np.asarray(freqs, dtype=float)
    if len(f) < 2:
        return float("nan"), float("nan")
    log_r = np.log(np.arange(1, len(f) + 1, dtype=float))
    total = f.sum()
    target = float(np.sum(f * log_r)) / total
    s = 1.0
    var = 0.0
    for _ in range(100):
        w = np.exp(-s * log_r)
        h = w.sum()
        mean = float(np.sum(w * log_r)) / h
        var = float(np.sum(w * log_r * log_r)) / h - mean * mean
        step = float(np.clip((mean - target) / var, -2.0, 2.0)) if var > 0 else 0.0
        s += step
        if abs(step) < 1e-12:
            break
    return s, 1.0 / math.sqrt(total * var) if var > 0 else float("nan")


def zipf_least_squares(
    freqs: np.ndarray, min_count: int = LS_MIN_COUNT
) -> tuple[float, float, int]:
    """Slope of log count on log rank over ranks 1..R (count >= min_count); (s, se, R)."""
    f = np.asarray(freqs, dtype=float)
    r_max = int(np.count_nonzero(f >= min_count))
    if r_max < 3:
        r_max = len(f)
    if r_max < 3:
        return float("nan"), float("nan"), r_max
    x = np.log(np.arange(1, r_max + 1, dtype=float))
    y = np.log(f[:r_max])
    slope, se = _ols(x, y)
    return -slope, se, r_max


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    xm, ym = x.mean(), y.mean()
    sxx = float(((x - xm) ** 2).sum())
    slope = float(((x - xm) * (y - ym)).sum()) / sxx
    resid = y - ym - slope * (x - xm)
    dof = len(x) - 2
    se = math.sqrt(float(np.sum(resid * resid)) / dof / sxx) if dof > 0 else float("nan")
    return slope, se


def fit_zipf(freqs: np.ndarray) -> ZipfFit:
    f = np.sort(np.asarray(freqs, dtype=np.int64))[::-1]
    s, se = zipf_mle(f)
    s_ls, se_ls, r = zipf_least_squares(f)
    return ZipfFit(s, se, (1, len(f)), s_ls, se_ls, (1, r))


# ------------------------------------------------------------------ Heaps
def heaps_fit(points: np.ndarray) -> tuple[float, float]:
    """K and beta of V(N) = K N^beta from (N, V) points (N >= 100 when there are enough)."""
    p = np.asarray(points, dtype=float)
    keep = p[:, 0] >= HEAPS_MIN_TOKENS
    if keep.sum() >= 3:
        p = p[keep]
    if len(p) < 3:
        return float("nan"), float("nan")
    beta, _ = _ols(np.log(p[:, 0]), np.log(p[:, 1]))
    log_k = float(np.mean(np.log(p[:, 1]) - beta * np.log(p[:, 0])))
    return math.exp(log_k), beta


# ------------------------------------------------------------------ the whole report
@dataclass(frozen=True)
class ZipfReport:
    """Every fit of one frequency list: what ``seqtool zipf`` prints for one column.

    >>> counts = np.array([50, 25, 17, 12, 10, 8, 7, 6, 5, 5, 4, 3, 2, 2, 1, 1, 1])
    >>> report = zipf_report(counts, "words")
    >>> report.types, report.tokens, report.zipf.ls_ranks
    (17, 159, (1, 10))
    >>> report.record()["data"], report.record()["xmin"] == report.power_law.xmin
    ('words', True)
    """

    data: str  # a label for the list ("1-grams")
    tokens: int
    types: int
    zipf: ZipfFit
    power_law: PowerLawFit  # with p_value and bootstrap set when bootstrapped
    heaps: tuple[float, float] | None  # (K, beta) when the counts came from text
    fixed_xmin: int | None  # None: x_min chosen by the KS distance
    seed: int

    @property
    def signature(self) -> str:
        xmin = "auto" if self.fixed_xmin is None else str(self.fixed_xmin)
        return (
            f"data:{self.data}|fit:discrete-mle|xmin:{xmin}|boot:{self.power_law.bootstrap}"
            f"|seed:{self.seed}|version:{__version__}"
        )

    def record(self) -> dict[str, Any]:
        """The report as named display fields, in the order the command prints them."""
        z, pl = self.zipf, self.power_law
        out: dict[str, Any] = {
            "data": self.data,
            "tokens": self.tokens,
            "types": self.types,
            "zipf_s": z.s,
            "zipf_s_se": z.s_se,
            "zipf_mle_ranks": f"{z.mle_ranks[0]}-{z.mle_ranks[1]}",
            "zipf_s_ls": z.s_ls,
            "zipf_s_ls_se": z.s_ls_se,
            "zipf_ls_ranks": f"{z.ls_ranks[0]}-{z.ls_ranks[1]}",
            "alpha": pl.alpha,
            "alpha_sigma": pl.sigma,
            "xmin": pl.xmin,
            "ks_d": pl.ks_d,
            "n_tail": pl.n_tail,
        }
        if pl.bootstrap:
            out["p_value"] = pl.p_value
            out["bootstrap"] = pl.bootstrap
        if self.heaps is not None:
            out["heaps_k"], out["heaps_beta"] = self.heaps
        out["signature"] = self.signature
        return out


def zipf_report(
    freqs: np.ndarray,
    data: str = "counts",
    *,
    xmin: int | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    heaps: tuple[float, float] | None = None,
) -> ZipfReport:
    """Fit Zipf's law and the discrete power law to ``freqs`` (one count per type).

    ``xmin`` fixes the power law's x_min (default: minimise the KS distance);
    ``bootstrap`` > 0 adds the goodness-of-fit p-value from that many synthetic sets.
    """
    if xmin is not None and xmin < 1:
        raise UsageError(f"`xmin` must be 1 or more, not {xmin}")
    if bootstrap < 0:
        raise UsageError(f"`bootstrap` must be 0 or more, not {bootstrap}")
    check_seed("seed", seed)
    freqs = np.asarray(freqs)
    pl = fit_power_law(freqs, xmin)
    if bootstrap:
        pl = replace(
            pl,
            p_value=bootstrap_pvalue(freqs, pl, bootstrap, seed, xmin is not None),
            bootstrap=bootstrap,
        )
    return ZipfReport(
        data, int(freqs.sum()), int(len(freqs)), fit_zipf(freqs), pl, heaps, xmin, seed
    )


# ------------------------------------------------------------------ input
def read_frequencies(path: str | os.PathLike[str]) -> np.ndarray:
    """A frequency list: one count per line, or ``item<TAB>count`` lines (seqtool's TSV).

    Blank lines are skipped; anything else that is not a positive whole number
    is an error naming the file and line.
    """
    name = display_name(path)
    out: list[int] = []
    for number, line in enumerate(read_lines(path), 1):
        field = line.rpartition("\t")[2].strip()
        if not field:
            if line.strip():
                raise InputError(f"{name}:{number}: expected a count after the tab, got {line!r}")
            continue
        try:
            value = int(field)
        except ValueError:
            raise InputError(
                f"{name}:{number}: expected a count (a whole number), got {field[:40]!r}"
            ) from None
        if value < 1:
            raise InputError(f"{name}:{number}: counts must be 1 or more, got {value}")
        if value >= 1 << 62:
            raise InputError(f"{name}:{number}: count {value} is too large (at most 2^62)")
        out.append(value)
    if not out:
        raise InputError(f"{name}: empty input (no counts found)")
    return np.asarray(out, dtype=np.int64)
