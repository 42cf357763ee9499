"""The typer application and the one place where errors become exit codes.

Every command module registers itself on :data:`app`; :class:`SeqtoolGroup`
wraps the whole run so that a :class:`~seqtool.errors.SeqtoolError` raised
anywhere becomes ``seqtool: error: <message>`` on stderr with exit code 2
(usage) or 1 (everything else), never a traceback unless ``--debug`` or
``SEQTOOL_DEBUG=1`` asks for one.  It works the same under ``CliRunner``.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from seqtool import __version__
from seqtool.cli import coerce, flags, render
from seqtool.errors import Interrupted, SeqtoolError, Terminate

# click's exception classes, found through typer's public BadParameter: typer up to
# 0.15 raises click's own, later releases a vendored copy under a private module
# (typer._click), so neither import path serves every supported typer.
_CLICK_ERRORS = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
ClickUsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]

_state = {"debug": False}


def debug_enabled() -> bool:
    return _state["debug"] or os.environ.get("SEQTOOL_DEBUG", "") not in ("", "0")


def one_line(text: str) -> str:
    """``text`` with every control or invisible character escaped (``\\n``, ``\\x1b``).

    Messages quote file names and file contents; a newline in a name must not forge a
    second ``seqtool: error:`` line, nor an ANSI escape reach the terminal.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )


def _fail(message: str, code: int, hint: str | None = None, label: str | None = "error") -> int:
    # One line, no markup: the message may hold user text with brackets.
    try:
        prefix = f"seqtool: {label}: " if label else "seqtool: "
        print(f"{prefix}{one_line(message)}", file=sys.stderr)
        if hint:
            print(f"hint: {one_line(hint)}", file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr is gone: the exit code still tells
    return code


def _os_error_message(e: OSError) -> str:
    where = f"{e.filename}: " if e.filename else ""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{where or 'cannot write results: '}no space left on the device"
    if e.errno == errno.EBADF and not e.filename:
        return "cannot write results: standard output is closed"
    return f"{where}{e.strerror or e}"


def _encode_error_message(e: UnicodeEncodeError) -> str:
    bad = e.object[e.start : e.end][:8]
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in bad):
        return f"cannot write {bad!r}: a lone surrogate, not a character ({e.encoding} refuses it)"
    return f"cannot write {bad!r} in the output encoding {e.encoding}"


class SeqtoolGroup(TyperGroup):
    """The top-level group: runs a command and maps every failure to an exit code."""

    def invoke(self, ctx: Any) -> Any:
        # typer turns Ctrl-C into a bare exit code 130; say what happened instead.
        try:
            return super().invoke(ctx)
        except Terminate:
            raise Interrupted("terminated (SIGTERM)", 143) from None
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

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
        coerce.install(self)  # plain flag values without importing pydantic (typer 0.2x)
        argv = list(sys.argv[1:] if args is None else args)
        code = 0
        try:
            rv = super().main(
                args, prog_name or "seqtool", complete_var, standalone_mode=False, **extra
            )
            code = rv if isinstance(rv, int) else 0
            if sys.stdout is not None:
                sys.stdout.flush()  # a full disk or closed stdout shows here, not at exit
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
            code = _fail(flags.rewrite(e.message, table), e.exit_code, hint, e.label)
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            code = _fail("interrupted", 130)
        except BrokenPipeError:
            # `seqtool ... | head`: the reader left; stop quietly.
            _silence_stdout()
            code = 0
        except UnicodeEncodeError as e:
            if debug_enabled():
                raise
            _silence_stdout()
            code = _fail(
                _encode_error_message(e),
                1,
                "seqtool writes UTF-8; set PYTHONIOENCODING=utf-8 (or a UTF-8 locale)",
            )
        except OSError as e:
            if debug_enabled():
                raise
            _silence_stdout()  # what stdout still buffers would fail again at exit
            code = _fail(_os_error_message(e), 1)
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
        elif torch.backends.mps.is_available():
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
    max_line_bytes: str = typer.Option(
        "64M",
        "--max-line-bytes",
        metavar="SIZE",
        help="Refuse input lines longer than this (bytes; K, M, G suffixes), for every command.",
    ),
) -> None:
    """seqtool: NLP and sequence modeling from the command line.

    Example: seqtool demo
    """
    _state["debug"] = debug
    from seqtool import limits

    flag = "--max-line-bytes"
    limits.set_max_line_bytes(limits.parse_size(max_line_bytes, flag), flag)
