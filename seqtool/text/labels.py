"""Labelled text: reading the formats people keep classification data in.

Three layouts are understood, each one example per line:

* ``tsv``: ``text<TAB>label`` (the SST-2 files): the label is the field after the
  last tab; a first line whose label field is literally ``label`` is a header;
* ``csv``: a comma- (``.csv``) or tab-separated table with a header row; the text
  and label columns are chosen by name (or 1-based number), by default the columns
  called ``text`` and ``label`` (a two-column table needs only the label's name);
* ``fasttext``: ``__label__pos the text ...``, fastText's supervised format.

``input_format="auto"`` picks ``fasttext`` when the first non-blank line starts
with ``__label__``, ``csv`` for a ``.csv`` file or when columns are named, and
``tsv`` otherwise.  Blank lines are skipped.  Labels are strings; a data set may
have any number of them.  Every mistake is one line naming the file and the line.

Example::

    >>> data = parse_labelled(["a fine film\\tpos", "a dull film\\tneg"], "tsv")
    >>> data.labels
    ['pos', 'neg']
    >>> LabelSet.from_labels(data.labels).names
    ['neg', 'pos']
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from seqtool.errors import InputError, UsageError
from seqtool.io import display_name, read_lines

FORMATS = ("auto", "tsv", "csv", "fasttext")
FASTTEXT_PREFIX = "__label__"
_DIGITS = re.compile(r"(\d+)")


@dataclass
class Labelled:
    """Texts with their labels, and where each came from (for error messages)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # "file:line" of each example

    def __len__(self) -> int:
        return len(self.texts)

    def extend(self, other: Labelled) -> None:
        self.texts += other.texts
        self.labels += other.labels
        self.where += other.where

    def counts(self) -> Counter[str]:
        return Counter(self.labels)


def _natural_key(label: str) -> tuple[object, ...]:
    # "2" before "10", and numbers before words; the same order on every machine
    return tuple(int(p) if p.isdigit() else p for p in _DIGITS.split(label))


@dataclass(frozen=True)
class LabelSet:
    """The classes a model knows, in a fixed order: class ``i`` is ``names[i]``.

    Built from training labels in natural order (``"2"`` before ``"10"``), or
    given explicitly; the order is stored in the checkpoint and never re-derived.
    """

    names: list[str]

    @classmethod
    def from_labels(cls, labels: Iterable[str], source: str = "training data") -> LabelSet:
        names = sorted(set(labels), key=_natural_key)
        if not names:
            raise InputError(f"{source}: no labelled examples")
        if len(names) < 2:
            raise InputError(
                f"{source}: every example has the label {names[0]!r}; "
                "a classifier needs at least two classes"
            )
        return cls(names)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def ids(self, data: Labelled) -> list[int]:
        """Class ids of ``data``'s labels; a label the model does not know is an error."""
        index = self.index
        out: list[int] = []
        for label, where in zip(data.labels, data.where):
            i = index.get(label)
            if i is None:
                known = ", ".join(self.names[:10]) + (", ..." if len(self.names) > 10 else "")
                raise InputError(f"{where}: unknown label {label!r} (the model knows: {known})")
            out.append(i)
        return out


def detect_format(first_line: str, path: str, named_columns: bool) -> str:
    if first_line.lstrip().startswith(FASTTEXT_PREFIX):
        return "fasttext"
    if named_columns or path.lower().rsplit(".", 2)[-1] == "csv" or ".csv." in path.lower():
        return "csv"
    return "tsv"


def read_labelled(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    input_format: str = "auto",
    text_col: str | None = None,
    label_col: str | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> Labelled:
    """Every example of one or more files (``-`` is stdin), in order."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = Labelled()
    for path in paths:
        lines = read_lines([path], encoding, errors)
        out.extend(
            parse_labelled(
                lines, input_format, text_col, label_col, source=display_name(path), path=str(path)
            )
        )
    return out


def parse_labelled(
    lines: Iterable[str],
    input_format: str = "auto",
    text_col: str | None = None,
    label_col: str | None = None,
    source: str = "input",
    path: str = "",
) -> Labelled:
    """Parse lines of one input (see the module docstring); ``source`` names it in errors."""
    if input_format not in FORMATS:
        raise UsageError(f"unknown input_format {input_format!r}; choose {', '.join(FORMATS)}")
    it = iter(lines)
    pending: list[tuple[int, str]] = []
    fmt = input_format
    for n, line in enumerate(it, 1):
        pending.append((n, line))
        if line.strip():
            break
    if not any(line.strip() for _, line in pending):
        raise InputError(f"{source}: empty input (no labelled examples)")
    if fmt == "auto":
        fmt = detect_format(pending[-1][1], path, text_col is not None or label_col is not None)
    if (text_col is not None or label_col is not None) and fmt != "csv":
        raise UsageError(f"text_col and label_col need input_format 'csv', not {fmt!r}")

    def numbered() -> Iterable[tuple[int, str]]:
        yield from pending
        yield from enumerate(it, len(pending) + 1)

    if fmt == "fasttext":
        return _fasttext(numbered(), source)
    if fmt == "tsv":
        return _tsv(numbered(), source)
    delimiter = "," if path.lower().endswith((".csv", ".csv.gz")) else "\t"
    if delimiter == "\t" and "\t" not in pending[-1][1] and "," in pending[-1][1]:
        delimiter = ","  # a CSV file read from stdin or under another name
    return _table(numbered(), source, delimiter, text_col, label_col)


def _tsv(lines: Iterable[tuple[int, str]], source: str) -> Labelled:
    out = Labelled()
    first = True
    for n, line in lines:
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        label = label.strip()
        if first:
            first = False
            if tab and label.lower() == "label":
                continue  # a header row such as "sentence<TAB>label"
        if not tab:
            raise InputError(f"{source}:{n}: no label (expected text<TAB>label)")
        if not label:
            raise InputError(f"{source}:{n}: empty label after the tab")
        out.texts.append(text)
        out.labels.append(label)
        out.where.append(f"{source}:{n}")
    if not out.texts:
        raise InputError(f"{source}: no labelled examples, only a header")
    return out


def _fasttext(lines: Iterable[tuple[int, str]], source: str) -> Labelled:
    out = Labelled()
    for n, line in lines:
        words = line.split()
        if not words:
            continue
        labels = [w for w in words if w.startswith(FASTTEXT_PREFIX)]
        if not labels:
            raise InputError(f"{source}:{n}: no label (expected __label__NAME before the text)")
        if len(labels) > 1:
            raise InputError(
                f"{source}:{n}: {len(labels)} labels on one line; classify takes one label per line"
            )
        label = labels[0][len(FASTTEXT_PREFIX) :]
        if not label:
            raise InputError(f"{source}:{n}: empty label '__label__'")
        out.texts.append(" ".join(w for w in words if not w.startswith(FASTTEXT_PREFIX)))
        out.labels.append(label)
        out.where.append(f"{source}:{n}")
    return out


def _column(header: list[str], want: str | None, default: str, role: str, source: str) -> int:
    if want is None:
        want = default
    elif want.isdigit():
        i = int(want) - 1
        if not 0 <= i < len(header):
            raise UsageError(f"{role} {want} is outside the {len(header)} columns of {source}")
        return i
    folded = [h.strip().lower() for h in header]
    if want.lower() in folded:
        return folded.index(want.lower())
    raise InputError(
        f"{source}:1: no column {want!r} for the {role.split('_')[0]}; "
        f"the header has: {', '.join(h.strip() for h in header)}"
    )


def _table(
    lines: Iterable[tuple[int, str]],
    source: str,
    delimiter: str,
    text_col: str | None,
    label_col: str | None,
) -> Labelled:
    numbered = iter(lines)
    line_no = 0

    def raw() -> Iterable[str]:
        nonlocal line_no
        for n, line in numbered:
            line_no = n
            yield line

    rows = csv.reader(raw(), delimiter=delimiter)
    try:
        header = next(rows)
        label_i = _column(header, label_col, "label", "label_col", source)
        if text_col is None and len(header) == 2 and "text" not in [h.lower() for h in header]:
            text_i = 1 - label_i  # a two-column table: the other column is the text
        else:
            text_i = _column(header, text_col, "text", "text_col", source)
        if text_i == label_i:
            raise UsageError("text_col and label_col name the same column")
        out = Labelled()
        for row in rows:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InputError(
                    f"{source}:{line_no}: {len(row)} fields, but the header has {len(header)}"
                )
            label = row[label_i].strip()
            if not label:
                raise InputError(f"{source}:{line_no}: empty label in column {header[label_i]!r}")
            out.texts.append(row[text_i])
            out.labels.append(label)
            out.where.append(f"{source}:{line_no}")
    except csv.Error as e:
        raise InputError(f"{source}:{line_no}: malformed CSV: {e}") from None
    if not out.texts:
        raise InputError(f"{source}: no labelled examples, only a header")
    return out
