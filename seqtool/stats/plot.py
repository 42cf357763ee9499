"""The log-log rank-frequency picture, drawn with matplotlib (an optional extra).

matplotlib is imported only here and only when a plot is asked for; the
object-oriented API with the Agg canvas leaves no global state (no pyplot).
"""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Sequence

import numpy as np

from seqtool.errors import ResourceError
from seqtool.stats.zipf import ZipfFit

MAX_POINTS = 4000  # per curve: log-spaced ranks, so huge vocabularies plot fast
INSTALL_HINT = "pip install 'seqtool[plot]'"


def require_matplotlib() -> None:
    """Fail before any long work if plotting is impossible."""
    if importlib.util.find_spec("matplotlib") is None:
        raise ResourceError(f"`plot` needs matplotlib, which is not installed: {INSTALL_HINT}")


def _sample_ranks(v: int) -> np.ndarray:
    if v <= MAX_POINTS:
        return np.arange(1, v + 1)
    return np.unique(np.geomspace(1, v, MAX_POINTS).round().astype(np.int64))


def rank_frequency_png(
    series: Sequence[tuple[str, np.ndarray, ZipfFit]], title: str = "Zipf's law"
) -> bytes:
    """PNG bytes of one figure: each (label, counts high to low, fit) as a curve and its fitted line."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (label, freqs, fit) in enumerate(series):
        colour = f"C{i}"
        ranks = _sample_ranks(len(freqs))
        ax.loglog(ranks, freqs[ranks - 1], ".", ms=3, color=colour, label=label)
        # The least-squares line over its range, anchored at its fitted intercept.
        r1 = np.arange(1, fit.ls_ranks[1] + 1, dtype=float)
        if len(r1) >= 3 and np.isfinite(fit.s_ls):
            logf = np.log(freqs[: len(r1)].astype(float))
            c = float(np.mean(logf + fit.s_ls * np.log(r1)))
            ends = np.array([1.0, r1[-1]])
            ax.loglog(
                ends, np.exp(c) * ends**-fit.s_ls, "--", color=colour, lw=1,
                label=f"{label}: s = {fit.s_ls:.3f} (least squares, ranks 1-{len(r1)}), "
                f"{fit.s:.3f} (MLE)",
            )  # fmt: skip
    ax.set_xlabel("rank")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
