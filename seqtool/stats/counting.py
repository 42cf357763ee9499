"""Counting n-grams of text files and fitting Zipf's law to them: the library calls
behind ``seqtool ngrams`` and ``seqtool zipf``.

A typed config says how to count (:class:`NgramConfig`) and what to fit
(:class:`ZipfConfig`); :func:`count_ngrams` returns :class:`NgramCounts`,
:func:`merge_saved` adds up counts saved as ``.npz``, :func:`analyze_zipf` returns
one :class:`~seqtool.stats.zipf.ZipfReport` per order. numpy only (no torch).

Example::

    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.txt"
    >>> _ = path.write_text("the cat sat on the mat\\n", encoding="utf-8")
    >>> counts = count_ngrams(path, NgramConfig(orders=(1, 2)))
    >>> counts.top(1, 2)
    [('the', 2), ('cat', 1)]
    >>> counts.top(2, 1)
    [('cat--sat', 1)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from seqtool.errors import InputError, UsageError, check_seed
from seqtool.io import display_name
from seqtool.limits import check_workers
from seqtool.stats.ngrams import NgramCounts, Settings, check_orders, merge_counts
from seqtool.stats.ngrams import count_ngrams as _count_paths
from seqtool.stats.zipf import ZipfReport, heaps_fit, read_frequencies, zipf_report
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab

AUTO_WORKERS_BYTES = 24 << 20  # below this, starting worker processes costs more than it saves

Inputs = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


@dataclass
class NgramConfig:
    """How to count: orders, tokens, normaliser, and how to read the inputs."""

    orders: tuple[int, ...] = (1,)
    tokenizer: str | None = None  # word (default) or char; fixed by ``vocab`` when given
    normalize: str | None = None  # letters (default), d2l, nfkc or none
    lower: bool | None = None  # default: the normaliser's
    per_line: bool = False  # keep n-grams inside lines
    vocab: Vocab | None = None  # map tokens to this vocabulary (others become <unk>)
    workers: int = 1  # counting processes; 0: by input size and CPU count
    heaps: bool = False  # record vocabulary growth (Heaps' law); one process
    encoding: str = "utf-8"
    errors: str = "strict"

    def check(self) -> None:
        check_orders(self.orders)
        if self.workers < 0:
            raise UsageError(f"`workers` must be 0 (automatic) or more, not {self.workers}")
        check_workers(self.workers)  # bounded by the machine
        if self.vocab is not None and (
            self.tokenizer is not None or self.normalize is not None or self.lower is not None
        ):
            raise UsageError(
                "`vocab` fixes the normaliser and tokenizer; drop `normalize`, `lower` and "
                "`tokenizer`"
            )

    def settings(self) -> Settings:
        norm = Normalizer.make(self.normalize or "letters", self.lower)
        return Settings(norm, self.tokenizer or "word", self.per_line)


def _paths(inputs: Inputs) -> list[str]:
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    return [os.fspath(p) for p in inputs] or ["-"]


def input_bytes(paths: Sequence[str]) -> int:
    """Total size of the input files (0 when unknown, e.g. stdin)."""
    try:
        return sum(os.path.getsize(p) for p in paths if p != "-")
    except OSError:
        return 0


def auto_workers(paths: Sequence[str]) -> int:
    """One process per core for large files, on machines with cores to spare.

    On two cores the merging process and the workers compete, and measured runs
    were slower than one process, so small machines count in one process.
    """
    cpus = os.cpu_count() or 1
    if cpus < 4 or "-" in paths or input_bytes(paths) < AUTO_WORKERS_BYTES:
        return 1
    return min(cpus, 8)


def count_ngrams(
    inputs: Inputs,
    config: NgramConfig | None = None,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> NgramCounts:
    """Count the n-grams of text files (``-`` is stdin; .gz/.bz2/.xz read transparently).

    ``on_progress(chars)`` is called after each chunk. Refuses an input without
    tokens, and an order no window of the text reaches.
    """
    cfg = config or NgramConfig()
    cfg.check()
    paths = _paths(inputs)
    workers = cfg.workers or (1 if cfg.heaps else auto_workers(paths))
    counts = _count_paths(
        paths,
        cfg.orders,
        cfg.settings(),
        cfg.vocab,
        workers,
        cfg.heaps,
        cfg.encoding,
        cfg.errors,
        on_chunk=on_progress,
    )
    names = ", ".join(display_name(p) for p in paths)
    if counts.n_tokens == 0:
        raise InputError(f"{names}: empty input (no tokens found)")
    for n in counts.orders:
        if counts.distinct(n) == 0:
            if counts.settings.per_line:
                raise UsageError(f"`orders` {n}: no line of {names} has {n} tokens (`per_line`)")
            raise UsageError(
                f"`orders` {n} is larger than the number of tokens in {names} ({counts.n_tokens})"
            )
    return counts


def merge_saved(
    paths: Sequence[str | os.PathLike[str]], orders: Sequence[int] | None = None
) -> NgramCounts:
    """Add up counts saved with :meth:`NgramCounts.save`; ``orders`` must all be there."""
    names = [os.fspath(p) for p in paths]
    if not names or "-" in names:
        raise UsageError("saved counts are read from files, not stdin")
    parts = [NgramCounts.load(p) for p in names]
    merged = parts[0] if len(parts) == 1 else merge_counts(parts, names)
    missing = [n for n in orders or () if n not in merged.orders]
    if missing:
        have = ", ".join(map(str, merged.orders))
        raise UsageError(
            f"`orders` {missing[0]}: not in the saved counts (they hold orders {have})"
        )
    return merged


@dataclass
class ZipfConfig:
    """What :func:`analyze_zipf` fits, and how text is counted first."""

    orders: tuple[int, ...] | None = None  # default: 1 for text, every saved order for .npz
    xmin: int | None = None  # None: chosen by the KS distance
    bootstrap: int = 0  # synthetic data sets for the goodness-of-fit p-value
    seed: int = 0
    counting: NgramConfig = field(default_factory=NgramConfig)


@dataclass
class ZipfAnalysis:
    """The fits of every order, the frequency lists they came from, and a source line."""

    source: str  # what was fitted, for people ("book.txt: 32,775 tokens (...)")
    series: list[tuple[str, np.ndarray]]  # (label, count of each distinct item)
    reports: list[ZipfReport]


def analyze_zipf(
    inputs: Inputs | None = None,
    config: ZipfConfig | None = None,
    *,
    counts: str | os.PathLike[str] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ZipfAnalysis:
    """Fit Zipf's law, the power law and Heaps' law to the n-gram counts of text files,
    or (``counts``) to a frequency list or counts saved as ``.npz``."""
    cfg = config or ZipfConfig()
    check_seed("seed", cfg.seed)  # before counting, not after
    series, heaps, source = _frequencies(inputs, counts, cfg, on_progress)
    reports = [
        zipf_report(
            freqs, label, xmin=cfg.xmin, bootstrap=cfg.bootstrap, seed=cfg.seed, heaps=heaps
        )
        for label, freqs in series
    ]
    return ZipfAnalysis(source, series, reports)


def _frequencies(
    inputs: Inputs | None,
    counts: str | os.PathLike[str] | None,
    cfg: ZipfConfig,
    on_progress: Callable[[int], None] | None,
) -> tuple[list[tuple[str, np.ndarray]], tuple[float, float] | None, str]:
    """(label, counts of each distinct item) per order, Heaps' (K, beta) when known, a source."""
    if counts is not None:
        if inputs:
            raise UsageError("give text files or `counts`, not both")
        if os.fspath(counts).endswith(".npz"):
            saved = NgramCounts.load(counts)
            orders = check_orders(cfg.orders or tuple(saved.orders))
            missing = [k for k in orders if k not in saved.orders]
            if missing:
                raise UsageError(f"`orders` {missing[0]}: not in {counts} (orders {saved.orders})")
            heaps = heaps_fit(saved.heaps) if saved.heaps is not None else None
            series = [(f"{k}-grams", saved.counts_of(k)) for k in orders]
            return series, heaps, f"counts from {counts} ({saved.settings.describe()})"
        if cfg.orders:
            raise UsageError("`orders` need text input or .npz counts, not a frequency list")
        return [("counts", read_frequencies(counts))], None, f"frequency list {counts}"
    orders = check_orders(cfg.orders or (1,))
    counting = NgramConfig(**{**cfg.counting.__dict__, "orders": orders, "heaps": True})
    paths = _paths(inputs or ["-"])
    ngrams = count_ngrams(paths, counting, on_progress=on_progress)
    heaps = heaps_fit(ngrams.heaps) if ngrams.heaps is not None else None
    series = [(f"{k}-grams", np.asarray(ngrams.counts_of(k))) for k in orders]
    names = ", ".join(display_name(p) for p in paths)
    source = f"{names}: {ngrams.n_tokens:,} tokens ({ngrams.settings.describe()})"
    return series, heaps, source


__all__ = [
    "NgramConfig",
    "ZipfAnalysis",
    "ZipfConfig",
    "analyze_zipf",
    "auto_workers",
    "count_ngrams",
    "input_bytes",
    "merge_saved",
]
