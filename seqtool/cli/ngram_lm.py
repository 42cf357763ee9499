"""`seqtool ngrams lm FILE... -n 5 -o LM.arpa` and `seqtool ngrams score LM FILE|-`.

Subcommands of the ``ngrams`` group: ``lm`` estimates an interpolated modified
Kneser-Ney model (the estimator of KenLM's ``lmplz``) and writes it as ARPA, or as
seqtool's binary ``.npz`` when the output name ends in ``.npz``; ``score`` prints
a model's perplexity on text (KenLM ``query``'s summary), per line or per word.
The library does the work (:mod:`seqtool.stats.kneser_ney`,
:mod:`seqtool.stats.ngram_lm`); numpy is imported inside the commands.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.ngrams import ngrams_app, quick_numpy
from seqtool.cli.options import (
    Encoding,
    Errors,
    Format,
    Inputs,
    Lower,
    Quiet,
    inputs_or_stdin,
)
from seqtool.errors import InputError, SeqtoolError, UsageError
from seqtool.io import check_encoding, check_output_path, display_name

# library parameter names -> the flags that set them, for error messages
_FLAGS = {
    "discount_fallback": "--discount-fallback",
    "min_count": "--min-count",
    "prune[0]": "--prune's first value",
    "prune": "--prune",
    "order": "-n",
    "tokenizer": "--tokenizer",
}


def _flagged(error: SeqtoolError) -> SeqtoolError:
    """The same error with the library's parameter names replaced by flags."""
    message = error.message
    for name, flag in _FLAGS.items():
        if name in message:
            message = message.replace(name, flag, 1)
            break
    error.message = message
    error.args = (message,)
    return error


def _numbers(text: str, flag: str, kind: type) -> tuple[Any, ...]:
    try:
        return tuple(kind(t) for t in text.replace(",", " ").split())
    except ValueError:
        raise UsageError(
            f"{flag} takes numbers separated by spaces or commas, not {text!r}"
        ) from None


@ngrams_app.command("lm")
def lm(
    files: Inputs = None,
    order: Annotated[
        int, typer.Option("-n", "--order", help="The model's order (n-gram length).")
    ] = 3,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Model file: ARPA, or seqtool's binary if it ends in .npz."
        ),
    ] = None,
    save_counts: Annotated[
        Path | None,
        typer.Option(
            "--save-counts",
            help="Also save the sentence counts (.npz); such files are inputs too, added up "
            "into the model of the whole corpus.",
        ),
    ] = None,
    binary: Annotated[
        Path | None,
        typer.Option("--binary", help="Also write the binary model (.npz) here."),
    ] = None,
    min_count: Annotated[
        int, typer.Option("--min-count", help="Words seen fewer times become <unk>.")
    ] = 1,
    vocab: Annotated[
        Path | None,
        typer.Option(
            "--vocab", help="Keep only these words (a seqtool vocabulary); others become <unk>."
        ),
    ] = None,
    prune: Annotated[
        str | None,
        typer.Option(
            "--prune",
            help="Per order, drop n-grams seen at most this often, e.g. '0 0 1' (the last "
            "value repeats; the first must be 0), as lmplz --prune.",
        ),
    ] = None,
    discount_fallback: Annotated[
        bool,
        typer.Option(
            "--discount-fallback",
            help="When an order's counts-of-counts give no valid discounts (tiny or "
            "repetitive text), use fixed ones (lmplz's 0.5 1 1.5) instead of failing.",
        ),
    ] = False,
    fallback_discounts: Annotated[
        str | None,
        typer.Option(
            "--fallback-discounts", help="The fixed discounts D1 D2 D3+ for --discount-fallback."
        ),
    ] = None,
    tokenizer: Annotated[
        str, typer.Option("--tokenizer", "-t", help="word (whitespace-separated, default) or char.")
    ] = "word",
    normalize: Annotated[
        str, typer.Option("--normalize", help="Normaliser: none (default), d2l, letters or nfkc.")
    ] = "none",
    lower: Lower = None,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Estimate an n-gram language model (interpolated modified Kneser-Ney, as KenLM's lmplz).

    Each line is a sentence, scored with <s> and </s>; words are separated by
    whitespace. A literal <unk> in the text (the Penn Treebank convention) is the
    unknown word and is estimated from where it occurs; words rarer than
    --min-count or outside --vocab become <unk> too. Writes an ARPA file (readable
    by KenLM, SRILM, NLTK-era tools) or, for a .npz name, seqtool's binary model.
    A summary goes to stderr.

    Example: seqtool ngrams lm ptb.train.txt -n 5 -o ptb5.arpa --binary ptb5.npz
    """
    render.set_quiet(quiet)
    quick_numpy()
    from seqtool.stats.kneser_ney import (
        LMPLZ_FALLBACK,
        KNConfig,
        count_or_load,
        estimate_arpa_from,
        estimate_from,
    )
    from seqtool.text.normalize import Normalizer

    paths = inputs_or_stdin(files)
    check_encoding(encoding, errors)
    if output is None and save_counts is None and binary is None:
        raise UsageError("give -o MODEL (or --binary MODEL.npz, or --save-counts COUNTS.npz)")
    for path in (output, binary, save_counts):
        if path is not None:
            check_output_path(path)
    fallback = None
    if fallback_discounts is not None:
        fallback = _numbers(fallback_discounts, "--fallback-discounts", float)
        if len(fallback) != 3:
            raise UsageError("--fallback-discounts takes three discounts: D1 D2 D3+")
    elif discount_fallback:
        fallback = LMPLZ_FALLBACK
    thresholds = _numbers(prune, "--prune", int) if prune else ()
    words = None
    if vocab is not None:
        from seqtool.text.vocab import Vocab

        words = set(Vocab.load(vocab).tokens)
    config = KNConfig(
        order,
        Normalizer.make(normalize, lower),
        tokenizer,
        min_count,
        thresholds,
        fallback,  # type: ignore[arg-type]
    )
    start = time.perf_counter()
    try:
        config.check()
        counts = count_or_load(paths, config, encoding, errors)
        if save_counts is not None:
            counts.save(save_counts)
            render.info(f"saved the sentence counts to {save_counts}")
        if output is None and binary is None:
            return
        streamed = output is not None and output.suffix != ".npz" and binary is None
        if output is not None and streamed:
            # ARPA only: written order by order as estimated, never held whole
            meta = estimate_arpa_from(counts, config, output, words)
            sizes, vocab_size = meta["counts"], meta["vocab_size"]
            how = f"estimated and wrote {output} in"
        else:
            model = estimate_from(counts, config, words)
            meta, sizes, vocab_size = model.meta, model.counts(), model.vocab_size
            how = "estimated in"
    except SeqtoolError as e:
        raise _flagged(e) from None
    del counts
    seconds = time.perf_counter() - start
    if not streamed:
        if output is not None:
            if output.suffix == ".npz":
                model.save(output)
            else:
                model.write_arpa(output)
        if binary is not None:
            model.save(binary)
    names = ", ".join(display_name(p) for p in paths)
    per_order = ", ".join(f"{c:,}" for c in sizes)
    render.info(
        f"{names}: {meta['sentences']:,} sentences, {meta['tokens']:,} tokens, "
        f"{vocab_size:,} words; {order}-gram model with {per_order} n-grams "
        f"{how} {seconds:.2f} s"
    )
    for k, (d, fb) in enumerate(zip(meta["discounts"], meta["discount_fallback"]), 1):
        note = " (fallback)" if fb else ""
        render.info(f"  {k}-gram discounts D1={d[0]:.4g} D2={d[1]:.4g} D3+={d[2]:.4g}{note}")
    if not streamed:
        written = " and ".join(str(p) for p in (output, binary) if p is not None)
        render.info(f"wrote {written} in {time.perf_counter() - start - seconds:.2f} s")


@ngrams_app.command("score")
def score(
    model: Annotated[Path, typer.Argument(help="The model: ARPA, or seqtool's binary (.npz).")],
    files: Inputs = None,
    per_line: Annotated[
        bool,
        typer.Option("--per-line", help="One row per line: log10 probability and perplexity."),
    ] = False,
    per_word: Annotated[
        bool,
        typer.Option(
            "--per-word",
            help="One row per token (</s> included): log10 p and the n-gram length used.",
        ),
    ] = False,
    fmt: Format = "auto",
    header: Annotated[
        bool, typer.Option("--header", help="Start TSV output with a header row.")
    ] = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Score text with an n-gram model: perplexity with and without OOVs (as KenLM's query).

    Each line is a sentence, scored with <s> and </s>; words the model does not
    know are <unk> (OOVs). Without --per-line/--per-word prints the corpus
    summary; with them, the rows stream as lines are read and the summary goes to
    stderr.

    Example: seqtool ngrams score ptb5.npz ptb.valid.txt --per-line
    """
    render.set_quiet(quiet)
    quick_numpy()
    from seqtool.io import read_line_batches, read_lines
    from seqtool.stats.ngram_lm import BLOCK_LINES, NGramLM, Perplexity

    if per_line and per_word:
        raise UsageError("choose one of --per-line and --per-word")
    fmt = render.resolve_format(fmt)
    paths = inputs_or_stdin(files)
    check_encoding(encoding, errors)
    if not model.exists():
        raise InputError(f"{model}: no such file")
    start = time.perf_counter()
    lm = NGramLM.load(model)
    loaded = time.perf_counter() - start
    if not (per_line or per_word):
        result = lm.perplexity(read_lines(paths, encoding, errors))
        if not result.sentences:
            raise InputError(f"{_names(paths)}: empty input (no lines to score)")
        record = _summary(result, lm, model)
        render.emit_record(record, fmt, title=f"{display_name(str(model))} on {_names(paths)}")
        render.info(
            f"loaded the model in {loaded:.2f} s, scored in {time.perf_counter() - start - loaded:.2f} s"
        )
        return
    totals = Perplexity(0.0, 0, 0, 0.0, 0)
    # blocks of lines as they come: from a pipe or terminal each line is answered
    # before the next is read (a co-process can wait for its answer)
    lines = _flushed(b for p in paths for b in read_line_batches(p, BLOCK_LINES, encoding, errors))
    if per_line:
        columns: tuple[str, ...] = ("line", "log10_prob", "tokens", "oovs", "perplexity", "text")
        rows = _line_rows(lm, lines, totals)
    else:
        columns = ("line", "word", "ngram", "log10_prob")
        rows = _word_rows(lm, lines, totals)
    render.emit_rows(columns, rows, fmt, header=header)
    if totals.sentences:
        render.info(
            f"perplexity {totals.perplexity:.4f} (without OOVs "
            f"{totals.perplexity_without_oovs:.4f}), {totals.oovs:,} OOVs, "
            f"{totals.tokens:,} tokens, {totals.sentences:,} sentences"
        )


def _flushed(blocks: Iterator[list[str]]) -> Iterator[list[str]]:
    """The blocks, stdout flushed before the next is read (the rows of the one before
    are written by then)."""
    for block in blocks:
        yield block
        sys.stdout.flush()


def _names(paths: list[str]) -> str:
    return ", ".join(display_name(p) for p in paths)


def _summary(result: Any, lm: Any, model: Path) -> dict[str, Any]:
    record = result.to_dict()
    record["order"] = lm.order
    record["signature"] = f"model:{display_name(str(model))}|order:{lm.order}|words:{lm.vocab_size}"
    return record


def _line_rows(lm: Any, blocks: Any, totals: Any) -> Any:
    done = 0
    for batch, s in lm.score_blocks(blocks):
        totals.add(s, len(batch))
        logp, tokens, oovs = s.per_line(len(batch))
        ppl = 10 ** (-logp / tokens)
        for i, text in enumerate(batch):
            yield (
                done + i + 1,
                round(float(logp[i]), 6),
                int(tokens[i]),
                int(oovs[i]),
                float(ppl[i]),
                text,
            )
        done += len(batch)


def _word_rows(lm: Any, blocks: Any, totals: Any) -> Any:
    done = 0
    for batch, s in lm.score_blocks(blocks):
        totals.add(s, len(batch))
        words = [lm.tokenize(ln) + ["</s>"] for ln in batch]
        at = [0] * len(batch)
        for line, logp, used in zip(s.line_of.tolist(), s.logprob.tolist(), s.order.tolist()):
            yield done + line + 1, words[line][at[line]], used, round(logp, 6)
            at[line] += 1
        done += len(batch)
