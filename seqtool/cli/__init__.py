"""The seqtool command line: a thin layer over the library.

Each command group lives in its own module and registers itself on ``app``
when imported; nothing here holds logic of its own.
"""

from __future__ import annotations

import signal
import sys

from seqtool.cli import corpus, datacmd, demo, embed, lm, ngrams, translate, zipf  # noqa: F401,E402 - register commands
from seqtool.cli.app import app

__all__ = ["app", "main"]


def main() -> int:
    """Console-script entry point."""
    if hasattr(signal, "SIGPIPE"):
        # Die quietly, like any Unix filter, when the reader of stdout goes away.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    from typer.main import get_command

    from seqtool.cli.train_options import quiet_cpu_threads

    quiet_cpu_threads()  # before anything imports torch

    command = get_command(app)
    code = command.main(args=sys.argv[1:], prog_name="seqtool", standalone_mode=False)
    return int(code or 0)
