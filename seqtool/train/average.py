"""Checkpoint averaging: one model whose weights are the element-wise mean of several.

Averaging checkpoints from late in one run (the best and the last, or those of a
run resumed further) often scores a little better than any one of them and costs
nothing at inference; fairseq's ``average_checkpoints.py`` made it a standard step
for translation.  (Independent runs learn unrelated weights: their mean is no
model, and nothing here can tell.)  It works for every seqtool checkpoint with
weights (language models, translation, classification, forecasting):

- the checkpoints must describe the same model: the same ``kind``, ``config``,
  vocabularies, preprocessing and labels, and the same weight names, shapes and
  dtypes; anything else is a one-line :class:`~seqtool.errors.CheckpointError`;
- floating-point tensors are summed in float64 and divided once, then cast back
  to their dtype (so bf16/fp32 weights lose nothing to the summing); other
  tensors (integer or boolean buffers, such as step counters) come from the last
  checkpoint given;
- everything else (task settings, the target shortlist, ...) comes from the last
  checkpoint, except what no longer holds: the optimizer state (an average is
  not a point training passed through, so it is not resumable) and the
  validation metrics.  A translation model's target shortlist is the union of
  the inputs' shortlists.

Checkpoints are read one at a time (safe loading, :func:`load_checkpoint`), so
memory holds the running sums and one checkpoint, and the result is written
atomically (:func:`save_checkpoint`).

Example::

    summary = average_checkpoints(["mt.pt", "mt.last.pt"], "mt.avg.pt")
    mt = Translator.load("mt.avg.pt")      # seqtool.tasks.mt
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seqtool.errors import CheckpointError, UsageError
from seqtool.io import check_not_input
from seqtool.train.checkpoint import load_checkpoint, save_checkpoint

# Sections that say what the model is: checkpoints to average must agree on them.
IDENTITY = ("kind", "config", "vocab", "src_vocab", "tgt_vocab", "preprocess")
# Sections that described one point of one run, and are not carried into an average
# (and those :func:`save_checkpoint` writes afresh).
DROPPED = ("train_state", "metrics", "format", "format_version", "seqtool_version", "created")


@dataclass
class AverageSummary:
    """What :func:`average_checkpoints` did."""

    kind: str
    checkpoints: int
    tensors: int  # floating-point tensors averaged
    values: int  # their elements
    kept: list[str]  # other tensors, taken from the last checkpoint


def average_checkpoints(
    paths: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    meta: dict[str, Any] | None = None,
) -> AverageSummary:
    """Write to ``output`` the checkpoint whose weights are the mean of ``paths``'
    (see the module docstring); ``meta`` (e.g. the command line) is stored in it."""
    if len(paths) < 2:
        raise UsageError(f"`paths`: give at least two checkpoints to average, not {len(paths)}")
    check_not_input(output, paths)
    sums: dict[str, torch.Tensor] = {}
    shortlists: list[list[int]] = []
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for n, path in enumerate(paths):
        ckpt = load_checkpoint(path)
        weights = ckpt["model"]
        if n == 0:
            if not weights:
                raise CheckpointError(f"{path}: a {ckpt['kind']!r} checkpoint holds no weights")
            first = ckpt
        else:
            _check_same_model(first, ckpt, str(paths[0]), str(path))
        for key, t in weights.items():
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{path}: malformed checkpoint (weight {key!r})")
            if t.is_floating_point():
                if n:
                    sums[key].add_(t)  # summed in float64
                else:
                    sums[key] = t.double()
        ids = (ckpt.get("mt") or {}).get("output_ids")
        if ids is not None:
            shortlists.append(list(ids))
        last = ckpt
    weights = {
        key: (sums[key] / len(paths)).to(t.dtype) if key in sums else t
        for key, t in last["model"].items()
    }
    payload = {k: v for k, v in last.items() if k not in DROPPED}
    payload["model"] = weights
    if shortlists and "mt" in payload:
        payload["mt"] = {**payload["mt"], "output_ids": sorted(set().union(*shortlists))}
    payload["averaged"] = {"checkpoints": [str(p) for p in paths]}
    payload.update(meta or {})
    save_checkpoint(output, payload)
    return AverageSummary(
        kind=str(last["kind"]),
        checkpoints=len(paths),
        tensors=len(sums),
        values=sum(t.numel() for t in sums.values()),
        kept=[k for k in weights if k not in sums],
    )


def _check_same_model(a: dict[str, Any], b: dict[str, Any], name_a: str, name_b: str) -> None:
    """Refuse to average ``b`` with ``a`` unless they are the same model, saying where
    they differ first."""

    def refuse(what: str) -> CheckpointError:
        return CheckpointError(f"{name_b}: cannot be averaged with {name_a}: {what}")

    if a["kind"] != b["kind"]:
        raise refuse(f"a {b['kind']!r} model, not {a['kind']!r}")
    for section in IDENTITY[1:]:
        if a.get(section) != b.get(section):
            raise refuse(_difference(section, a.get(section), b.get(section)))
    labels_a = (a.get("classify") or {}).get("labels")
    labels_b = (b.get("classify") or {}).get("labels")
    if labels_a != labels_b:
        raise refuse("different labels")
    wa, wb = a["model"], b["model"]
    if wa.keys() != wb.keys():
        odd = sorted(wa.keys() ^ wb.keys())
        raise refuse(f"different weights ({', '.join(odd[:3])}{', ...' if len(odd) > 3 else ''})")
    for key, t in wa.items():
        u = wb[key]
        if not isinstance(u, torch.Tensor) or u.shape != t.shape or u.dtype != t.dtype:
            shape = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
            raise refuse(f"weight {key} is {shape}, not {tuple(t.shape)} {t.dtype}")


def _difference(section: str, a: Any, b: Any) -> str:
    """``config differs: dim 64, not 32`` or ``different vocab``."""
    if section == "config" and isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]
        parts = [f"{k} {b.get(k)!r}, not {a.get(k)!r}" for k in keys[:3]]
        return "config differs: " + "; ".join(parts) + ("; ..." if len(keys) > 3 else "")
    if "vocab" in section:
        return f"different {section.replace('_', ' ').replace('vocab', 'vocabulary')}"
    return f"different {section}"
