"""`seqtool train-lm`, `seqtool generate` and `seqtool eval-lm`: the flags.

The work is in :mod:`seqtool.cli.lm_run`, imported when a command runs, so that
``seqtool --help`` does not pay for importing torch.  Each command hands its
parsed arguments over as one dict (``locals()``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import Device, Encoding, Errors, Format, Lower, Quiet, Seed
from seqtool.cli.root import app
from seqtool.cli.train_options import (
    TrainOptions,
    defaults_epilog,
    quiet_cpu_threads,
    train_options,
)
from seqtool.errors import UsageError
from seqtool.io import check_encoding, read_lines
from seqtool.train.defaults import LM_DATA, LM_MODEL, LM_TRAIN


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
        float,
        typer.Option("--valid-fraction", help="Without --valid: hold out this tail of the text."),
    ] = 0.1,
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
        str, _opt("--normalize", help="d2l, letters, nfkc or none (default).", panel="Text")
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
    train: TrainOptions = TrainOptions(),
) -> None:
    """Train a language model (RNN, GRU, LSTM or Transformer) on text.

    Example: seqtool train-lm timemachine.txt --model lstm --time-budget 5m -o lm.pt
    """
    from seqtool.cli import lm_run

    lm_run.train(locals())


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
    num: Annotated[int, typer.Option("--num", "-n", help="Samples per prefix.")] = 1,
    one_line: Annotated[
        bool,
        typer.Option("--one-line", help="Stop each sample at its first line end (one line out)."),
    ] = False,
    seed: Seed = 0,
    device: Device = "auto",
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or jsonl.")] = "text",
) -> None:
    """Generate text from a language model; prefixes on stdin give one sample each.

    Example: seqtool generate lm.pt --prefix "the time traveller" --max-tokens 100
    """
    quiet_cpu_threads()
    from seqtool.cli import lm_run

    if fmt not in ("text", "jsonl"):
        raise UsageError(f"--format must be text or jsonl, not {fmt!r}")
    if num < 1:
        raise UsageError(f"--num must be at least 1, not {num}")
    if prefix is not None:
        prompts = [prefix]
    elif not sys.stdin.isatty():
        prompts = list(read_lines("-"))
    else:
        prompts = [""]
    lm_run.generate(locals(), prompts)


@app.command("eval-lm")
def eval_lm(
    checkpoint: Annotated[Path, typer.Argument(help="A language model (LM.pt).")],
    files: Annotated[list[str] | None, typer.Argument(help="Text to score ('-': stdin).")] = None,
    per_line: Annotated[
        bool,
        typer.Option("--per-line", help="Score each line: log-probability, tokens, perplexity."),
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
    quiet_cpu_threads()
    from seqtool.cli import lm_run

    render.set_quiet(quiet)
    check_encoding(encoding, errors)
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    lm_run.evaluate(locals(), files or ["-"], render.resolve_format(fmt))


def demo_step(ctx: Any) -> None:
    """`seqtool demo`: a small character language model trained for ~20 s, then a sample."""
    quiet_cpu_threads()
    from seqtool.cli import lm_run

    lm_run.demo(ctx)
