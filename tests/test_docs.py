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


def test_the_readme_python_api_example_runs(tmp_path: Path) -> None:
    """The README's "Python API" example runs as printed (in a fresh interpreter, in a
    scratch folder), without the command line's typer or rich."""
    import subprocess
    import sys

    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    code = code[: code.index("```")]
    check = (
        "\nimport sys\nassert not {'typer', 'rich'} & set(sys.modules), 'the API loaded the CLI'\n"
    )
    env = {"PYTHONPATH": str(README.parent), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", code + check],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-2000:]
