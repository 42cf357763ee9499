"""`seqtool data list` and `seqtool data fetch`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from seqtool.cli import render
from seqtool.cli.options import Format, Quiet
from seqtool.cli.root import app
from seqtool.datasets import fetch, load_registry, locate
from seqtool.errors import UsageError

data_app = typer.Typer(
    help="List and fetch the registered datasets.\n\nExample: seqtool data fetch timemachine",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

Dir = Annotated[
    Path | None,
    typer.Option("--dir", help="Data folder (default: $SEQTOOL_DATA, else ~/.cache/seqtool)."),
]
Registry = Annotated[
    Path | None,
    typer.Option("--registry", help="Use this registry file instead of the bundled one."),
]


def user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seqtool"


def data_root(folder: Path | None = None) -> Path:
    """The data folder: --dir, else $SEQTOOL_DATA, else the user cache."""
    if folder is not None:
        return _folder(folder, "--dir")
    env = os.environ.get("SEQTOOL_DATA")
    return _folder(Path(env), "SEQTOOL_DATA") if env else user_cache()


def _folder(path: Path, what: str) -> Path:
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: {what} must name a folder, and this is a file")
    return path


def data_roots(folder: Path | None = None) -> list[Path]:
    """Where to look for datasets already on disk: the data folder, then the user cache."""
    roots = [data_root(folder)]
    if user_cache() not in roots:
        roots.append(user_cache())
    return roots


@data_app.command("list")
def data_list(
    dir: Dir = None,
    registry: Registry = None,
    fmt: Format = "auto",
    header: Annotated[
        bool, typer.Option("--header", help="Start TSV output with a header row.")
    ] = False,
) -> None:
    """List the registered datasets and whether each is already on disk.

    TSV and the table show `name, on disk (yes/no), download size, description`;
    JSON and JSONL carry typed values: `on_disk` true/false, `download_bytes`.

    Example: seqtool data list --format tsv --header
    """
    fmt = render.resolve_format(fmt)
    reg = load_registry(registry)
    entries = []
    for name, ds in sorted(reg.items()):
        size = sum(f.size or 0 for f in ds.files)
        present = locate(name, data_roots(dir), reg) is not None
        entries.append((name, present, size, ds.description))
    if fmt in ("json", "jsonl"):
        columns = ("name", "on_disk", "download_bytes", "description")
        render.emit_rows(columns, entries, fmt)
        return
    render.emit_rows(
        ("name", "on disk", "download", "description"),
        [(n, "yes" if on else "no", f"{size / 1e6:.1f} MB", d) for n, on, size, d in entries],
        fmt,
        title=f"datasets (data folder {data_root(dir)})",
        header=header,
    )


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset name (see `seqtool data list`).")],
    dir: Dir = None,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror", help="Base URL of a mirror holding the files under their registry paths."
        ),
    ] = None,
    registry: Registry = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds each file's whole download may take "
            "(default: 60 plus one per 20 kB of the file).",
            show_default=False,
        ),
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Download a dataset (or find it on disk), verify its sha1, unpack it; print its file paths.

    A $SEQTOOL_DATA folder is a mirror: it is read from, never written to; what is
    downloaded or unpacked goes to --dir, else to the user cache (~/.cache/seqtool).

    Example: seqtool data fetch fra-eng
    """
    render.set_quiet(quiet)
    if timeout is not None and not timeout > 0:  # NaN too
        raise UsageError(f"--timeout must be a positive number of seconds, not {timeout}")
    reg = load_registry(registry)
    # Files end up in --dir, else in the user cache; other data folders ($SEQTOOL_DATA,
    # a mirror) only serve as sources to copy or unpack from, before any download.
    roots = [data_root(dir)] if dir is not None else data_roots()
    target = roots[0] if dir is not None else user_cache()
    sources = [r for r in data_roots() if r != target]
    paths = locate(name, roots, reg)
    if paths is None:
        with render.Progress(f"fetching {name}", unit="bytes") as bar:

            def progress(path: str, done: int, total: int | None) -> None:
                bar.update(done=done, total=total, file=path)

            paths = fetch(
                name, target, reg, mirror=mirror, fallback=None,
                on_progress=progress, sources=sources, deadline=timeout,
            )  # fmt: skip
        render.info(f"{name}: ready ({len(paths)} file{'s' if len(paths) != 1 else ''})")
    else:
        render.info(f"{name}: already on disk, checksums verified")
    for p in paths:
        sys.stdout.write(f"{p}\n")
