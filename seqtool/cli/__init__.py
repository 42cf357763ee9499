"""The seqtool command line: a thin layer over the library.

Each command group lives in its own module and registers itself on the typer
app (:mod:`seqtool.cli.root`) when imported; nothing here holds logic of its own.
``main()`` imports only the module of the command being run, since every
command's start-up time counts in a shell pipeline; ``seqtool.cli.app`` (or
:func:`load_commands`) gives the app with every command registered.
"""

from __future__ import annotations

import importlib
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
    "zipf",
    "embed",
    "lm",
    "translate",
    "forecast",
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
    "forecast": "forecast",
}


def load_commands(command: str | None = None) -> Any:
    """Register ``command`` (every command when None or unknown); return the typer app."""
    modules = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else MODULE_ORDER
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


def main() -> int:
    """Console-script entry point."""
    if hasattr(signal, "SIGPIPE"):
        # Die quietly, like any Unix filter, when the reader of stdout goes away.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from typer.main import get_command

    from seqtool.cli.train_options import quiet_cpu_threads

    quiet_cpu_threads()  # before anything imports torch

    args = sys.argv[1:]
    command = get_command(load_commands(_command_of(args)))
    code = command.main(args=args, prog_name="seqtool", standalone_mode=False)
    return int(code or 0)
