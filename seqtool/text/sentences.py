"""Sentence splitting for English prose, reviews and news.

A rule-based splitter: a sentence ends at a run of ``.``, ``!``, ``?`` or ``…``
(closing quotes and brackets after it belong to the sentence) that is followed
by white space and then by the start of a new sentence: an upper-case letter, a
digit, or an opening quote or bracket.  Blank lines always end a sentence, and
single line breaks inside a paragraph (hard-wrapped text) are read as spaces.

It does not split

* after an abbreviation that precedes a name or a number (``Mr.``, ``Dr.``,
  ``St.``, ``Jan.``, ``No. 5``, ``p. 12``), after ``e.g.``/``i.e.``/``cf.``/``vs.``,
  after a single initial (``J. R. R. Tolkien``) or a dotted acronym (``U.S.``);
* inside numbers (``3.14``, ``$5.99``), URLs or file names (no space after the dot);
* before a lower-case word, except after a plain full stop (``"Why?" he asked.``,
  ``wait... and see``; but ``great screen. works well`` is two sentences).

Sentences come back with their inner white space collapsed to single spaces.
Measured accuracy is in the README (``benchmarks/summarize.py --splitter``).

Example::

    >>> split_sentences("Mr. Smith paid $3.50 for it. 'Really?' she asked. Yes!")
    ['Mr. Smith paid $3.50 for it.', "'Really?' she asked.", 'Yes!']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["ABBREVIATIONS", "SplitScore", "split_accuracy", "split_paragraphs", "split_sentences"]

# Words that, followed by a full stop, usually precede a name, a number or more of
# the same sentence.  Lower-cased, without the dot.  "etc" and "Inc" are left out on
# purpose: they end sentences as often as not.
ABBREVIATIONS = frozenset(
    """
    mr mrs ms messrs mme mlle dr prof rev hon st mt ft gen col capt cmdr lt sgt maj
    adm gov sen rep pres supt insp jr sr esq
    jan feb mar apr jun jul aug sep sept oct nov dec
    no nos vol vols p pp ch chap fig figs sec art ed eds op cit ibid
    e.g i.e cf vs viz al approx ca c ref dept univ assn bros
    """.split()
)

# Abbreviations that stand before a number ("p. 12", "Jan. 5"); before a capital
# they more often end a sentence ("in Jan. The").
_BEFORE_NUMBER = frozenset(
    "no nos p pp vol vols ch chap fig figs sec art op jan feb mar apr jun jul aug sep sept "
    "oct nov dec".split()
)
# Abbreviations that end sentences before a capital but not before a small letter.
_BEFORE_LOWER = frozenset("etc inc ltd co corp am pm est approx".split())
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_SPACE = re.compile(r"\s+")
# A candidate end: terminators, then closers, then space, then what comes next.
_CANDIDATE = re.compile(
    r"""(?P<term>[.!?\u2026]+)(?P<close>["'\u201d\u2019)\]]*)(?P<space>\s+)(?=(?P<next>\S))"""
)
_WORD_BEFORE = re.compile(r"(\S+)$")
_OPENERS = "\"'\u201c\u2018([-\u2014"
_DOTTED_ACRONYM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]$")  # "U.S" of "U.S."


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: the text between blank lines, stripped, empty ones dropped."""
    return [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]


def _ends_here(para: str, m: re.Match[str]) -> bool:
    nxt = m.group("next")
    term = m.group("term")
    lower = nxt.islower()
    if lower and (term != "." or m.group("close")):
        return False  # "'Why?' he asked", "Oh! how I wished", "wait... and see"
    if not (lower or nxt.isupper() or nxt.isdigit() or nxt in _OPENERS or nxt.isalpha()):
        return False  # "1. 2." lists and stray symbols: keep together
    if term != ".":
        return True  # "!", "?", "?!", "..." before a capital
    if m.group("close"):
        return True  # 'I know.' Then ...
    before = _WORD_BEFORE.search(para, 0, m.start())
    if before is None:
        return True
    word = before.group(1).lstrip(_OPENERS)
    bare = word.lower()
    if lower:
        # a full stop, then a small letter: a new sentence in informal text ("great
        # screen. works well"), unless the word before is an abbreviation
        return not (
            bare in ABBREVIATIONS
            or bare in _BEFORE_LOWER
            or len(word) == 1
            or _DOTTED_ACRONYM.match(word)
        )
    if bare in _BEFORE_NUMBER:
        return not nxt.isdigit()  # "No. 5", "Jan. 12", but "I said no. Then"
    if bare in ABBREVIATIONS:
        return False
    if len(word) == 1 and word.isupper():
        return False  # an initial: "J. Smith"
    return not _DOTTED_ACRONYM.match(word)  # "U.S." inside a sentence


def _split_paragraph(para: str) -> Iterator[str]:
    start = 0
    for m in _CANDIDATE.finditer(para):
        if _ends_here(para, m):
            end = m.start("space")
            yield _SPACE.sub(" ", para[start:end]).strip()
            start = m.end()
    tail = _SPACE.sub(" ", para[start:]).strip()
    if tail:
        yield tail


def split_sentences(text: str | Iterable[str], per_line: bool = False) -> list[str]:
    """The sentences of ``text`` (a string, or lines to be joined), in order.

    With ``per_line`` every non-empty line is one sentence, as in corpora that
    are already split (Opinosis, Tatoeba, most MT data).
    """
    if not isinstance(text, str):
        text = "\n".join(text)
    if per_line:
        return [_SPACE.sub(" ", line).strip() for line in text.splitlines() if line.strip()]
    out: list[str] = []
    for para in split_paragraphs(text):
        out.extend(s for s in _split_paragraph(para) if s)
    return out


@dataclass(frozen=True)
class SplitScore:
    """How well :func:`split_sentences` finds known boundaries."""

    boundaries: int  # gold boundaries (between the sentences of a document)
    precision: float  # of the boundaries found, the share that are gold
    recall: float  # of the gold boundaries, the share found
    exact: float  # of the gold sentences, the share recovered exactly
    sentences: int

    @property
    def f1(self) -> float:
        return 2 * self.precision * self.recall / max(self.precision + self.recall, 1e-12)


def _ends(sentences: Sequence[str]) -> set[int]:
    """Where sentences end, as offsets into the text with all white space removed."""
    pos, out = 0, set()
    for s in sentences[:-1]:
        pos += len("".join(s.split()))
        out.add(pos)
    return out


def split_accuracy(documents: Iterable[Sequence[str]]) -> SplitScore:
    """Join each document's known sentences with spaces, split it again, and compare."""
    tp = fp = fn = exact = total = 0
    for gold in documents:
        found = split_sentences(" ".join(gold))
        g, f = _ends(gold), _ends(found)
        tp += len(g & f)
        fp += len(f - g)
        fn += len(g - f)
        got = set(found)
        exact += sum(1 for s in gold if " ".join(s.split()) in got)
        total += len(gold)
    return SplitScore(
        tp + fn, tp / max(tp + fp, 1), tp / max(tp + fn, 1), exact / max(total, 1), total
    )
