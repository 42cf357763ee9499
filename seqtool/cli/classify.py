"""`seqtool classify train|predict|eval`: text classification, the flags.

``train`` maps its flags to :class:`seqtool.tasks.classify.ClassifyConfig` and the
shared :class:`~seqtool.train.runner.TrainOptions`; ``predict`` and ``eval`` make
one call on a loaded :class:`seqtool.tasks.classify.Classifier` and render the
result.  The library is imported when a command runs (``--help`` stays cheap).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import (
    Device,
    Encoding,
    Errors,
    Format,
    Inputs,
    Lower,
    Quiet,
    quick_numpy,
)
from seqtool.cli.root import app
from seqtool.cli.train_options import (
    TrainFlags,
    TrainProgress,
    defaults_epilog,
    train_options,
    valid_fields,
)
from seqtool.errors import UsageError
from seqtool.io import STDIN, check_output_path, display_name, read_line_batches
from seqtool.train.defaults import CLASSIFY_MODEL, CLASSIFY_TRAIN

if TYPE_CHECKING:
    from seqtool.tasks.classify import Classifier

classify_app = typer.Typer(
    help="Text classification (sentiment, topics, any labels): train a classifier, "
    "label new lines, evaluate.\n\n"
    "Example: seqtool classify train train.tsv --valid dev.tsv -o clf.pt && "
    "echo 'a gripping film' | seqtool classify predict clf.pt",
    no_args_is_help=True,
)
app.add_typer(classify_app, name="classify")

Model = Annotated[Path, typer.Argument(help="A trained classifier (CLF.pt).")]
InputFormat = Annotated[
    str,
    typer.Option(
        "--input-format",
        help="auto (default: __label__ lines are fastText, .csv or --text-col/--label-col "
        "a table with a header, else text<TAB>label), tsv, csv or fasttext.",
    ),
]
TextCol = Annotated[
    str | None, typer.Option("--text-col", help="Table column of the text (name or number).")
]
LabelCol = Annotated[
    str | None, typer.Option("--label-col", help="Table column of the label (name or number).")
]


def _opt(*decls: str, help: str, panel: str = "Model") -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=panel, show_default=False)


@classify_app.command("train", epilog=defaults_epilog(CLASSIFY_MODEL, CLASSIFY_TRAIN))
@train_options
def train_cmd(
    files: Annotated[list[str], typer.Argument(help="Labelled training files ('-' for stdin).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Checkpoint to write [default: classifier.pt; with --resume X.last.pt: X.pt].",
            show_default=False,
        ),
    ] = None,
    valid: Annotated[
        list[str] | None, typer.Option("--valid", help="Labelled validation file (repeatable).")
    ] = None,
    valid_fraction: Annotated[
        float | None,
        typer.Option(
            "--valid-fraction",
            help="Without --valid: hold out this random share of the lines [default: 0.1].",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str,
        _opt(
            "--model",
            "-m",
            help="ensemble (default: the mean of its --members), bow, cnn, birnn, "
            "transformer or nb (naive-Bayes-weighted word n-grams).",
        ),
    ] = "ensemble",
    dim: Annotated[
        int | None,
        _opt(
            "--dim",
            help="Embedding (and model) width (default: bow 100, or 16 on its numpy engine; "
            "else 128).",
        ),
    ] = None,
    word_ngrams: Annotated[
        int | None, _opt("--word-ngrams", help="bow: word n-grams up to this length.")
    ] = None,
    buckets: Annotated[int | None, _opt("--buckets", help="bow: hashed n-gram rows.")] = None,
    widths: Annotated[
        str | None, _opt("--widths", help="cnn: filter widths (default 3,4,5).")
    ] = None,
    maps: Annotated[int | None, _opt("--maps", help="cnn: feature maps per width.")] = None,
    hidden: Annotated[
        int | None, _opt("--hidden", help="birnn: hidden size per direction.")
    ] = None,
    layers: Annotated[int | None, _opt("--layers", help="birnn/transformer: layers.")] = None,
    cell: Annotated[str | None, _opt("--cell", help="birnn: lstm or gru.")] = None,
    pool: Annotated[str | None, _opt("--pool", help="birnn: max, mean or last.")] = None,
    heads: Annotated[int | None, _opt("--heads", help="transformer: attention heads.")] = None,
    ff_dim: Annotated[int | None, _opt("--ff-dim", help="transformer: feed-forward size.")] = None,
    dropout: Annotated[float | None, _opt("--dropout", help="Dropout rate.")] = None,
    members: Annotated[
        str | None,
        _opt("--members", help="ensemble: its models, e.g. nb,birnn,birnn,cnn."),
    ] = None,
    batch_size: Annotated[int | None, _opt("--batch-size", help="Lines per batch.")] = None,
    vectors: Annotated[
        Path | None,
        _opt(
            "--vectors",
            help="Start the embedding from word2vec vectors (text or binary; --dim defaults "
            "to theirs).",
        ),
    ] = None,
    freeze_vectors: Annotated[
        bool, _opt("--freeze-vectors", help="Keep the --vectors fixed during training.")
    ] = False,
    input_format: InputFormat = "auto",
    text_col: TextCol = None,
    label_col: LabelCol = None,
    normalize: Annotated[
        str, _opt("--normalize", help="letters (default), d2l, nfkc or none.", panel="Text")
    ] = "letters",
    lower: Lower = None,
    min_freq: Annotated[
        int, _opt("--min-freq", help="Drop rarer words from the vocabulary.", panel="Text")
    ] = 1,
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
    engine: Annotated[
        str,
        _opt(
            "--engine",
            help="bow: auto (default: numpy, no torch import, unless a flag needs torch), "
            "numpy or torch.",
            panel="Training",
        ),
    ] = "auto",
    train: TrainFlags = TrainFlags(),
) -> None:
    """Train a text classifier on labelled lines (text<TAB>label, CSV, __label__X text).

    Example: seqtool classify train sst2/train.tsv --valid sst2/dev.tsv -m cnn -o clf.pt
    """
    if model == "bow":
        quick_numpy(train.settings.threads or 1)
    from seqtool.tasks.classify_bow import train_bow_numpy, use_numpy
    from seqtool.tasks.classify_config import ClassifyConfig

    config = ClassifyConfig(
        files=files, valid=valid, valid_fraction=valid_fraction, model=model, dim=dim,
        word_ngrams=word_ngrams, buckets=buckets, widths=_widths(widths), maps=maps,
        hidden=hidden, layers=layers, cell=cell, pool=pool, heads=heads, ff_dim=ff_dim,
        dropout=dropout, members=members, batch_size=batch_size, vectors=vectors,
        freeze_vectors=freeze_vectors,
        input_format=input_format, text_col=text_col, label_col=label_col, normalize=normalize,
        lower=lower, min_freq=min_freq, encoding=encoding, errors=errors, engine=engine,
    )  # fmt: skip
    render.set_quiet(train.quiet)
    meta = {"argv": ["seqtool", *sys.argv[1:]]}
    with TrainProgress("train", valid=_valid_part, show_ppl=False) as progress:
        if use_numpy(config, train.options()):  # bow without torch's import
            train_bow_numpy(config, train.options(), output, progress, meta=meta)
        else:
            from seqtool.tasks.classify import train_classify

            train_classify(config, train.options(), output, progress, meta=meta)


def _widths(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(w) for w in text.replace(" ", "").split(",") if w]
    except ValueError:
        raise UsageError(
            f"--widths takes whole numbers separated by commas, not {text!r}"
        ) from None


_valid_part = valid_fields(
    ("valid_acc", "acc", ".4f"), ("valid_f1", "macro-F1", ".4f"), ("valid_loss", "loss", ".4f")
)


def _load(path: Path, device: str) -> Classifier:
    from seqtool.tasks.classify import Classifier

    return Classifier.load(path, device)


def _chunks(files: list[str], encoding: str, errors: str) -> Iterator[list[str]]:
    """Lines in batches of 512; from a pipe or terminal, the lines that have arrived,
    so that a co-process gets each answer as soon as it has written its line."""
    for path in files:
        yield from read_line_batches(path, 512, encoding, errors)


@classify_app.command("predict")
def predict_cmd(
    checkpoint: Model,
    files: Inputs = None,
    probs: Annotated[
        bool, typer.Option("--probs", help="Add the probability of the label (TSV: a column).")
    ] = False,
    top: Annotated[
        int, typer.Option("--top", "-k", help="The K most likely labels per line, best first.")
    ] = 1,
    fmt: Annotated[str, typer.Option("--format", "-f", help="tsv (default) or jsonl.")] = "tsv",
    device: Device = "auto",
    encoding: Encoding = "utf-8",
    errors: Errors = "strict",
) -> None:
    """Label each input line: one output line per input line, in order (a filter).

    Output: the label; with --probs `label<TAB>prob`; with --top K the K best as
    `label<TAB>prob` pairs on the line; --format jsonl gives {"label", "prob", "top"}.

    Example: echo 'a gripping , funny film' | seqtool classify predict clf.pt --probs
    """
    if fmt not in ("tsv", "jsonl"):
        raise UsageError(f"--format must be tsv or jsonl, not {fmt!r}")
    if top < 1:
        raise UsageError(f"--top must be at least 1, not {top}")
    clf = _load(checkpoint, device)
    out = sys.stdout
    for chunk in _chunks(files or [STDIN], encoding, errors):
        for p in clf.predict_top(chunk, top):
            if fmt == "jsonl":
                record = {"label": p.label, "prob": round(p.prob, 6)}
                if top > 1:
                    record["top"] = [[label, round(q, 6)] for label, q in p.top]
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            elif top > 1:
                out.write("\t".join(f"{label}\t{q:.6g}" for label, q in p.top) + "\n")
            elif probs:
                out.write(f"{p.label}\t{p.prob:.6g}\n")
            else:
                out.write(p.label + "\n")
        out.flush()


@classify_app.command("eval")
def eval_cmd(
    checkpoint: Model,
    files: Annotated[list[str], typer.Argument(help="Labelled files ('-' for stdin).")],
    show_errors: Annotated[
        int, typer.Option("--errors", help="List the N most confident mistakes.")
    ] = 0,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw the confusion matrix into this PNG.")
    ] = None,
    fmt: Format = "auto",
    input_format: InputFormat = "auto",
    text_col: TextCol = None,
    label_col: LabelCol = None,
    device: Device = "auto",
    encoding: Encoding = "utf-8",
    text_errors: Annotated[
        str,
        typer.Option(
            "--encoding-errors",
            help="Undecodable bytes: strict (stop with an error), replace or ignore.",
        ),
    ] = "strict",
    quiet: Quiet = False,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    Example: seqtool classify eval clf.pt sst2/dev.tsv --errors 5 --plot cm.png
    """
    from seqtool.text.labels import read_labelled

    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    if show_errors < 0:
        raise UsageError(f"--errors must be 0 or more, not {show_errors}")
    if plot is not None:
        check_output_path(plot)
    clf = _load(checkpoint, device)
    data = read_labelled(files, input_format, text_col, label_col, encoding, text_errors)
    result = clf.evaluate(data, show_errors)
    s = result.scores
    names = ", ".join(display_name(f) for f in files)
    if fmt in ("json", "jsonl"):
        record = {"file": names, "model": str(checkpoint), **s.to_dict(), "errors": result.errors}
        sys.stdout.write(
            json.dumps(record, ensure_ascii=False, indent=2 if fmt == "json" else None)
        )
        sys.stdout.write("\n")
    else:
        render.emit_rows(
            ("metric", "value"),
            [
                ("examples", s.n),
                ("accuracy", round(s.accuracy, 4)),
                ("macro_f1", round(s.macro_f1, 4)),
            ],
            fmt,
            title=f"{names} | {checkpoint}",
        )
        render.emit_rows(
            ("label", "precision", "recall", "f1", "support"),
            [
                (c.label, round(c.precision, 4), round(c.recall, 4), round(c.f1, 4), c.support)
                for c in s.per_class
            ],
            fmt,
            title="per class",
        )
        render.emit_rows(
            ("true \\ predicted", *s.labels),
            [(label, *row) for label, row in zip(s.labels, s.confusion)],
            fmt,
            title="confusion matrix (rows: true label)",
        )
        if result.errors:
            render.emit_rows(
                ("where", "gold", "predicted", "prob", "text"),
                [
                    (e["where"], e["gold"], e["predicted"], round(e["prob"], 4), e["text"])
                    for e in result.errors
                ],
                fmt,
                title=f"the {len(result.errors)} most confident mistakes",
            )
    if plot is not None:
        _plot_confusion(s.labels, s.confusion, plot, f"{names}: accuracy {s.accuracy:.4f}")
        render.info(f"confusion matrix drawn in {plot}")


def _plot_confusion(labels: list[str], cm: list[list[int]], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib", hint="pip install 'seqtool[plot]'") from None
    from seqtool.io import atomic_write

    k = len(labels)
    fig, ax = plt.subplots(figsize=(2 + 0.6 * k, 1.6 + 0.6 * k))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    top = max((max(r) for r in cm), default=0)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, str(cm[i][j]), ha="center", va="center",
                    color="white" if cm[i][j] > top / 2 else "black")  # fmt: skip
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)


def demo_step(ctx: Any, epochs: int = 60) -> None:
    """`seqtool demo`: a bag-of-words sentiment classifier trained on the bundled
    labelled sample (200 sentences, pos/neg, all of them: it is too small to hold
    some out), then three sentences it has not seen labelled."""
    from seqtool.datasets import sample_path
    from seqtool.tasks.classify import ClassifyConfig, train_classify
    from seqtool.train.runner import TrainOptions

    path = ctx.out / "sentiment.pt"
    config = ClassifyConfig(
        files=[str(sample_path("sentiment.tsv"))], model="bow", valid_fraction=0.0
    )
    options = TrainOptions(epochs=ctx.steps(epochs), seed=ctx.seed, device="cpu")
    with TrainProgress("  sentiment", show_ppl=False, messages=False) as progress:
        clf = train_classify(config, options, path, progress, keep_last=False)
    result = clf.run.result
    render.info(
        f"  bag of words + bigrams on {sample_path('sentiment.tsv').name} (200 sentences), "
        f"{result.elapsed:.1f} s; new sentences:"
    )
    for sentence in DEMO_SENTENCES:
        p = clf.predict_top([sentence])[0]
        render.info(f"  {p.label} {p.prob:.2f}  {sentence}")
    ctx.made.append(("sentiment classifier (seqtool classify predict sentiment.pt)", path))


DEMO_SENTENCES = (
    "The staff were friendly and the food was wonderful.",
    "The food was cold and the staff were rude.",
    "The room was dirty and the service was slow.",
)
