"""examples/api.py runs on the bundled samples, through the library only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "api.py"


def test_the_api_tour_runs_without_the_cli_stack() -> None:
    code = (
        "import runpy, sys; "
        f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__'); "
        "assert 'typer' not in sys.modules, 'typer was imported'; "
        "assert 'rich' not in sys.modules, 'rich was imported'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-2000:]
    out = run.stdout
    assert "most frequent words: [('the', 518)" in out
    assert "Zipf exponent s = " in out and "word2vec: " in out
    assert "BLEU of a truncated copy: BLEU|nrefs:1|" in out
    assert "char LSTM after 60 steps: valid ppl" in out  # trained, resumed, reloaded
    assert "translator: " in out and "training-set BLEU (beam 4): BLEU|" in out
    assert run.stderr == ""  # the library never prints, not even to stderr
