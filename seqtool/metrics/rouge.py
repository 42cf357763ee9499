"""ROUGE-1/2/L through Google's ``rouge-score`` package, with several references.

``rouge-score`` is the reference Python re-implementation of ROUGE-1.5.5; it is an
optional extra (``pip install 'seqtool[rouge]'``) because only this metric needs
it and it brings absl-py and nltk along.

Each hypothesis is scored against each of its references; ``combine="best"``
keeps, per ROUGE type, the reference with the highest F1 (rouge-score's
``score_multi``, the usual multi-reference rule), ``combine="mean"`` averages
over the references.  The corpus figure is the mean over hypotheses of
precision, recall and F1.  Every score carries a signature with the settings::

    ROUGE-1|nrefs:4|stem:yes|combine:best|tok:rouge-score|version:0.1.2 = P 41.23 R 35.12 F 37.90
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqtool.errors import InputError, ResourceError, UsageError

__all__ = ["COMBINE", "ROUGE_TYPES", "RougeScore", "rouge_scores"]

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")
COMBINE = ("best", "mean")
_NAMES = {"rouge1": "ROUGE-1", "rouge2": "ROUGE-2", "rougeL": "ROUGE-L", "rougeLsum": "ROUGE-Lsum"}


@dataclass(frozen=True)
class RougeScore:
    """One ROUGE type averaged over the hypotheses, in [0, 1]."""

    name: str  # "ROUGE-1"
    precision: float
    recall: float
    f1: float
    signature: str

    def text(self, width: int = 2) -> str:
        p, r, f = (100 * x for x in (self.precision, self.recall, self.f1))
        return f"{self.name}|{self.signature} = P {p:.{width}f} R {r:.{width}f} F {f:.{width}f}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "signature": self.signature,
        }


def _scorer(types: Sequence[str], stem: bool) -> Any:
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise ResourceError(
            "ROUGE needs the rouge-score package, which is not installed",
            hint="pip install 'seqtool[rouge]' (or: pip install rouge-score)",
        ) from None
    return rouge_scorer.RougeScorer(list(types), use_stemmer=stem)


def rouge_version() -> str:
    try:
        return importlib.metadata.version("rouge-score")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def rouge_scores(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    types: Sequence[str] = ("rouge1", "rouge2", "rougeL"),
    stem: bool = True,
    combine: str = "best",
) -> list[RougeScore]:
    """Mean ROUGE of ``hyps`` against reference streams ``refs`` (each as long as ``hyps``).

    An empty reference line means "no reference from this stream for that
    hypothesis" (topics with fewer gold summaries); every hypothesis needs at
    least one non-empty reference.  ``rougeLsum`` reads newlines in a text as
    sentence breaks.
    """
    if not refs:
        raise UsageError("give at least one reference")
    if not hyps:
        raise InputError("no hypotheses to score")
    for t in types:
        if t not in ROUGE_TYPES:
            raise UsageError(f"unknown ROUGE type {t!r}; choose from {', '.join(ROUGE_TYPES)}")
    if combine not in COMBINE:
        raise UsageError(f"combine must be one of {', '.join(COMBINE)}, not {combine!r}")
    for k, r in enumerate(refs, 1):
        if len(r) != len(hyps):
            raise InputError(
                f"{len(hyps)} hypotheses but reference {k} has {len(r)} lines; "
                "hypotheses and references must be line-aligned"
            )
    types = list(dict.fromkeys(types))
    scorer = _scorer(types, stem)
    sums = {t: [0.0, 0.0, 0.0] for t in types}
    for i, hyp in enumerate(hyps):
        targets = [r[i] for r in refs if r[i].strip()]
        if not targets:
            raise InputError(f"hypothesis {i + 1} has no non-empty reference")
        per_ref = [scorer.score(t, hyp) for t in targets]
        for t in types:
            if combine == "best":
                best = max(per_ref, key=lambda s: s[t].fmeasure)[t]  # first of equals
                p, r, f = best.precision, best.recall, best.fmeasure
            else:
                p = sum(s[t].precision for s in per_ref) / len(per_ref)
                r = sum(s[t].recall for s in per_ref) / len(per_ref)
                f = sum(s[t].fmeasure for s in per_ref) / len(per_ref)
            acc = sums[t]
            acc[0] += p
            acc[1] += r
            acc[2] += f
    nrefs = len(refs)
    sig = (
        f"nrefs:{nrefs}|stem:{'yes' if stem else 'no'}|combine:{combine}|tok:rouge-score"
        f"|version:{rouge_version()}"
    )
    n = len(hyps)
    return [
        RougeScore(_NAMES[t], sums[t][0] / n, sums[t][1] / n, sums[t][2] / n, sig) for t in types
    ]
