"""Data-parallel training: two CPU processes under torchrun (gloo) train one model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from seqtool.train.checkpoint import load_checkpoint


def test_two_process_gloo_run_trains_a_model_that_loads_and_evaluates(tmp_path: Path, cli) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog\n" * 60, encoding="utf-8")
    out = tmp_path / "lm.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "seqtool", "train-lm", str(corpus), "--model", "gru", "--embed", "16",
        "--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch-size", "4",
        "--max-steps", "20", "--eval-every", "10", "--lr", "2e-2", "--warmup", "0", "--device", "cpu", "-o", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "x 2 processes" in proc.stderr  # rank 0 reports the layout ...
    assert proc.stderr.count("train-lm: gru") == 1  # ... and only rank 0 reports
    last = load_checkpoint(tmp_path / "lm.last.pt")
    assert last["train_state"]["world_size"] == 2 and last["train_state"]["step"] == 20
    # Both ranks read a batch of 4 windows of 16 tokens per step.
    assert last["train_state"]["tokens"] == 20 * 2 * 4 * 16
    records = [json.loads(x) for x in (tmp_path / "lm.log.jsonl").read_text().splitlines()]
    assert records and records[-1]["step"] == 20  # one log, written once per evaluation
    assert len({r["step"] for r in records}) == len(records)
    ev = cli("eval-lm", out, corpus, "--format", "json")
    assert ev.exit_code == 0, ev.stderr
    ppl = json.loads(ev.stdout)["ppl"]
    uniform = last["config"]["vocab_size"]
    assert torch.isfinite(torch.tensor(ppl)) and ppl < 0.75 * uniform  # it learned
