"""train-mt under torchrun: two CPU processes (gloo) train one translation model."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab
from seqtool.train.checkpoint import load_checkpoint


@pytest.mark.slow
def test_two_process_gloo_train_mt(tmp_path: Path, cli) -> None:
    r = random.Random(0)
    src, tgt = [], []
    for _ in range(400):
        words = [r.choice("abcdefgh") for _ in range(r.randint(2, 6))]
        src.append(" ".join(words))
        tgt.append(" ".join(reversed(words)))
    (tmp_path / "s.txt").write_text("\n".join(src) + "\n", encoding="utf-8")
    (tmp_path / "t.txt").write_text("\n".join(tgt) + "\n", encoding="utf-8")
    Vocab.build(src + tgt, kind="word", normalizer=Normalizer.make("none")).save(
        tmp_path / "v.json"
    )
    out = tmp_path / "mt.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "seqtool", "train-mt", "--src", str(tmp_path / "s.txt"), "--tgt", str(tmp_path / "t.txt"),
        "--vocab", str(tmp_path / "v.json"), "--model", "gru-attn", "--embed", "16", "--hidden", "32",
        "--layers", "1", "--max-tokens", "200", "--max-steps", "20", "--eval-every", "10",
        "--valid-size", "40", "--device", "cpu", "-o", str(out),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "x 2 processes" in proc.stderr and proc.stderr.count("train-mt: gru-attn") == 1
    last = load_checkpoint(tmp_path / "mt.last.pt")
    assert last["train_state"]["world_size"] == 2 and last["train_state"]["step"] == 20
    records = [json.loads(x) for x in (tmp_path / "mt.log.jsonl").read_text().splitlines()]
    assert [rec["step"] for rec in records][-1] == 20 and "valid_bleu" in records[-1]
    run = cli("translate", out, input="a b c\n\nd e\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.count("\n") == 3
