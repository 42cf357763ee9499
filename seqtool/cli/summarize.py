"""`seqtool summarize`, `seqtool keywords` and `seqtool rouge`: the flags.

The work is in :mod:`seqtool.rank` (TextRank, LexRank, keywords) and
:mod:`seqtool.metrics.rouge`, imported when a command runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import (
    Encoding,
    Errors,
    Format,
    Inputs,
    Quiet,
    inputs_or_stdin,
    quick_numpy,
)
from seqtool.cli.root import app
from seqtool.errors import InputError, UsageError
from seqtool.io import check_encoding, display_name, read_lines, read_text

if TYPE_CHECKING:
    from seqtool.rank.summarize import Summary

SUMMARY_FORMATS = ("text", "table", "tsv", "json", "jsonl")
Header = Annotated[bool, typer.Option("--header", help="TSV: print a header row first.")]
PerLine = Annotated[
    bool,
    typer.Option(
        "--sentences-per-line",
        help="The input has one sentence per line already (Opinosis, Tatoeba): don't split.",
    ),
]


def _check_sources(paths: list[str]) -> None:
    if paths.count("-") > 1:
        raise UsageError("only one input can be read from stdin ('-')")


def read_documents(
    paths: list[str], split_docs: bool, per_line: bool, encoding: str, errors: str
) -> list[tuple[str, list[str]]]:
    """(name, sentences) of every document: one per input, or per blank-line block."""
    from seqtool.text.sentences import split_paragraphs, split_sentences

    docs: list[tuple[str, list[str]]] = []
    for path in paths:
        text = read_text(path, encoding, errors)
        name = display_name(path)
        if not text.strip():
            raise InputError(f"{name}: empty input")
        if split_docs:
            blocks = split_paragraphs(text)
            for k, block in enumerate(blocks, 1):
                docs.append((f"{name}#{k}", split_sentences(block, per_line)))
        else:
            docs.append((name, split_sentences(text, per_line)))
    return docs


# ---------------------------------------------------------------------- summarize
@app.command()
def summarize(
    files: Inputs = None,
    sentences: Annotated[
        int | None,
        typer.Option(
            "--sentences", "-n", help="Keep this many sentences [default: 3].", show_default=False
        ),
    ] = None,
    ratio: Annotated[
        float | None,
        typer.Option("--ratio", help="Keep this fraction of the sentences (0 < R <= 1)."),
    ] = None,
    words: Annotated[
        int | None,
        typer.Option("--words", help="Keep the best sentences that fit in this many words."),
    ] = None,
    method: Annotated[
        str, typer.Option("--method", "-m", help="textrank, or lexrank (thresholded cosine).")
    ] = "textrank",
    similarity: Annotated[
        str,
        typer.Option(
            "--similarity",
            "-s",
            help="Edge weight: overlap (the TextRank paper's), bm25, cosine (tf-idf) or "
            "vectors (word-vector centroids; needs --vectors).",
        ),
    ] = "overlap",
    vectors: Annotated[
        Path | None,
        typer.Option(
            "--vectors",
            help="Word vectors (word2vec text or binary, e.g. from "
            "`seqtool word2vec train`) for --similarity vectors.",
        ),
    ] = None,  # fmt: skip
    threshold: Annotated[
        float, typer.Option("--threshold", help="lexrank: the cosine an edge needs.")
    ] = 0.1,
    damping: Annotated[float, typer.Option("--damping", help="PageRank damping factor.")] = 0.85,
    dedup: Annotated[
        float | None,
        typer.Option(
            "--dedup",
            help="Pass over a sentence whose cosine with one already chosen is at least this "
            "(near-duplicates); e.g. 0.5.",
        ),
    ] = None,
    stem: Annotated[
        bool, typer.Option("--stem/--no-stem", help="Fold word endings (plurals, -ed, -ing).")
    ] = True,
    per_line: PerLine = False,
    split_docs: Annotated[
        bool,
        typer.Option(
            "--split-docs",
            help="Blank lines separate documents (each summarised on its own) rather than "
            "paragraphs.",
        ),
    ] = False,
    scores: Annotated[
        bool,
        typer.Option(
            "--scores",
            help="Print every sentence with its score, rank and whether it was chosen "
            "(as --format table on a terminal, tsv otherwise).",
        ),
    ] = False,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="text (the summary, one sentence per line; the default), or table, tsv, "
            "json, jsonl: every sentence with doc, sentence, rank, score, selected, text.",
        ),
    ] = "text",
    header: Header = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Summarise documents: TextRank (or LexRank) picks the most central sentences.

    Each input file is one document (with --split-docs, each blank-line block is);
    the summary keeps the best sentences in document order.  Several documents'
    summaries are separated by blank lines.

    Example: seqtool summarize timemachine.txt --sentences 3
    """
    if similarity != "vectors":
        quick_numpy()
    from seqtool.rank.summarize import SummaryConfig

    render.set_quiet(quiet)
    check_encoding(encoding, errors)
    paths = inputs_or_stdin(files)
    _check_sources(paths)
    if fmt not in SUMMARY_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(SUMMARY_FORMATS)}, not {fmt!r}")
    if scores and fmt == "text":
        fmt = render.resolve_format("auto")
    _check_summary_flags(
        method, similarity, sentences, ratio, words, vectors, threshold, damping, dedup
    )
    config = SummaryConfig(
        method=method,
        similarity=similarity,
        sentences=sentences,
        ratio=ratio,
        words=words,
        damping=damping,
        threshold=threshold,
        dedup=dedup,
        stemming=stem,
    )
    try:
        config.validate()
    except UsageError as e:  # name the flags, not the parameters
        raise UsageError(_flag_names(e.message)) from None
    wv = None
    if vectors is not None:
        from seqtool.wordvectors import WordVectors

        wv = WordVectors.load(vectors)
    results = _summarize_all(
        read_documents(paths, split_docs, per_line, encoding, errors), config, wv
    )
    _emit_summaries(results, fmt, header)


def _check_summary_flags(
    method: str,
    similarity: str,
    sentences: int | None,
    ratio: float | None,
    words: int | None,
    vectors: Path | None,
    threshold: float,
    damping: float,
    dedup: float | None,
) -> None:
    if sum(x is not None for x in (sentences, ratio, words)) > 1:
        raise UsageError("give only one of --sentences, --ratio and --words")
    if sentences is not None and sentences < 1:
        raise UsageError(f"--sentences must be at least 1, not {sentences}")
    if ratio is not None and not 0 < ratio <= 1:
        raise UsageError(f"--ratio must be in (0, 1], not {ratio}")
    if words is not None and words < 1:
        raise UsageError(f"--words must be at least 1, not {words}")
    if method == "lexrank" and similarity not in ("cosine", "vectors"):
        raise UsageError(
            "--method lexrank thresholds a cosine: add --similarity cosine (or vectors)"
        )
    if similarity == "vectors" and vectors is None:
        raise UsageError("--similarity vectors needs --vectors VECTORS")
    if vectors is not None and similarity != "vectors":
        raise UsageError("--vectors is used by --similarity vectors only")
    if not 0 <= threshold < 1:
        raise UsageError(f"--threshold must be in [0, 1), not {threshold}")
    if not 0 <= damping < 1:
        raise UsageError(f"--damping must be in [0, 1), not {damping}")
    if dedup is not None and not 0 < dedup <= 1:
        raise UsageError(f"--dedup must be in (0, 1], not {dedup}")


def _flag_names(message: str) -> str:
    for name in ("method", "similarity", "sentences", "ratio", "words", "damping", "dedup"):
        if message.startswith(name + " "):
            return f"--{message}"
    return message


def _summarize_all(
    docs: list[tuple[str, list[str]]], config: Any, vectors: Any
) -> list[tuple[str, Summary]]:
    from seqtool.rank.summarize import summarize as rank

    out = []
    for name, sents in docs:
        start = time.perf_counter()
        summary = rank(sents, config, vectors, name=name)
        note = "" if summary.converged else " (did not converge)"
        render.info(
            f"{name}: {len(sents):,} sentences, {summary.edges:,} edges, "
            f"PageRank in {summary.iterations} iterations{note}, "
            f"{time.perf_counter() - start:.2f} s"
        )
        out.append((name, summary))
    return out


def _emit_summaries(results: list[tuple[str, Summary]], fmt: str, header: bool) -> None:
    if fmt == "text":
        out = sys.stdout
        for k, (_, summary) in enumerate(results):
            if k:
                out.write("\n")
            for s in summary.selected:
                out.write(s.text + "\n")
        out.flush()
        return
    columns = ("doc", "sentence", "rank", "score", "selected", "text")
    structured = fmt in ("json", "jsonl")
    rows = (
        (
            name,
            s.index + 1,
            s.rank,
            s.score,
            s.selected if structured else int(s.selected),
            s.text,
        )
        for name, summary in results
        for s in summary.sentences
    )
    render.emit_rows(columns, rows if fmt != "table" else list(rows), fmt, "sentences", header)


# ---------------------------------------------------------------------- keywords
@app.command()
def keywords(
    files: Inputs = None,
    top: Annotated[int, typer.Option("--top", "-k", help="How many keywords or phrases.")] = 10,
    window: Annotated[
        int,
        typer.Option(
            "--window", help="Co-occurrence window over the candidate words (2: neighbours)."
        ),
    ] = 2,
    min_count: Annotated[
        int,
        typer.Option(
            "--min-count", help="A phrase of several words must occur at least this often."
        ),
    ] = 2,
    phrases: Annotated[
        bool,
        typer.Option("--phrases/--no-phrases", help="Merge adjacent keywords into phrases."),
    ] = True,
    fmt: Format = "auto",
    header: Header = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Keywords and keyphrases by TextRank, with their scores (all inputs as one text).

    Example: seqtool keywords timemachine.txt --top 10
    """
    from seqtool.rank.keywords import KeywordConfig
    from seqtool.rank.keywords import keywords as rank_keywords

    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    check_encoding(encoding, errors)
    paths = inputs_or_stdin(files)
    _check_sources(paths)
    if top < 1:
        raise UsageError(f"--top must be at least 1, not {top}")
    if window < 2:
        raise UsageError(f"--window must be at least 2, not {window}")
    if min_count < 1:
        raise UsageError(f"--min-count must be at least 1, not {min_count}")
    text = "\n".join(read_text(p, encoding, errors) for p in paths)
    names = ", ".join(display_name(p) for p in paths)
    if not text.strip():
        raise InputError(f"{names}: empty input")
    config = KeywordConfig(top=top, window=window, phrases=phrases, min_count=min_count)
    start = time.perf_counter()
    found = rank_keywords(text, config, name=names)
    render.info(f"{names}: {len(found)} keywords in {time.perf_counter() - start:.2f} s")
    render.emit_rows(
        ("phrase", "score", "count"),
        [(k.phrase, k.score, k.count) for k in found],
        fmt,
        title="keywords",
        header=header,
    )


# ---------------------------------------------------------------------- rouge
@app.command()
def rouge(
    hyp: Annotated[str, typer.Argument(help="Summaries, one per line ('-' for stdin).")],
    refs: Annotated[
        list[str],
        typer.Argument(help="Reference file(s), line-aligned with HYP (an empty line: none)."),
    ],
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="rouge1, rouge2, rougeL or rougeLsum; repeat for several "
            "(default: rouge1, rouge2, rougeL).",
        ),
    ] = None,
    stem: Annotated[
        bool, typer.Option("--stem/--no-stem", help="Porter-stem words before matching.")
    ] = True,
    combine: Annotated[
        str,
        typer.Option(
            "--combine",
            help="Several references: best (the one with the highest F1, per metric) or mean.",
        ),
    ] = "best",
    whole: Annotated[
        bool,
        typer.Option(
            "--whole",
            help="Each file is one summary (its lines are sentences), not one summary per line.",
        ),
    ] = False,
    width: Annotated[int, typer.Option("--width", "-w", help="Decimals of the scores.")] = 2,
    fmt: Format = "auto",
    header: Header = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Score summaries with ROUGE-1/2/L (precision, recall, F1) through rouge-score.

    Scores are percentages, the mean over the summaries; each line of stderr
    repeats them with the signature of the settings (needs `pip install 'seqtool[rouge]'`).

    Example: seqtool rouge summaries.txt gold1.txt gold2.txt --metric rouge1 --metric rouge2
    """
    from seqtool.metrics.rouge import COMBINE, rouge_scores

    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    check_encoding(encoding, errors)
    _check_sources([hyp, *refs])
    if combine not in COMBINE:
        raise UsageError(f"--combine must be one of {', '.join(COMBINE)}, not {combine!r}")
    if not 0 <= width <= 10:
        raise UsageError(f"--width must be between 0 and 10, not {width}")
    hyps = _read_summaries(hyp, whole, encoding, errors)
    ref_sets = [_read_summaries(r, whole, encoding, errors) for r in refs]
    for r, lines in zip(refs, ref_sets):
        if len(lines) != len(hyps):
            raise InputError(
                f"{display_name(hyp)} has {len(hyps)} lines but {display_name(r)} has "
                f"{len(lines)}; summaries and references must be line-aligned (or use --whole)"
            )
    try:
        scores = rouge_scores(
            hyps, ref_sets, metric or ["rouge1", "rouge2", "rougeL"], stem, combine
        )
    except InputError as e:
        raise InputError(e.message.replace("hypothesis", f"{display_name(hyp)}: line")) from None
    for s in scores:
        render.info(s.text(width))
    if fmt in ("json", "jsonl"):
        render.emit_rows(
            ("name", "precision", "recall", "f1", "signature"),
            [tuple(s.as_dict().values()) for s in scores],
            fmt,
        )
        return
    render.emit_rows(
        ("metric", "precision", "recall", "f1", "signature"),
        [
            (s.name, *(f"{100 * x:.{width}f}" for x in (s.precision, s.recall, s.f1)), s.signature)
            for s in scores
        ],
        fmt,
        title="ROUGE",
        header=header,
    )


def _read_summaries(path: str, whole: bool, encoding: str, errors: str) -> list[str]:
    lines = [line.rstrip() for line in read_lines(path, encoding, errors)]
    if not any(lines):
        raise InputError(f"{display_name(path)}: empty input")
    if whole:
        return ["\n".join(line for line in lines if line.strip())]
    return lines


# ---------------------------------------------------------------------- demo
def demo_step(ctx: Any) -> None:
    """`seqtool demo`: the first chapter of the corpus in 3 sentences, and its keywords.

    ``ctx`` is :class:`seqtool.cli.demo.DemoContext`: it reads ``ctx.corpus`` and
    writes ``summary.txt`` under ``ctx.out``.
    """
    from seqtool.io import write_text
    from seqtool.rank.keywords import KeywordConfig
    from seqtool.rank.keywords import keywords as rank_keywords
    from seqtool.rank.summarize import SummaryConfig
    from seqtool.rank.summarize import summarize as rank
    from seqtool.text.sentences import split_sentences

    text = first_chapter(read_text(ctx.corpus))
    sents = split_sentences(text)
    start = time.perf_counter()
    summary = rank(sents, SummaryConfig(sentences=3), name=str(ctx.corpus))
    render.info(
        f"  TextRank over {len(sents):,} sentences of the first chapter "
        f"({summary.edges:,} edges, {time.perf_counter() - start:.2f} s); the 3 most central:"
    )
    for s in summary.selected:
        render.info(f"    [{s.index + 1}] {s.text}")
    found = rank_keywords(text, KeywordConfig(top=8))
    render.info("  keywords: " + ", ".join(k.phrase for k in found))
    path = Path(ctx.out) / "summary.txt"
    write_text(path, "".join(s.text + "\n" for s in summary.selected))
    ctx.made.append(("3-sentence summary (seqtool summarize)", path))


def first_chapter(text: str) -> str:
    """The text between the first two chapter headings (a line of Roman numerals), or all."""
    import re

    heads = list(re.finditer(r"(?m)^[ \t]*[IVXLC]+\.?[ \t]*$", text))
    if len(heads) >= 2:
        return text[heads[0].end() : heads[1].start()]
    return text
