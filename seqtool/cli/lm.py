"""`seqtool train-lm`, `seqtool generate` and `seqtool eval-lm`: the flags.

Each command maps its flags to the library's config (:class:`seqtool.tasks.lm.LMConfig`,
:class:`seqtool.train.runner.TrainOptions`) or to one call on a loaded
:class:`seqtool.tasks.lm.LanguageModel`, and renders the result.  The library is
imported when a command runs, so that ``seqtool --help`` does not pay for torch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import Device, Encoding, Errors, Format, Lower, Quiet, Seed, normalize_help
from seqtool.cli.root import app
from seqtool.cli.train_options import (
    TrainFlags,
    TrainProgress,
    defaults_epilog,
    train_options,
    valid_fields,
)
from seqtool.errors import UsageError
from seqtool.io import display_name, read_line_batches, read_lines
from seqtool.train.defaults import LM_DATA, LM_MODEL, LM_TRAIN
from seqtool.train.options import compact


def _opt(*decls: str, help: str, panel: str = "Model") -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=panel, show_default=False)


@app.command("train-lm", epilog=defaults_epilog(LM_MODEL, LM_DATA, LM_TRAIN))
@train_options
def train_lm(
    files: Annotated[list[str], typer.Argument(help="Training text ('-' for stdin).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Checkpoint to write [default: lm.pt; with --resume X.last.pt: X.pt].",
            show_default=False,
        ),
    ] = None,
    valid: Annotated[
        list[str] | None, typer.Option("--valid", help="Validation text (repeatable).")
    ] = None,
    valid_fraction: Annotated[
        float | None,
        typer.Option(
            "--valid-fraction",
            help="Without --valid: hold out this tail of the text [default: 0.1; "
            "a resumed run keeps its own split].",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str, _opt("--model", "-m", help="rnn, gru, lstm or transformer (default).")
    ] = ("transformer"),
    layers: Annotated[int | None, _opt("--layers", help="Layers.")] = None,
    hidden: Annotated[int | None, _opt("--hidden", help="RNN hidden size.")] = None,
    embed: Annotated[int | None, _opt("--embed", help="RNN embedding size.")] = None,
    dim: Annotated[int | None, _opt("--dim", help="Transformer width.")] = None,
    heads: Annotated[int | None, _opt("--heads", help="Attention heads.")] = None,
    ff_dim: Annotated[
        int | None, _opt("--ff-dim", help="Feed-forward size (default 4 x dim).")
    ] = None,
    dropout: Annotated[float | None, _opt("--dropout", help="Dropout rate.")] = None,
    positions: Annotated[
        str | None, _opt("--positions", help="sinusoidal (default) or learned.")
    ] = None,
    tie: Annotated[
        bool | None, _opt("--tie/--no-tie", help="Tie input and output embeddings.")
    ] = None,
    seq_len: Annotated[int | None, _opt("--seq-len", help="Tokens per training window.")] = None,
    batch_size: Annotated[int | None, _opt("--batch-size", help="Windows per batch.")] = None,
    tokenizer: Annotated[
        str, _opt("--tokenizer", "-t", help="char, word, bpe or unigram.", panel="Text")
    ] = "char",
    vocab_file: Annotated[
        Path | None, _opt("--vocab", help="Use this vocabulary (VOCAB.json).", panel="Text")
    ] = None,
    normalize: Annotated[
        str, _opt("--normalize", help=normalize_help("none"), panel="Text")
    ] = "none",
    lower: Lower = None,
    vocab_size: Annotated[
        int, _opt("--vocab-size", help="Size of a bpe/unigram vocabulary.", panel="Text")
    ] = 8000,
    min_freq: Annotated[
        int, _opt("--min-freq", help="Drop rarer char/word tokens.", panel="Text")
    ] = 1,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    train: TrainFlags = TrainFlags(),
) -> None:
    """Train a language model (RNN, GRU, LSTM or Transformer) on text.

    Example: seqtool train-lm timemachine.txt --model lstm --time-budget 5m -o lm.pt
    """
    from seqtool.tasks.lm import LMConfig, train_lm

    config = LMConfig(
        files=files, valid=valid, valid_fraction=valid_fraction, model=model,
        layers=layers, hidden=hidden, embed=embed, dim=dim, heads=heads, ff_dim=ff_dim,
        dropout=dropout, positions=positions, tie=tie, seq_len=seq_len, batch_size=batch_size,
        tokenizer=tokenizer, vocab_file=vocab_file, normalize=normalize, lower=lower,
        vocab_size=vocab_size, min_freq=min_freq, encoding=encoding, errors=errors,
    )  # fmt: skip
    render.set_quiet(train.quiet)
    with TrainProgress("train", valid=_valid_part) as progress:
        train_lm(config, train.options(), output, progress, meta={"argv": _argv()})


def _argv() -> list[str]:
    return ["seqtool", *sys.argv[1:]]


_valid_part = valid_fields(("valid_ppl", "ppl", ".3f"), ("valid_bpc", "bpc", ".3f"))


PROMPT_BLOCK = 256  # prompts of a file generated for together


@app.command()
def generate(
    checkpoint: Annotated[Path, typer.Argument(help="A language model (LM.pt).")],
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", "-p", help="Text to continue (else prefixes on stdin)."),
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Tokens to add.")] = 200,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature.")
    ] = 1.0,
    top_k: Annotated[
        int, typer.Option("--top-k", help="Sample from the K likeliest (0: all).")
    ] = 0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass (1: all).")] = 1.0,
    greedy: Annotated[bool, typer.Option("--greedy", help="Always take the likeliest.")] = False,
    num: Annotated[
        int,
        typer.Option(
            "--num",
            "-n",
            help="Samples per prefix (text: an empty line between samples, unless --one-line).",
        ),
    ] = 1,
    one_line: Annotated[
        bool,
        typer.Option(
            "--one-line",
            help="One line of text per sample: it ends at the first line end after some "
            "text; line ends before any text become one space after the prefix.",
        ),
    ] = False,
    seed: Seed = 0,
    device: Device = "auto",
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="text or jsonl (one {index, sample, prefix, text} object per sample).",
        ),
    ] = "text",
) -> None:
    """Generate text from a language model; prefixes on stdin give one sample each.

    Text output: each sample as generated, the prefix included; several samples
    (--num, or several prefixes) are separated by an empty line, unless --one-line
    makes each sample one line.  For a sample that may hold empty lines itself,
    --format jsonl is unambiguous.  Prefixes read from a pipe are answered as they
    arrive (a co-process, `tail -f`); each prefix has its own random stream, so
    --seed gives the same samples however the prefixes arrive.

    Example: seqtool generate lm.pt --prefix "the time traveller" --max-tokens 100
    """
    import json

    from seqtool.tasks.lm import LanguageModel

    if fmt not in ("text", "jsonl"):
        raise UsageError(f"--format must be text or jsonl, not {fmt!r}")
    if num < 1:
        raise UsageError(f"--num must be at least 1, not {num}")
    blocks: Iterable[list[str]]
    if prefix is not None:
        blocks = [[prefix]]
    elif not sys.stdin.isatty():
        blocks = read_line_batches("-", PROMPT_BLOCK)
    else:
        blocks = [[""]]
    lm = LanguageModel.load(checkpoint, device)
    current: list[str] = []  # the block of prefixes being answered

    def keep(blocks: Iterable[list[str]]) -> Iterator[list[str]]:
        for block in blocks:
            current[:] = block
            yield block

    results = lm.generate_stream(
        keep(blocks), max_tokens=max_tokens, temperature=temperature, top_k=top_k,
        top_p=top_p, greedy=greedy, num=num, one_line=one_line, seed=seed,
    )  # fmt: skip
    out = sys.stdout
    index = 0
    for samples in results:
        for prompt, texts in zip(current, samples):
            for n, text in enumerate(texts):
                if fmt == "jsonl":
                    record = {"index": index, "sample": n, "prefix": prompt, "text": text}
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    gap = "\n" if (index or n) and not one_line else ""
                    out.write(gap + text + "\n")
            index += 1
        out.flush()


@app.command("eval-lm")
def eval_lm(
    checkpoint: Annotated[Path, typer.Argument(help="A language model (LM.pt).")],
    files: Annotated[list[str] | None, typer.Argument(help="Text to score ('-': stdin).")] = None,
    per_line: Annotated[
        bool,
        typer.Option(
            "--per-line", help="Score each line: log-probability, tokens, perplexity and the line."
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Rows scored together.")] = 16,
    device: Device = "auto",
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Perplexity, bits per token and per character, and OOV rate of text under a model.

    Example: seqtool eval-lm lm.pt valid.txt --format json
    """
    from seqtool.io import check_encoding
    from seqtool.metrics.perplexity import Perplexity
    from seqtool.tasks.lm import LanguageModel

    render.set_quiet(quiet)
    check_encoding(encoding, errors)
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    fmt = render.resolve_format(fmt)
    files = files or ["-"]
    lm = LanguageModel.load(checkpoint, device)
    lines = list(read_lines(files, encoding, errors))
    names = ", ".join(display_name(f) for f in files)
    if per_line:
        # The text comes last in every format (TSV-escaped: one record per line).
        scores = lm.score_lines(lines)
        rows = [(lp, n, Perplexity(n, -lp).ppl, line) for (lp, n), line in zip(scores, lines)]
        columns = ("log_prob", "tokens", "ppl", "text")
        render.emit_rows(columns, rows, fmt, title=f"{names} | {lm.signature}")
        return
    if not any(line.strip() for line in lines):
        from seqtool.errors import InputError

        raise InputError(f"{names}: empty input (no text found)")
    p = lm.perplexity(lines, batch_size=batch_size)
    record: dict[str, Any] = {"file": names, **p.to_dict(), "signature": lm.signature}
    render.emit_record(record, fmt, title="language model evaluation")


DEMO_LM_STEPS = 300  # about 20 s on 2 quiet cores; a fixed count, whatever the load


def demo_step(ctx: Any, steps: int = DEMO_LM_STEPS) -> None:
    """`seqtool demo`: a small character Transformer trained for ``steps`` steps (times
    the demo's scale) on the demo corpus, then a sample.  Steps, not a time budget, so
    that a loaded machine shows the same results as a quiet one, only later."""
    from seqtool.tasks.lm import LMConfig, train_lm
    from seqtool.train.device import describe
    from seqtool.train.runner import TrainOptions

    path = ctx.out / "lm.pt"
    config = LMConfig(files=[str(ctx.corpus)], model="transformer")
    options = TrainOptions(max_steps=ctx.steps(steps), seed=ctx.seed, device="auto")
    with TrainProgress("  language model", show_ppl=False, messages=False) as progress:
        lm = train_lm(config, options, path, progress, keep_last=False)
    run = lm.run
    assert run is not None  # train_lm sets it
    result, trainer = run.result, run.trainer
    render.info(
        f"  char Transformer, {compact(lm.n_parameters)} parameters, {result.steps} steps in "
        f"{result.elapsed:.0f} s on {describe(trainer.device, trainer.amp_dtype)}: "
        f"validation perplexity {result.best:.2f} "
        f"({(result.last_eval or {}).get('valid_bpc', float('nan')):.2f} bits per character)"
    )
    prefix = "The Time Traveller" if "Time Machine" in ctx.corpus_name else "The "
    text = lm.generate([prefix], max_tokens=160, temperature=0.8, seed=ctx.seed)
    render.info("  sample: " + text[0][0].replace("\n", "\n          "))
    ctx.made.append(("character language model (seqtool generate lm.pt)", path))
