"""Benchmark `seqtool classify` against fastText on SST-2: dev accuracy and wall time.

Every run is a fresh process, timed as a whole from start to exit:

  fasttext     a Python script that converts train.tsv to fastText's ``__label__``
               lines, runs ``fasttext.train_supervised`` with its defaults and
               scores dev.tsv (``model.test``);
  fasttext-bi  the same with ``wordNgrams=2``;
  seqtool MODEL  ``seqtool classify train train.tsv --valid dev.tsv -m MODEL --seed S``
               with the model's --help defaults (unless ``--budget`` gives a
               --time-budget); its accuracy is that of the checkpoint it saves (the
               best on dev), scored afterwards by ``seqtool classify eval``
               (not timed).

seqtool's modules are byte-compiled before the first run (as an installed package's
are).  Model selection uses dev.tsv only; the SST-2 test split is never read.  Runs are
interleaved seed by seed, and the load averages (``/proc/loadavg``) before every run
are printed beside its figures: the machine is shared, and only figures from the
same run of this script are comparable.

    python benchmarks/classify.py                               # 3 seeds, every model
    python benchmarks/classify.py --seeds 1 --models bow,cnn --json out.json

Needs: pip install fasttext-wheel (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SHARED = Path(
    os.environ.get("SEQTOOL_SHARED_DATA")
    or next(
        (p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
        ROOT.parents[1] / "shared" / "data",
    )
)
MODELS = ("bow", "cnn", "birnn", "transformer", "nb", "ensemble")

FASTTEXT = r"""
import sys, fasttext
train, dev, tmp, ngrams, seed = sys.argv[1:6]
def convert(src, dst):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for line in f:
            text, _, label = line.rstrip("\n").rpartition("\t")
            g.write(f"__label__{label} {text}\n")
convert(train, tmp + "/ft.train"); convert(dev, tmp + "/ft.dev")
model = fasttext.train_supervised(tmp + "/ft.train", wordNgrams=int(ngrams), seed=int(seed), verbose=0)
n, p, _ = model.test(tmp + "/ft.dev")
print(p)
"""


def load() -> str:
    with open("/proc/loadavg", encoding="ascii") as f:
        return " ".join(f.read().split()[:3])


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(
            ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


CPU: list[float] = [0.0]  # CPU seconds (user + system) of the last timed() command


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds and stdout of ``cmd``; its CPU seconds go to ``CPU[0]``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[0] = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if run.returncode != 0:
        raise SystemExit(f"failed ({run.returncode}): {' '.join(cmd)}\n{run.stderr[-2000:]}")
    return wall, run.stdout


def run_fasttext(data: Path, tmp: str, ngrams: int, seed: int) -> tuple[float, float]:
    wall, out = timed(
        [sys.executable, "-c", FASTTEXT, str(data / "train.tsv"), str(data / "dev.tsv"), tmp,
         str(ngrams), str(seed)]
    )  # fmt: skip
    return wall, float(out.strip().splitlines()[-1])


def run_seqtool(
    data: Path, tmp: str, model: str, seed: int, budget: str | None, extra: list[str]
) -> tuple[float, float]:
    out = Path(tmp) / f"{model}-{seed}.pt"
    seqtool = [sys.executable, "-m", "seqtool"]
    cmd = [*seqtool, "classify", "train", str(data / "train.tsv"), "--valid",
           str(data / "dev.tsv"), "-m", model, "--seed", str(seed), "-o", str(out), "-q",
           *extra]  # fmt: skip
    if budget:
        cmd += ["--time-budget", budget]
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    wall, _ = timed(cmd, env)
    cpu = CPU[0]
    _, scored = timed(
        [*seqtool, "classify", "eval", str(out), str(data / "dev.tsv"), "-f", "json"], env
    )
    CPU[0] = cpu  # the training run's, not the scoring's
    return wall, float(json.loads(scored)["accuracy"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SHARED / "sst2")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--budget", default=None, help="--time-budget for the non-bow models")
    ap.add_argument("--extra", default="", help="more flags for every seqtool run")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not (args.data / "train.tsv").is_file():
        raise SystemExit(f"SST-2 not found in {args.data} (train.tsv, dev.tsv)")
    models = [m for m in args.models.split(",") if m]
    print(f"# {cpu_name()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    # byte-compile seqtool first, as pip install leaves it: with PYTHONDONTWRITEBYTECODE
    # set, every timed run would compile its modules again (fastText's are compiled)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT.parent / "seqtool")])
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, args.seeds + 1):
            for name in ["fasttext", "fasttext-bi", *models]:
                before = load()
                if name.startswith("fasttext"):
                    wall, acc = run_fasttext(args.data, tmp, 2 if name.endswith("bi") else 1, seed)
                else:
                    budget = None if name == "bow" else args.budget
                    wall, acc = run_seqtool(args.data, tmp, name, seed, budget, args.extra.split())
                row = {"system": name, "seed": seed, "wall_s": round(wall, 2),
                       "cpu_s": round(CPU[0], 2), "dev_acc": round(acc, 4), "load": before}  # fmt: skip
                rows.append(row)
                print(f"{name:12} seed {seed}: dev acc {acc:.4f}  wall {wall:6.1f} s  "
                      f"cpu {CPU[0]:6.1f} s  (load {before})", flush=True)  # fmt: skip
    print("\n| system | dev accuracy (mean, min-max) | wall time s (median, min-max) "
          "| CPU s (median) |")  # fmt: skip
    print("|---|---|---|---|")
    for name in ["fasttext", "fasttext-bi", *models]:
        accs = [float(r["dev_acc"]) for r in rows if r["system"] == name]  # type: ignore[arg-type]
        walls = [float(r["wall_s"]) for r in rows if r["system"] == name]  # type: ignore[arg-type]
        cpus = [float(r["cpu_s"]) for r in rows if r["system"] == name]  # type: ignore[arg-type]
        print(f"| {name} | {statistics.mean(accs):.4f} ({min(accs):.4f}-{max(accs):.4f}) | "
              f"{statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f}) | "
              f"{statistics.median(cpus):.2f} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
