"""Benchmark `seqtool train-mt` and `seqtool translate` on Multi30k at a fixed budget.

For every language pair and model: train with train-mt's defaults for a fixed
wall-clock budget on Multi30k's ``train`` split (raw text, joint BPE), keep the
checkpoint with the best validation BLEU, then translate the ``val`` split with
beam 5 and score it with cased sacreBLEU on detokenized output (13a), and time
the translation of its first 1,000 sentences with beam 5.  Everything is chosen
on ``val``; no test set is read.

Reference measured on the same 2-core machine (issue 6): OpenNMT-py 3.5.1, a
3+3-layer 256-dim Transformer (joint BPE 8000, 2048-token batches, noam), 20
minutes of German->English training (5 epochs, ~2.0k source tokens/s): cased
sacreBLEU 13.4 on Multi30k's 2016 test set; 1,000 sentences with beam 5 in 13 s.

    python benchmarks/mt.py --data ../shared/data/multi30k --budget 20m \\
        --pairs de-en en-de --models transformer gru-attn --out benchmarks/work/mt

Prints a Markdown table and writes ``results.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

REFERENCE = {
    "system": "OpenNMT-py 3.5.1 (issue 6 reference)",
    "pair": "de-en",
    "budget": "20m",
    "bleu": "13.4 (test 2016)",
    "translate_s": 13.0,
}


def seqtool(*args: str, log: Path) -> float:
    """Run a seqtool command, stderr appended to ``log``; returns its wall time."""
    cmd = [sys.executable, "-m", "seqtool", *args]
    start = time.perf_counter()
    with log.open("a", encoding="utf-8") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, check=True)
    return time.perf_counter() - start


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_one(
    data: Path, pair: str, model: str, budget: str, out: Path, extra: list[str], threads: list[str]
) -> dict:
    s, t = pair.split("-")
    name = f"{pair}.{model}"
    ckpt, log = out / f"{name}.pt", out / f"{name}.stderr.txt"
    train_s = float("nan")
    if not (ckpt.exists() and (out / f"{name}.log.jsonl").exists() and "--reuse" in extra):
        log.write_text("", encoding="utf-8")
        for p in (ckpt, out / f"{name}.log.jsonl"):
            p.unlink(missing_ok=True)
        train_s = seqtool(
            "train-mt", "--src", str(data / f"train.{s}.gz"), "--tgt", str(data / f"train.{t}.gz"),
            "--valid-src", str(data / f"val.{s}.gz"), "--valid-tgt", str(data / f"val.{t}.gz"),
            "--model", model, "--time-budget", budget, "-o", str(ckpt), *threads,
            *[x for x in extra if x != "--reuse"], log=log,
        )  # fmt: skip
    evals = [json.loads(x) for x in (out / f"{name}.log.jsonl").read_text().splitlines()]
    best = max(evals, key=lambda r: r.get("valid_bleu", -1))
    last = evals[-1]
    metrics = out / f"{name}.beam5.json"
    hyp_s = seqtool(
        "translate", str(ckpt), str(data / f"val.{s}.gz"), "--beam", "5", *threads,
        "--eval-bleu", "--ref", str(data / f"val.{t}.gz"), "--metrics-json", str(metrics), log=log,
    )  # fmt: skip
    scores = {x["name"]: x["score"] for x in json.loads(metrics.read_text())["scores"]}
    sigs = {x["name"]: x["signature"] for x in json.loads(metrics.read_text())["scores"]}
    # Speed: the first 1,000 validation sentences, beam 5 (the time seqtool reports
    # for translating, and the whole process including loading the model).
    first = out / f"val1000.{s}"
    if not first.exists():
        import gzip

        with gzip.open(data / f"val.{s}.gz", "rt", encoding="utf-8") as f:
            first.write_text("".join(line for _, line in zip(range(1000), f)), encoding="utf-8")
    before = log.read_text(encoding="utf-8")
    proc_s = seqtool("translate", str(ckpt), str(first), "--beam", "5", *threads, log=log)
    m = re.search(r"translated ([\d,]+) lines in ([\d.]+) s", log.read_text()[len(before) :])
    decode_s = float(m.group(2)) if m else float("nan")
    return {
        "pair": pair,
        "model": model,
        "budget": budget,
        "steps": last["step"],
        "epochs": last["epoch"],
        "train_wall_s": round(train_s, 1),
        "threads": threads[1] if threads else "default",
        "train_tokens_per_s": round(last["tokens"] / max(last["elapsed"], 1e-9)),
        "best_valid_bleu_greedy": round(best["valid_bleu"], 2),
        "best_step": best["step"],
        "valid_bleu_beam5": scores.get("BLEU"),
        "valid_chrf_beam5": scores.get("chrF2"),
        "bleu_signature": sigs.get("BLEU"),
        "translate_val_s": round(hyp_s, 1),
        "translate_1000_beam5_s": decode_s,
        "translate_1000_beam5_process_s": round(proc_s, 2),
        "sentences_per_s": round(1000 / decode_s, 1) if decode_s == decode_s else None,
    }


def table(rows: list[dict]) -> str:
    head = (
        "| pair | model | budget | steps | epochs | train target tok/s | valid BLEU greedy (best) "
        "| valid BLEU beam 5 | valid chrF beam 5 | 1,000 sent. beam 5 | sent/s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['pair']} | {r['model']} | {r['budget']} | {r['steps']} | {r['epochs']:.2f} "
        f"| {r['train_tokens_per_s']:,} | {r['best_valid_bleu_greedy']:.1f} "
        f"| {r['valid_bleu_beam5']:.1f} | {r['valid_chrf_beam5']:.1f} "
        f"| {r['translate_1000_beam5_s']:.2f} s | {r['sentences_per_s']} |"
        for r in rows
    ]
    ref = REFERENCE
    lines.append(
        f"| {ref['pair']} | {ref['system']} | {ref['budget']} | | ~5 | ~2.0k source | | "
        f"{ref['bleu']} | | {ref['translate_s']:.1f} s | {1000 / ref['translate_s']:.0f} |"
    )
    return head + "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/multi30k"
    )
    ap.add_argument("--pairs", nargs="+", default=["de-en", "en-de"])
    ap.add_argument("--models", nargs="+", default=["transformer", "gru-attn"])
    ap.add_argument("--budget", default="20m")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/work/mt"))
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for training and translating (on a busy machine 1 avoids "
        "OpenMP threads waiting for each other)",
    )
    ap.add_argument(
        "extra", nargs="*", help="extra train-mt flags (after --); --reuse keeps a trained model"
    )
    a = ap.parse_args()
    if not (a.data / "train.de.gz").is_file():
        sys.exit(f"Multi30k not found under {a.data} (pass --data)")
    a.out.mkdir(parents=True, exist_ok=True)
    results_path = a.out / "results.json"
    rows = json.loads(results_path.read_text()) if results_path.exists() else []
    for pair in a.pairs:
        for model in a.models:
            print(f"== {pair} {model} ({a.budget})", file=sys.stderr, flush=True)
            threads = ["--threads", str(a.threads)] if a.threads else []
            row = run_one(a.data, pair, model, a.budget, a.out, a.extra, threads)
            row["date"] = dt.date.today().isoformat()
            row["machine"] = f"{cpu_name()}, {os.cpu_count()} cores"
            rows = [
                r for r in rows if (r["pair"], r["model"], r["budget"]) != (pair, model, a.budget)
            ]
            rows.append(row)
            results_path.write_text(json.dumps(rows, indent=1) + "\n")
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(f"{rows[0]['machine'] if rows else ''}, {dt.date.today().isoformat()}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
