"""Language-model benchmark: seqtool train-lm against nanoGPT and PyTorch's word_language_model.

Part (a), characters: the raw Time Machine (all 70 characters, no normalisation),
the first 90% of the characters for training and the last 10% for validation (as
nanoGPT's character recipe splits it); ``seqtool train-lm --tokenizer char
--time-budget 84s`` with the *default* settings of each model.  nanoGPT's CPU
"baby GPT" reached validation perplexity 5.71 (loss 1.742) after 83.7 s at 20.7k
tokens/s on the development machine (2 CPU cores).

Part (b), words: Penn Treebank (Mikolov's 10k vocabulary), the 2x200 LSTM of
Zaremba et al.'s "small" configuration (batch 20, bptt 35 in PyTorch's
word_language_model example, which ran at 6.9k tokens/s, 137 s per epoch, valid
perplexity 216 / 161 / 141 / 129 after epochs 1-4 on the same machine); the
targets are twice that throughput and validation perplexity at or below 120.7
(the published small-model figure) within 20 minutes; plus a small Transformer.

Both parts run in one invocation, one after the other, on the same machine; the
script prints Markdown tables and writes them, with the raw numbers as JSON, to
``--out``.  Run it on an otherwise idle machine: it reports the load average
before and after, since CPU timings mean little when other work shares the cores.

    python benchmarks/lm.py --data ../shared/data --out benchmarks/results/lm-cpu.md
    python benchmarks/lm.py --device cuda --precision bf16 --out benchmarks/results/lm-gpu.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NANOGPT = {"valid_ppl": 5.71, "valid_loss": 1.742, "seconds": 83.7, "tokens_per_s": 20.7e3}
WLM = {"tokens_per_s": 6.9e3, "epoch_s": 137, "valid_ppl": [216, 161, 141, 129]}
ZAREMBA_SMALL = 120.7

# Part (b): the 2x200 LSTM with tied embeddings (embed = hidden = 200, so seqtool ties
# them by default: 2.65M parameters instead of word_language_model's 4.65M untied),
# trained like Zaremba et al. / word_language_model (SGD, lr 20, clip 0.25, dropout 0.2,
# batch 20, bptt 35) but with a cosine decay over the budget and bf16 autocast on the
# CPU; and a small Transformer.
PTB_RUNS: dict[str, list[str]] = {
    "lstm 2x200": [
        "--model", "lstm", "--layers", "2", "--embed", "200", "--hidden", "200",
        "--dropout", "0.2", "--seq-len", "35", "--batch-size", "20",
        "--optimizer", "sgd", "--lr", "20", "--warmup", "0", "--clip", "0.25",
        "--weight-decay", "0", "--min-lr", "0.05", "--precision", "bf16",
    ],
    "transformer 2x256": [
        "--model", "transformer", "--layers", "2", "--dim", "256", "--heads", "4",
        "--dropout", "0.3", "--seq-len", "64", "--batch-size", "16", "--lr", "1e-3",
        "--warmup", "200", "--precision", "bf16",
    ],
}  # fmt: skip


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": gpu,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }


def load() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return float("nan")


def train(
    name: str, files: list[str], flags: list[str], budget: str, work: Path, extra: list[str]
) -> dict[str, Any]:
    """Run one `seqtool train-lm` and collect its evaluations from the JSONL log."""
    out = work / f"{name.replace(' ', '_')}.pt"
    log = work / f"{name.replace(' ', '_')}.log.jsonl"
    log.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "seqtool", "train-lm", *files, *flags, "--time-budget", budget,
           "-o", str(out), "--log", str(log), *extra]  # fmt: skip
    print("$ seqtool " + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    load_before = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{name}: train-lm failed:\n{proc.stderr[-2000:]}")
    records = [json.loads(x) for x in log.read_text().splitlines()]
    last = records[-1]
    best = min(records, key=lambda r: r["valid_ppl"])
    return {
        "name": name,
        "command": "seqtool " + " ".join(cmd[3:]),
        "valid_ppl": best["valid_ppl"],
        "valid_loss": best["valid_loss"],
        "valid_bpc": best.get("valid_bpc"),
        "best_at_s": best["elapsed"],
        "train_s": last["elapsed"],
        "wall_s": wall,
        "tokens": last["tokens"],
        "tokens_per_s": last["tokens"] / last["elapsed"],
        "epochs": last["epoch"],
        "curve": [(r["elapsed"], r["epoch"], r["valid_ppl"]) for r in records],
        "load_before": load_before,
        "load_after": load(),
        "stderr_tail": proc.stderr.splitlines()[-1:],
    }


def part_a(data: Path, work: Path, budget: str, models: list[str], extra: list[str]) -> list[dict]:
    tm = data / "timemachine.txt"
    return [
        train(f"char {m}", [str(tm)], ["--tokenizer", "char", "--model", m], budget, work, extra)
        for m in models
    ]


def part_b(data: Path, work: Path, budget: str, runs: list[str], extra: list[str]) -> list[dict]:
    files = [str(data / "ptb" / "ptb.train.txt"), "--valid", str(data / "ptb" / "ptb.valid.txt")]
    return [
        train(f"ptb {r}", files, ["--tokenizer", "word", *PTB_RUNS[r]], budget, work, extra)
        for r in runs
    ]


def report(info: dict[str, Any], a: list[dict], b: list[dict]) -> str:
    lines = [f"Machine: {info['cpu']} ({info['cores']} cores)"
             + (f", GPU {info['gpu']}" if info["gpu"] else "")
             + f"; torch {info['torch']}, Python {info['python']}; {info['date']}.", ""]  # fmt: skip
    if a:
        lines += [
            "**(a) Characters, The Time Machine** (raw, 90% / 10% split; budget as shown, defaults of each model)",
            "",
            "| run | valid ppl | valid loss | best at (s) | train time (s) | tokens/s | epochs | load avg |",
            "|---|---|---|---|---|---|---|---|",
            f"| nanoGPT baby GPT (4x128, block 64, batch 12, 2000 iters) | {NANOGPT['valid_ppl']} | "
            f"{NANOGPT['valid_loss']} | {NANOGPT['seconds']} | {NANOGPT['seconds']} | 20.7k | | |",
        ]
        for r in a:
            lines.append(
                f"| seqtool {r['name']} | **{r['valid_ppl']:.2f}** | {r['valid_loss']:.3f} | "
                f"{r['best_at_s']:.0f} | {r['train_s']:.0f} | {r['tokens_per_s'] / 1e3:.1f}k | "
                f"{r['epochs']:.1f} | {r['load_before']:.1f} / {r['load_after']:.1f} |"
            )
        lines.append("")
    if b:
        lines += [
            "**(b) Words, Penn Treebank** (train on ptb.train.txt, evaluate on ptb.valid.txt)",
            "",
            f"| run | valid ppl | best at (s) | first <= {ZAREMBA_SMALL} at (s) | tokens/s | epochs "
            "| valid ppl by epoch | load avg |",
            "|---|---|---|---|---|---|---|---|",
            f"| word_language_model 2x200 LSTM (batch 20, bptt 35) | 129 after 4 epochs "
            f"(Zaremba small: {ZAREMBA_SMALL}) | 548 | | 6.9k | 4 | 216 / 161 / 141 / 129 | |",
        ]
        for r in b:
            by_epoch = _by_epoch(r["curve"])
            hit = next((f"{t:.0f}" for t, _, ppl in r["curve"] if ppl <= ZAREMBA_SMALL), None)
            lines.append(
                f"| seqtool {r['name']} | **{r['valid_ppl']:.1f}** | {r['best_at_s']:.0f} | "
                f"{hit or 'not reached'} | "
                f"{r['tokens_per_s'] / 1e3:.1f}k | {r['epochs']:.1f} | {by_epoch} | "
                f"{r['load_before']:.1f} / {r['load_after']:.1f} |"
            )
        lines.append("")
    lines.append("Commands:")
    lines.append("")
    lines += [f"    {r['command']}" for r in a + b]
    return "\n".join(lines) + "\n"


def _by_epoch(curve: list[tuple[float, float, float]]) -> str:
    """Validation perplexity at each whole epoch of a curve of (seconds, epoch, ppl)."""
    out = [f"{ppl:.0f}" for _, epoch, ppl in curve if abs(epoch - round(epoch)) < 1e-6]
    return " / ".join(out[:12]) + (" ..." if len(out) > 12 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "work" / "lm")
    ap.add_argument("--out", type=Path, default=None, help="Markdown report (JSON beside it).")
    ap.add_argument("--parts", default="a,b")
    ap.add_argument("--budget-a", default="84s")
    ap.add_argument("--budget-b", default="20m")
    ap.add_argument("--models", default="transformer,gru,lstm", help="Part (a) models.")
    ap.add_argument("--ptb-runs", default=",".join(PTB_RUNS), help="Part (b) runs.")
    ap.add_argument("--device", default=None)
    ap.add_argument("--precision", default=None)
    args = ap.parse_args()
    extra = [
        f
        for k, v in (("--device", args.device), ("--precision", args.precision))
        if v
        for f in (k, v)
    ]
    args.work.mkdir(parents=True, exist_ok=True)
    info = machine()
    parts = args.parts.split(",")
    a = (
        part_a(args.data, args.work, args.budget_a, args.models.split(","), extra)
        if "a" in parts
        else []
    )
    b = (
        part_b(args.data, args.work, args.budget_b, args.ptb_runs.split(","), extra)
        if "b" in parts
        else []
    )
    text = report(info, a, b)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        args.out.with_suffix(".json").write_text(
            json.dumps({"machine": info, "a": a, "b": b}, indent=2) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
