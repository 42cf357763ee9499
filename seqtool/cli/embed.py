"""`seqtool word2vec train|similar|analogy|eval`: skip-gram word vectors.

Training lives in :mod:`seqtool.train.word2vec`, the vectors in
:mod:`seqtool.wordvectors`, the scores in :mod:`seqtool.metrics.wordvec`; this
module maps flags to them and renders.  torch is imported only by ``train``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqtool import __version__
from seqtool.cli import render
from seqtool.cli.options import (
    Device,
    Encoding,
    Errors,
    Format,
    Inputs,
    Lower,
    Quiet,
    Seed,
    inputs_or_stdin,
    normalize_option,
)
from seqtool.cli.root import app
from seqtool.errors import UsageError
from seqtool.io import check_encoding, check_output_path, display_name, read_lines

if TYPE_CHECKING:
    from seqtool.text.vocab import Vocab
    from seqtool.train.word2vec import Corpus, Word2VecConfig
    from seqtool.train.word2vec import Progress as W2VProgress

w2v_app = typer.Typer(
    help="Train word vectors (skip-gram, negative sampling) and query and score them.\n\n"
    "Example: seqtool word2vec train ptb.train.txt -o ptb.vec && "
    "seqtool word2vec similar ptb.vec king",
    no_args_is_help=True,
)
app.add_typer(w2v_app, name="word2vec")

Vectors = Annotated[Path, typer.Argument(help="Vectors file (word2vec text or binary).")]
Top = Annotated[int, typer.Option("--top", "-k", help="How many words to list.")]


@w2v_app.command("train")
def train_cmd(
    files: Inputs = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Vectors file to write.")] = Path(
        "vectors.txt"
    ),
    dim: Annotated[int, typer.Option("--dim", help="Vector dimension.")] = 100,
    window: Annotated[
        int, typer.Option("--window", help="Largest distance to a context word (shrunk at random).")
    ] = 5,
    negative: Annotated[int, typer.Option("--negative", help="Noise words per centre word.")] = 5,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Ignore words seen fewer times.")
    ] = 5,
    max_vocab: Annotated[
        int | None, typer.Option("--max-vocab", help="Keep only this many most frequent words.")
    ] = None,
    sample: Annotated[
        float, typer.Option("--sample", help="Subsampling threshold for frequent words (0: off).")
    ] = 1e-3,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the corpus.")] = 5,
    lr: Annotated[
        float, typer.Option("--lr", help="Initial learning rate (decays linearly to 0.0001).")
    ] = 0.025,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Centre words per step (per thread; torch engine).")
    ] = 256,  # seqtool.train.word2vec.BATCH (that module imports torch)
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="auto (default: numba's compiled loop on the CPU, torch on a GPU), numba or "
            "torch (batched steps of --batch-size).",
        ),
    ] = "auto",
    threads: Annotated[
        int, typer.Option("--threads", help="CPU threads (0: all cores; 1: reproducible).")
    ] = 0,
    seed: Seed = 0,
    device: Device = "auto",
    binary: Annotated[
        bool, typer.Option("--binary", help="Write the word2vec binary format (default: text).")
    ] = False,
    vocab_file: Annotated[
        Path | None, typer.Option("--vocab", help="Reuse this vocabulary (from `vocab build`).")
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            help="Continue from this resumable checkpoint (OUTPUT.last.pt, written after every "
            "epoch and on Ctrl-C), with its settings, on the same inputs.",
        ),
    ] = None,
    normalize: Annotated[str | None, normalize_option("none: split on whitespace as it is")] = None,
    lower: Lower = None,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Train skip-gram word vectors with negative sampling (word2vec).

    Text is split on whitespace as it is (normaliser 'none'), as word2vec and gensim
    do; pass --normalize letters for raw text. A resumable checkpoint OUTPUT.last.pt
    is written after every epoch and when Ctrl-C or SIGTERM stops training.

    Example: seqtool word2vec train ptb.train.txt -o ptb.vec
    """
    from seqtool.train.word2vec import Word2VecConfig, train_word2vec

    render.set_quiet(quiet)
    cfg = Word2VecConfig(
        dim=dim,
        window=window,
        negative=negative,
        sample=sample,
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        threads=threads,
        seed=seed,
        device=device,
        min_count=min_count,
        max_vocab=max_vocab,
        engine=engine,
    )
    cfg.check()
    if vocab_file is not None and (normalize is not None or lower is not None):
        raise UsageError(
            "--normalize/--lower cannot be combined with --vocab: "
            "the vocabulary carries its own normaliser"
        )
    check_encoding(encoding, errors)
    paths = inputs_or_stdin(files)
    check_output_path(output, [*paths, vocab_file])
    names = ", ".join(display_name(p) for p in paths)
    # read twice (vocabulary, then ids) unless the text comes from stdin
    lines = list(read_lines(paths, encoding, errors)) if "-" in paths else None

    def text() -> Iterable[str]:
        return lines if lines is not None else read_lines(paths, encoding, errors)

    reporter = _Reporter(names)
    try:
        result = train_word2vec(
            text,
            cfg,
            vocab=_load_vocab(vocab_file),
            normalizer=_normalizer(vocab_file, normalize, lower),
            reporter=reporter,
            checkpoint=output.with_name(output.name + ".last.pt"),
            resume=resume,
            source=names,
        )
    finally:
        reporter.close()
    result.vectors.save(output, binary=binary)
    t = result.train
    rate = t.effective_words / t.seconds if t.seconds > 0 else 0.0
    render.info(
        f"trained on {t.raw_words:,} words ({t.effective_words:,} after subsampling) "
        f"in {t.seconds:.1f} s: {rate:,.0f} words/s ({t.device}, "
        f"{t.threads} thread{'s' if t.threads != 1 else ''}); wrote "
        f"{len(result.vectors):,} vectors of dimension {result.vectors.dim} to {output} "
        f"({'binary' if binary else 'text'})"
    )


def _load_vocab(path: Path | None) -> Vocab | None:
    from seqtool.text.vocab import Vocab

    return None if path is None else Vocab.load(path)


def _normalizer(vocab_file: Path | None, normalize: str | None, lower: bool | None) -> Any:
    from seqtool.text.normalize import Normalizer

    return None if vocab_file is not None else Normalizer.make(normalize or "none", lower)


class _Reporter:
    """Draws word2vec's progress: the corpus line, a bar, checkpoint notes."""

    def __init__(self, names: str) -> None:
        self.names = names
        self.bar: render.Progress | None = None

    def start(self, corpus: Corpus, cfg: Word2VecConfig, epoch: int) -> None:
        render.info(
            f"{self.names}: {len(corpus.ids):,} words, {len(corpus.words):,} distinct with "
            f"count >= {cfg.min_count}; skip-gram dim {cfg.dim}, window {cfg.window}, "
            f"{cfg.negative} noise words, {cfg.epochs} epochs"
        )
        if epoch:
            render.info(f"resuming after epoch {epoch} of {cfg.epochs}")
        self.bar = render.Progress("word2vec", total=len(corpus.ids) * cfg.epochs, unit="words")
        self.bar.__enter__()

    def progress(self, p: W2VProgress) -> None:
        rate = p.effective_words / p.elapsed if p.elapsed > 0 else 0.0
        if self.bar is not None:
            self.bar.update(done=p.raw_words, rate=f"{rate:,.0f} words/s", lr=f"{p.lr:.5f}")

    def checkpoint(self, path: Path, epoch: int) -> None:
        pass  # written after every epoch; worth a line only when training stops early

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@w2v_app.command("similar")
def similar_cmd(
    vectors: Vectors,
    words: Annotated[list[str], typer.Argument(help="Words to find neighbours of.")],
    top: Top = 10,
    fmt: Format = "auto",
) -> None:
    """List each word's nearest neighbours by cosine similarity.

    Example: seqtool word2vec similar ptb.vec company market
    """
    from seqtool.wordvectors import WordVectors

    fmt = render.resolve_format(fmt)
    if top < 1:
        raise UsageError(f"--top must be at least 1, not {top}")
    wv = WordVectors.load(vectors)
    rows = []
    for word in words:
        for rank, (other, score) in enumerate(wv.most_similar([word], top=top), 1):
            rows.append((word, rank, other, round(score, 4)))
    render.emit_rows(("word", "rank", "neighbour", "cosine"), rows, fmt, title="nearest words")


@w2v_app.command("analogy")
def analogy_cmd(
    vectors: Vectors,
    a: Annotated[str, typer.Argument(help="A, in A : B :: C : ?")],
    b: Annotated[str, typer.Argument(help="B")],
    c: Annotated[str, typer.Argument(help="C")],
    top: Top = 5,
    fmt: Format = "auto",
) -> None:
    """Solve A : B :: C : ? by 3CosAdd (nearest to B - A + C, inputs excluded).

    Example: seqtool word2vec analogy vectors.txt man king woman
    """
    from seqtool.wordvectors import WordVectors

    fmt = render.resolve_format(fmt)
    if top < 1:
        raise UsageError(f"--top must be at least 1, not {top}")
    wv = WordVectors.load(vectors)
    answers = wv.analogy(a, b, c, top=top)
    rows = [(rank, word, round(score, 4)) for rank, (word, score) in enumerate(answers, 1)]
    render.emit_rows(("rank", "word", "cosine"), rows, fmt, title=f"{a} : {b} :: {c} : ?")


@w2v_app.command("eval")
def eval_cmd(
    vectors: Vectors,
    analogies: Annotated[
        Path | None,
        typer.Option("--analogies", help="Analogy questions (questions-words.txt format)."),
    ] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option("--pairs", help="Word pairs with scores, TAB-separated (repeatable)."),
    ] = None,
    restrict: Annotated[
        int, typer.Option("--restrict", help="Answer analogies among this many frequent words.")
    ] = 300_000,
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
) -> None:
    """Score vectors: analogy accuracy per section, Spearman on word-pair files.

    Follows gensim's evaluate_word_analogies / evaluate_word_pairs: case-insensitive,
    questions and pairs with unknown words skipped and counted.

    Example: seqtool word2vec eval vec.txt --analogies questions-words.txt --pairs wordsim353.tsv
    """
    from seqtool.metrics.wordvec import evaluate_analogies, evaluate_pairs
    from seqtool.wordvectors import WordVectors

    fmt = render.resolve_format(fmt)
    if analogies is None and not pairs:
        raise UsageError(
            "nothing to evaluate: give --analogies FILE and/or --pairs FILE",
            hint="gensim ships questions-words.txt, wordsim353.tsv and simlex999.txt "
            "in gensim/test/test_data",
        )
    if restrict < 1:
        raise UsageError(f"--restrict must be at least 1, not {restrict}")
    check_encoding(encoding)
    wv = WordVectors.load(vectors)
    signature = f"restrict:{restrict}|case:folded|3cosadd|seqtool:{__version__}"
    rows: list[tuple[object, ...]] = []
    if analogies is not None:
        name = display_name(analogies)
        score = evaluate_analogies(wv, read_lines(analogies, encoding), name, restrict)
        for s in score.sections:
            rows.append(
                (
                    analogies.name,
                    s.name,
                    "accuracy",
                    _acc(s.correct, s.answered),
                    s.answered,
                    s.skipped,
                )
            )
        rows.append(
            (
                analogies.name,
                "total",
                "accuracy",
                _acc(score.correct, score.answered),
                score.answered,
                score.skipped,
            )
        )
    for path in pairs or []:
        p = evaluate_pairs(wv, read_lines(path, encoding), display_name(path), restrict)
        rows.append((path.name, "all", "spearman", round(p.spearman, 4), p.pairs, p.unknown))
        rows.append((path.name, "all", "pearson", round(p.pearson, 4), p.pairs, p.unknown))
    columns: tuple[str, ...] = ("test", "part", "metric", "value", "n", "skipped")
    if fmt in ("json", "jsonl"):
        columns = (*columns, "signature")
        rows = [(*r, signature) for r in rows]
    render.emit_rows(columns, rows, fmt, title=f"{display_name(vectors)} ({len(wv):,} words)")
    render.info(f"signature: {signature}")


def _acc(correct: int, answered: int) -> float:
    return round(correct / answered, 4) if answered else float("nan")


DEMO_WORDS = ("time", "night", "white", "man", "machine", "little", "people", "said")
SMALL_DEMO_WORDS = ("she", "blue", "asked", "looked")  # the bundled sample's
SMALL_CORPUS_TOKENS = 20_000  # below this, topical neighbours are mostly noise


def demo_step(ctx: Any) -> None:
    """`seqtool demo`: a few seconds of word2vec on the demo corpus, then neighbours.

    One thread and a fixed number of epochs: the same vectors on a loaded machine
    as on a quiet one.  A novella (The Time Machine) gets topical settings (window 5,
    strong subsampling: "night": day, ...); the bundled sample (about 6,000 tokens)
    is too small for topics, so it gets a window of one word, where neighbours share
    their grammar ("she": he, we, i; "blue": red, grey) instead of noise.
    """
    from seqtool.text.normalize import Normalizer
    from seqtool.text.vocab import Vocab
    from seqtool.train.word2vec import Word2VecConfig, train_word2vec

    lines = ctx.lines()
    norm = Normalizer.make("d2l")
    vocab = Vocab.build(lines, "word", norm, min_freq=5)
    small = sum(len(norm(line).split()) for line in lines) < SMALL_CORPUS_TOKENS
    demo_words: tuple[str, ...]
    if small:
        dim, window, epochs, sample, demo_words = 20, 1, 150, 1e-3, SMALL_DEMO_WORDS
    else:
        dim, window, epochs, sample, demo_words = 50, 5, 50, 1e-4, DEMO_WORDS
    epochs = ctx.steps(epochs)
    cfg = Word2VecConfig(
        dim=dim, window=window, epochs=epochs, sample=sample, batch_size=64,
        seed=ctx.seed, min_count=5, threads=1,
    )  # fmt: skip
    result = train_word2vec(lines, cfg, vocab=vocab)
    wv = result.vectors
    path = ctx.out / "word2vec.txt"
    wv.save(path)
    t = result.train
    rate = t.effective_words / t.seconds if t.seconds > 0 else 0.0
    render.info(
        f"  skip-gram, {len(wv):,} words seen 5+ times, dim {dim}, window {window}, "
        f"{epochs} epochs: {t.seconds:.1f} s, {rate:,.0f} words/s"
    )
    words = [w for w in demo_words if w in wv][:4] or wv.words[:4]
    for word in words:
        near = ", ".join(w for w, _ in wv.most_similar([word], top=5))
        render.info(f"  nearest to {word!r}: {near}")
    if small:
        render.info(
            f"  ({result.tokens:,} tokens: enough for words of a kind (pronouns, colours, "
            "verbs of speech or motion), too few for topics; The Time Machine gives "
            "topical neighbours: seqtool data fetch timemachine)"
        )
    render.info(f"  (try: seqtool word2vec similar {path} {words[0]})")
    ctx.made.append(("word vectors", path))
