"""BLEU, chrF and TER through sacrebleu, plus the d2l book's sentence BLEU.

Corpus scores come from sacrebleu's own metric classes with the settings its
command line uses, so ``seqtool bleu`` and ``sacrebleu`` print the same numbers
and the same signatures on the same files (lines are right-stripped, as the
sacrebleu CLI does).  :class:`Score` keeps the score, its signature and
sacrebleu's verbose detail; :attr:`Score.json_text` is byte-for-byte what
``sacrebleu -f json`` prints for that metric.

:func:`d2l_bleu` is the Dive into Deep Learning formula, for teaching::

    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)

where ``p_n`` is the clipped n-gram precision.  It is a sentence-level score in
[0, 1], not comparable with corpus BLEU.

Example::

    >>> round(d2l_bleu("il est riche .".split(), "il est calme .".split(), k=2), 3)
    0.658
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqtool.errors import InputError, UsageError

METRICS = ("bleu", "chrf", "ter")
TOKENIZERS = ("13a", "intl", "char", "none", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200")


@dataclass(frozen=True)
class Score:
    """One corpus-level score with the settings that produced it."""

    name: str  # sacrebleu's name: "BLEU", "chrF2", "TER"
    score: float
    signature: str  # e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    verbose: str  # sacrebleu's detail ("64.0/42.1/... (BP = ...)"), "" when it has none
    json_text: str  # what sacrebleu's CLI prints for this score with -f json (width 1)

    def text(self, width: int = 1) -> str:
        """sacrebleu's text line: ``BLEU|<signature> = 32.3 88.9/57.1/...``."""
        line = f"{self.name}|{self.signature} = {self.score:.{width}f}"
        return f"{line} {self.verbose}" if self.verbose else line

    def as_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.json_text))


def _metric(name: str, tokenize: str | None, lowercase: bool) -> Any:
    from sacrebleu.metrics import BLEU, CHRF, TER

    if name == "bleu":
        if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
            raise UsageError(
                f"unknown BLEU tokenizer {tokenize!r}; choose one of {', '.join(BLEU.TOKENIZERS)}"
            )
        return BLEU(lowercase=lowercase, tokenize=tokenize)
    if name == "chrf":
        return CHRF(lowercase=lowercase)
    if name == "ter":
        return TER()  # TERCOM defaults (case-insensitive), as the sacrebleu CLI
    raise UsageError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")


def check_lengths(hyps: Sequence[str], refs: Sequence[Sequence[str]], names: Sequence[str]) -> None:
    """Refuse hypotheses and references of different line counts, naming both."""
    for ref, name in zip(refs, names[1:]):
        if len(ref) != len(hyps):
            raise InputError(
                f"{names[0]} has {len(hyps)} lines but {name} has {len(ref)}; "
                "hypotheses and references must be line-aligned"
            )


def corpus_scores(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    metrics: Sequence[str] = ("bleu",),
    tokenize: str | None = None,
    lowercase: bool = False,
) -> list[Score]:
    """Corpus scores of ``hyps`` against one or more reference streams.

    ``refs`` is a list of reference sets, each as long as ``hyps``.  Metrics come
    back in sacrebleu's order (sorted by name), as its CLI prints them.
    ``tokenize`` (BLEU only) defaults to sacrebleu's ``13a``; ``lowercase``
    applies to BLEU and chrF (TER is case-insensitive by default).
    """
    if not refs:
        raise UsageError("give at least one reference")
    check_lengths(hyps, refs, ["hypotheses"] + [f"reference {i + 1}" for i in range(len(refs))])
    out = []
    for name in sorted({m.lower() for m in metrics}):
        metric = _metric(name, tokenize, lowercase)
        score = metric.corpus_score(list(hyps), [list(r) for r in refs])
        sig = metric.get_signature().format()
        out.append(
            Score(
                name=score.name,
                score=float(score.score),
                signature=sig,
                verbose=score._verbose or "",
                json_text=score.format(1, False, sig, True),
            )
        )
    return out


def sacrebleu_json(scores: Sequence[Score]) -> str:
    """What ``sacrebleu -f json`` prints: one object, or a list for several metrics."""
    if len(scores) == 1:
        return scores[0].json_text
    return "[\n" + ",\n".join(s.json_text for s in scores) + "\n]"


def d2l_bleu(pred_tokens: Sequence[str], label_tokens: Sequence[str], k: int) -> float:
    """The d2l book's sentence BLEU of one prediction against one label.

    As in the book, n-gram orders run from 1 to ``min(k, len(pred))``; an empty
    prediction scores 0 (the book would divide by zero).
    """
    if k < 1:
        raise UsageError(f"d2l_k must be at least 1, not {k}")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        label_ngrams = Counter(tuple(label_tokens[i : i + n]) for i in range(len_label - n + 1))
        matches = 0
        for i in range(len_pred - n + 1):
            gram = tuple(pred_tokens[i : i + n])
            if label_ngrams[gram] > 0:
                matches += 1
                label_ngrams[gram] -= 1
        score *= math.pow(matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def d2l_sentence_scores(
    hyps: Sequence[str],
    refs: Sequence[str],
    k: int,
    tokenize: str | None = "13a",
    lowercase: bool = False,
) -> list[float]:
    """:func:`d2l_bleu` per line, after sacrebleu's BLEU tokenizer (13a by default).

    Tokenizing first puts spaces before punctuation, as d2l's own preprocessing
    does, so ``"il est riche."`` is read as four tokens.
    """
    from sacrebleu.metrics import BLEU

    tok = BLEU(tokenize=tokenize or "13a").tokenizer

    def split(s: str) -> list[str]:
        s = tok(s.rstrip())
        return (s.lower() if lowercase else s).split()

    return [d2l_bleu(split(h), split(r), k) for h, r in zip(hyps, refs)]
