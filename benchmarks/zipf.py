"""Benchmark `seqtool zipf --counts` against a script using the `powerlaw` package.

Both fit the discrete power law to the Moby Dick word frequencies that ship with
`powerlaw` (reference_data/words.txt), as whole processes, runs interleaved;
the table reports medians of wall time, the fitted alpha / x_min / n_tail, and
the time of `powerlaw.Fit` alone and of seqtool's fit alone (in-process).

    pip install powerlaw
    python benchmarks/zipf.py [--reps 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

POWERLAW_SCRIPT = """
import sys, warnings
import numpy as np
import powerlaw
warnings.filterwarnings("ignore")
data = np.loadtxt(sys.argv[1])
fit = powerlaw.Fit(data, discrete=True, verbose=False)
print(fit.power_law.alpha, fit.power_law.xmin, fit.power_law.n)
"""


def words_txt() -> Path:
    spec = importlib.util.find_spec("powerlaw")
    if spec is None or spec.origin is None:
        sys.exit("needs the powerlaw package: pip install powerlaw")
    return Path(spec.origin).parent / "reference_data" / "words.txt"


def run(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def fit_alone(words: Path, reps: int) -> tuple[float, float]:
    """Median in-process time of powerlaw.Fit and of seqtool's fit_power_law."""
    import warnings

    import numpy as np
    import powerlaw

    from seqtool.stats.zipf import fit_power_law

    warnings.filterwarnings("ignore")
    data = np.loadtxt(words)
    ours, theirs = [], []
    for _ in range(reps):
        t = time.perf_counter()
        powerlaw.Fit(data, discrete=True, verbose=False)
        theirs.append(time.perf_counter() - t)
        t = time.perf_counter()
        fit_power_law(data.astype(np.int64))
        ours.append(time.perf_counter() - t)
    return statistics.median(theirs), statistics.median(ours)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    words = words_txt()
    seqtool = shutil.which("seqtool") or str(Path(sys.executable).parent / "seqtool")
    cmds = {
        "seqtool zipf --counts": [seqtool, "zipf", "--counts", str(words), "-f", "json", "-q"],
        "powerlaw script": [sys.executable, "-c", POWERLAW_SCRIPT, str(words)],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    outputs: dict[str, str] = {}
    for _ in range(a.reps):
        for name, cmd in cmds.items():
            wall, out = run(cmd)
            times[name].append(wall)
            outputs[name] = out
    rec = json.loads(outputs["seqtool zipf --counts"])[0]
    alpha, xmin, n_tail = outputs["powerlaw script"].split()
    theirs_fit, ours_fit = fit_alone(words, a.reps)
    med = {k: statistics.median(v) for k, v in times.items()}
    print("| tool | whole process (s) | fit alone (s) | alpha | x_min | n_tail |")
    print("|---|---|---|---|---|---|")
    print(
        f"| seqtool zipf --counts | {med['seqtool zipf --counts']:.3f} | {ours_fit:.3f} | "
        f"{rec['alpha']:.4f} | {rec['xmin']} | {rec['n_tail']} |"
    )
    print(
        f"| powerlaw.Fit(discrete=True) script | {med['powerlaw script']:.3f} | {theirs_fit:.3f} | "
        f"{float(alpha):.4f} | {int(float(xmin))} | {n_tail} |"
    )
    print(
        f"\nwhole process: seqtool {med['powerlaw script'] / med['seqtool zipf --counts']:.1f}x "
        f"faster; fit alone: {theirs_fit / ours_fit:.1f}x faster; "
        f"|alpha difference| = {abs(rec['alpha'] - float(alpha)):.5f} ({a.reps} interleaved runs)"
    )


if __name__ == "__main__":
    main()
