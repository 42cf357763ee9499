"""`seqtool zipf FILE... | --counts FILE`: Zipf, power-law and Heaps fits, and a plot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.ngrams import (
    OrderRange,
    Orders,
    counting_progress,
    quick_numpy,
    requested_orders,
)
from seqtool.cli.options import Encoding, Errors, Format, Inputs, Lower, Quiet, Seed, normalize_help
from seqtool.cli.root import app
from seqtool.errors import UsageError
from seqtool.io import check_encoding, check_output_path, write_bytes

if TYPE_CHECKING:
    from seqtool.stats.counting import ZipfAnalysis, ZipfConfig


def _parse_xmin(text: str) -> int | None:
    if text == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--xmin must be auto or a whole number, not {text!r}") from None
    if value < 1:
        raise UsageError(f"--xmin must be 1 or more, not {value}")
    return value


@app.command()
def zipf(
    files: Inputs = None,
    counts: Annotated[
        Path | None,
        typer.Option(
            "--counts",
            help="Fit this frequency list instead of counting text: one count per line, "
            "seqtool's ngram<TAB>count TSV, or counts saved with `ngrams --save` (.npz).",
        ),
    ] = None,
    n: Orders = None,
    order: OrderRange = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Draw the log-log rank-frequency curves to this PNG."),
    ] = None,
    xmin: Annotated[
        str, typer.Option("--xmin", help="auto (minimise the KS distance) or a fixed x_min.")
    ] = "auto",
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", help="Synthetic data sets for the goodness-of-fit p-value."),
    ] = 0,
    seed: Seed = 0,
    tokenizer: Annotated[
        str | None, typer.Option("--tokenizer", "-t", help="word (default) or char tokens.")
    ] = None,
    normalize: Annotated[
        str | None,
        typer.Option("--normalize", help=normalize_help("letters")),
    ] = None,
    lower: Lower = None,
    per_line: Annotated[
        bool, typer.Option("--per-line", help="Keep n-grams inside lines.")
    ] = False,
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Fit Zipf's law to the n-gram counts of text (or to a frequency list).

    Reports the rank-frequency exponent s of n_i ∝ 1/i^s by maximum likelihood
    (all ranks) and by least squares on log-log axes (ranks whose count is at
    least 5), the Clauset-Shalizi-Newman discrete power-law fit of the counts
    (alpha, x_min by KS distance, sigma, D, n_tail; --bootstrap B adds the
    p-value) and, for text, Heaps' law V(N) = K N^beta.

    Example: seqtool zipf timemachine.txt -n 1 -n 2 -n 3 --plot zipf.png
    """
    render.set_quiet(quiet)
    quick_numpy()
    from seqtool.stats.counting import NgramConfig, ZipfConfig

    fmt = render.resolve_format(fmt)
    fixed_xmin = _parse_xmin(xmin)
    if bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 or more, not {bootstrap}")
    if plot is not None:
        from seqtool.stats.plot import require_matplotlib

        check_output_path(plot, [*(files or ["-"]), counts])
        require_matplotlib()
    if counts is None:
        check_encoding(encoding, errors)
    elif not str(counts).endswith(".npz") and not files and (n or order):
        raise UsageError("-n/--order need text input or .npz counts, not a frequency list")
    cfg = ZipfConfig(
        orders=requested_orders(n, order) if (n or order or counts is None) else None,
        xmin=fixed_xmin,
        bootstrap=bootstrap,
        seed=seed,
        counting=NgramConfig(
            tokenizer=tokenizer,
            normalize=normalize,
            lower=lower,
            per_line=per_line,
            encoding=encoding,
            errors=errors,
        ),
    )
    start = time.perf_counter()
    result = _analyze(files, counts, cfg)
    render.info(f"zipf: {result.source}; fitted in {time.perf_counter() - start:.2f} s")
    _emit([r.record() for r in result.reports], fmt)
    if plot is not None:
        _plot(result, plot)


def _analyze(files: list[str] | None, counts: Path | None, cfg: ZipfConfig) -> ZipfAnalysis:
    from seqtool.stats.counting import analyze_zipf

    if counts is not None:
        return analyze_zipf(list(files or []), cfg, counts=counts)
    paths = list(files or ["-"])
    with counting_progress(paths) as progress:
        return analyze_zipf(paths, cfg, on_progress=progress)


def _emit(records: list[dict[str, Any]], fmt: str) -> None:
    if fmt in ("json", "jsonl"):
        render.emit_rows(tuple(records[0]), [tuple(r.values()) for r in records], fmt)
        return
    fields = list(dict.fromkeys(k for r in records for k in r))
    columns = ("field", *(r["data"] for r in records))
    rows = [(f, *(r.get(f, "") for r in records)) for f in fields if f != "data"]
    render.emit_rows(columns, rows, fmt, title="Zipf / power-law fit")


def _plot(result: ZipfAnalysis, path: Path) -> None:
    import numpy as np

    from seqtool.stats.plot import rank_frequency_png

    curves = [
        (label, np.sort(freqs)[::-1], report.zipf)
        for (label, freqs), report in zip(result.series, result.reports)
    ]
    write_bytes(path, rank_frequency_png(curves, title=result.source.split(" (")[0][:70]))
    render.info(f"wrote the rank-frequency plot to {path}")
