"""Line filters answer each line as it arrives: `translate`, `generate` and `classify
predict` as co-processes on a real pipe (a subprocess), and the batching underneath.

The subprocess tests write one line, read its answer while standard input is still
open, and only then write the next: a command that waited for more input (or for
the end of it) before answering would never answer, and the test fails on its
timeout instead of hanging.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_models import train_tiny_models

from seqtool.io import read_line_batches
from seqtool.tasks.lm import LanguageModel
from seqtool.tasks.mt import Translator

ROOT = Path(__file__).resolve().parents[1]
# The first answer includes the start-up (python, torch, the checkpoint) on a
# loaded 2-core machine; a command that does not stream never answers at all.
ANSWER_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("models"))


class CoProcess:
    """`python -m seqtool ...` with pipes on stdin and stdout, read by a thread."""

    def __init__(self, *args: object) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQTOOL_DEBUG": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seqtool", *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def answer(self, timeout: float = ANSWER_TIMEOUT) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            _, err = self.proc.communicate()
            pytest.fail(f"no answer within {timeout:.0f} s while stdin stayed open\n{err[-2000:]}")

    def finish(self) -> tuple[list[str], str]:
        """Close stdin; the remaining output lines and stderr, after a clean exit."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        rest = []
        while (line := self.answer()) is not None:
            rest.append(line)
        err = self.proc.stderr.read()
        assert self.proc.wait(timeout=60) == 0, err
        return rest, err


def test_translate_answers_each_line_before_the_next_arrives(models: dict[str, Path]) -> None:
    co = CoProcess("translate", models["mt"], "--beam", 2)
    co.send("a b c")
    first = co.answer()
    co.send("")
    assert co.answer() == ""  # an empty line too, at once
    co.send("d e f")
    second = co.answer()
    rest, err = co.finish()
    assert rest == []
    assert "translated 3 lines" in err
    mt = Translator.load(models["mt"], "cpu")
    assert [first, "", second] == [n[0].text for n in mt.translate(["a b c", "", "d e f"], beam=2)]


def test_generate_answers_each_prefix_before_the_next_arrives(models: dict[str, Path]) -> None:
    flags = ["--one-line", "--max-tokens", 8, "--seed", 3]
    co = CoProcess("generate", models["lm"], *flags)
    co.send("ab")
    first = co.answer()
    co.send("cd")
    second = co.answer()
    assert co.finish()[0] == []
    lm = LanguageModel.load(models["lm"], "cpu")
    # each prefix has its own random stream: batched together, they sample the same
    together = lm.generate(["ab", "cd"], max_tokens=8, one_line=True, seed=3)
    assert [first, second] == [together[0][0], together[1][0]]
    assert first is not None and first.startswith("ab")


def test_classify_predict_answers_each_line_before_the_next_arrives(
    models: dict[str, Path],
) -> None:
    co = CoProcess("classify", "predict", models["clf"])
    co.send("good great")
    assert co.answer() in ("pos", "neg")
    co.send("bad awful")
    assert co.answer() in ("pos", "neg")
    assert co.finish()[0] == []


def _pipe_batches(chunks: list[bytes], batch: int) -> Iterator[list[str]]:
    """read_line_batches on a real pipe whose writer sends ``chunks`` one by one,
    each only after the reader has taken a batch (a co-process's rhythm)."""
    r, w = os.pipe()
    saved = sys.stdin
    sys.stdin = os.fdopen(r, "r", encoding="utf-8")
    try:
        batches = read_line_batches("-", batch)
        for chunk in chunks:
            os.write(w, chunk)
            yield next(batches)
        os.close(w)
        yield from batches
    finally:
        sys.stdin.close()
        sys.stdin = saved


def test_read_line_batches_on_a_pipe_hands_on_what_has_arrived() -> None:
    got = list(_pipe_batches([b"one\n", b"two\nthree\r\nfour\n", b"f\xc3\xbcnf\n"], batch=2))
    assert got == [["one"], ["two", "three"], ["four"], ["fünf"]]


def test_read_line_batches_on_a_file_fills_every_batch(tmp_path: Path) -> None:
    p = tmp_path / "lines.txt"
    p.write_text("".join(f"{i}\n" for i in range(7)), encoding="utf-8")
    assert [len(b) for b in read_line_batches(p, 3)] == [3, 3, 1]
    assert [x for b in read_line_batches(p, 3) for x in b] == [str(i) for i in range(7)]


def test_translate_counts_lines_in_words(cli, models: dict[str, Path]) -> None:
    one = cli("translate", models["mt"], "--beam", 1, input="a b\n")
    assert one.exit_code == 0, one.stderr
    assert "translated 1 line in " in one.stderr
    assert "translated 2 lines in " in cli("translate", models["mt"], input="a\nb\n").stderr


def test_translate_shows_progress_over_a_file_on_a_terminal(
    cli, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtool.cli import render

    src = tmp_path / "src.txt"
    src.write_text("a b c\nd e\n\nf a b c d\n" * 75, encoding="utf-8")  # 300 lines
    seen: list[tuple[float | None, float | None]] = []
    update = render.Progress.update

    def spy(self: render.Progress, done: float | None = None, **kw: Any) -> None:
        seen.append((done, self.total))
        update(self, done, **kw)

    monkeypatch.setattr(render.Progress, "update", spy)
    monkeypatch.setattr(render, "stderr_is_tty", lambda: True)
    monkeypatch.setattr(render, "stdout_is_tty", lambda: False)
    run = cli("translate", models["mt"], src, "--beam", 1, "--batch-size", 50)
    assert run.exit_code == 0, run.stderr
    assert len(run.stdout.splitlines()) == 300  # the bar is on stderr only
    assert "translate" in run.stderr and "100.0%" in run.stderr
    done = [d for d, _ in seen]
    assert {t for _, t in seen} == {300} and done == sorted(done) and done[-1] == 300
    assert len(done) >= 5  # after each batch of 50 sources, not once at the end
    seen.clear()
    assert cli("translate", models["mt"], src, "--quiet").exit_code == 0
    assert cli("translate", models["mt"], input="a b\n").exit_code == 0  # stdin: no total
    monkeypatch.setattr(render, "stdout_is_tty", lambda: True)
    assert cli("translate", models["mt"], src).exit_code == 0  # translations on the terminal
    assert seen == []
