"""The cheap flag converter (seqtool.cli.coerce) gives every value exactly what
typer's own conversion gives, or the same error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.main import get_command

from seqtool.cli import coerce


def run(args: list[str], cheap: bool) -> tuple[str, Any]:
    app = typer.Typer()
    seen: dict[str, Any] = {}

    @app.command()
    def cmd(
        files: Annotated[list[str] | None, typer.Argument()] = None,
        n: int = 0,
        x: float = 0.5,
        s: str = "",
        p: Path | None = None,
        name: Annotated[list[str] | None, typer.Option("--name")] = None,
        flag: bool = False,
        low: Annotated[int, typer.Option(min=1)] = 1,
    ) -> None:
        seen.update(files=files, n=n, x=x, s=s, p=p, name=name, flag=flag, low=low)

    command = get_command(app)
    if cheap:
        coerce.install(command)
    try:
        command.main(args, standalone_mode=False)
    except Exception as e:  # the message typer would print
        return "error", (type(e).__name__, getattr(e, "format_message", e.__str__)())
    return "ok", {
        k: repr(v) if isinstance(v, float) and math.isnan(v) else v for k, v in seen.items()
    }


CASES = [
    [],
    ["a.tsv", "b.tsv"],
    ["--n", "12"], ["--n", "-3"], ["--n", "+7"], ["--n", "007"], ["--n", " 4"], ["--n", "4.0"],
    ["--n", "1_000"], ["--n", "x"], ["--n", ""], ["--n", "٣"],
    ["--x", "1e-3"], ["--x", ".5"], ["--x", "5."], ["--x", "-2"], ["--x", "inf"], ["--x", "nan"],
    ["--x", "abc"], ["--x", "1,5"], ["--x", "1e"],
    ["--s", "héllo"], ["--s", ""], ["--s", "--"],
    ["--p", "some/where.pt"], ["--p", "."], ["--p", ""], ["--p", "-"],
    ["--name", "a", "--name", "b"], ["--flag"], ["--low", "0"], ["--low", "3"],
]  # fmt: skip


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) or "defaults" for c in CASES])
def test_cheap_conversion_is_typers(args: list[str]) -> None:
    assert run(args, cheap=True) == run(args, cheap=False)
