"""Library parameter names -> command-line flags, for error messages.

The library names *parameters* in its errors (``seq_len must be at least 1``), so a
Python user reads the name they passed; the terminal user typed ``--seq-len``. This
module rewrites a library message for the terminal, once, in the error path of
:class:`seqtool.cli.root.SeqtoolGroup`.

The table is built from the command being run: every option's parameter name maps
to its first long flag (``seq_len`` -> ``--seq-len``, ``lower`` -> ``--lower``),
taken from the click parameters typer made out of the command's signature, so a
renamed flag needs no edit here. :data:`OVERRIDES` adds the few config fields whose
name differs from the flag's parameter name.

What gets rewritten (and nothing else, so prose and file names stay as they are):

- a name in backticks, any name: ```lr` must be more than 0`` -> ``--lr must be
  more than 0``; a backticked name without a flag in this command loses the
  backticks only;
- a bare snake_case name (it holds an underscore, so it cannot be an English word):
  ``seq_len must be at least 1`` -> ``--seq-len must be at least 1``, unless it is
  glued to a path or quote (``'seq_len'``, ``a/seq_len.txt``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from typer.core import TyperGroup

__all__ = ["OVERRIDES", "command_path", "flag_table", "rewrite"]

# config field -> flag, where the field is not the flag's parameter name. Applied
# only when that flag belongs to the running command.
OVERRIDES: dict[str, str] = {
    "d2l_k": "--d2l-k",
    "max_size": "--max-size",
}

_NAME = re.compile(
    r"`(?P<tick>[A-Za-z_][A-Za-z0-9_]*)`"
    r"|(?<![\w\-./`'\"])(?P<snake>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)(?![\w\-`'\"/]|\.\w)"
)


def command_path(root: Any, args: Sequence[str]) -> list[Any]:
    """The click commands that ``args`` runs: the root group, any sub-group, the command.

    Follows the first words that name a sub-command; options and their values never
    do (a value that happens to equal a command name only matters for a group whose
    own options take values, and seqtool's groups have none before the sub-command).
    """
    path = [root]
    command = root
    for arg in args:
        if not isinstance(command, TyperGroup):
            break
        if arg.startswith("-"):
            continue
        sub = command.commands.get(arg)
        if sub is None:
            break
        path.append(sub)
        command = sub
    return path


def _long_flag(opts: Iterable[str]) -> str | None:
    return next((o for o in opts if o.startswith("--")), None)


def flag_table(commands: Iterable[Any]) -> dict[str, str]:
    """Parameter name -> long flag for every option of ``commands`` (plus overrides)."""
    table: dict[str, str] = {}
    for command in commands:
        for param in command.params:
            if param.param_type_name != "option" or not param.name:
                continue
            flag = _long_flag(param.opts) or _long_flag(param.secondary_opts)
            if flag:
                table[param.name] = flag
    flags = set(table.values())
    table.update({name: flag for name, flag in OVERRIDES.items() if flag in flags})
    return table


def rewrite(message: str, table: dict[str, str]) -> str:
    """``message`` with parameter names replaced by the flags of ``table``."""

    def one(match: re.Match[str]) -> str:
        if match.group("tick") is not None:
            return table.get(match.group("tick"), match.group("tick"))
        return table.get(match.group("snake"), match.group("snake"))

    return _NAME.sub(one, message)
