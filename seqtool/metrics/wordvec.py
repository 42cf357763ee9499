"""How good are word vectors: analogy accuracy and word-similarity correlation.

Both follow gensim's ``KeyedVectors.evaluate_word_analogies`` and
``evaluate_word_pairs`` (so numbers compare with published gensim figures):

* **Analogies** in the ``questions-words.txt`` format: ``: section`` lines, then
  lines ``a b c d`` meaning ``a : b :: c : d``.  The answer is the word nearest to
  ``b - a + c`` (3CosAdd on unit vectors) among the ``restrict`` most frequent
  words, the question words excluded; words are compared case-insensitively.  A
  question with a word outside those words is skipped and counted.
* **Word pairs** like ``wordsim353.tsv`` and ``simlex999.txt``: ``#`` comments, then
  ``word1<TAB>word2<TAB>score``; the Spearman rank correlation between the human
  scores and the cosine similarities of the pairs whose words are known, with the
  coverage.  Spearman is computed here (ties get average ranks, like scipy's
  ``spearmanr``); numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from seqtool.errors import InputError
from seqtool.wordvectors import WordVectors

RESTRICT = 300_000  # gensim's default restrict_vocab


# ---------------------------------------------------------------------- Spearman
def rankdata(x: ArrayLike) -> np.ndarray:
    """Ranks 1..n, tied values sharing the average of their ranks."""
    values = np.asarray(x, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_x = values[order]
    # runs of equal values: give each run the mean of its ranks
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends + 1) / 2.0  # ranks start..end-1 are start+1..end
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def pearson(x: ArrayLike, y: ArrayLike) -> float:
    """Pearson correlation; nan when either side is constant."""
    xc = np.asarray(x, dtype=np.float64)
    yc = np.asarray(y, dtype=np.float64)
    xc, yc = xc - xc.mean(), yc - yc.mean()
    denom = float(np.sqrt((xc * xc).sum() * (yc * yc).sum()))
    return float((xc * yc).sum() / denom) if denom > 0 else float("nan")


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman rank correlation: Pearson correlation of the (average) ranks."""
    xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if xa.shape != ya.shape:
        raise ValueError(f"spearman needs equal lengths, not {len(xa)} and {len(ya)}")
    if len(xa) < 2:
        return float("nan")
    return pearson(rankdata(xa), rankdata(ya))


# ---------------------------------------------------------------------- pairs
@dataclass
class PairScore:
    """Word-similarity result: Spearman (and Pearson) over the known pairs."""

    spearman: float
    pearson: float
    pairs: int  # pairs scored
    unknown: int  # pairs skipped for an unknown word
    invalid: int  # lines that were not "word word score"

    @property
    def coverage(self) -> float:
        total = self.pairs + self.unknown
        return self.pairs / total if total else 0.0


def evaluate_pairs(
    wv: WordVectors,
    lines: Iterable[str],
    source: str = "pairs",
    restrict: int = RESTRICT,
    case_insensitive: bool = True,
) -> PairScore:
    """Spearman correlation of cosine similarity with human scores (gensim's rules)."""
    lookup = _lookup(wv, restrict, case_insensitive)
    gold: list[float] = []
    model: list[float] = []
    unknown = invalid = 0
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        try:
            a, b, score = parts
            value = float(score)
        except ValueError:
            invalid += 1
            continue
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in lookup or b not in lookup:
            unknown += 1
            continue
        gold.append(value)
        model.append(float(wv.unit[lookup[a]] @ wv.unit[lookup[b]]))
    if not gold:
        raise InputError(
            f"{source}: no word pair could be scored ({unknown} with unknown words, "
            f"{invalid} lines not 'word<TAB>word<TAB>score')"
        )
    return PairScore(spearman(gold, model), pearson(gold, model), len(gold), unknown, invalid)


# ---------------------------------------------------------------------- analogies
@dataclass
class Section:
    name: str
    correct: int = 0
    answered: int = 0
    skipped: int = 0  # questions with a word outside the vectors

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


@dataclass
class AnalogyScore:
    """Analogy result per section and in total (gensim's "Total accuracy")."""

    sections: list[Section] = field(default_factory=list)

    @property
    def correct(self) -> int:
        return sum(s.correct for s in self.sections)

    @property
    def answered(self) -> int:
        return sum(s.answered for s in self.sections)

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.sections)

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0


def evaluate_analogies(
    wv: WordVectors,
    lines: Iterable[str],
    source: str = "analogies",
    restrict: int = RESTRICT,
    case_insensitive: bool = True,
) -> AnalogyScore:
    """Accuracy of 3CosAdd on ``a b c d`` questions, per section (gensim's rules)."""
    lookup = _lookup(wv, restrict, case_insensitive)
    limit = min(restrict, len(wv))
    # the case-folded identity of every candidate: an answer may not be a question word
    # in another case, and is right if it folds to the expected word
    folded = [w.upper() if case_insensitive else w for w in wv.words[:limit]]
    key_of = {w: i for i, w in enumerate(dict.fromkeys(folded))}
    key = np.array([key_of[w] for w in folded], dtype=np.int64)
    result = AnalogyScore()
    questions: list[tuple[int, int, int, int, int]] = []  # a, b, c, expected key, section
    for n, line in enumerate(lines, 1):
        if line.startswith(":"):
            result.sections.append(Section(line[1:].strip()))
            continue
        if not line.strip():
            continue
        if not result.sections:
            result.sections.append(Section("(no section)"))
        words = line.split()
        if len(words) != 4:
            raise InputError(f"{source}:{n}: expected 4 words (a b c d), found {len(words)}")
        if case_insensitive:
            words = [w.upper() for w in words]
        if any(w not in lookup for w in words):
            result.sections[-1].skipped += 1
            continue
        a, b, c, d = (lookup[w] for w in words)
        questions.append((a, b, c, int(key[d]), len(result.sections) - 1))
    if not result.sections:
        raise InputError(f"{source}: no analogy questions found")
    unit = wv.unit[:limit]
    q = np.array(questions, dtype=np.int64).reshape(-1, 5)
    chunk = max(16, (1 << 24) // max(limit, 1))  # keeps a (chunk, limit) score matrix small
    for lo in range(0, len(q), chunk):
        part = q[lo : lo + chunk]
        ia, ib, ic = part[:, 0], part[:, 1], part[:, 2]
        query = unit[ib] - unit[ia] + unit[ic]  # (Q, dim); its norm does not change the ranking
        scores = query @ unit.T  # (Q, limit)
        for col in (ia, ib, ic):
            scores[key[None, :] == key[col][:, None]] = -np.inf
        guess = key[np.argmax(scores, axis=1)]
        for (_, _, _, expected, section), g in zip(part.tolist(), guess.tolist()):
            result.sections[section].answered += 1
            result.sections[section].correct += int(g == expected)
    return result


def _lookup(wv: WordVectors, restrict: int, case_insensitive: bool) -> dict[str, int]:
    """Word -> row among the ``restrict`` most frequent; folded, the most frequent form wins."""
    words = wv.words[: min(restrict, len(wv))]
    if not case_insensitive:
        return {w: i for i, w in enumerate(words)}
    lookup: dict[str, int] = {}
    for i, w in enumerate(words):
        lookup.setdefault(w.upper(), i)
    return lookup
