"""Training survives being killed: SIGKILL at any moment leaves a loadable, resumable checkpoint."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqtool.datasets import sample_path


def train_cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "seqtool", "train-lm", str(sample_path("english.txt")),
        "--model", "gru", "--tokenizer", "char", "--layers", "1", "--hidden", "32", "--embed", "16",
        "--seq-len", "16", "--batch-size", "8", "--max-steps", "100000", "--eval-every", "100000",
        "--checkpoint-every", "0.005", "--threads", "1", "--quiet", "-o", str(out), *extra,
    ]  # fmt: skip


def wait_for(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize(
    "trial", [0] + [pytest.param(t, marks=pytest.mark.slow) for t in range(1, 10)]
)
def test_sigkill_at_a_random_moment_leaves_a_resumable_checkpoint(
    tmp_path: Path, trial: int
) -> None:
    import torch

    out = tmp_path / "lm.pt"
    last = tmp_path / "lm.last.pt"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        train_cmd(out), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(last, 60)
        # Kill while checkpoints are being rewritten every ~0.3 s.
        time.sleep(random.Random(trial).uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # no temporary file is mistaken for a checkpoint, and the checkpoint is whole
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    step = ckpt["train_state"]["step"]
    assert step > 0
    resumed = subprocess.run(
        train_cmd(out, "--resume", str(last))[:-4]
        + ["--max-steps", str(step + 5), "-o", str(out), "--resume", str(last)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (
        torch.load(last, map_location="cpu", weights_only=True)["train_state"]["step"] == step + 5
    )
