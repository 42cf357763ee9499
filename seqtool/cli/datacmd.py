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
        return folder
    env = os.environ.get("SEQTOOL_DATA")
    return Path(env) if env else user_cache()


def data_roots(folder: Path | None = None) -> list[Path]:
    """Where to look for datasets already on disk: the data folder, then the user cache."""
    roots = [data_root(folder)]
    if user_cache() not in roots:
        roots.append(user_cache())
    return roots


@data_app.command("list")
def data_list(dir: Dir = None, registry: Registry = None, fmt: Format = "auto") -> None:
    """List the registered datasets and whether each is already on disk.

    Example: seqtool data list
    """
    fmt = render.resolve_format(fmt)
    reg = load_registry(registry)
    rows = []
    for name, ds in sorted(reg.items()):
        size = sum(f.size or 0 for f in ds.files)
        present = locate(name, data_roots(dir), reg) is not None
        rows.append((name, "yes" if present else "no", f"{size / 1e6:.1f} MB", ds.description))
    render.emit_rows(
        ("name", "on disk", "download", "description"),
        rows,
        fmt,
        title=f"datasets (data folder {data_root(dir)})",
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
    quiet: Quiet = False,
) -> None:
    """Download a dataset (or find it on disk), verify its sha1, unpack it; print its file paths.

    Example: seqtool data fetch fra-eng
    """
    render.set_quiet(quiet)
    reg = load_registry(registry)
    # With --dir the files must end up there: other data folders only serve as
    # local sources to copy from, before any download.
    roots = [dir] if dir is not None else data_roots()
    sources = [r for r in data_roots() if r not in roots]
    paths = locate(name, roots, reg)
    if paths is None:
        with render.Progress(f"fetching {name}", unit="bytes") as bar:

            def progress(path: str, done: int, total: int | None) -> None:
                bar.update(done=done, total=total, file=path)

            paths = fetch(
                name, roots[0], reg, mirror=mirror, fallback=user_cache(),
                on_progress=progress, sources=sources,
            )  # fmt: skip
        render.info(f"{name}: ready ({len(paths)} file{'s' if len(paths) != 1 else ''})")
    else:
        render.info(f"{name}: already on disk, checksums verified")
    for p in paths:
        sys.stdout.write(f"{p}\n")
