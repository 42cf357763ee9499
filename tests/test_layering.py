"""The package's layers, enforced in one place.

Imports point down this stack, never up (a package may import its own modules):

    seqtool (lazy exports), __main__
    cli                          flags, rendering, errors -> exit codes
    tasks                        one module per trained task (LM, MT, ...) for the runner
    decode                       greedy, sampling, beam search, translation
    train    rank                trainers, checkpoints, devices, data, word2vec; TextRank/LexRank
    metrics  forecast            BLEU, perplexity (of models), vector scores; series, windows, baselines
    models   stats               torch modules; n-grams, Zipf
    text     wordvectors         normalisers, tokenizers, Vocab; the vectors artifact
    io       datasets            files, stdin, atomic writes; the dataset registry
    limits                       bounds on threads, workers, line length
    errors

The static check reads every ``import`` in every module, at module level and
inside functions alike, so a function-level import cannot hide an upward edge or a
cycle (imports under ``if TYPE_CHECKING:`` never run and do not count). ``from seqtool import __version__`` is allowed anywhere (a constant).
Subprocess checks: ``import seqtool`` loads none of torch/typer/rich, the library
never loads typer/rich/seqtool.cli, and text/stats never load torch.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "seqtool"

RANK: dict[str, float] = {
    "errors": 0,
    "limits": 1,
    "io": 2,
    "datasets": 2,
    "text": 3,
    "wordvectors": 3,
    "models": 4,
    "stats": 4,
    "metrics": 5,
    "forecast": 5,
    "train": 6,
    "rank": 6,
    "decode": 7,
    "tasks": 8,
    "cli": 9,
    "__main__": 10,
}

# Upward edges allowed for now: none. (The runner refactor removed the last one,
# train/mt.py -> decode/beam.py.) An entry here must exist in the code.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node but those under ``if TYPE_CHECKING:`` (annotations only, never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                todo.extend(child.orelse)
                continue
            todo.append(child)
    return out


def imports_of(module: str) -> set[str]:
    """Every seqtool module ``module`` imports, anywhere in the file."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("seqtool"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if not base.startswith("seqtool"):
                continue
            if base == "seqtool" and {a.name for a in node.names} == {"__version__"}:
                continue
            for alias in node.names:  # `from seqtool.cli import render` imports a module
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
    return {m for m in out if m in MODULES}


def layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_every_package_has_a_rank() -> None:
    layers = {layer(m) for m in MODULES} - {""}
    assert layers <= set(RANK), f"give these a place in RANK: {sorted(layers - set(RANK))}"


def test_imports_point_down_the_stack() -> None:
    upward = set()
    for module in MODULES:
        if module == "seqtool":
            continue  # the lazy public API may name anything
        for target in imports_of(module):
            a, b = layer(module), layer(target)
            if a != b and RANK[b] >= RANK[a]:
                upward.add((module, target))
    assert upward == KNOWN_UPWARD, sorted(upward ^ KNOWN_UPWARD)


def test_no_import_cycles() -> None:
    graph = {m: imports_of(m) - {m} for m in MODULES}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t) :] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys; {code}; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


LIBRARY = sorted(m for m in MODULES if layer(m) not in ("cli", "__main__", ""))


def test_import_seqtool_is_cheap() -> None:
    assert not {"torch", "typer", "rich", "numpy"} & loaded_after("import seqtool")


def test_the_library_never_loads_the_cli_stack() -> None:
    loaded = loaded_after("import " + ", ".join(LIBRARY))
    assert "torch" in loaded  # the check below is not vacuous: everything was imported
    assert not {"typer", "rich", "seqtool.cli"} & loaded


def test_text_and_stats_load_without_torch() -> None:
    light = [m for m in LIBRARY if layer(m) in ("errors", "io", "text", "wordvectors", "stats")]
    light += ["seqtool.metrics.wordvec", "seqtool.metrics.bleu"]
    loaded = loaded_after("import " + ", ".join(light))
    assert not {"torch", "typer", "rich", "matplotlib", "scipy"} & loaded


def test_help_does_not_import_torch() -> None:
    assert "torch" not in loaded_after("from seqtool.cli import app")


def test_a_run_imports_only_its_commands_module(tmp_path: Path) -> None:
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
