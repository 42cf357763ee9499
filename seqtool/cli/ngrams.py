"""`seqtool ngrams [count] FILE...` and `seqtool ngrams merge A.npz B.npz ...`.

``ngrams`` is a group whose default subcommand is ``count``: when the first
argument names no subcommand, ``count`` is understood, so ``seqtool ngrams
corpus.txt -n 2`` works as the design promises.  numpy and the counting code
are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seqtool.cli import render
from seqtool.cli.flags import DefaultCommandGroup
from seqtool.cli.options import (
    Encoding,
    Errors,
    Format,
    Inputs,
    Lower,
    Quiet,
    inputs_or_stdin,
    normalize_help,
    quick_numpy,
)
from seqtool.cli.root import app
from seqtool.errors import UsageError
from seqtool.io import check_encoding, check_output_path, display_name

if TYPE_CHECKING:
    from seqtool.stats.ngrams import NgramCounts

PROGRESS_BYTES = 64 << 20  # show progress only for inputs that take a while


ngrams_app = typer.Typer(
    cls=DefaultCommandGroup,
    help="Count n-grams: seqtool ngrams FILE... [-n N ...] [--top K] (short for `ngrams count`); "
    "merge saved counts with `seqtool ngrams merge A.npz B.npz`. "
    "Run `seqtool ngrams count --help` for every counting option.\n\n"
    "Example: seqtool ngrams timemachine.txt -n 1 -n 2 -n 3 --top 10",
    rich_markup_mode=None,
)
app.add_typer(ngrams_app, name="ngrams")

Orders = Annotated[
    list[int] | None,
    typer.Option("-n", help="N-gram order; repeat for several (-n 1 -n 2). Default 1."),
]
OrderRange = Annotated[
    str | None, typer.Option("--order", help="Orders as a range or list: 1-3, 1,2,4.")
]
Top = Annotated[
    int, typer.Option("--top", "-k", help="How many n-grams to print per order; 0 prints all.")
]
MinCount = Annotated[
    int, typer.Option("--min-count", help="Print only n-grams seen at least this often.")
]
Sep = Annotated[str, typer.Option("--sep", help="Joins the tokens of an n-gram in the output.")]
Save = Annotated[
    Path | None,
    typer.Option("--save", help="Also write all counts to this .npz file (for merge, zipf)."),
]
Header = Annotated[bool, typer.Option("--header", help="Start TSV output with a header row.")]


def requested_orders(n: list[int] | None, order: str | None, default: tuple[int, ...] = (1,)):
    from seqtool.stats.ngrams import check_orders, parse_order_range

    wanted = list(n or []) + (parse_order_range(order) if order else [])
    return check_orders(wanted or default)


def _check_output_options(top: int, min_count: int, sep: str) -> None:
    if top < 0:
        raise UsageError(f"--top must be 0 (all) or more, not {top}")
    if min_count < 1:
        raise UsageError(f"--min-count must be 1 or more, not {min_count}")
    if "\t" in sep or "\n" in sep:
        raise UsageError("--sep must not contain a tab or a line break")


@ngrams_app.command("count")
def count(
    files: Inputs = None,
    n: Orders = None,
    order: OrderRange = None,
    top: Top = 10,
    min_count: MinCount = 1,
    sep: Sep = "--",
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", "-t", help="word (default) or char tokens."),
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option("--normalize", help=normalize_help("letters")),
    ] = None,
    lower: Lower = None,
    per_line: Annotated[
        bool,
        typer.Option("--per-line", help="Keep n-grams inside lines (sentence corpora)."),
    ] = False,
    vocab: Annotated[
        Path | None,
        typer.Option("--vocab", help="Map tokens to this vocabulary (others become <unk>)."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-j",
            help="Counting processes; 0: one per CPU (4 or more) for inputs over 24 MB.",
        ),
    ] = 0,
    save: Save = None,
    fmt: Format = "auto",
    header: Header = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Count the n-grams of text and print the most frequent of each order.

    The whole input is one token sequence, as in the d2l book, unless --per-line.
    Output: a table on a terminal, `ngram<TAB>count` when piped; --top 0 prints
    every n-gram, by count (highest first), equal counts by their tokens in
    code-point order. A summary goes to stderr. Inputs ending in .npz are saved
    counts and are merged instead of counted.

    Example: seqtool ngrams timemachine.txt -n 1 -n 2 -n 3 --top 5
    """
    render.set_quiet(quiet)
    quick_numpy()
    fmt = render.resolve_format(fmt)
    orders = requested_orders(n, order)
    _check_output_options(top, min_count, sep)
    paths = inputs_or_stdin(files)
    if all(p.endswith(".npz") for p in paths):
        _show_merged(
            paths, orders if (n or order) else None, top, min_count, sep, save, fmt, header
        )
        return
    if any(p.endswith(".npz") for p in paths):
        raise UsageError("give either text files or saved .npz counts, not both")
    from seqtool.stats.counting import NgramConfig
    from seqtool.text.vocab import Vocab

    check_encoding(encoding, errors)
    if save is not None:
        check_output_path(save, [*paths, vocab])
    cfg = NgramConfig(
        orders, tokenizer, normalize, lower, per_line, None, workers, False, encoding, errors
    )
    cfg.check()
    if vocab is not None:
        cfg.vocab = Vocab.load(vocab)
    from seqtool.stats.counting import count_ngrams

    start = time.perf_counter()
    with counting_progress(paths) as progress:
        counts = count_ngrams(paths, cfg, on_progress=progress)
    if save is not None:
        counts.save(save)
    _summary(counts, paths, time.perf_counter() - start, save)
    emit_counts(counts, orders, top, min_count, sep, fmt, header)


@contextlib.contextmanager
def counting_progress(paths: list[str]) -> Iterator[Callable[[int], None] | None]:
    """A progress callback for counting ``paths``: a bar for large or unknown inputs."""
    from seqtool.stats.counting import input_bytes

    total = input_bytes(paths)
    if 0 < total < PROGRESS_BYTES:
        yield None
        return
    with render.Progress("counting", total=total or None, unit="chars") as bar:
        yield lambda size: bar.update(advance=size)


def _summary(counts: NgramCounts, paths: list[str], seconds: float, save: Path | None) -> None:
    names = ", ".join(display_name(p) for p in paths)
    per_order = "; ".join(f"{n}-grams {counts.distinct(n):,} distinct" for n in counts.orders)
    types = "" if counts.settings.vocab else f", {len(counts.tokens) - 1:,} types"
    render.info(
        f"{names}: {counts.n_tokens:,} tokens{types}; {per_order} "
        f"({counts.settings.describe()}) in {seconds:.2f} s"
    )
    if save is not None:
        render.info(f"saved all counts to {save}")


def emit_counts(
    counts: NgramCounts,
    orders: tuple[int, ...],
    top: int,
    min_count: int,
    sep: str,
    fmt: str,
    header: bool,
) -> None:
    """Print the top n-grams of each order: TSV streams, JSON/JSONL carry the order too."""
    if fmt == "tsv":
        if header:
            sys.stdout.write("ngram\tcount\n")
        for n in orders:
            if top == 0:
                sys.stdout.flush()
                out = getattr(sys.stdout, "buffer", None)
                for block in counts.tsv_blocks(n, sep, min_count):
                    if out is not None:
                        out.write(block)
                    else:
                        sys.stdout.write(block.decode("utf-8"))
            else:
                rows, c = counts.ranked(n, top, min_count)
                render.emit_rows(
                    ("ngram", "count"), zip(counts.strings(rows, sep), c.tolist()), fmt
                )
        sys.stdout.flush()
        return
    if fmt in ("json", "jsonl"):

        def all_rows():  # noqa: E306
            for n in orders:
                rows, c = counts.ranked(n, top, min_count)
                for g, k, t in zip(counts.strings(rows, sep), c.tolist(), counts.token_lists(rows)):
                    yield n, g, k, t

        render.emit_rows(("n", "ngram", "count", "tokens"), all_rows(), fmt)
        return
    for n in orders:
        rows, c = counts.ranked(n, top, min_count)
        shown = f"top {len(c)}" if top else "all"
        render.emit_rows(
            ("ngram", "count"),
            list(zip(counts.strings(rows, sep), c.tolist())),
            fmt,
            title=f"{n}-grams: {shown} of {counts.distinct(n):,} distinct",
        )


def _show_merged(
    paths: list[str],
    orders: tuple[int, ...] | None,
    top: int,
    min_count: int,
    sep: str,
    save: Path | None,
    fmt: str,
    header: bool,
    show: bool = True,
) -> None:
    from seqtool.stats.counting import merge_saved

    if "-" in paths:
        raise UsageError("saved counts are read from files, not stdin")
    if save is not None:
        check_output_path(save, paths)
    start = time.perf_counter()
    merged = merge_saved(paths, orders)
    if save is not None:
        merged.save(save)
    _summary(merged, paths, time.perf_counter() - start, save)
    if show:
        emit_counts(merged, orders or tuple(merged.orders), top, min_count, sep, fmt, header)


@ngrams_app.command("merge")
def merge(
    files: Annotated[list[str], typer.Argument(help="Saved counts (.npz) to add up.")],
    n: Orders = None,
    order: OrderRange = None,
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            "-k",
            help="How many n-grams to print per order; 0 prints all "
            "(default: 10, and none with --save unless --top is given).",
            show_default=False,
        ),
    ] = None,
    min_count: MinCount = 1,
    sep: Sep = "--",
    save: Save = None,
    fmt: Format = "auto",
    header: Header = False,
    quiet: Quiet = False,
) -> None:
    """Add up n-gram counts saved with --save, one file per shard, and print the top.

    With --save the merged counts are only written (no lists printed) unless --top
    asks for them.

    Example: seqtool ngrams merge part1.npz part2.npz --save all.npz
    """
    render.set_quiet(quiet)
    quick_numpy()
    fmt = render.resolve_format(fmt)
    orders = requested_orders(n, order) if (n or order) else None
    show = top is not None or save is None
    _check_output_options(10 if top is None else top, min_count, sep)
    _show_merged(
        list(files), orders, 10 if top is None else top, min_count, sep, save, fmt, header, show
    )
