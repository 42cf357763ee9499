"""Pictures of forecasts: history, forecast and actuals of a few series (matplotlib,
an optional extra, imported only when a plot is drawn; no pyplot global state)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqtool.stats.plot import require_matplotlib


def forecasts_png(
    ids: Sequence[str],
    history: Sequence[np.ndarray],
    forecasts: np.ndarray,
    actuals: np.ndarray | None = None,
    *,
    show: int = 4,
    tail: int | None = None,
    title: str = "",
) -> bytes:
    """PNG bytes of up to ``show`` panels, one per series: the last ``tail`` values of
    its history (default: four horizons), the forecast, and the actual values if given."""
    require_matplotlib()
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = min(show, len(ids))
    h = forecasts.shape[1]
    tail = tail or 4 * h
    fig = Figure(figsize=(8, 2.2 * k + 0.4), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(k, 1, squeeze=False)[:, 0]
    for i, ax in enumerate(axes):
        y = np.asarray(history[i])[-tail:]
        t0 = len(history[i]) - len(y)
        ax.plot(np.arange(t0, t0 + len(y)), y, color="C0", lw=1, label="history")
        future = np.arange(len(history[i]), len(history[i]) + h)
        if actuals is not None:
            ax.plot(future, actuals[i], color="C2", lw=1, label="actual")
        ax.plot(future, forecasts[i], color="C1", lw=1.2, label="forecast")
        ax.set_title(str(ids[i]), fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
