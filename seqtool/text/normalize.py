"""Text normalisers: pure functions from a string to a string, chosen by name.

* ``d2l``: the Dive into Deep Learning rule, every run of characters other than
  ``[A-Za-z]`` becomes one space, then lowercase.  Accented letters are lost.
* ``letters``: the same idea for any script: every run of non-letters (digits,
  punctuation, underscores, whitespace) becomes one space.  On ASCII text it gives
  exactly what ``d2l`` gives; it keeps é, ß, ç.  Text is NFC-composed first so that
  a letter and its combining accent stay together.
* ``nfkc``: Unicode compatibility normalisation (ligatures, full-width forms).
* ``none``: the text as it is.

``d2l`` and ``letters`` lowercase by default, the others don't; ``lower`` overrides.
The name and the lowercase flag are recorded in every vocabulary and checkpoint.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from seqtool.errors import UsageError

_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")


@cache
def _not_letter() -> re.Pattern[str]:
    """Runs of characters that are neither letters nor combining marks.

    ``\\w`` alone would split words of scripts that write vowels as combining
    marks (Devanagari, Thai, ...), so marks are kept with their letters.  Built
    once per process, and only for non-ASCII text.
    """
    marks: list[str] = []
    start = prev = -2
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp))[0] == "M":
            if cp != prev + 1:
                if start >= 0:
                    marks.append(f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
                start = cp
            prev = cp
    marks.append(f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
    return re.compile(rf"(?:[^\w{''.join(marks)}]|[\d_])+")


NORMALIZERS = ("d2l", "letters", "nfkc", "none")
_LOWER_BY_DEFAULT = {"d2l": True, "letters": True, "nfkc": False, "none": False}


def _d2l(text: str) -> str:
    return _NOT_ASCII_LETTER.sub(" ", text)


def _letters(text: str) -> str:
    if text.isascii():  # the common case, and exactly the d2l rule
        return _NOT_ASCII_LETTER.sub(" ", text)
    return _not_letter().sub(" ", unicodedata.normalize("NFC", text))


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _identity(text: str) -> str:
    return text


_RULES: dict[str, Callable[[str], str]] = {
    "d2l": _d2l,
    "letters": _letters,
    "nfkc": _nfkc,
    "none": _identity,
}


@dataclass(frozen=True)
class Normalizer:
    """A named normalisation rule plus the lowercase flag; callable on text."""

    name: str = "letters"
    lower: bool = True

    @classmethod
    def make(cls, name: str, lower: bool | None = None) -> Normalizer:
        if name not in _RULES:
            raise UsageError(f"unknown normaliser {name!r}; choose one of {', '.join(NORMALIZERS)}")
        return cls(name, _LOWER_BY_DEFAULT[name] if lower is None else lower)

    def __call__(self, text: str) -> str:
        out = _RULES[self.name](text)
        return out.lower() if self.lower else out

    def line(self, text: str) -> str:
        """Normalise one line; the space-collapsing rules also trim its ends (as d2l does)."""
        out = self(text)
        return out.strip() if self.name in ("d2l", "letters") else out

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "lower": self.lower}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Normalizer:
        return cls.make(str(d["name"]), bool(d["lower"]))
