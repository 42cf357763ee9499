"""`seqtool demo`: the first command a new user runs.

It runs each feature's demo step in turn on the Time Machine (when it is on
disk: `$SEQTOOL_DATA` or the cache) or on the bundled sample otherwise, writes
what it makes under one folder, and ends with a summary.  Each feature adds one
step function to :data:`STEPS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import classify, embed, lm, render, summarize, translate
from seqtool.cli.datacmd import data_roots
from seqtool.cli.root import app
from seqtool.datasets import load_registry, locate, sample_path, why_missing
from seqtool.errors import UsageError, check_seed
from seqtool.io import read_lines
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab


@dataclass
class DemoContext:
    out: Path
    corpus: Path
    corpus_name: str
    parallel: Path
    parallel_name: str
    seed: int
    made: list[tuple[str, Path]] = field(default_factory=list)
    # Training steps and epochs are multiplied by this (the tests' quick demo: 0.05).
    scale: float = 1.0

    def lines(self) -> list[str]:
        return list(read_lines(self.corpus))

    def steps(self, n: int) -> int:
        """``n`` training steps (or epochs) at the demo's scale, at least one."""
        return max(1, round(n * self.scale))


def step_corpus(ctx: DemoContext) -> None:
    lines = ctx.lines()
    norm = Normalizer.make("d2l")
    chars = Vocab.build(lines, "char", norm)
    words = Vocab.build(lines, "word", norm)
    n_tokens = sum(words.counts)
    render.info(
        f"  {len(lines):,} lines, {sum(len(s) for s in lines):,} characters, {n_tokens:,} word tokens, {len(words) - 4:,} distinct words (d2l normaliser)"
    )
    render.info(
        f"  character vocabulary: {len(chars) - 4} characters + 4 specials: {''.join(chars.tokens[4:])!r}"
    )
    top = ", ".join(f"{t} {c}" for t, c in zip(words.tokens[4:14], words.counts[4:14]))
    render.info(f"  most frequent words: {top}")
    path = ctx.out / "vocab.word.json"
    words.save(path)
    chars.save(ctx.out / "vocab.char.json")
    ctx.made += [("word vocabulary", path), ("character vocabulary", ctx.out / "vocab.char.json")]


def step_ngrams_zipf(ctx: DemoContext) -> None:
    """n-gram counts and Zipf fits of the corpus, as in the d2l book; a plot with matplotlib."""
    import importlib.util

    import numpy as np

    from seqtool.stats.ngrams import Settings, count_ngrams
    from seqtool.stats.zipf import fit_power_law, fit_zipf, heaps_fit

    counts = count_ngrams([ctx.corpus], (1, 2, 3), Settings(Normalizer.make("d2l")), heaps=True)
    series = []
    for n in (1, 2, 3):
        freqs = counts.counts_of(n)
        z, pl = fit_zipf(freqs), fit_power_law(freqs)
        top = ", ".join(f"{g} {c}" for g, c in counts.top(n, 3))
        render.info(
            f"  {n}-grams: {counts.distinct(n):,} distinct; top {top}; Zipf s = {z.s:.3f} (MLE), "
            f"power law alpha = {pl.alpha:.3f} from x_min = {pl.xmin}"
        )
        series.append((f"{n}-grams", np.sort(freqs)[::-1], z))
    if counts.heaps is not None:
        k, beta = heaps_fit(counts.heaps)
        render.info(f"  vocabulary growth (Heaps' law): V(N) = {k:.2f} N^{beta:.3f}")
    path = ctx.out / "ngrams.npz"
    counts.save(path)
    ctx.made.append(("n-gram counts (seqtool zipf --counts ngrams.npz)", path))
    if importlib.util.find_spec("matplotlib") is not None:
        from seqtool.io import write_bytes
        from seqtool.stats.plot import rank_frequency_png

        plot = ctx.out / "zipf.png"
        write_bytes(plot, rank_frequency_png(series, title=f"Zipf's law: {ctx.corpus_name}"))
        ctx.made.append(("rank-frequency plot", plot))
    else:
        render.info("  (pip install 'seqtool[plot]' to draw the rank-frequency plot)")


STEPS: list[tuple[str, Callable[[DemoContext], None]]] = [
    ("corpus statistics and vocabularies", step_corpus),
    ("n-grams and Zipf's law", step_ngrams_zipf),
    ("a character language model", lm.demo_step),
    ("word2vec skip-gram vectors", embed.demo_step),
    ("an extractive summary and keywords", summarize.demo_step),
    ("a sentiment classifier", classify.demo_step),
    ("translation and BLEU", translate.demo_step),
]


def _choose_corpora() -> tuple[Path, str, Path, str]:
    reg = load_registry()
    roots = data_roots()
    tm = locate("timemachine", roots, reg)
    fe = locate("fra-eng", roots, reg)
    corpus, cname = (
        (tm[0], "The Time Machine")
        if tm
        else (sample_path("english.txt"), "the bundled English sample")
    )
    parallel, pname = (
        (fe[0], "fra-eng (Tatoeba)")
        if fe
        else (sample_path("en-fr.tsv"), "the bundled English-French sample")
    )
    return corpus, cname, parallel, pname


@app.command()
def demo(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for everything the demo makes.")
    ] = Path("seqtool-demo"),
    seed: Annotated[int, typer.Option("--seed", help="Seed for every random source.")] = 0,
    scale: Annotated[
        float, typer.Option("--scale", hidden=True, help="Multiply training steps (tests).")
    ] = 1.0,
) -> None:
    """Run the whole pipeline on a small corpus and show what seqtool does.

    Models train for fixed numbers of steps, so a given --seed shows the same results
    on a busy machine as on a quiet one (only later).

    Example: seqtool demo --out /tmp/demo
    """
    if not 0 < scale <= 10:
        raise UsageError(f"--scale must be above 0 and at most 10, not {scale}")
    check_seed("seed", seed)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out must be a folder for the demo's files, and this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"{out}: cannot create the --out folder ({e.strerror})") from None
    corpus, cname, parallel, pname = _choose_corpora()
    ctx = DemoContext(out, corpus, cname, parallel, pname, seed, scale=scale)
    render.info(f"seqtool demo: corpus {cname} ({corpus}); parallel text {pname} ({parallel})")
    for dataset, used in (("timemachine", cname), ("fra-eng", pname)):
        if "bundled" in used:  # say why: a mirror may hold an archive not yet unpacked
            render.info(f"  ({used}: {why_missing(dataset, data_roots(), load_registry())})")
    if "bundled" in cname:
        render.info(
            "  (run `seqtool data fetch timemachine` or set SEQTOOL_DATA to use The Time Machine)"
        )
    start = time.perf_counter()
    for i, (title, step) in enumerate(STEPS, 1):
        render.info(f"[{i}/{len(STEPS)}] {title}")
        t0 = time.perf_counter()
        step(ctx)
        render.info(f"  ({time.perf_counter() - t0:.1f} s)")
    render.info(f"done in {time.perf_counter() - start:.1f} s; made:")
    for what, path in ctx.made:
        render.info(f"  {what}: {path}")
