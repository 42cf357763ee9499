"""A signal that arrives while a checkpoint is written waits for the file (issue 13.10:
a second SIGTERM during the save used to end the run with nothing saved)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtool.train import checkpoint
from seqtool.train.checkpoint import load_checkpoint, save_checkpoint


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_save_waits_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: int
) -> None:
    seen: list[str] = []
    previous = signal.signal(signum, lambda s, f: seen.append("signal"))
    real_save = torch.save

    def save_interrupted(obj: Any, f: Any) -> None:
        os.kill(os.getpid(), signum)  # arrives mid-write
        seen.append("write")
        real_save(obj, f)
        seen.append("written")

    monkeypatch.setattr(checkpoint.torch, "save", save_interrupted)
    try:
        save_checkpoint(
            tmp_path / "m.pt", {"kind": "toy", "config": {}, "model": {"w": torch.ones(3)}}
        )
    finally:
        signal.signal(signum, previous)
    assert seen == ["write", "written", "signal"]  # delivered, but after the file was done
    assert torch.equal(load_checkpoint(tmp_path / "m.pt")["model"]["w"], torch.ones(3))
