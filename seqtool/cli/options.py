"""Option types shared by every command, so a flag means the same thing everywhere."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer


def quick_numpy(threads: int = 1) -> None:
    """Give numpy's BLAS ``threads`` threads, before numpy loads.

    Counting, ranking and the numpy classifier make few or tiny BLAS calls: starting
    OpenBLAS's thread pool costs about 50 ms (a third of a small run), and its threads
    spin-waiting on a busy machine made the bow classifier 6x slower.  The environment
    wins; once numpy is loaded this does nothing.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(threads))


Inputs = Annotated[
    list[str] | None,
    typer.Argument(
        help="Input files (plain, .gz, .bz2 or .xz); '-' or nothing reads stdin.",
        show_default=False,
    ),
]
Format = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help="Output format: table, tsv, json or jsonl (default: table on a terminal, tsv otherwise).",
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print nothing but results (no progress or summaries on stderr)."
    ),
]
Encoding = Annotated[str, typer.Option("--encoding", help="Text encoding of the inputs.")]
Errors = Annotated[
    str,
    typer.Option(
        "--errors",
        help="What to do with undecodable bytes: strict (stop with an error), replace or ignore.",
    ),
]
NORMALIZERS = "d2l, letters, nfkc or none"


def normalize_help(default: str) -> str:
    """The help of --normalize, naming the command's default (it differs by tokenizer)."""
    return f"Normaliser: {NORMALIZERS} (default: {default})."


def normalize_option(default: str) -> Any:
    """``--normalize`` for a command whose default (``None`` here) is ``default``."""
    return typer.Option("--normalize", help=normalize_help(default), show_default=False)


Lower = Annotated[
    bool | None,
    typer.Option(
        "--lower/--no-lower",
        help="Lowercase (default: on for d2l and letters, off otherwise).",
        show_default=False,
    ),
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for every random source.")]
Device = Annotated[
    str,
    typer.Option(
        "--device", help="auto, cpu, cuda, cuda:N or mps (auto: CUDA, then MPS, then CPU)."
    ),
]


def inputs_or_stdin(files: list[str] | None) -> list[str]:
    """The positional inputs, with stdin standing in when none are given."""
    return list(files) if files else ["-"]
