"""`seqtool train-mt`, `seqtool translate` and `seqtool bleu`."""

from __future__ import annotations

from typing import Annotated

import typer

from seqtool.cli import render
from seqtool.cli.app import app
from seqtool.cli.options import Encoding, Errors, Format, Quiet
from seqtool.errors import InputError, UsageError
from seqtool.io import check_encoding, display_name, read_lines

MetricOpt = Annotated[
    list[str] | None,
    typer.Option("--metric", "-m", help="bleu, chrf or ter; repeat for several (default: bleu)."),
]
TokenizeOpt = Annotated[
    str | None,
    typer.Option(
        "--tokenize",
        "-tok",
        help="BLEU tokenizer: 13a (default), intl, char, none, zh, ja-mecab, ko-mecab, flores101, flores200.",
    ),
]
LowercaseOpt = Annotated[
    bool, typer.Option("--lowercase", "-lc", help="Case-insensitive BLEU and chrF.")
]


def _read_scored(path: str, encoding: str, errors: str) -> list[str]:
    # The sacrebleu CLI right-strips every line; doing the same keeps scores identical.
    lines = [line.rstrip() for line in read_lines(path, encoding, errors)]
    if not lines:
        raise InputError(f"{display_name(path)}: empty input (no lines)")
    return lines


@app.command()
def bleu(
    hyp: Annotated[str, typer.Argument(help="Hypotheses, one per line ('-' for stdin).")],
    refs: Annotated[list[str], typer.Argument(help="Reference file(s), line-aligned with HYP.")],
    metric: MetricOpt = None,
    tokenize: TokenizeOpt = None,
    lowercase: LowercaseOpt = False,
    d2l_k: Annotated[
        int | None,
        typer.Option(
            "--d2l-k",
            help="Also score every line with the d2l book's sentence BLEU up to K-grams "
            "(against the first reference); per-line scores go to stdout, corpus scores to stderr.",
        ),
    ] = None,
    width: Annotated[int, typer.Option("--width", "-w", help="Decimals of the scores.")] = 1,
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Score translations: corpus BLEU, chrF or TER, exactly as the sacrebleu CLI.

    --format json prints what `sacrebleu REF -i HYP -f json` prints.

    Example: seqtool bleu hyp.txt ref.txt --metric bleu --metric chrf
    """
    from seqtool.metrics.bleu import corpus_scores, d2l_sentence_scores, sacrebleu_json

    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    check_encoding(encoding, errors)
    if d2l_k is not None and d2l_k < 1:
        raise UsageError(f"--d2l-k must be at least 1, not {d2l_k}")
    if not 0 <= width <= 10:
        raise UsageError(f"--width must be between 0 and 10, not {width}")
    if sum(1 for p in [hyp, *refs] if p == "-") > 1:
        raise UsageError("only one input can be read from stdin ('-')")
    hyps = _read_scored(hyp, encoding, errors)
    ref_sets = [_read_scored(r, encoding, errors) for r in refs]
    for r, lines in zip(refs, ref_sets):
        if len(lines) != len(hyps):
            raise InputError(
                f"{display_name(hyp)} has {len(hyps)} lines but {display_name(r)} has {len(lines)}; "
                "hypotheses and references must be line-aligned"
            )
    scores = corpus_scores(hyps, ref_sets, metric or ["bleu"], tokenize, lowercase)
    rows = [(s.name, f"{s.score:.{width}f}", s.signature, s.verbose) for s in scores]
    if d2l_k is None:
        if fmt == "json":
            print(sacrebleu_json(scores))
        elif fmt == "jsonl":
            render.emit_rows(("name", "score", "signature", "verbose"), rows, "jsonl")
        else:
            render.emit_rows(("metric", "score", "signature", "detail"), rows, fmt, title="scores")
        return
    per_line = d2l_sentence_scores(hyps, ref_sets[0], d2l_k, tokenize, lowercase)
    if fmt == "json":
        record = {
            "corpus": [s.as_dict() for s in scores],
            "d2l_k": d2l_k,
            "d2l_bleu": [round(x, 6) for x in per_line],
        }
        render.emit_record(record, "json")
        return
    for s in scores:
        render.info(s.text(width))
    render.emit_rows(
        ("line", f"d2l_bleu_{d2l_k}"),
        [(i, round(x, 6)) for i, x in enumerate(per_line, 1)],
        fmt,
        title=f"d2l sentence BLEU (k={d2l_k})",
    )
