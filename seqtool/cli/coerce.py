"""Cheap conversion of plain flag values, for the typer releases that validate
every value with pydantic.

typer 0.2x builds a pydantic ``TypeAdapter`` for each parameter of the command
being run, and the first one imports pydantic: 0.1-0.2 s of CPU before the
command starts, longer than ``classify train -m bow`` then needs to read SST-2
and train.  :func:`install` gives the parameters whose type is a plain ``str``,
``int``, ``float``, ``pathlib.Path`` or ``list[str]`` (no parser, range or
choices) a converter of their own, used only for values whose meaning is not in
doubt (``"12"`` for an int, ``"1e-3"`` for a float, any string for a path); any
other value goes to typer's own adapter, so what is accepted and every error
message stay typer's.  With a typer that coerces differently (click's types,
before 0.2x) it does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_UNSURE = object()  # the cheap converter leaves the value to typer's


def _plain(value: Any, annotation: Any) -> Any:
    """``value`` as ``annotation``, or ``_UNSURE``."""
    if annotation is str:
        return value if isinstance(value, str) else _UNSURE
    if annotation is bool:
        return value if isinstance(value, bool) else _UNSURE
    if annotation is int:
        if isinstance(value, str) and _INT.fullmatch(value):
            return int(value)
        return value if type(value) is int else _UNSURE
    if annotation is float:
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            return float(value)
        return float(value) if type(value) in (int, float) else _UNSURE
    if annotation == list[str]:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        return items if all(isinstance(v, str) for v in items) else _UNSURE
    return _UNSURE


def _simple(descriptor: Any) -> bool:
    """Whether a parameter is of a kind the cheap converter knows."""
    info = descriptor.parameter_info
    if descriptor.file_annotation is not None or descriptor.choices is not None:
        return False
    if info.parser is not None or getattr(info, "click_type", None) is not None:
        return False
    if info.min is not None or info.max is not None or info.clamp:
        return False
    if descriptor.annotation is Path:
        return info.path_type is None and not info.resolve_path
    return descriptor.annotation in (str, bool, int, float) or descriptor.annotation == list[str]


def install(command: Any) -> None:
    """Give every simple parameter of ``command`` (a click command or group, with
    its subcommands) the cheap converter."""
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer._param_types import coerce_cli_path
        from typer.core import _TyperParameter
    except ImportError:  # another typer: its own conversion stays
        return

    @dataclass(frozen=True)
    class Plain(RuntimeParam):  # type: ignore[misc]
        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.annotation is Path and isinstance(value, str) and value:
                # typer's own checks (exists, file or folder, readable), on a Path
                return coerce_cli_path(
                    Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx
                )
            out = _plain(value, self.annotation)
            if out is _UNSURE:  # typer decides, and words any error
                return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)
            return out

    def give(param: Any) -> None:
        if (
            not isinstance(param, _TyperParameter)
            or getattr(param, "_runtime_param", 0) is not None
        ):
            return
        try:
            d = param.type_descriptor
            if _simple(d):
                param._runtime_param = Plain(d.parameter_info, d.annotation, d)
        except (TypeError, AttributeError):  # a typer whose internals differ: its own way
            pass

    def with_help(get_help_option: Any) -> Any:
        def wrapped(ctx: Any) -> Any:  # --help is made per run, not one of cmd.params
            option = get_help_option(ctx)
            if option is not None:
                give(option)
            return option

        return wrapped

    stack = [command]
    while stack:
        cmd = stack.pop()
        stack.extend(getattr(cmd, "commands", {}).values())
        for param in cmd.params:
            give(param)
        if hasattr(cmd, "get_help_option"):
            cmd.get_help_option = with_help(cmd.get_help_option)
