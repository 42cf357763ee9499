"""Words of sentences as terms: tokens, stop words, a light stemmer, a sparse term matrix.

:class:`TermMatrix` holds the term counts of every sentence in compressed sparse
row form (numpy arrays), which is all the graph builders need: a postings list
per term is one ``argsort`` away.

The stemmer is deliberately light: it folds plurals, ``-ed``, ``-ing``, ``-ly``
and a final ``e`` so that *use*, *uses*, *used* and *using* meet (as ``us``).  It is not Porter's algorithm; it only
needs to map variants of a word to the same term consistently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["STOP_WORDS", "TermMatrix", "stem", "term_matrix", "words"]

STOP_WORDS = frozenset(
    """
    a about above after again against all almost also although am among an and any
    are aren't around as at be became because been before being below between both
    but by can can't cannot could couldn't did didn't do does doesn't doing don't
    done down during each either else enough even ever every few for from further
    get gets got had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his how how's however i i'd i'll i'm i've
    if in into is isn't it it's its itself just let let's may me might more most
    much must mustn't my myself neither no nor not now of off often on once one
    only or other others ought our ours ourselves out over own quite rather really
    said same say says shall shan't she she'd she'll she's should shouldn't since
    so some such than that that's the their theirs them themselves then there
    there's therefore these they they'd they'll they're they've this those though
    through thus to too toward towards under until up upon us very was wasn't we
    we'd we'll we're we've were weren't what what's whatever when when's where
    where's whether which while who who's whom whose why why's will with within
    without won't would wouldn't yet you you'd you'll you're you've your yours
    yourself yourselves
    also anyway etc ok okay yes oh well still
    """.split()
)

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+(?:[.,]\d+)*")
_VOWEL = re.compile(r"[aeiouy]")


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters with inner apostrophes, or numbers)."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def stem(word: str) -> str:
    """A light suffix-stripping stem (see the module note)."""
    w = word[:-2] if word.endswith("'s") else word
    if len(w) <= 2:
        return w
    if w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suffix in ("ingly", "edly", "ing", "ed", "ly"):
        base = w[: -len(suffix)]
        if w.endswith(suffix) and len(base) >= 2 and _VOWEL.search(base):
            w = base
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                w = w[:-1]  # running -> run, stopped -> stop
            break
    if len(w) > 2 and w.endswith("e"):
        w = w[:-1]  # use, uses, used, using -> us
    return w


@dataclass
class TermMatrix:
    """Term counts per sentence, CSR: row ``i`` is ``terms[indptr[i]:indptr[i+1]]``.

    ``lengths`` counts every kept token of a sentence (repeats included), which is
    what the overlap and BM25 similarities divide by.
    """

    indptr: np.ndarray  # (n + 1,) int64
    terms: np.ndarray  # (nnz,) int32: term ids, sorted within a row
    counts: np.ndarray  # (nnz,) float64: occurrences of the term in the sentence
    vocabulary: list[str]  # term id -> term (the stem)
    lengths: np.ndarray  # (n,) float64

    @property
    def n(self) -> int:
        return len(self.indptr) - 1

    @property
    def rows(self) -> np.ndarray:
        """Row (sentence) index of every stored entry."""
        return np.repeat(np.arange(self.n, dtype=np.int64), np.diff(self.indptr))

    def document_frequency(self) -> np.ndarray:
        return np.bincount(self.terms, minlength=len(self.vocabulary)).astype(np.float64)


def term_matrix(
    sentences: Sequence[str],
    stop_words: frozenset[str] = STOP_WORDS,
    stemming: bool = True,
) -> TermMatrix:
    """The :class:`TermMatrix` of ``sentences``: stop words dropped, words stemmed."""
    ids: dict[str, int] = {}
    cache: dict[str, int] = {}  # word -> term id, or -1 for a stop word
    indptr = [0]
    terms: list[int] = []
    counts: list[int] = []
    lengths: list[int] = []
    for sentence in sentences:
        row: dict[int, int] = {}
        for w in words(sentence):
            t = cache.get(w)
            if t is None:
                if w in stop_words or len(w) < 2:
                    t = -1
                else:
                    key = stem(w) if stemming else w
                    t = ids.setdefault(key, len(ids))
                cache[w] = t
            if t >= 0:
                row[t] = row.get(t, 0) + 1
        for t in sorted(row):
            terms.append(t)
            counts.append(row[t])
        indptr.append(len(terms))
        lengths.append(sum(row.values()))
    return TermMatrix(
        np.asarray(indptr, dtype=np.int64),
        np.asarray(terms, dtype=np.int32),
        np.asarray(counts, dtype=np.float64),
        list(ids),
        np.asarray(lengths, dtype=np.float64),
    )
