"""`seqtool preprocess` and `seqtool vocab build|show|encode|decode`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import render
from seqtool.cli.options import (
    Encoding,
    Errors,
    Format,
    Inputs,
    Lower,
    Quiet,
    inputs_or_stdin,
    normalize_help,
    normalize_option,
)
from seqtool.cli.root import app
from seqtool.errors import InputError, UsageError
from seqtool.io import check_encoding, check_output_path, display_name, nonempty, read_lines
from seqtool.text.normalize import Normalizer
from seqtool.text.preprocess import SPLITS, preprocessor
from seqtool.text.vocab import Vocab, default_normalizer

vocab_app = typer.Typer(
    help="Build, inspect and apply vocabularies.\n\n"
    "Example: seqtool vocab build corpus.txt --tokenizer bpe --vocab-size 8000 -o v.json",
    no_args_is_help=True,
)
app.add_typer(vocab_app, name="vocab")


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")


@app.command()
def preprocess(
    files: Inputs = None,
    normalize: Annotated[
        str, typer.Option("--normalize", help=normalize_help("letters"), show_default=False)
    ] = "letters",
    lower: Lower = None,
    tokenizer: Annotated[
        str | None,
        typer.Option(
            "--tokenizer",
            "-t",
            help="none (default), char, word, or a vocabulary file (VOCAB.json) to split with.",
            show_default=False,
        ),
    ] = None,
    tokenize: Annotated[
        str | None, typer.Option("--tokenize", hidden=True)  # the old name, kept for scripts
    ] = None,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
) -> None:
    """Normalise (and optionally tokenise) text: one output line per input line.

    Example: seqtool preprocess --normalize d2l --tokenizer char timemachine.txt | head
    """
    check_encoding(encoding, errors)
    if tokenizer is not None and tokenize is not None and tokenizer != tokenize:
        raise UsageError("give --tokenizer once (--tokenize is its old name)")
    kind = tokenizer or tokenize or "none"
    split: str | Vocab = kind
    if kind not in SPLITS:
        if not Path(kind).exists() and not kind.endswith(".json"):
            raise UsageError(
                f"--tokenizer must be none, char, word or a vocabulary file, not {kind!r}"
            )
        split = Vocab.load(kind)
    clean = preprocessor(Normalizer.make(normalize, lower), split)
    paths = inputs_or_stdin(files)
    for line in nonempty(read_lines(paths, encoding, errors), paths):
        _write_line(clean(line))


@vocab_app.command("build")
def vocab_build(
    files: Inputs = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Vocabulary file to write (JSON).")
    ] = Path("vocab.json"),
    tokenizer: Annotated[
        str, typer.Option("--tokenizer", "-t", help="char, word, bpe or unigram.")
    ] = "word",
    normalize: Annotated[
        str | None, normalize_option("letters for char and word, none for bpe and unigram")
    ] = None,
    lower: Lower = None,
    min_freq: Annotated[
        int, typer.Option("--min-freq", help="Drop char/word tokens seen fewer times.")
    ] = 1,
    max_size: Annotated[
        int | None,
        typer.Option("--max-size", help="Keep at most this many tokens, specials included."),
    ] = None,
    vocab_size: Annotated[
        int,
        typer.Option(
            "--vocab-size", help="Target size of a bpe/unigram vocabulary, specials included."
        ),
    ] = 8000,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    quiet: Quiet = False,
) -> None:
    """Build a vocabulary from text and write it as one JSON file.

    Example: seqtool vocab build timemachine.txt --tokenizer char --normalize d2l -o v.json
    """
    render.set_quiet(quiet)
    check_encoding(encoding, errors)
    paths = inputs_or_stdin(files)
    check_output_path(output, paths)
    norm = Normalizer.make(normalize or default_normalizer(tokenizer), lower)
    vocab = Vocab.build(
        read_lines(paths, encoding, errors),
        kind=tokenizer,
        normalizer=norm,
        min_freq=min_freq,
        max_size=max_size,
        vocab_size=vocab_size,
        source=", ".join(display_name(p) for p in paths),
    )
    vocab.save(output)
    if vocab.sampled:
        used, seen = vocab.sampled
        render.info(
            f"  the {tokenizer} model was trained on a random sample of {used:,} of {seen:,} "
            "lines (bounded memory, as sentencepiece's input_sentence_size); counts are the sample's"
        )
    total = sum(vocab.counts)
    render.info(
        f"{output}: {len(vocab)} entries ({len(vocab) - 4} tokens + 4 specials), {tokenizer}, "
        f"normaliser {norm.name}{' lowercase' if norm.lower else ''}, {total} tokens counted"
    )


@vocab_app.command("show")
def vocab_show(
    vocab_file: Annotated[Path, typer.Argument(help="Vocabulary file.")],
    corpus: Annotated[
        list[str] | None,
        typer.Option("--corpus", help="Measure coverage of this corpus (repeatable)."),
    ] = None,
    top: Annotated[
        int, typer.Option("--top", help="How many of the most frequent tokens to list.")
    ] = 10,
    fmt: Format = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
) -> None:
    """Describe a vocabulary: size, settings, top tokens and, with --corpus, coverage.

    Example: seqtool vocab show v.json --corpus valid.txt
    """
    fmt = render.resolve_format(fmt)
    if top < 0:
        raise UsageError(f"--top must be 0 or more, not {top}")
    vocab = Vocab.load(vocab_file)
    summary: dict[str, object] = {
        "file": str(vocab_file),
        "kind": vocab.kind,
        "size": len(vocab),
        "normalizer": vocab.normalizer.name,
        "lowercase": vocab.normalizer.lower,
        "fingerprint": vocab.fingerprint,
        "tokens_counted": sum(vocab.counts),
    }
    if corpus:
        check_encoding(encoding, errors)
        names = ", ".join(display_name(c) for c in corpus)
        cov = vocab.coverage(read_lines(corpus, encoding, errors), names)
        summary.update(
            corpus_tokens=cov.tokens,
            coverage=round(cov.coverage, 6),
            oov_tokens=cov.oov_tokens,
            oov_types=cov.oov_types,
        )
    top_rows = vocab.most_frequent(top)
    if fmt in ("json", "jsonl"):
        summary["top"] = [{"id": i, "token": t, "count": c} for i, t, c in top_rows]
        render.emit_record(summary, fmt)
        return
    render.emit_record(summary, fmt, title="vocabulary")
    if top_rows:
        render.emit_rows(
            ("id", "token", "count"),
            [(i, t if fmt == "tsv" else repr(t), c) for i, t, c in top_rows],  # TSV escapes
            fmt,
            title="top tokens",
        )


@vocab_app.command("encode")
def vocab_encode(
    vocab_file: Annotated[Path, typer.Argument(help="Vocabulary file.")],
    files: Inputs = None,
    bos: Annotated[bool, typer.Option("--bos", help="Start each line with <bos> (id 2).")] = False,
    eos: Annotated[bool, typer.Option("--eos", help="End each line with <eos> (id 3).")] = False,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
) -> None:
    """Turn text into ids: one line of space-separated ids per input line.

    Example: seqtool vocab encode v.json corpus.txt > ids.txt
    """
    check_encoding(encoding, errors)
    vocab = Vocab.load(vocab_file)
    paths = inputs_or_stdin(files)
    for line in nonempty(read_lines(paths, encoding, errors), paths):
        _write_line(" ".join(map(str, vocab.encode(line, bos=bos, eos=eos))))


@vocab_app.command("decode")
def vocab_decode(
    vocab_file: Annotated[Path, typer.Argument(help="Vocabulary file.")],
    files: Inputs = None,
    keep_specials: Annotated[
        bool, typer.Option("--keep-specials", help="Keep <pad>, <bos> and <eos> in the text.")
    ] = False,
) -> None:
    """Turn lines of ids back into text (the inverse of `vocab encode`).

    Example: seqtool vocab encode v.json corpus.txt | seqtool vocab decode v.json
    """
    vocab = Vocab.load(vocab_file)
    paths = inputs_or_stdin(files)
    for n, line in enumerate(nonempty(read_lines(paths), paths), 1):
        try:
            ids = [int(x) for x in line.split()]
        except ValueError:
            raise InputError(
                f"{display_name(paths[0]) if len(paths) == 1 else 'input'}:{n}: expected integer ids, got {line[:40]!r}"
            ) from None
        try:
            _write_line(vocab.decode(ids, keep_specials=keep_specials))
        except InputError as e:
            raise InputError(f"line {n}: {e.message}") from None
