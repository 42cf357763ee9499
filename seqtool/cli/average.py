"""`seqtool average A.pt B.pt ... -o AVG.pt`: checkpoint averaging (the flags).

The work is :func:`seqtool.train.average.average_checkpoints`; the library is
imported when the command runs, so that ``seqtool --help`` does not import torch.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import render
from seqtool.cli.options import Quiet
from seqtool.cli.root import app
from seqtool.errors import UsageError
from seqtool.io import check_output_path
from seqtool.train.options import compact


@app.command()
def average(
    checkpoints: Annotated[
        list[Path],
        typer.Argument(help="Two or more checkpoints of the same model (e.g. mt.pt mt.last.pt)."),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The averaged checkpoint to write.")
    ],
    quiet: Quiet = False,
) -> None:
    """Average checkpoints: one model whose weights are the element-wise mean of theirs.

    The checkpoints must be of the same model (kind, configuration, vocabulary,
    labels), and are best taken from one run (its best and last checkpoints, or
    those of a run resumed further): independent runs learn unrelated weights,
    whose mean is no model.  Checkpoints of different models are refused.  Floating-point weights are averaged in
    float64, other buffers come from the last checkpoint, as do the remaining
    settings; the result is not resumable (no optimizer state) and works with the
    commands that read its kind (translate, generate, classify predict, ...).

    Example: seqtool average de-en.pt de-en.last.pt -o de-en.avg.pt
    """
    from seqtool.train.average import average_checkpoints

    render.set_quiet(quiet)
    if len(checkpoints) < 2:
        raise UsageError(f"give at least two checkpoints to average, not {len(checkpoints)}")
    check_output_path(output, checkpoints)
    summary = average_checkpoints(checkpoints, output, meta={"argv": ["seqtool", *sys.argv[1:]]})
    kept = f"; from the last: {', '.join(summary.kept)}" if summary.kept else ""
    render.info(
        f"averaged {summary.checkpoints} {summary.kind} checkpoints "
        f"({render.count(summary.tensors, 'tensor')}, {compact(summary.values)} values{kept}) "
        f"into {output}"
    )
