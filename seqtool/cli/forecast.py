"""`seqtool forecast train|predict|eval`: flags to :mod:`seqtool.tasks.forecast` calls.

The library is imported inside each command, so ``seqtool --help`` does not pay
for torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import render
from seqtool.cli.options import Format, Quiet
from seqtool.cli.root import app
from seqtool.cli.train_options import TrainFlags, TrainProgress, train_options, valid_fields
from seqtool.errors import UsageError
from seqtool.io import atomic_write, check_output_path

forecast_app = typer.Typer(
    help="Forecast time series: one global model over many series (M4 metrics).\n\n"
    "Example: seqtool forecast train Hourly-train.csv.gz -H 48 --season 24 -o fc.pt",
    no_args_is_help=True,
)
app.add_typer(forecast_app, name="forecast")

PREDICT_FORMATS = ("csv", "tsv", "json", "jsonl")


def _opt(*decls: str, help: str, panel: str = "Model", **kw: Any) -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=panel, show_default=False, **kw)


DataArg = Annotated[
    str,
    typer.Argument(
        help="Series: M4-style wide CSV (id, then values), long CSV (id,time,value) or "
        "one number per line ('-' for stdin; .gz read as is)."
    ),
]
Layout = Annotated[
    str, _opt("--layout", help="auto (default), wide, long or values.", panel="Data")
]
IdCol = Annotated[str, _opt("--id-col", help="Long CSV: the series id column [id].", panel="Data")]
TimeCol = Annotated[
    str, _opt("--time-col", help="Long CSV: the time column to sort by [time].", panel="Data")
]
ValueCol = Annotated[
    str, _opt("--value-col", help="Long CSV: the value column [value].", panel="Data")
]
Fill = Annotated[
    str,
    _opt(
        "--fill",
        help="Missing values: error (default), drop, previous, linear or zero.",
        panel="Data",
    ),
]


def _read(path: str, layout: str, id_col: str, time_col: str, value_col: str, fill: str) -> Any:
    from seqtool.forecast.data import read_series

    return read_series(
        path, layout, id_col=id_col, time_col=time_col, value_col=value_col, fill=fill
    )


@forecast_app.command("train")
@train_options
def train(
    data: DataArg,
    horizon: Annotated[int, _opt("--horizon", "-H", help="Values to forecast (required).")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Model file to write [default: fc.pt].", show_default=False
        ),
    ] = None,
    season: Annotated[
        int,
        _opt(
            "--season",
            help="Seasonal period: MASE's lag and Naive2's (M4: Hourly 24, Weekly 1) [1].",
        ),
    ] = 1,
    model: Annotated[
        str,
        _opt(
            "--model",
            "-m",
            help="mlp (default, N-BEATS-like), rnn, gru, lstm, transformer; or a baseline: "
            "naive, snaive, naive2, drift.",
        ),
    ] = "mlp",
    strategy: Annotated[
        str,
        _opt(
            "--strategy",
            help="direct (default: all horizon values at once) or recursive (one value, fed back).",
        ),
    ] = "direct",
    context: Annotated[
        int | None,
        _opt("--context", help="Values the model sees [max(4 horizon, 2 season)]."),
    ] = None,
    hidden: Annotated[int | None, _opt("--hidden", help="Layer width.")] = None,
    layers: Annotated[
        int | None, _opt("--layers", help="Layers (mlp: per block; rnn: stacked; transformer).")
    ] = None,
    blocks: Annotated[int | None, _opt("--blocks", help="mlp: residual blocks.")] = None,
    heads: Annotated[int | None, _opt("--heads", help="transformer: attention heads.")] = None,
    patch: Annotated[
        int | None, _opt("--patch", help="transformer: values per token [season if it fits].")
    ] = None,
    dropout: Annotated[float | None, _opt("--dropout", help="Dropout rate.")] = None,
    scale: Annotated[
        str,
        _opt("--scale", help="Divide each window by its mean (default) or last value, or none."),
    ] = "mean",
    loss: Annotated[
        str, _opt("--loss", help="mae (default) or mse on scaled values, or smape.")
    ] = "mae",
    history: Annotated[
        int | None,
        _opt("--history", help="Cut windows from only the last N values of each series."),
    ] = None,
    batch_size: Annotated[int, _opt("--batch-size", help="Windows per batch [256].")] = 256,
    batches_per_epoch: Annotated[
        int, _opt("--batches-per-epoch", help="Batches per epoch [100].")
    ] = 100,
    valid: Annotated[
        bool,
        _opt(
            "--valid/--no-valid",
            help="Hold out the last horizon values of every series for validation (default).",
        ),
    ] = True,
    layout: Layout = "auto",
    id_col: IdCol = "id",
    time_col: TimeCol = "time",
    value_col: ValueCol = "value",
    fill: Fill = "error",
    train: TrainFlags = TrainFlags(),
) -> None:
    """Train a forecaster (or write a baseline's model file) on a set of series.

    Example: seqtool forecast train Hourly-train.csv.gz -H 48 --season 24 --context 168
    --time-budget 10m -o hourly.pt
    """
    from seqtool.tasks.forecast import BASELINES, ForecastConfig, save_baseline, train_forecaster

    config = ForecastConfig(
        data=data, horizon=horizon, season=season, model=model, strategy=strategy,
        context=context, layout=layout, id_col=id_col, time_col=time_col, value_col=value_col,
        fill=fill, hidden=hidden, layers=layers, blocks=blocks, heads=heads, patch=patch,
        dropout=dropout, scale=scale, loss=loss, history=history, batch_size=batch_size,
        batches_per_epoch=batches_per_epoch, valid=valid,
    )  # fmt: skip
    render.set_quiet(train.quiet)
    if model in BASELINES:
        out = output or Path("fc.pt")
        check_output_path(out)
        scores = save_baseline(config, out)
        if scores is not None:
            render.info(
                f"{model}: valid sMAPE {scores.smape:.3f} MASE {scores.mase:.3f} "
                f"OWA {scores.owa:.3f} on {scores.series} series"
            )
        render.info(f"saved {out}")
        return
    with TrainProgress("train", valid=_valid_part, show_ppl=False) as progress:
        train_forecaster(config, train.options(), output, progress, meta={"argv": _argv()})


def _argv() -> list[str]:
    return ["seqtool", *sys.argv[1:]]


_valid_part = valid_fields(
    ("valid_smape", "sMAPE", ".3f"), ("valid_mase", "MASE", ".3f"), ("valid_owa", "OWA", ".4f")
)


@forecast_app.command("predict")
def predict(
    model_file: Annotated[Path, typer.Argument(help="Model file (forecast train -o).")],
    data: DataArg = "-",
    horizon: Annotated[
        int | None,
        typer.Option("--horizon", "-H", help="Values to forecast [the model's horizon]."),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv (default: id,step,forecast with a header), tsv, json or jsonl "
            "(one object per series).",
        ),
    ] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "cpu",
    layout: Layout = "auto",
    id_col: IdCol = "id",
    time_col: TimeCol = "time",
    value_col: ValueCol = "value",
    fill: Fill = "error",
) -> None:
    """Forecast the next values of every series: one row per series and step.

    Example: seqtool forecast predict hourly.pt Hourly-train.csv.gz > forecasts.csv
    """
    if fmt not in PREDICT_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(PREDICT_FORMATS)}, not {fmt!r}")
    if output is not None:
        check_output_path(output)
    from seqtool.tasks.forecast import ForecastModel
    from seqtool.train.device import resolve_device

    fm = ForecastModel.load(model_file, resolve_device(device))
    series = _read(data, layout, id_col, time_col, value_col, fill)
    fc = fm.predict(series, horizon)
    text = _forecast_text(series.ids, fc, fmt)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        with atomic_write(output) as f:
            f.write(text)


def _forecast_text(ids: list[str], fc: Any, fmt: str) -> str:
    if fmt in ("json", "jsonl"):
        objs = [{"id": k, "forecast": [float(v) for v in row]} for k, row in zip(ids, fc)]
        if fmt == "json":
            return json.dumps(objs, indent=2) + "\n"
        return "".join(json.dumps(o) + "\n" for o in objs)
    sep = "," if fmt == "csv" else "\t"
    lines = [sep.join(("id", "step", "forecast"))] if fmt == "csv" else []
    for k, row in zip(ids, fc):
        key = _csv_id(k) if fmt == "csv" else k
        lines.extend(f"{key}{sep}{h + 1}{sep}{float(v)!r}" for h, v in enumerate(row))
    return "\n".join(lines) + "\n"


def _csv_id(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


@forecast_app.command("eval")
def eval_cmd(
    model_file: Annotated[Path, typer.Argument(help="Model file (forecast train -o).")],
    data: DataArg,
    actuals: Annotated[
        str,
        typer.Option(
            "--actuals",
            help="The values that followed each series (same ids and layout, at least "
            "horizon values each; M4's test file).",
        ),
    ],
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Draw a few series with history, forecast and actuals (PNG)."),
    ] = None,
    show: Annotated[int, typer.Option("--show", help="Series in the plot.")] = 4,
    fmt: Format = "auto",
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or mps.")] = "cpu",
    layout: Layout = "auto",
    id_col: IdCol = "id",
    time_col: TimeCol = "time",
    value_col: ValueCol = "value",
    fill: Fill = "error",
    quiet: Quiet = False,
) -> None:
    """Score forecasts with M4's sMAPE, MASE and OWA (vs Naive2), per step and overall.

    Example: seqtool forecast eval hourly.pt Hourly-train.csv.gz --actuals Hourly-test.csv.gz
    """
    render.set_quiet(quiet)
    fmt = render.resolve_format(fmt)
    if plot is not None:
        from seqtool.stats.plot import require_matplotlib

        check_output_path(plot)
        require_matplotlib()
    from seqtool import __version__
    from seqtool.tasks.forecast import ForecastModel
    from seqtool.train.device import resolve_device

    fm = ForecastModel.load(model_file, resolve_device(device))
    series = _read(data, layout, id_col, time_col, value_col, fill)
    truth = _read(actuals, layout, id_col, time_col, value_col, fill)
    fc, actual, scores = fm.evaluate(series, truth)
    signature = (
        f"model:{fm.name}|strategy:{fm.strategy}|horizon:{fm.horizon}|season:{fm.season}"
        f"|series:{scores.series}|version:{__version__}"
    )
    rows = [(r["step"], r["smape"], r["mase"], r["owa"]) for r in scores.rows()]
    if fmt == "json":
        record = {
            "smape": scores.smape, "mase": scores.mase, "owa": scores.owa,
            "naive2_smape": scores.naive2_smape, "naive2_mase": scores.naive2_mase,
            "steps": [dict(zip(("step", "smape", "mase", "owa"), r)) for r in rows[:-1]],
            "signature": signature,
        }  # fmt: skip
        sys.stdout.write(json.dumps(record, indent=2) + "\n")
    else:
        render.emit_rows(("step", "smape", "mase", "owa"), rows, fmt, title=signature)
    render.info(
        f"sMAPE {scores.smape:.3f} MASE {scores.mase:.3f} OWA {scores.owa:.3f} "
        f"(Naive2: sMAPE {scores.naive2_smape:.3f} MASE {scores.naive2_mase:.3f}) | {signature}"
    )
    if scores.mase_undefined:
        render.warn(
            f"{scores.mase_undefined} series have no MASE scale (constant in-sample seasonal "
            "differences) and are left out of MASE"
        )
    if plot is not None:
        from seqtool.forecast.plot import forecasts_png
        from seqtool.io import write_bytes

        png = forecasts_png(
            series.ids, series.values, fc, actual, show=show, title=f"{fm.name}: {signature}"
        )
        write_bytes(plot, png)
        render.info(f"plot written to {plot}")
