"""`seqtool train-mt`, `seqtool translate` and `seqtool bleu`: the flags.

Each command maps its flags to the library (:class:`seqtool.tasks.mt.MTConfig` and
:func:`~seqtool.tasks.mt.train_mt`, :class:`~seqtool.tasks.mt.Translator`) and renders
the result.  The library is imported when a command runs, so that ``seqtool --help``
does not import torch.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import Device, Encoding, Errors, Format, Quiet
from seqtool.cli.root import app
from seqtool.cli.train_options import (
    TrainFlags,
    TrainProgress,
    defaults_epilog,
    train_options,
    valid_fields,
)
from seqtool.errors import InputError, ResourceError, UsageError, check_seed
from seqtool.io import (
    atomic_write,
    check_encoding,
    check_output_path,
    display_name,
    read_line_batches,
    read_lines,
)
from seqtool.train.defaults import MT_MODEL, MT_TRAIN
from seqtool.train.options import compact

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
    hyp: Annotated[
        str,
        typer.Argument(
            help="Hypotheses, one per line ('-' for stdin); with -i, the first reference."
        ),
    ],
    refs: Annotated[
        list[str] | None, typer.Argument(help="Reference file(s), line-aligned with HYP.")
    ] = None,
    systems: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="A system's output (repeat for several; the first is the baseline of "
            "--paired-bs); then every argument is a reference, as in sacrebleu.",
        ),
    ] = None,
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
    paired_bs: Annotated[
        bool,
        typer.Option(
            "--paired-bs",
            "-pbs",
            help="Paired bootstrap resampling: each -i system against the first "
            "(score, mean ± 95% CI, p-value), as sacrebleu --paired-bs.",
            rich_help_panel="Significance",
        ),
    ] = False,
    confidence: Annotated[
        bool,
        typer.Option(
            "--confidence",
            "-ci",
            help="A 95% confidence interval by bootstrap resampling, as sacrebleu --confidence.",
            rich_help_panel="Significance",
        ),
    ] = False,
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            help="Bootstrap resamples (sacrebleu's --paired-bs-n and --confidence-n).",
            rich_help_panel="Significance",
        ),
    ] = 1000,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            help="Seed of the resampling (sacrebleu's SACREBLEU_SEED default).",
            rich_help_panel="Significance",
        ),
    ] = 12345,
    width: Annotated[int, typer.Option("--width", "-w", help="Decimals of the scores.")] = 1,
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Score translations: corpus BLEU, chrF or TER, exactly as the sacrebleu CLI.

    `seqtool bleu HYP REF...` scores one system; `seqtool bleu REF... -i SYS -i SYS2`
    (sacrebleu's order) scores each system. --paired-bs compares every system with the
    first; --confidence adds a 95% confidence interval. --format json prints what
    `sacrebleu REF -i HYP -f json` prints.

    Example: seqtool bleu ref.txt -i base.txt -i new.txt --paired-bs
    """
    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    check_encoding(encoding, errors)
    if d2l_k is not None and d2l_k < 1:
        raise UsageError(f"--d2l-k must be at least 1, not {d2l_k}")
    if not 0 <= width <= 10:
        raise UsageError(f"--width must be between 0 and 10, not {width}")
    ref_paths = [hyp, *(refs or [])] if systems else list(refs or [])
    sys_paths = list(systems) if systems else [hyp]
    if not ref_paths:
        raise UsageError("give the reference file(s) after HYP: seqtool bleu HYP REF...")
    _check_significance(sys_paths, paired_bs, confidence, d2l_k, samples, seed)
    if sum(1 for p in [*sys_paths, *ref_paths] if p == "-") > 1:
        raise UsageError("only one input can be read from stdin ('-')")
    outputs = [_read_scored(p, encoding, errors) for p in sys_paths]
    ref_sets = [_read_scored(r, encoding, errors) for r in ref_paths]
    for path, hyps in zip(sys_paths, outputs):
        for r, lines in zip(ref_paths, ref_sets):
            if len(lines) != len(hyps):
                raise InputError(
                    f"{display_name(path)} has {len(hyps)} lines but {display_name(r)} has "
                    f"{len(lines)}; hypotheses and references must be line-aligned"
                )
    names = [display_name(p) for p in sys_paths]
    how = _Scoring(
        ref_sets, metric or ["bleu"], tokenize, lowercase, samples if confidence else 0,
        seed, width, fmt,
    )  # fmt: skip
    if paired_bs:
        _paired(names, outputs, how, samples)
    elif len(outputs) > 1:
        _each_system(names, outputs, how)
    else:
        _one_system(outputs[0], how, d2l_k)


def _check_significance(
    sys_paths: list[str],
    paired_bs: bool,
    confidence: bool,
    d2l_k: int | None,
    samples: int,
    seed: int,
) -> None:
    if paired_bs and len(sys_paths) < 2:
        raise UsageError(
            "--paired-bs compares systems: give the references as arguments and each "
            "system with -i, the baseline first (seqtool bleu REF -i BASE -i SYS --paired-bs)"
        )
    if paired_bs and confidence:
        raise UsageError(
            "--paired-bs already reports each system's 95% interval; drop --confidence"
        )
    if d2l_k is not None and (len(sys_paths) > 1 or paired_bs or confidence):
        raise UsageError("--d2l-k scores one system, without --paired-bs or --confidence")
    if samples < 40:
        raise UsageError(f"--samples must be at least 40, not {samples}")
    check_seed("seed", seed)


@dataclass
class _Scoring:
    """How `seqtool bleu` scores and prints: the references, metric settings, the
    bootstrap resamples for intervals (0: none), the seed, the decimals, the format."""

    refs: list[list[str]]
    metrics: list[str]
    tokenize: str | None
    lowercase: bool
    samples: int
    seed: int
    width: int
    fmt: str

    def scores(self, hyps: list[str]) -> list[Any]:
        from seqtool.metrics.bleu import corpus_scores

        return corpus_scores(
            hyps, self.refs, self.metrics, self.tokenize, self.lowercase,
            samples=self.samples, seed=self.seed,
        )  # fmt: skip

    def numbers(self, *values: float | None, text: bool = False) -> list[Any]:
        """Scores as JSON numbers rounded to --width (as sacrebleu's JSON), else as text."""
        shown = [v for v in values if v is not None]
        if self.fmt in ("json", "jsonl") and not text:
            return [float(f"{v:.{self.width}f}") for v in shown]
        return [f"{v:.{self.width}f}" for v in shown]

    @property
    def interval_columns(self) -> tuple[str, ...]:
        return ("mean", "ci95") if self.samples else ()


def _one_system(hyps: list[str], how: _Scoring, d2l_k: int | None) -> None:
    from seqtool.metrics.bleu import d2l_sentence_scores, sacrebleu_json

    scores = how.scores(hyps)
    # one system: the score as text in every format, as before
    rows = [
        (s.name, *how.numbers(s.score, s.mean, s.ci, text=True), s.signature, s.verbose)
        for s in scores
    ]
    if d2l_k is None:
        if how.fmt == "json":
            print(sacrebleu_json(scores, how.width))
        else:
            name = "name" if how.fmt == "jsonl" else "metric"
            detail = "verbose" if how.fmt == "jsonl" else "detail"
            columns = (name, "score", *how.interval_columns, "signature", detail)
            render.emit_rows(columns, rows, how.fmt, title="scores")
        return
    per_line = d2l_sentence_scores(hyps, how.refs[0], d2l_k, how.tokenize, how.lowercase)
    if how.fmt == "json":
        record = {
            "corpus": [json.loads(s.json(how.width)) for s in scores],
            "d2l_k": d2l_k,
            "d2l_bleu": [round(x, 6) for x in per_line],
        }
        render.emit_record(record, "json")
        return
    for s in scores:
        render.info(s.text(how.width))
    render.emit_rows(
        ("line", f"d2l_bleu_{d2l_k}"),
        [(i, round(x, 6)) for i, x in enumerate(per_line, 1)],
        how.fmt,
        title=f"d2l sentence BLEU (k={d2l_k})",
    )


def _each_system(names: list[str], outputs: list[list[str]], how: _Scoring) -> None:
    """Several systems without a paired test: each one's scores (and intervals)."""
    rows = [
        (name, s.name, *how.numbers(s.score, s.mean, s.ci), s.signature)
        for name, hyps in zip(names, outputs)
        for s in how.scores(hyps)
    ]
    columns = ("system", "metric", "score", *how.interval_columns, "signature")
    render.emit_rows(columns, rows, how.fmt, title="scores")


def _paired(names: list[str], outputs: list[list[str]], how: _Scoring, samples: int) -> None:
    """Paired bootstrap resampling: one row per system and metric, the baseline first."""
    from seqtool.metrics.bleu import paired_bootstrap

    if len(set(names)) != len(names):
        raise UsageError("each -i system must be a different file")
    results = paired_bootstrap(
        list(zip(names, outputs)), how.refs, how.metrics, how.tokenize, how.lowercase,
        samples=samples, seed=how.seed,
    )  # fmt: skip
    text = how.fmt not in ("json", "jsonl")
    rows = [
        (
            r.system,
            r.name,
            *how.numbers(r.score, r.mean, r.ci),
            ("" if r.p_value is None else f"{r.p_value:.4f}") if text else r.p_value,
            r.signature,
        )  # fmt: skip
        for r in results
    ]
    columns = ("system", "metric", "score", "mean", "ci95", "p_value", "signature")
    title = f"paired bootstrap resampling against {names[0]} ({samples} resamples, seed {how.seed})"
    render.emit_rows(columns, rows, how.fmt, title=title)


# ---------------------------------------------------------------------- train-mt
def _opt(*decls: str, help: str, panel: str = "Model") -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=panel, show_default=False)


@app.command("train-mt", epilog=defaults_epilog(MT_MODEL, MT_TRAIN))
@train_options
def train_mt(
    src: Annotated[
        str | None, _opt("--src", help="Source-language training text.", panel="Data")
    ] = None,
    tgt: Annotated[
        str | None,
        _opt("--tgt", help="Target-language training text, line-aligned with --src.", panel="Data"),
    ] = None,
    pairs: Annotated[
        str | None,
        _opt("--pairs", help="Training pairs: source<TAB>target lines (fra-eng).", panel="Data"),
    ] = None,
    src_lang: Annotated[
        str | None,
        _opt(
            "--src-lang",
            help="Source language: a code read from a pairs file's name (en-fr.tsv, fra.txt) "
            "or a column number.",
            panel="Data",
        ),
    ] = None,
    tgt_lang: Annotated[
        str | None, _opt("--tgt-lang", help="Target language (as --src-lang).", panel="Data")
    ] = None,
    valid_src: Annotated[
        str | None, _opt("--valid-src", help="Validation source text.", panel="Data")
    ] = None,
    valid_tgt: Annotated[
        str | None, _opt("--valid-tgt", help="Validation target text.", panel="Data")
    ] = None,
    valid_pairs: Annotated[
        str | None, _opt("--valid-pairs", help="Validation pairs file.", panel="Data")
    ] = None,
    valid_size: Annotated[
        int | None,
        _opt(
            "--valid-size",
            help="Without validation files: hold out this many training pairs "
            "(default min(500, 10%)).",
            panel="Data",
        ),
    ] = None,
    max_len: Annotated[
        int | None,
        _opt(
            "--max-len",
            help="Drop training pairs with a side longer than this many tokens (default 256).",
            panel="Data",
        ),
    ] = 256,
    empty_lines: Annotated[
        str,
        _opt(
            "--empty-lines",
            help="Pairs with an empty side: skip (default; dropped and counted) or error.",
            panel="Data",
        ),
    ] = "skip",
    max_tokens: Annotated[
        int | None,
        _opt(
            "--max-tokens", help="Tokens per batch, padding included (default 2048).", panel="Data"
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Checkpoint to write (best by valid BLEU); also OUT.last.pt "
            "[default: mt.pt; with --resume X.last.pt: X.pt].",
            show_default=False,
        ),
    ] = None,
    model: Annotated[str, _opt("--model", "-m", help="transformer (default) or gru-attn.")] = (
        "transformer"
    ),
    layers: Annotated[
        int | None,
        _opt(
            "--layers", help="Transformer: encoder and decoder layers each; gru-attn: GRU layers."
        ),
    ] = None,
    dim: Annotated[int | None, _opt("--dim", help="Transformer width.")] = None,
    heads: Annotated[int | None, _opt("--heads", help="Transformer attention heads.")] = None,
    ff_dim: Annotated[int | None, _opt("--ff-dim", help="Transformer feed-forward size.")] = None,
    embed: Annotated[int | None, _opt("--embed", help="gru-attn embedding size.")] = None,
    hidden: Annotated[int | None, _opt("--hidden", help="gru-attn hidden size.")] = None,
    bidirectional: Annotated[
        bool | None,
        _opt("--bidirectional/--unidirectional", help="gru-attn encoder (default bidirectional)."),
    ] = None,
    dropout: Annotated[float | None, _opt("--dropout", help="Dropout rate.")] = None,
    label_smoothing: Annotated[
        float, _opt("--label-smoothing", help="Label smoothing of the training loss (default 0.1).")
    ] = 0.1,
    vocab_file: Annotated[
        Path | None, _opt("--vocab", help="One joint vocabulary (VOCAB.json).", panel="Text")
    ] = None,
    src_vocab: Annotated[
        Path | None, _opt("--src-vocab", help="Source vocabulary.", panel="Text")
    ] = None,
    tgt_vocab: Annotated[
        Path | None, _opt("--tgt-vocab", help="Target vocabulary.", panel="Text")
    ] = None,
    vocab_size: Annotated[
        int,
        _opt("--vocab-size", help="Size of the vocabulary built (default 8000).", panel="Text"),
    ] = 8000,
    tokenizer: Annotated[
        str,
        _opt("--tokenizer", "-t", help="bpe (default), unigram, word or char.", panel="Text"),
    ] = "bpe",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    train: TrainFlags = TrainFlags(),
) -> None:
    """Train a translation model (Transformer or GRU with attention) on parallel text.

    By default one joint BPE vocabulary is trained on both sides and the model keeps
    its best weights by validation BLEU.  On CPUs that compute bf16 natively
    (AVX512-BF16, AMX) training runs in bf16 autocast unless --precision says otherwise.

    Example: seqtool train-mt --src train.de.gz --tgt train.en.gz --valid-src val.de.gz --valid-tgt val.en.gz --time-budget 20m -o de-en.pt
    """
    from seqtool.tasks.mt import MTConfig
    from seqtool.tasks.mt import train_mt as train_model

    config = MTConfig(
        src=src, tgt=tgt, pairs=pairs, src_lang=src_lang, tgt_lang=tgt_lang,
        valid_src=valid_src, valid_tgt=valid_tgt, valid_pairs=valid_pairs,
        valid_size=valid_size, max_len=max_len, empty_lines=empty_lines, max_tokens=max_tokens,
        model=model, layers=layers, dim=dim, heads=heads, ff_dim=ff_dim, embed=embed,
        hidden=hidden, bidirectional=bidirectional, dropout=dropout,
        label_smoothing=label_smoothing, vocab_file=vocab_file, src_vocab=src_vocab,
        tgt_vocab=tgt_vocab, vocab_size=vocab_size, tokenizer=tokenizer, encoding=encoding,
        errors=errors,
    )  # fmt: skip
    render.set_quiet(train.quiet)
    with TrainProgress("train-mt", valid=_valid_part, show_ppl=False) as progress:
        argv = ["seqtool", *sys.argv[1:]]
        train_model(config, train.options(), output, progress, meta={"argv": argv})


_valid_part = valid_fields(
    ("valid_loss", "loss", ".4f"),
    ("valid_ppl", "ppl", ".3f"),
    ("valid_bleu", "BLEU", ".2f"),
    ("valid_chrf", "chrF", ".2f"),
)


# ---------------------------------------------------------------------- translate
@app.command()
def translate(
    checkpoint: Annotated[Path, typer.Argument(help="A model trained by `seqtool train-mt`.")],
    file: Annotated[
        str, typer.Argument(help="Sentences to translate, one per line ('-': stdin).")
    ] = "-",
    beam: Annotated[int, typer.Option("--beam", "-b", help="Beam size; 1 is greedy search.")] = 5,
    lenpen: Annotated[
        float, typer.Option("--lenpen", help="Length penalty: scores are divided by length**A.")
    ] = 1.0,
    max_len_a: Annotated[
        float, typer.Option("--max-len-a", help="Output cap: A * source tokens + B.")
    ] = 1.5,
    max_len_b: Annotated[int, typer.Option("--max-len-b", help="See --max-len-a.")] = 10,
    nbest: Annotated[
        int,
        typer.Option("--nbest", help="The N best translations (TSV: line, rank, score, text)."),
    ] = 1,
    batch_size: Annotated[
        int,
        typer.Option(
            "--batch-size",
            help="Sentences translated together (of similar length; more is faster "
            "on a CPU, up to a few hundred).",
        ),
    ] = 128,
    max_src_len: Annotated[
        int,
        typer.Option(
            "--max-src-len",
            help="Cut longer sources to this many tokens (with a warning saying how many).",
        ),
    ] = 1024,
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f", help="text (default), tsv or jsonl (these two with scores)."
        ),
    ] = "text",
    eval_bleu: Annotated[
        bool,
        typer.Option("--eval-bleu", help="Score against --ref: BLEU and chrF on stderr."),
    ] = False,
    ref: Annotated[
        list[str] | None,
        typer.Option("--ref", help="Reference translations, line-aligned (repeatable)."),
    ] = None,
    metrics_json: Annotated[
        Path | None, typer.Option("--metrics-json", help="Also write the scores to this file.")
    ] = None,
    show_attention: Annotated[
        Path | None,
        typer.Option(
            "--show-attention", help="Draw the first sentence's attention as a PNG (matplotlib)."
        ),
    ] = None,
    device: Device = "auto",
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="auto (bf16 where the GPU or CPU computes it natively, else fp32), fp32 or bf16.",
        ),
    ] = "auto",
    threads: Annotated[
        int | None, typer.Option("--threads", help="CPU threads for torch.", show_default=False)
    ] = None,
    shortlist: Annotated[
        bool,
        typer.Option(
            "--shortlist/--no-shortlist",
            help="Score only the target tokens seen in training (faster; on by default).",
        ),
    ] = True,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Translate text: one output line per input line, in order, streamed.

    Lines read from a pipe or terminal are translated as they arrive (those that
    came together in one batch) and each answer is written at once, so seqtool
    can run as a co-process or after `tail -f`; a file is read in blocks of
    4,000 lines.  A file gets a progress bar on a terminal's stderr (not with
    --quiet, nor when stdout is the terminal).

    Example: seqtool translate de-en.pt val.de --eval-bleu --ref val.en > hyp.en
    """
    from seqtool.decode.beam import SearchConfig
    from seqtool.decode.translate import BLOCK_LINES, TranslateStats
    from seqtool.tasks.mt import Translator, score, scores_record
    from seqtool.train.device import set_threads

    render.set_quiet(quiet)
    check_encoding(encoding, errors)
    inputs: list[str | Path] = [file, *(ref or []), checkpoint]
    fmt = _check_translate(fmt, nbest, eval_bleu, ref, metrics_json, show_attention, inputs)
    refs = [[line.rstrip() for line in read_lines(r, encoding, errors)] for r in ref or []]
    if refs and file != "-":
        # A file can be counted up front: a mismatch fails now, not after translating it.
        n_in = sum(1 for _ in read_lines(file, encoding, errors))
        _check_reference_lengths(file, ref or [], n_in, refs)
    SearchConfig(beam, lenpen, nbest, max_len_a, max_len_b).check()  # before loading the model
    set_threads(threads)
    mt = Translator.load(checkpoint, device, precision, shortlist)
    first: list[str] = []  # the first non-empty line, for --show-attention

    def remember(blocks: Iterator[list[str]]) -> Iterator[list[str]]:
        for block in blocks:
            if show_attention is not None and not first:
                first.extend(next(([x] for x in block if x.strip()), []))
            yield block

    hyps: list[str] = []
    out = sys.stdout  # taken before a progress bar reroutes sys.stdout
    t0 = time.perf_counter()
    n = 0
    stats = TranslateStats()
    # From a file, blocks of BLOCK_LINES; from a pipe or terminal, the lines that have
    # arrived, each block answered (and flushed) before more input is awaited.
    blocks = read_line_batches(file, BLOCK_LINES, encoding, errors)
    with _progress(file, encoding, errors) as bar:
        results = mt.translate_blocks(
            remember(blocks), beam=beam, lenpen=lenpen, nbest=nbest, max_len_a=max_len_a,
            max_len_b=max_len_b, batch_size=batch_size, max_src_len=max_src_len, stats=stats,
            on_progress=(lambda done: bar.update(done=done)) if bar else None,
        )  # fmt: skip
        for block in results:
            for nbest_list in block:
                n += 1
                _emit(out, fmt, n, nbest_list)
                if eval_bleu:
                    hyps.append(nbest_list[0].text)
            out.flush()
    elapsed = time.perf_counter() - t0
    render.info(
        f"translated {render.count(n, 'line')} in {elapsed:.2f} s "
        f"({n / max(elapsed, 1e-9):,.1f} lines/s, beam {beam}, {mt.name} on {mt.describe()})"
    )
    if stats.truncated:
        render.warn(
            f"{stats.truncated:,} of {stats.lines:,} lines were longer than --max-src-len "
            f"{max_src_len} tokens and were cut to it"
        )
    if show_attention is not None:
        if not first:
            render.warn("--show-attention: there was no non-empty line to draw")
        else:
            mt.plot_attention(first[0], show_attention, beam=beam)
            render.info(f"attention of the first sentence drawn in {show_attention}")
    if eval_bleu:
        _check_reference_lengths(file, ref or [], len(hyps), refs)
        scores = score(hyps, refs)
        for s in scores:  # results the user asked for: shown even with --quiet
            typer.echo(s.text(), err=True)
        if metrics_json is not None:
            record = scores_record(
                scores, checkpoint=str(checkpoint), input=display_name(file),
                references=[display_name(r) for r in ref or []], sentences=len(hyps), beam=beam,
                lenpen=lenpen,
            )  # fmt: skip
            with atomic_write(metrics_json) as f:
                f.write(json.dumps(record, ensure_ascii=False, indent=1) + "\n")


@contextmanager
def _progress(file: str, encoding: str, errors: str) -> Iterator[Any]:
    """A progress bar over a file's lines, on stderr when it is a terminal (else None):
    not for stdin (its length is unknown, and its user may be typing), nor when the
    translations themselves go to the terminal."""
    if file == "-" or render.is_quiet() or not render.stderr_is_tty() or render.stdout_is_tty():
        yield None
        return
    total = sum(1 for _ in read_lines(file, encoding, errors))
    with render.Progress("translate", total=total, unit="lines") as bar:
        yield bar


def _emit(out: Any, fmt: str, n: int, nbest: list[Any]) -> None:
    """Line ``n``'s translation (text) or its n-best list (tsv: line, rank, score, text; jsonl)."""
    if fmt == "text":
        out.write(nbest[0].text + "\n")
        return
    for rank, t in enumerate(nbest, 1):
        if fmt == "tsv":
            out.write(f"{n}\t{rank}\t{t.score:.4f}\t{render.tsv_field(t.text)}\n")
        else:
            record = {"line": n, "rank": rank, "score": round(t.score, 4), "translation": t.text}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _check_translate(
    fmt: str,
    nbest: int,
    eval_bleu: bool,
    ref: list[str] | None,
    metrics_json: Path | None,
    show_attention: Path | None,
    inputs: list[str | Path],
) -> str:
    if fmt not in ("text", "tsv", "jsonl"):
        raise UsageError(f"--format must be text, tsv or jsonl, not {fmt!r}")
    if nbest > 1 and fmt == "text":
        fmt = "tsv"  # n-best lists need the line and rank columns
    if eval_bleu and not ref:
        raise UsageError("--eval-bleu needs the reference translations: --ref FILE")
    if (ref or metrics_json) and not eval_bleu:
        raise UsageError("--ref and --metrics-json go with --eval-bleu")
    if ref and "-" in ref:
        raise UsageError("the references cannot be read from stdin; give them as files")
    if metrics_json is not None:
        check_output_path(metrics_json, inputs)
    if show_attention is not None:
        check_output_path(show_attention, inputs)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ResourceError(
                "--show-attention needs matplotlib, which is not installed",
                hint="pip install 'seqtool[plot]' (or pip install matplotlib)",
            ) from None
    return fmt


def _check_reference_lengths(
    file: str, ref: list[str], n_lines: int, refs: list[list[str]]
) -> None:
    for r, lines in zip(ref, refs):
        if len(lines) != n_lines:
            raise InputError(
                f"{display_name(file)} has {n_lines} lines but the reference "
                f"{display_name(r)} has {len(lines)}"
            )


DEMO_PAIRS = 3000  # fra-eng is sorted by length: its first pairs are the short ones


DEMO_MT_STEPS = 400  # about 20 s on 2 quiet cores; a fixed count, whatever the load


def demo_step(ctx: Any, steps: int = DEMO_MT_STEPS) -> None:
    """`seqtool demo`: a small gru-attn English->French model trained for ``steps``
    steps (times the demo's scale) on the demo's parallel text, then a few
    translations and the held-out pairs scored.  Steps, not a time budget, so that a
    loaded machine shows the same results as a quiet one, only later."""
    from seqtool.metrics.bleu import d2l_sentence_scores
    from seqtool.tasks.mt import MTConfig, MTTask, Translator, score
    from seqtool.train.device import describe
    from seqtool.train.mt_data import read_parallel
    from seqtool.train.runner import TrainOptions, run_training

    text = read_parallel(pairs=ctx.parallel)
    text.src, text.tgt = text.src[:DEMO_PAIRS], text.tgt[:DEMO_PAIRS]
    # A small gru-attn: on a few hundred pairs its additive attention finds the
    # alignment within seconds (a Transformer of this size needs minutes); no dropout
    # or label smoothing, to fit fast.  Held-out pairs are scored once, afterwards.
    config = MTConfig(
        model="gru-attn", embed=64, hidden=128, layers=1, dropout=0.0,
        label_smoothing=0.0, vocab_size=1000, max_tokens=400,
        valid_size=max(20, len(text) // 12),
    )  # fmt: skip
    task = MTTask(config, train_valid=False, text=(text, None))
    path = ctx.out / "mt.pt"
    options = TrainOptions(max_steps=ctx.steps(steps), seed=ctx.seed, lr=5e-3, warmup=30)
    with TrainProgress("  translation model", show_ppl=False, messages=False) as progress:
        run = run_training(task, options, path, progress, keep_last=False)
    data = task.data
    render.info(
        f"  gru-attn {text.src_lang or 'src'}->{text.tgt_lang or 'tgt'}, "
        f"{compact(sum(p.numel() for p in run.model.parameters()))} parameters, "
        f"{len(data.train):,} pairs, {run.result.steps} steps ({run.result.epochs:.0f} epochs) in "
        f"{run.result.elapsed:.0f} s on {describe(run.trainer.device, run.trainer.amp_dtype)}"
    )
    mt = Translator.load(path, run.trainer.device)
    every = data.train.index[:: max(1, len(data.train) // 5)][:5]
    train_src, train_ref = [text.src[i] for i in every], [text.tgt[i] for i in every]
    hyps = [r[0].text for r in mt.translate(train_src, beam=3)]
    for s, h, r, b in zip(train_src, hyps, train_ref, d2l_sentence_scores(hyps, train_ref, 2)):
        render.info(f"  {s} => {h}  (reference: {r}; d2l BLEU {b:.3f})")
    if data.valid is not None:
        srcs = [mt.src_vocab.decode(s) for s in data.valid.src]
        out = [r[0].text for r in mt.translate(srcs, beam=3)]
        for sc in score(out, [data.valid_refs]):
            render.info(f"  held-out ({len(out)} pairs, beam 3): {sc.text()}")
    ctx.made.append(("translation model (seqtool translate mt.pt)", path))
