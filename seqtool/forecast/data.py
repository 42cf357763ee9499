"""Time series in the forms people keep them, read into one :class:`SeriesSet`.

Three layouts (``layout="auto"`` tells them apart from the first line):

* ``wide``: one series per row, its id first and then its values, as the M4
  competition ships them (``"H1","605","586",...``); rows of short series end
  early, padded with empty fields.  A first row whose value fields are not
  numbers (M4's ``"V1","V2",...``) is a header, and then every row must have as
  many fields as it does.
* ``long``: one observation per row under a header naming the columns
  (``id,time,value`` by default, other names through ``id_col``, ``time_col``,
  ``value_col``); each series' rows are put in time order (numeric times
  numerically, others, such as ISO dates, as text).  Without an id column the
  file holds one series; without a time column the rows stay in file order.
* ``values``: one number per line, a single series (stdin too).

Values that are missing (an empty field inside a row, ``NA``, ``NaN``,
``null``, ``?``) are an error naming the file and line unless ``fill`` says
what to do: ``drop`` them, carry the ``previous`` value forward, interpolate
them ``linear``-ly, or put ``zero``.  Anything else that is not a finite number
is always an error.  Pure Python and numpy: no torch.

Example::

    >>> import io, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "s.csv")
    >>> _ = open(p, "w").write("id,time,value\\na,2,3\\na,1,1\\nb,1,5\\n")
    >>> s = read_series(p)
    >>> s.ids, [v.tolist() for v in s.values]
    (['a', 'b'], [[1.0, 3.0], [5.0]])
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from seqtool.errors import InputError, UsageError
from seqtool.io import STDIN, display_name, read_lines

LAYOUTS = ("auto", "wide", "long", "values")
FILLS = ("error", "drop", "previous", "linear", "zero")
MISSING = frozenset({"", "na", "nan", "null", "none", "?", "n/a"})


@dataclass
class SeriesSet:
    """Named series of floats; ``lines[i]`` is where series ``i`` starts in ``source``."""

    ids: list[str]
    values: list[np.ndarray]
    source: str = "<memory>"
    lines: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def where(self, i: int) -> str:
        """``file:line`` of series ``i`` (or just its id) for messages."""
        if i < len(self.lines) and self.lines[i]:
            return f"{self.source}:{self.lines[i]}: series {self.ids[i]!r}"
        return f"series {self.ids[i]!r}"

    def lengths(self) -> np.ndarray:
        return np.array([len(v) for v in self.values], dtype=np.int64)

    def head(self, n: int) -> list[np.ndarray]:
        """Each series without its last ``n`` points (the in-sample part of a validation)."""
        return [v[: len(v) - n] for v in self.values]

    def tail(self, n: int) -> np.ndarray:
        """The last ``n`` points of every series, ``(N, n)``."""
        return np.stack([v[len(v) - n :] for v in self.values])

    def select(self, ids: Iterable[str]) -> SeriesSet:
        """The series named ``ids``, in that order (an unknown id is an error)."""
        pos = {k: i for i, k in enumerate(self.ids)}
        picked = []
        for k in ids:
            if k not in pos:
                raise InputError(f"{self.source}: no series {k!r}")
            picked.append(pos[k])
        return SeriesSet(
            [self.ids[i] for i in picked],
            [self.values[i] for i in picked],
            self.source,
            [self.lines[i] for i in picked] if self.lines else [],
        )


def from_arrays(
    values: Iterable[Iterable[float]] | np.ndarray, ids: Iterable[str] | None = None
) -> SeriesSet:
    """A :class:`SeriesSet` from Python data: one sequence of numbers per series."""
    arrays = [np.asarray(v, dtype=np.float64).reshape(-1) for v in values]
    names = [str(k) for k in ids] if ids is not None else [f"s{i + 1}" for i in range(len(arrays))]
    if len(names) != len(arrays):
        raise UsageError(f"ids has {len(names)} names for {len(arrays)} series")
    for k, a in zip(names, arrays):
        if not np.isfinite(a).all():
            raise InputError(f"series {k!r}: holds values that are not finite numbers")
    return SeriesSet(names, arrays)


def check_fill(fill: str) -> None:
    if fill not in FILLS:
        raise UsageError(f"unknown fill {fill!r}; choose {', '.join(FILLS)}")


def read_series(
    path: str | os.PathLike[str] = STDIN,
    layout: str = "auto",
    *,
    id_col: str = "id",
    time_col: str = "time",
    value_col: str = "value",
    fill: str = "error",
) -> SeriesSet:
    """Read the series in ``path`` (``-`` is stdin; ``.gz`` and friends are fine)."""
    if layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}; choose {', '.join(LAYOUTS)}")
    check_fill(fill)
    name = display_name(path)
    lines = list(read_lines(path))
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise InputError(f"{name}: empty input (no series found)")
    if layout == "auto":
        head = _fields(lines[first], name, first + 1)
        if len(head) == 1:
            layout = "values"
        elif value_col in head and (id_col in head or time_col in head):
            layout = "long"
        else:
            layout = "wide"
    if layout == "values":
        return _read_values(lines, name, fill)
    if layout == "long":
        return _read_long(lines, name, id_col, time_col, value_col, fill)
    return _read_wide(lines, name, fill)


def _fields(line: str, name: str, lineno: int) -> list[str]:
    try:
        return [f.strip() for f in next(csv.reader([line]))]
    except (csv.Error, StopIteration) as e:
        raise InputError(f"{name}:{lineno}: cannot read the CSV row ({e})") from None


def _number(text: str, where: str) -> float:
    """The value of a field: a float, NaN for missing, an error for anything else."""
    if text.lower() in MISSING:
        return math.nan
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"{where}: {text[:40]!r} is not a number") from None
    if math.isinf(x):
        raise InputError(f"{where}: {text!r} is not a finite number")
    return x


def _filled(
    values: list[float], fill: str, where: str, name: str = "", lines: list[int] | None = None
) -> np.ndarray:
    """``values`` with missing points (NaN) handled by the ``fill`` rule; ``lines``
    (with the file ``name``) are the values' line numbers, for the error message."""
    a = np.asarray(values, dtype=np.float64)
    bad = np.isnan(a)
    if not bad.any():
        return a
    if fill == "error":
        k = int(np.argmax(bad))
        at = f"{name}:{lines[k]}" if lines else f"{where}, point {k + 1}"
        raise InputError(
            f"{at}: missing value ({int(bad.sum())} missing in {where.split(': ')[-1]})",
            hint="give fill as drop, previous, linear or zero to fill the gaps (--fill)",
        )
    if bad.all():
        raise InputError(f"{where}: no value at all, only missing ones")
    if fill == "zero":
        return np.where(bad, 0.0, a)
    if fill == "drop":
        return a[~bad]
    idx = np.arange(len(a))
    if fill == "linear":
        return np.interp(idx, idx[~bad], a[~bad])
    # previous: carry the last value forward; leading gaps take the first value
    last = np.maximum.accumulate(np.where(bad, -1, idx))
    first_good = int(np.argmax(~bad))
    return a[np.where(last < 0, first_good, last)]


def _read_values(lines: list[str], name: str, fill: str) -> SeriesSet:
    # trailing blank lines are the end of the file, not missing values
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    vals = [_number(lines[i].strip(), f"{name}:{i + 1}") for i in range(end)]
    series_id = "series" if name == "<stdin>" else os.path.splitext(os.path.basename(name))[0]
    arr = _filled(vals, fill, f"series {series_id!r}", name, list(range(1, end + 1)))
    return SeriesSet([series_id], [arr], name, [1])


def _read_wide(lines: list[str], name: str, fill: str) -> SeriesSet:
    ids: list[str] = []
    values: list[np.ndarray] = []
    starts: list[int] = []
    width: int | None = None
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        lineno = i + 1
        row = _fields(line, name, lineno)
        if not ids and width is None and len(row) > 1:
            body = [f for f in row[1:] if f]
            if body and all(_is_text(f) for f in body):
                width = len(row)  # a header row: V1, V2, ...
                continue
        if width is not None and len(row) != width:
            raise InputError(
                f"{name}:{lineno}: {len(row)} fields, but the header has {width} (ragged row)"
            )
        key = row[0]
        if not key:
            raise InputError(f"{name}:{lineno}: the first field (the series id) is empty")
        if key in seen:
            raise InputError(f"{name}:{lineno}: series {key!r} appears twice")
        seen.add(key)
        cells = row[1:]
        while cells and cells[-1] == "":  # padding after a short series
            cells.pop()
        if not cells:
            raise InputError(f"{name}:{lineno}: series {key!r} has no values")
        vals = [_number(c, f"{name}:{lineno}: field {j + 2}") for j, c in enumerate(cells)]
        values.append(_filled(vals, fill, f"{name}:{lineno}: series {key!r}"))
        ids.append(key)
        starts.append(lineno)
    if not ids:
        raise InputError(f"{name}: no series found (only a header)")
    return SeriesSet(ids, values, name, starts)


def _is_text(field: str) -> bool:
    try:
        float(field)
        return False
    except ValueError:
        return field.lower() not in MISSING


def _read_long(
    lines: list[str], name: str, id_col: str, time_col: str, value_col: str, fill: str
) -> SeriesSet:
    first = next(i for i, line in enumerate(lines) if line.strip())
    header = _fields(lines[first], name, first + 1)
    if value_col not in header:
        raise InputError(
            f"{name}:{first + 1}: no column {value_col!r} (value_col) in the header "
            f"(columns: {', '.join(header)})"
        )
    vi = header.index(value_col)
    ii = header.index(id_col) if id_col in header else None
    ti = header.index(time_col) if time_col in header else None
    rows: dict[str, list[tuple[str, float, int]]] = {}
    for i in range(first + 1, len(lines)):
        if not lines[i].strip():
            continue
        lineno = i + 1
        row = _fields(lines[i], name, lineno)
        if len(row) != len(header):
            raise InputError(
                f"{name}:{lineno}: {len(row)} fields, but the header has {len(header)} (ragged row)"
            )
        key = row[ii] if ii is not None else "series"
        when = row[ti] if ti is not None else ""
        rows.setdefault(key, []).append(
            (when, _number(row[vi], f"{name}:{lineno}: {value_col}"), lineno)
        )
    if not rows:
        raise InputError(f"{name}: no rows under the header")
    ids, values, starts = [], [], []
    for key, obs in rows.items():
        if ti is not None:
            obs = _time_sorted(obs, name, key)
        where = f"{name}:{obs[0][2]}: series {key!r}"
        values.append(_filled([v for _, v, _ in obs], fill, where, name, [ln for _, _, ln in obs]))
        ids.append(key)
        starts.append(min(ln for _, _, ln in obs))
    return SeriesSet(ids, values, name, starts)


def _time_sorted(
    obs: list[tuple[str, float, int]], name: str, key: str
) -> list[tuple[str, float, int]]:
    try:
        keys: list[float] | list[str] = [float(t) for t, _, _ in obs]
    except ValueError:
        keys = [t for t, _, _ in obs]
    order = sorted(range(len(obs)), key=lambda j: keys[j])  # type: ignore[arg-type]
    for a, b in zip(order, order[1:]):
        if keys[a] == keys[b]:
            raise InputError(
                f"{name}:{obs[b][2]}: series {key!r} has time {obs[b][0]!r} twice "
                f"(also line {obs[a][2]})"
            )
    return [obs[j] for j in order]


def write_series_csv(series: SeriesSet) -> str:
    """``series`` as M4-style wide CSV text (id, then values), for round trips."""
    out = []
    for k, v in zip(series.ids, series.values):
        out.append(",".join([_csv_field(k), *(repr(float(x)) for x in v)]))
    return "\n".join(out) + "\n"


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n'):
        return '"' + text.replace('"', '""') + '"'
    return text
