"""The typer application and the one place where errors become exit codes.

Every command module registers itself on :data:`app`; :class:`SeqtoolGroup`
wraps the whole run so that a :class:`~seqtool.errors.SeqtoolError` raised
anywhere becomes ``seqtool: error: <message>`` on stderr with exit code 2
(usage) or 1 (everything else), never a traceback unless ``--debug`` or
``SEQTOOL_DEBUG=1`` asks for one.  It works the same under ``CliRunner``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from seqtool import __version__
from seqtool.cli import flags, render
from seqtool.errors import SeqtoolError

# click's exception classes, found through typer's public BadParameter: typer up to
# 0.15 raises click's own, later releases a vendored copy under a private module
# (typer._click), so neither import path serves every supported typer.
_CLICK_ERRORS = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickUsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]

_state = {"debug": False}


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("SEQTOOL_DEBUG", "") not in ("", "0")


def _fail(message: str, code: int, hint: str | None = None) -> int:
    # One line, no markup: the message may hold user text with brackets.
    print(f"seqtool: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return code


class SeqtoolGroup(TyperGroup):
    """The top-level group: runs a command and maps every failure to an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _state["debug"] = False
        render.set_quiet(False)  # in-process runs (CliRunner, notebooks) start afresh
        argv = list(sys.argv[1:] if args is None else args)
        code = 0
        try:
            rv = super().main(
                args, prog_name or "seqtool", complete_var, standalone_mode=False, **extra
            )
            code = rv if isinstance(rv, int) else 0
        except ClickUsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # click >= 8.2: a group without args
                e.show()  # type: ignore[attr-defined]
                code = 0
            else:
                code = _fail(
                    e.format_message().strip().splitlines()[0],  # type: ignore[attr-defined]
                    2,
                    "run the command with --help to see its options",
                )
        except ClickException as e:
            code = _fail(e.format_message(), e.exit_code)  # type: ignore[attr-defined]
        except typer.Abort:
            code = _fail("interrupted", 130)
        except SeqtoolError as e:
            if debug_enabled():
                raise
            # the library names parameters (seq_len); the terminal user typed flags
            table = flags.flag_table(flags.command_path(self, argv))
            hint = flags.rewrite(e.hint, table) if e.hint else None
            code = _fail(flags.rewrite(e.message, table), e.exit_code, hint)
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            code = _fail("interrupted", 130)
        except BrokenPipeError:
            # `seqtool ... | head`: the reader left; stop quietly.
            _silence_stdout()
            code = 0
        except MemoryError:
            if debug_enabled():
                raise
            code = _fail("out of memory; try a smaller batch, model or input", 1)
        except Exception as e:  # noqa: BLE001 - the last line of defence
            if debug_enabled():
                raise
            what = str(e).strip().splitlines()[0] if str(e).strip() else ""
            code = _fail(
                f"unexpected {type(e).__name__}{': ' + what if what else ''}",
                1,
                "re-run with --debug (or SEQTOOL_DEBUG=1) for a traceback, and report it",
            )
        finally:
            render.set_quiet(False)
        if standalone_mode:
            sys.exit(code)
        return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


app = typer.Typer(
    cls=SeqtoolGroup,
    name="seqtool",
    help="NLP and sequence modeling from the command line: corpora, n-grams and Zipf, "
    "word2vec, language models, translation and BLEU.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_text() -> str:
    import platform

    parts = [f"seqtool {__version__}", f"python {platform.python_version()}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
        if torch.cuda.is_available():
            parts.append(f"cuda {torch.cuda.get_device_name(0)}")
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            parts.append("mps")
        else:
            parts.append("cpu only")
    except ImportError:
        parts.append("torch not installed")
    return ", ".join(parts)


def _version(value: bool) -> None:
    if value:
        print(_version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print versions and the device, then exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show full tracebacks (also SEQTOOL_DEBUG=1)."
    ),
) -> None:
    """seqtool: NLP and sequence modeling from the command line.

    Example: seqtool demo
    """
    _state["debug"] = debug
