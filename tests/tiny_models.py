"""Tiny models of every trained kind, a few steps each, for tests about how commands
handle models (streaming, averaging), not how good the models are."""

from __future__ import annotations

import random
from pathlib import Path

from seqtool.tasks.classify import ClassifyConfig, train_classify
from seqtool.tasks.lm import LMConfig, train_lm
from seqtool.tasks.mt import MTConfig, train_mt
from seqtool.train.runner import TrainOptions

OPTS = dict(device="cpu", threads=1, seed=0)


def train_tiny_models(d: Path, steps: int = 2) -> dict[str, Path]:
    """mt.pt (gru-attn reversing letters), lm.pt (char GRU), clf.pt (bag of words) in
    ``d``, each with its resumable X.last.pt beside it."""
    r = random.Random(0)
    pairs = []
    for _ in range(200):
        w = [r.choice("abcdef") for _ in range(r.randint(2, 5))]
        pairs.append(" ".join(w) + "\t" + " ".join(reversed(w)))
    (d / "rev.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    mt_cfg = MTConfig(pairs=str(d / "rev.tsv"), model="gru-attn", embed=16, hidden=16,
                      layers=1, tokenizer="word", valid_size=20)  # fmt: skip
    train_mt(mt_cfg, TrainOptions(max_steps=steps, **OPTS), d / "mt.pt")
    (d / "lm.txt").write_text("ROMEO:\nabcdefgh ijklmnop\n" * 100, encoding="utf-8")
    lm_cfg = LMConfig(files=[str(d / "lm.txt")], model="gru", embed=16, hidden=16, layers=1)
    train_lm(lm_cfg, TrainOptions(max_steps=steps, **OPTS), d / "lm.pt")
    labelled = [("good great fine", "pos"), ("bad awful poor", "neg")] * 50
    (d / "lab.tsv").write_text("".join(f"{t}\t{y}\n" for t, y in labelled), encoding="utf-8")
    train_classify(
        ClassifyConfig(files=[str(d / "lab.tsv")], model="bow"),
        TrainOptions(max_steps=steps, **OPTS),
        d / "clf.pt",
    )
    return {"mt": d / "mt.pt", "lm": d / "lm.pt", "clf": d / "clf.pt", "dir": d}
