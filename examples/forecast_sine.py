"""The d2l sequence-model experiment: 1-step vs k-step-ahead predictions of a noisy sine.

Dive into Deep Learning (sec. "Working with Sequences") draws 1,000 points of
``sin(0.01 t)`` plus normal noise (sd 0.2), trains a small MLP on the first 600
to predict each value from the 4 before it (tau = 4), and then predicts k steps
ahead by feeding the model its own predictions: fine for k = 1, useless by k = 64,
because the errors compound.  Here the same with seqtool's library API, and
next to it a *direct* model that predicts the next 64 values at once from the
same 4 inputs, whose k-step error does not compound.

    python examples/forecast_sine.py [--plot sine.png] [--steps 1500]

Prints the RMSE of the k-step predictions against the noiseless sine (and the
noise level for scale), and draws the d2l figure with ``--plot``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqtool.tasks.forecast import ForecastConfig, train_forecaster  # noqa: E402
from seqtool.train.runner import TrainOptions  # noqa: E402

T, TAU, TRAIN, NOISE = 1000, 4, 600, 0.2
KS = (1, 4, 16, 64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--plot", type=Path, help="write the d2l figure here (PNG)")
    ap.add_argument("--steps", type=int, default=1500, help="training steps per model")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)

    rng = np.random.default_rng(args.seed)
    t = np.arange(1, T + 1)
    truth = np.sin(0.01 * t)
    x = truth + NOISE * rng.standard_normal(T)

    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "sine.txt"
        data.write_text("".join(f"{float(v)!r}\n" for v in x[:TRAIN]), encoding="utf-8")
        for strategy in ("recursive", "direct"):
            cfg = ForecastConfig(
                data=str(data), horizon=max(KS), strategy=strategy, model="mlp", context=TAU,
                hidden=10, layers=1, blocks=1, scale="none", loss="mse", batch_size=16,
                valid=False,
            )  # fmt: skip
            opts = TrainOptions(max_steps=args.steps, lr=0.01, seed=args.seed)
            models[strategy] = train_forecaster(cfg, opts, Path(tmp) / f"{strategy}.pt").net

    # k-step predictions for every time t: from the true values up to t - k, k steps on
    first = TAU + max(KS) - 1  # 0-based index of the first time every k can predict
    times = np.arange(first, T)
    preds: dict[str, dict[int, np.ndarray]] = {}
    for name, net in models.items():
        assert net is not None
        preds[name] = {}
        for k in KS:
            windows = torch.tensor(
                np.stack([x[i - k - TAU + 1 : i - k + 1] for i in times]), dtype=torch.float32
            )
            preds[name][k] = net.forecast(windows, k)[:, k - 1].numpy()

    print(f"d2l noisy sine: T={T}, tau={TAU}, trained on the first {TRAIN} points; "
          f"RMSE vs the noiseless sine over t={first + 1}..{T} (noise sd {NOISE})")  # fmt: skip
    print("k\trecursive\tdirect")
    for k in KS:
        r = np.sqrt(np.mean((preds["recursive"][k] - truth[times]) ** 2))
        d = np.sqrt(np.mean((preds["direct"][k] - truth[times]) ** 2))
        print(f"{k}\t{r:.3f}\t{d:.3f}")

    if args.plot:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(9, 5.5), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(2, 1, sharex=True)
        for ax, name in zip(axes, ("recursive", "direct")):
            ax.plot(t, x, color="0.75", lw=0.6, label="data")
            for i, k in enumerate(KS):
                ax.plot(t[times], preds[name][k], lw=1, color=f"C{i}", label=f"{k}-step")
            ax.axvline(TRAIN, color="k", lw=0.6, ls=":")
            ax.set_ylim(-2, 2)
            ax.set_title(f"{name} (trained on t <= {TRAIN})", fontsize=10, loc="left")
        axes[0].legend(fontsize=8, ncol=5, loc="lower left")
        axes[1].set_xlabel("time")
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
