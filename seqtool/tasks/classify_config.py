"""What ``classify train`` trains, on what data: :class:`ClassifyConfig`.

Free of torch, like :mod:`seqtool.train.options`: the command line builds it while
parsing flags, and the numpy ``bow`` engine (:mod:`seqtool.tasks.classify_bow`)
trains from it without importing torch.  :mod:`seqtool.tasks.classify` re-exports
everything here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtool.errors import UsageError, check_at_least, check_choice, check_fraction, param
from seqtool.io import check_encoding
from seqtool.text.labels import FORMATS, Labelled, read_labelled
from seqtool.text.normalize import Normalizer

KIND = "classifier"  # the checkpoint kind
VALID_FRACTION = 0.1
SPLIT_SEED = 20_140_825  # the held-out tenth does not move with --seed

MODEL_SETTINGS = (
    "dim",
    "word_ngrams",
    "buckets",
    "widths",
    "maps",
    "hidden",
    "layers",
    "cell",
    "pool",
    "heads",
    "ff_dim",
    "dropout",
    "members",
)
# The settings of MODEL_SETTINGS each model takes (the fields of its config in
# seqtool.models.classifier, which imports torch; a test keeps the two equal).
SETTINGS_OF: dict[str, frozenset[str]] = {
    "bow": frozenset({"dim", "word_ngrams", "buckets", "dropout"}),
    "cnn": frozenset({"dim", "widths", "maps", "dropout"}),
    "birnn": frozenset({"dim", "hidden", "layers", "cell", "pool", "dropout"}),
    "transformer": frozenset({"dim", "heads", "layers", "ff_dim", "dropout"}),
    "nb": frozenset({"word_ngrams", "buckets"}),
    "ensemble": frozenset(
        {"members", "dim", "hidden", "maps", "dropout", "word_ngrams", "buckets"}
    ),
}
ENGINES = ("auto", "numpy", "torch")


# ---------------------------------------------------------------------- config
@dataclass
class ClassifyConfig:
    """What ``classify train`` trains, on what data (fields named as its parameters).

    Model sizes left ``None`` take the defaults of ``model``
    (:data:`seqtool.train.defaults.CLASSIFY_MODEL`).
    ``vectors``: a word2vec text or binary file whose vectors start the embedding
    (``dim`` then defaults to theirs); ``freeze_vectors`` keeps them fixed.
    ``engine``: ``bow`` trains with numpy (no torch import: fastText's speed) unless
    a setting needs torch (see :func:`seqtool.tasks.classify_bow.numpy_refusal`);
    ``"torch"`` always uses the shared runner, ``"numpy"`` insists on numpy.
    """

    files: Sequence[str | os.PathLike[str]]
    valid: Sequence[str | os.PathLike[str]] | None = None
    valid_fraction: float | None = None
    # the most accurate from scratch on SST-2 in 5 CPU minutes (benchmarks/classify.py)
    model: str = "ensemble"
    input_format: str = "auto"
    text_col: str | None = None
    label_col: str | None = None
    dim: int | None = None
    word_ngrams: int | None = None
    buckets: int | None = None
    widths: Sequence[int] | None = None
    maps: int | None = None
    hidden: int | None = None
    layers: int | None = None
    cell: str | None = None
    pool: str | None = None
    heads: int | None = None
    ff_dim: int | None = None
    dropout: float | None = None
    members: str | Sequence[str] | None = None  # ensemble: "nb,birnn,birnn,cnn" or a list
    batch_size: int | None = None
    vectors: str | os.PathLike[str] | None = None
    freeze_vectors: bool = False
    normalize: str = "letters"
    lower: bool | None = None
    min_freq: int = 1
    encoding: str = "utf-8"
    errors: str = "strict"
    engine: str = "auto"

    def check(self) -> None:
        """Refuse impossible settings, naming the parameter."""
        if not self.files:
            raise UsageError("`files`: give at least one training file")
        check_choice("model", self.model, SETTINGS_OF)
        check_choice("engine", self.engine, ENGINES)
        if self.engine == "numpy" and self.model != "bow":
            raise UsageError(f"`engine` numpy trains the bow model only, not {self.model}")
        check_choice("input_format", self.input_format, FORMATS)
        check_at_least("batch_size", self.batch_size)
        check_at_least("min_freq", self.min_freq)
        check_fraction("valid_fraction", self.valid_fraction)
        if self.freeze_vectors and self.vectors is None:
            raise UsageError("freeze_vectors needs `vectors`")
        if self.vectors is not None and self.model == "nb":
            raise UsageError("`vectors`: the nb model has no word embedding to start from them")
        foreign = [k for k in self.model_settings() if k not in SETTINGS_OF[self.model]]
        if foreign:
            raise UsageError(
                f"{', '.join(param(k) for k in foreign)}: not a setting of the {self.model} model"
            )
        Normalizer.make(self.normalize, self.lower)
        check_encoding(self.encoding, self.errors)

    def model_settings(self) -> dict[str, Any]:
        """The model sizes set here (the others take the model's defaults)."""
        out = {k: getattr(self, k) for k in MODEL_SETTINGS if getattr(self, k) is not None}
        if "widths" in out:
            out["widths"] = [int(w) for w in out["widths"]]
        if "members" in out:
            out["members"] = member_list(out["members"])
        return out

    def read(self, files: Sequence[str | os.PathLike[str]]) -> Labelled:
        return read_labelled(
            files, self.input_format, self.text_col, self.label_col, self.encoding, self.errors
        )


def member_list(members: str | Sequence[str]) -> list[str]:
    """An ensemble's members from ``"nb,birnn,cnn"`` or a list of names."""
    names = members.split(",") if isinstance(members, str) else list(members)
    return [str(m).strip() for m in names if str(m).strip()]


# ---------------------------------------------------------------------- data
def held_out(n: int, fraction: float) -> tuple[list[int], list[int]]:
    """Indices (train, valid) of a fixed random ``fraction`` of ``n`` lines."""
    k = int(round(n * fraction))
    if fraction > 0 and k == 0 and n > 1:
        k = 1
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    return sorted(order[k:].tolist()), sorted(order[:k].tolist())


def read_split(
    config: ClassifyConfig, train: Labelled, split: dict[str, Any]
) -> tuple[Labelled, Labelled | None, dict[str, Any]]:
    """The training and validation lines: ``split["valid"]`` files when it names some,
    else a held-out ``split["valid_fraction"]`` of ``train`` (default a tenth; 0: no
    validation).  Returns the split with the fraction filled in."""
    split = dict(split)
    valid: Labelled | None = None
    if split["valid"]:
        valid = config.read(split["valid"])
    else:
        fraction = VALID_FRACTION if split["valid_fraction"] is None else split["valid_fraction"]
        split["valid_fraction"] = float(fraction)
        if fraction > 0:
            keep, held = held_out(len(train), fraction)
            valid = subset(train, held)
            train = subset(train, keep)
    return train, valid, split


def subset(data: Labelled, rows: Sequence[int]) -> Labelled:
    return Labelled(
        [data.texts[i] for i in rows], [data.labels[i] for i in rows], [data.where[i] for i in rows]
    )
