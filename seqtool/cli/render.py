r"""Everything seqtool shows a person: result tables, TSV/JSON, messages, progress.

This is the only module that imports rich.  Results go to stdout: a rich table
when stdout is a terminal, headerless TSV when it is not (so ``sort``, ``cut``
and ``join`` work on it), or JSON / JSON Lines on request.  TSV fields escape a
backslash, tab, line break and carriage return as ``\\``, ``\t``, ``\n``, ``\r``
(:func:`seqtool.io.tsv_escape`), so every record is one line.  Messages and progress
go to stderr, and ``--quiet`` silences them without changing stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from seqtool.errors import UsageError
from seqtool.io import tsv_escape

FORMATS = ("table", "tsv", "json", "jsonl")
_settings = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    _settings["quiet"] = quiet


def is_quiet() -> bool:
    return _settings["quiet"]


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()


def stderr_is_tty() -> bool:
    return sys.stderr.isatty() and not os.environ.get("NO_COLOR")


def resolve_format(fmt: str | None) -> str:
    """The output format: the one asked for, else table on a terminal and TSV in a pipe."""
    if fmt in (None, "", "auto"):
        return "table" if stdout_is_tty() else "tsv"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


def info(message: str) -> None:
    """A note for the person at the terminal (stderr; silenced by --quiet)."""
    if not _settings["quiet"]:
        print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    """A warning; shown even with --quiet, since it may change how results are read."""
    print(f"seqtool: warning: {message}", file=sys.stderr, flush=True)


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 line``, ``0 lines``, ``6,000 lines``: a number and its noun, agreeing."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def tsv_field(value: Any) -> str:
    """A value as one TSV field (see the module docstring)."""
    return tsv_escape(_cell(value))


def emit_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    fmt: str,
    title: str | None = None,
    header: bool = False,
) -> None:
    """Print rows of results in the chosen format; TSV and JSONL stream row by row."""
    out = sys.stdout
    if fmt == "tsv":  # fields escaped: a tab or line break in a value stays in its field
        if header:
            out.write("\t".join(map(tsv_escape, columns)) + "\n")
        for row in rows:
            out.write("\t".join(map(tsv_field, row)) + "\n")
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(dict(zip(columns, row)), ensure_ascii=False) + "\n")
    elif fmt == "json":
        json.dump([dict(zip(columns, row)) for row in rows], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=title, title_justify="left")
        for c in columns:
            table.add_column(c, justify="left")
        for row in rows:
            table.add_row(*(_cell(v) for v in row))
        Console(file=out).print(table)
    out.flush()


def emit_record(record: dict[str, Any], fmt: str, title: str | None = None) -> None:
    """Print one record of named values (a summary) in the chosen format."""
    if fmt == "json":
        sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "jsonl":
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        emit_rows(("field", "value"), list(record.items()), fmt, title=title)
    sys.stdout.flush()


BAR_WIDTH = 40  # rich's default
MIN_BAR = 10  # narrower bars are dropped


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


class Progress:
    """A progress bar on stderr when it is a terminal, else occasional plain lines.

    Library code reports through callbacks; commands wire those callbacks to
    :meth:`update`.  Silent under --quiet.
    """

    def __init__(self, description: str, total: float | None = None, unit: str = "") -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0.0
        self._bar: Any = None
        self._task: Any = None
        self._last_line = 0.0
        self._fields: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        if not _settings["quiet"] and stderr_is_tty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )
            from rich.text import Text

            class FittingBar(BarColumn):  # bar_width 0: no bar at all (rich: full width)
                def render(self, task: Any) -> Any:
                    return Text("") if self.bar_width == 0 else super().render(task)

            self._bar_column = FittingBar()
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                self._bar_column,
                TextColumn("{task.percentage:>5.1f}%"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[extra]}"),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._bar.__enter__()
            description, _ = self._fit("")
            self._task = self._bar.add_task(description, total=self.total, extra="")
        return self

    def _fit(self, extra: str) -> tuple[str, str]:
        """The description and fields shortened so that the line fits the terminal.

        rich would otherwise cut every column alike, the times first ("0:…").  The
        bar gives way first (from 40 characters down to 10, then it goes), then the
        description (down to its first 12 characters), then the fields, and the
        description last; the percentage and the elapsed and remaining times are never
        cut.
        """
        width = self._bar.console.width
        room = width - len("100.0%") - 2 * len("00:00:00") - 5  # five gaps of one space
        description = self.description
        bar = min(BAR_WIDTH, room - len(description) - len(extra))
        if bar < MIN_BAR:
            bar = 0
            keep = min(len(description), 12)
            description = _shorten(description, max(room - len(extra), keep))
            extra = _shorten(extra, max(room - len(description), 1))
            description = _shorten(description, max(room - len(extra), 1))
        self._bar_column.bar_width = bar
        return description, extra

    def update(
        self,
        done: float | None = None,
        advance: float = 0.0,
        total: float | None = None,
        **fields: Any,
    ) -> None:
        self.done = done if done is not None else self.done + advance
        if total is not None and total != self.total:
            self.total = total
            if self._bar is not None:
                self._bar.update(self._task, total=total)
        self._fields.update(fields)
        extra = "  ".join(f"{k} {_cell(v)}" for k, v in self._fields.items())
        if self._bar is not None:
            description, shown = self._fit(extra)
            self._bar.update(self._task, completed=self.done, extra=shown, description=description)
        elif not _settings["quiet"] and not stderr_is_tty():
            now = time.monotonic()
            if now - self._last_line >= 10.0:
                self._last_line = now
                of_total = f"/{self.total:.0f}" if self.total else ""
                print(
                    f"{self.description}: {self.done:.0f}{of_total} {self.unit} {extra}".rstrip(),
                    file=sys.stderr,
                    flush=True,
                )

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
