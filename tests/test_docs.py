"""Every command is documented: it has --help with an example and a README section."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from seqtool.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def command_paths() -> list[str]:
    paths: list[str] = []

    def walk(cmd, prefix: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            if prefix:  # a group (`seqtool vocab`) is documented like a command
                paths.append(" ".join(prefix))
            for name, sub in subs.items():
                if not getattr(sub, "hidden", False):
                    walk(sub, prefix + [name])
        else:
            paths.append(" ".join(prefix))

    walk(get_command(app), [])
    return paths


def test_every_command_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [
        p
        for p in command_paths()
        if f"seqtool {p}" not in readme and f"seqtool {p.split()[0]}" not in readme
    ]
    assert not missing, f"commands without a README section: {missing}"


def test_every_command_help_has_an_example(cli) -> None:
    for path in command_paths():
        r = cli(*path.split(), "--help")
        assert r.exit_code == 0, path
        assert "Example:" in r.stdout, f"`seqtool {path} --help` has no example"
