"""`seqtool zipf FILE... | --counts FILE`: Zipf, power-law and Heaps fits, and a plot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqtool import __version__
from seqtool.cli import render
from seqtool.cli.ngrams import OrderRange, Orders, count_text, quick_numpy, requested_orders
from seqtool.cli.options import Encoding, Errors, Format, Inputs, Lower, Quiet, Seed
from seqtool.cli.root import app
from seqtool.errors import UsageError
from seqtool.io import check_encoding, check_output_path, display_name, write_bytes

if TYPE_CHECKING:
    import numpy as np


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
        typer.Option("--normalize", help="Normaliser: letters (default), d2l, nfkc or none."),
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
    fmt = render.resolve_format(fmt)
    fixed_xmin = _parse_xmin(xmin)
    if bootstrap < 0:
        raise UsageError(f"--bootstrap must be 0 or more, not {bootstrap}")
    if plot is not None:
        from seqtool.stats.plot import require_matplotlib

        check_output_path(plot, [*(files or ["-"]), counts])
        require_matplotlib()
    start = time.perf_counter()
    series, heaps, source = _frequencies(
        files, counts, n, order, tokenizer, normalize, lower, per_line, encoding, errors
    )
    records = [
        _fit_one(label, freqs, heaps, fixed_xmin, bootstrap, seed) for label, freqs in series
    ]
    render.info(f"zipf: {source}; fitted in {time.perf_counter() - start:.2f} s")
    _emit(records, fmt)
    if plot is not None:
        _plot(series, records, plot, source)


def _frequencies(
    files: list[str] | None,
    counts: Path | None,
    n: list[int] | None,
    order: str | None,
    tokenizer: str | None,
    normalize: str | None,
    lower: bool | None,
    per_line: bool,
    encoding: str,
    errors: str,
) -> tuple[list[tuple[str, np.ndarray]], tuple[float, float] | None, str]:
    """(label, counts of each distinct item) per order, Heaps' (K, beta) when known, a source line."""
    import numpy as np

    from seqtool.stats.zipf import heaps_fit, read_frequencies

    if counts is not None:
        if files:
            raise UsageError("give text files or --counts, not both")
        if str(counts).endswith(".npz"):
            from seqtool.stats.ngrams import NgramCounts

            saved = NgramCounts.load(counts)
            orders = requested_orders(n, order, tuple(saved.orders))
            missing = [k for k in orders if k not in saved.orders]
            if missing:
                raise UsageError(f"-n {missing[0]}: not in {counts} (orders {saved.orders})")
            heaps = heaps_fit(saved.heaps) if saved.heaps is not None else None
            series = [(f"{k}-grams", saved.counts_of(k)) for k in orders]
            return series, heaps, f"counts from {counts} ({saved.settings.describe()})"
        if n or order:
            raise UsageError("-n/--order need text input or .npz counts, not a frequency list")
        return [("counts", read_frequencies(counts))], None, f"frequency list {counts}"
    check_encoding(encoding, errors)
    orders = requested_orders(n, order)
    paths = files or ["-"]
    ngrams = count_text(
        paths, orders, tokenizer, normalize, lower, per_line, None, 1, encoding, errors, heaps=True
    )
    heaps = heaps_fit(ngrams.heaps) if ngrams.heaps is not None else None
    series = [(f"{k}-grams", ngrams.counts_of(k)) for k in orders]
    names = ", ".join(display_name(p) for p in paths)
    return (
        [(label, np.asarray(c)) for label, c in series],
        heaps,
        f"{names}: {ngrams.n_tokens:,} tokens ({ngrams.settings.describe()})",
    )


def _fit_one(
    label: str,
    freqs: np.ndarray,
    heaps: tuple[float, float] | None,
    fixed_xmin: int | None,
    bootstrap: int,
    seed: int,
) -> dict[str, Any]:
    from seqtool.stats.zipf import bootstrap_pvalue, fit_power_law, fit_zipf

    z = fit_zipf(freqs)
    pl = fit_power_law(freqs, fixed_xmin)
    record: dict[str, Any] = {
        "data": label,
        "tokens": int(freqs.sum()),
        "types": int(len(freqs)),
        "zipf_s": z.s,
        "zipf_s_se": z.s_se,
        "zipf_mle_ranks": f"{z.mle_ranks[0]}-{z.mle_ranks[1]}",
        "zipf_s_ls": z.s_ls,
        "zipf_s_ls_se": z.s_ls_se,
        "zipf_ls_ranks": f"{z.ls_ranks[0]}-{z.ls_ranks[1]}",
        "alpha": pl.alpha,
        "alpha_sigma": pl.sigma,
        "xmin": pl.xmin,
        "ks_d": pl.ks_d,
        "n_tail": pl.n_tail,
    }
    if bootstrap:
        record["p_value"] = bootstrap_pvalue(freqs, pl, bootstrap, seed, fixed_xmin is not None)
        record["bootstrap"] = bootstrap
    if heaps is not None:
        record["heaps_k"], record["heaps_beta"] = heaps
    xmin_text = "auto" if fixed_xmin is None else str(fixed_xmin)
    record["signature"] = (
        f"data:{label}|fit:discrete-mle|xmin:{xmin_text}|boot:{bootstrap}|seed:{seed}"
        f"|version:{__version__}"
    )
    return record


def _emit(records: list[dict[str, Any]], fmt: str) -> None:
    if fmt in ("json", "jsonl"):
        render.emit_rows(tuple(records[0]), [tuple(r.values()) for r in records], fmt)
        return
    fields = list(dict.fromkeys(k for r in records for k in r))
    columns = ("field", *(r["data"] for r in records))
    rows = [(f, *(r.get(f, "") for r in records)) for f in fields if f != "data"]
    render.emit_rows(columns, rows, fmt, title="Zipf / power-law fit")


def _plot(
    series: list[tuple[str, np.ndarray]], records: list[dict[str, Any]], path: Path, source: str
) -> None:
    import numpy as np

    from seqtool.stats.plot import rank_frequency_png
    from seqtool.stats.zipf import ZipfFit

    curves = []
    for (label, freqs), r in zip(series, records):
        fit = ZipfFit(
            r["zipf_s"], r["zipf_s_se"], (1, r["types"]), r["zipf_s_ls"], r["zipf_s_ls_se"],
            (1, int(r["zipf_ls_ranks"].split("-")[1])),
        )  # fmt: skip
        curves.append((label, np.sort(freqs)[::-1], fit))
    write_bytes(path, rank_frequency_png(curves, title=source.split(" (")[0][:70]))
    render.info(f"wrote the rank-frequency plot to {path}")
