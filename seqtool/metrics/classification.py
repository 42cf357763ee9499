"""Classification scores: accuracy, macro-F1, per-class precision/recall/F1, confusion.

Pure numpy over integer class ids, so it serves any classifier (and imports
without torch).  Conventions (scikit-learn's): rows of the confusion matrix are
the true classes, columns the predicted ones; a class never predicted has
precision 0, a class absent from the references has recall 0, and F1 is 0 when
precision and recall are both 0.  Macro-F1 averages F1 over every class the
model knows, present in the data or not.

Example::

    >>> s = classification_scores([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    >>> round(s.accuracy, 2), round(s.macro_f1, 3)
    (0.75, 0.733)
    >>> s.confusion
    [[1, 1], [0, 2]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int  # examples whose true class this is


@dataclass
class ClassificationScores:
    labels: list[str]
    n: int
    accuracy: float
    macro_f1: float
    per_class: list[ClassScore]
    confusion: list[list[int]]  # confusion[true][predicted]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def confusion_matrix(gold: Sequence[int], pred: Sequence[int], n_classes: int) -> np.ndarray:
    g = np.asarray(gold, dtype=np.int64)
    p = np.asarray(pred, dtype=np.int64)
    if g.shape != p.shape:
        raise ValueError(f"{len(g)} references but {len(p)} predictions")
    for name, a in (("reference", g), ("prediction", p)):
        if a.size and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"a {name} class id is outside 0..{n_classes - 1}")
    return np.bincount(g * n_classes + p, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def classification_scores(
    gold: Sequence[int], pred: Sequence[int], labels: Sequence[str]
) -> ClassificationScores:
    """Scores of predicted class ids against reference ids; ``labels[i]`` names class ``i``."""
    k = len(labels)
    cm = confusion_matrix(gold, pred, k)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(k), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(k), where=denom > 0)
    n = int(cm.sum())
    return ClassificationScores(
        labels=list(labels),
        n=n,
        accuracy=float(tp.sum() / n) if n else 0.0,
        macro_f1=float(f1.mean()) if k else 0.0,
        per_class=[
            ClassScore(str(lab), float(p), float(r), float(f), int(s))
            for lab, p, r, f, s in zip(labels, precision, recall, f1, support)
        ],
        confusion=cm.tolist(),
    )
