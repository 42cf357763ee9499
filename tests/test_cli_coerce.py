"""The cheap flag converter (seqtool.cli.coerce) gives every value exactly what
typer's own conversion gives, or the same error."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
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


@pytest.mark.skipif(
    importlib.util.find_spec("typer._adapters") is None, reason="this typer has no pydantic step"
)
def test_a_command_runs_without_importing_pydantic(tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    text = tmp_path / "t.txt"
    text.write_text("the cat sat\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from seqtool.cli import main\n"
        f"sys.argv = ['seqtool', 'vocab', 'build', {str(text)!r}, '-o', {str(out)!r}, '-q']\n"
        "code = main()\n"
        "assert 'pydantic' not in sys.modules, 'pydantic was imported'\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert out.exists()
