"""The library never pulls in the CLI stack, and the text/stats layers stay torch-free."""

from __future__ import annotations

import subprocess
import sys

import pytest

LIBRARY = ["seqtool.errors", "seqtool.io", "seqtool.text", "seqtool.datasets"]
TORCH_FREE = ["seqtool.errors", "seqtool.io", "seqtool.text", "seqtool.datasets"]


def imported_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize("module", LIBRARY)
def test_library_does_not_import_cli_stack(module: str) -> None:
    mods = imported_after(module)
    assert not {"typer", "rich", "seqtool.cli"} & mods


@pytest.mark.parametrize("module", TORCH_FREE)
def test_text_layers_do_not_import_torch(module: str) -> None:
    assert "torch" not in imported_after(module)


def test_help_does_not_import_torch() -> None:
    code = "import sys; from seqtool.cli import app; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_a_run_imports_only_its_commands_module(tmp_path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat\n", encoding="utf-8")
    code = (
        "import sys; from seqtool.cli import main; "
        f"sys.argv = ['seqtool', 'ngrams', {str(corpus)!r}, '-q']; main(); "
        "print(sorted(m for m in sys.modules if m.startswith('seqtool.cli.')), file=sys.stderr)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the\t2" in run.stdout
    loaded = run.stderr.strip().splitlines()[-1]
    assert "seqtool.cli.ngrams" in loaded
    assert not any(
        m in loaded for m in ("seqtool.cli.lm'", "seqtool.cli.translate'", "seqtool.cli.demo'")
    )


def test_every_command_is_mapped_to_its_module() -> None:
    from typer.main import get_command

    from seqtool.cli import COMMAND_MODULES, app

    assert set(get_command(app).commands) == set(COMMAND_MODULES)
