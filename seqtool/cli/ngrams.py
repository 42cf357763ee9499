"""`seqtool ngrams [count] FILE...` and `seqtool ngrams merge A.npz B.npz ...`.

``ngrams`` is a group whose default subcommand is ``count``: when the first
argument names no subcommand, ``count`` is understood, so ``seqtool ngrams
corpus.txt -n 2`` works as the design promises.  numpy and the counting code
are imported inside the commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from seqtool.cli import render
from seqtool.cli.options import Encoding, Errors, Format, Inputs, Lower, Quiet, inputs_or_stdin
from seqtool.cli.root import app
from seqtool.errors import InputError, UsageError
from seqtool.io import check_encoding, check_output_path, display_name

if TYPE_CHECKING:
    from seqtool.stats.ngrams import NgramCounts

AUTO_WORKERS_BYTES = 24 << 20  # below this, starting worker processes costs more than it saves
PROGRESS_BYTES = 64 << 20  # show progress only for inputs that take a while


def quick_numpy() -> None:
    """Import numpy without starting OpenBLAS's thread pool.

    Counting and fitting make no BLAS calls, and starting the pool costs about
    50 ms, a third of a small run.  Only effective when numpy is not loaded yet.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


class DefaultCommandGroup(TyperGroup):
    """A group that runs its ``count`` subcommand when the first argument names none."""

    default_command = "count"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


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
        typer.Option("--normalize", help="Normaliser: letters (default), d2l, nfkc or none."),
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
    check_encoding(encoding, errors)
    if workers < 0:
        raise UsageError(f"--workers must be 0 (automatic) or more, not {workers}")
    if save is not None:
        check_output_path(save)
    start = time.perf_counter()
    counts = count_text(
        paths, orders, tokenizer, normalize, lower, per_line, vocab, workers, encoding, errors
    )
    if save is not None:
        counts.save(save)
    _summary(counts, paths, time.perf_counter() - start, save)
    emit_counts(counts, orders, top, min_count, sep, fmt, header)


def count_text(
    paths: list[str],
    orders: tuple[int, ...],
    tokenizer: str | None,
    normalize: str | None,
    lower: bool | None,
    per_line: bool,
    vocab_path: Path | None,
    workers: int,
    encoding: str,
    errors: str,
    heaps: bool = False,
) -> NgramCounts:
    """Count text inputs with the command-line settings and check the result is usable."""
    from seqtool.stats.ngrams import Settings, count_ngrams
    from seqtool.text.normalize import Normalizer

    vocab = None
    if vocab_path is not None:
        if tokenizer is not None or normalize is not None or lower is not None:
            raise UsageError("--vocab fixes the normaliser and tokenizer; drop --normalize, "
                             "--lower and --tokenizer")  # fmt: skip
        from seqtool.text.vocab import Vocab

        vocab = Vocab.load(vocab_path)
    settings = Settings(
        Normalizer.make(normalize or "letters", lower), tokenizer or "word", per_line
    )
    if workers == 0:
        workers = _auto_workers(paths) if not heaps else 1
    total = _input_bytes(paths)
    if 0 < total < PROGRESS_BYTES:
        counts = count_ngrams(paths, orders, settings, vocab, workers, heaps, encoding, errors)
    else:
        with render.Progress("counting", total=total or None, unit="chars") as bar:
            counts = count_ngrams(
                paths, orders, settings, vocab, workers, heaps, encoding, errors,
                on_chunk=lambda size: bar.update(advance=size),
            )  # fmt: skip
    _check_counts(counts, paths)
    return counts


def _input_bytes(paths: list[str]) -> int:
    try:
        return sum(os.path.getsize(p) for p in paths if p != "-")
    except OSError:
        return 0


def _auto_workers(paths: list[str]) -> int:
    """One process per core for large files, on machines with cores to spare.

    On two cores the merging process and the workers compete, and measured runs
    were slower than one process, so small machines count in one process.
    """
    cpus = os.cpu_count() or 1
    if cpus < 4 or "-" in paths or _input_bytes(paths) < AUTO_WORKERS_BYTES:
        return 1
    return min(cpus, 8)


def _check_counts(counts: NgramCounts, paths: list[str]) -> None:
    names = ", ".join(display_name(p) for p in paths)
    if counts.n_tokens == 0:
        raise InputError(f"{names}: empty input (no tokens found)")
    for n in counts.orders:
        if counts.distinct(n) == 0:
            if counts.settings.per_line:
                raise UsageError(f"-n {n}: no line of {names} has {n} tokens (--per-line)")
            raise UsageError(
                f"-n {n} is larger than the number of tokens in {names} ({counts.n_tokens})"
            )


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
                for g, k in zip(counts.strings(rows, sep), c.tolist()):
                    yield n, g, k

        render.emit_rows(("n", "ngram", "count"), all_rows(), fmt)
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
) -> None:
    from seqtool.stats.ngrams import NgramCounts, merge_counts

    if "-" in paths:
        raise UsageError("saved counts are read from files, not stdin")
    if save is not None:
        check_output_path(save)
    start = time.perf_counter()
    parts = [NgramCounts.load(p) for p in paths]
    merged = parts[0] if len(parts) == 1 else merge_counts(parts, paths)
    missing = [n for n in orders or () if n not in merged.orders]
    if missing:
        have = ", ".join(map(str, merged.orders))
        raise UsageError(f"-n {missing[0]}: not in the saved counts (they hold orders {have})")
    if save is not None:
        merged.save(save)
    _summary(merged, paths, time.perf_counter() - start, save)
    emit_counts(merged, orders or tuple(merged.orders), top, min_count, sep, fmt, header)


@ngrams_app.command("merge")
def merge(
    files: Annotated[list[str], typer.Argument(help="Saved counts (.npz) to add up.")],
    n: Orders = None,
    order: OrderRange = None,
    top: Top = 10,
    min_count: MinCount = 1,
    sep: Sep = "--",
    save: Save = None,
    fmt: Format = "auto",
    header: Header = False,
    quiet: Quiet = False,
) -> None:
    """Add up n-gram counts saved with --save, one file per shard, and print the top.

    Example: seqtool ngrams merge part1.npz part2.npz --save all.npz --top 20
    """
    render.set_quiet(quiet)
    quick_numpy()
    fmt = render.resolve_format(fmt)
    orders = requested_orders(n, order) if (n or order) else None
    _check_output_options(top, min_count, sep)
    _show_merged(list(files), orders, top, min_count, sep, save, fmt, header)


from seqtool.cli import ngram_lm as _ngram_lm  # noqa: E402,F401  registers `ngrams lm` and `ngrams score`
