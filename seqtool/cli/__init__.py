"""The seqtool command line: a thin layer over the library.

Each command group lives in its own module and registers itself on the typer
app (:mod:`seqtool.cli.root`) when imported; nothing here holds logic of its own.
``main()`` imports only the module of the command being run, since every
command's start-up time counts in a shell pipeline; ``seqtool.cli.app`` (or
:func:`load_commands`) gives the app with every command registered.
"""

from __future__ import annotations

import errno
import importlib
import io
import os
import signal
import sys
from typing import Any

__all__ = ["app", "load_commands", "main"]

# command name -> the module that registers it; --help lists the modules' commands
# in the order of MODULE_ORDER (the README's order)
MODULE_ORDER = (
    "datacmd",
    "corpus",
    "ngrams",
    "ngram_lm",
    "zipf",
    "embed",
    "lm",
    "translate",
    "classify",
    "forecast",
    "summarize",
    "average",
    "demo",
)
COMMAND_MODULES = {
    "preprocess": "corpus",
    "vocab": "corpus",
    "data": "datacmd",
    "demo": "demo",
    "word2vec": "embed",
    "train-lm": "lm",
    "generate": "lm",
    "eval-lm": "lm",
    "ngrams": "ngrams",
    "zipf": "zipf",
    "train-mt": "translate",
    "translate": "translate",
    "bleu": "translate",
    "classify": "classify",
    "forecast": "forecast",
    "summarize": "summarize",
    "keywords": "summarize",
    "rouge": "summarize",
    "average": "average",
}
# modules that add subcommands to a group another module owns (they import it):
# `ngrams lm` and `ngrams score` live in ngram_lm.py, on ngrams.py's group
SUBCOMMAND_MODULES = {"ngrams": ("ngram_lm",)}


def load_commands(command: str | None = None) -> Any:
    """Register ``command`` (every command when None or unknown); return the typer app."""
    if command in COMMAND_MODULES:
        modules = [COMMAND_MODULES[command], *SUBCOMMAND_MODULES.get(command, ())]
    else:
        modules = list(MODULE_ORDER)
    for name in modules:
        importlib.import_module(f"seqtool.cli.{name}")
    from seqtool.cli.root import app

    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_of(args: list[str]) -> str | None:
    """The command named on the command line: the first word that is not an option."""
    return next((a for a in args if not a.startswith("-")), None)


class _ClosedBinary(io.RawIOBase):
    """Standard output when the shell closed it (``>&-``): every write fails clearly."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


class _ClosedOutput(io.TextIOBase):
    """The text side of :class:`_ClosedBinary`; buffers nothing, so exit stays quiet."""

    buffer = _ClosedBinary()
    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


def _guard_std_streams() -> None:
    """Give closed standard descriptors a stand-in, before any file is opened.

    Otherwise the next file opened takes descriptor 1 or 2, and results or errors
    land in it; and with stderr closed Python's ``print(file=None)`` writes
    messages to stdout, mixed with results.  Closed stdin reads as refused
    (seqtool.io), closed stdout fails on the first write, closed stderr is silent.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if fd == 0:
            sys.stdin = None  # type: ignore[assignment]
        elif fd == 1:
            sys.stdout = _ClosedOutput()
        else:
            sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


_MAIN_PID = [0]


def _terminate(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID[0]:  # a forked worker (ngrams --workers): die as before
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    from seqtool.errors import Terminate

    raise Terminate()


def main() -> int:
    """Console-script entry point."""
    _guard_std_streams()
    if hasattr(signal, "SIGPIPE"):
        # Die quietly, like any Unix filter, when the reader of stdout goes away.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        # SIGTERM cleans up like Ctrl-C (temporary files, half-made folders); the
        # trainers replace this with their own checkpointing handler while they run.
        _MAIN_PID[0] = os.getpid()
        signal.signal(signal.SIGTERM, _terminate)
    from typer.main import get_command

    args = sys.argv[1:]
    command = get_command(load_commands(_command_of(args)))
    code = command.main(args=args, prog_name="seqtool", standalone_mode=False)
    return int(code or 0)
