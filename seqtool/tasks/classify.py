"""Text classification: train a classifier on labelled lines, then label new lines.

Labelled files (:mod:`seqtool.text.labels`: ``text<TAB>label``, CSV with a header,
fastText's ``__label__``) become token ids through a word :class:`Vocab` built on
the training text and class ids through a :class:`LabelSet`; :class:`ClassifyTask`
supplies one of the four models of :mod:`seqtool.models.classifier`, the summed
cross-entropy, validation accuracy and macro-F1 and the checkpoint contents to
:func:`~seqtool.train.runner.run_training`.  A trained model comes back as a
:class:`Classifier`, which predicts, ranks labels and evaluates.

Each model trains the way it trains best (the defaults in
:mod:`seqtool.train.defaults`): ``bow`` as fastText does (plain SGD on sparse gradients,
linear decay, 5 epochs), the others with AdamW.  Without ``valid`` files a fixed
random tenth of the training lines is held out (the same tenth whatever the seed,
and kept by a resumed run).

Example::

    clf = train_classify(ClassifyConfig(files=["train.tsv"], valid=["dev.tsv"], model="cnn"),
                         TrainOptions(time_budget=120, seed=1), output="clf.pt")
    clf = Classifier.load("clf.pt")
    print(clf.predict(["a gripping , funny film"]))          # ['1']
    print(clf.evaluate(read_labelled("dev.tsv")).accuracy)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.metrics.classification import ClassificationScores, classification_scores
from seqtool.models.classifier import (
    Coverage,
    FitsData,
    collate,
    init_from_vectors,
    make_config,
    model_from_config,
    word_tables,
)
from seqtool.models.transformer_lm import count_parameters
from seqtool.tasks.classify_bow import train_bow_numpy, use_numpy
from seqtool.tasks.classify_config import (
    KIND,
    MODEL_SETTINGS,
    SETTINGS_OF,
    VALID_FRACTION,
    ClassifyConfig,
    held_out,
    member_list,
    read_split,
)
from seqtool.text.labels import Labelled, LabelSet
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import SPECIALS, Vocab
from seqtool.train.checkpoint import load_checkpoint, restore_model
from seqtool.train.defaults import CLASSIFY_MODEL, CLASSIFY_TRAIN
from seqtool.train.device import resolve_device
from seqtool.train.runner import TrainOptions, run_training
from seqtool.train.task import Reporter
from seqtool.train.trainer import BatchSource
from seqtool.wordvectors import WordVectors


@dataclass
class Encoded:
    """Lines as token ids and their class ids."""

    ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.ids)


class ClassifyBatches:
    """Shuffled batches of lines, padded to the longest line of each batch.

    Each epoch shuffles the lines with a generator seeded by ``(seed, epoch)``,
    sorts them by length within pools of 20 batches (less padding) and shuffles the
    batch order again, so ``(epoch, index)`` is the whole data position.  Under data
    parallelism rank ``r`` of ``world`` takes every ``world``-th line; all ranks get
    the same number of batches.
    """

    POOL = 20

    def __init__(
        self, data: Encoded, batch_size: int, seed: int = 0, rank: int = 0, world: int = 1
    ) -> None:
        self.data, self.seed, self.rank, self.world = data, seed, rank, world
        self.per_rank = len(data) // world
        if self.per_rank < 1:
            raise InputError(f"{len(data)} training lines cannot be shared by {world} processes")
        self.batch_size = min(batch_size, self.per_rank)
        self.n = math.ceil(self.per_rank / self.batch_size)

    def __len__(self) -> int:
        return self.n

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + epoch)
        mine = torch.randperm(len(self.data), generator=g)[self.rank :: self.world]
        order: list[int] = mine[: self.per_rank].tolist()
        lengths = [len(self.data.ids[i]) for i in order]
        pool = self.batch_size * self.POOL
        sorted_order: list[int] = []
        for lo in range(0, len(order), pool):
            chunk = list(range(lo, min(lo + pool, len(order))))
            chunk.sort(key=lambda j: lengths[j])
            sorted_order.extend(order[j] for j in chunk)
        groups = [
            sorted_order[i : i + self.batch_size]
            for i in range(0, len(sorted_order), self.batch_size)
        ]
        shuffle = torch.randperm(len(groups), generator=g).tolist()
        for b in range(start, self.n):
            rows = groups[shuffle[b]]
            x, lengths_t = collate([self.data.ids[i] for i in rows])
            yield {
                "x": x,
                "lengths": lengths_t,
                "y": torch.tensor([self.data.labels[i] for i in rows], dtype=torch.long),
            }


def classify_loss(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    """The model's own loss of a batch, summed over its lines, and their number (the
    mean cross-entropy; an ensemble's is the mean of its members')."""
    _, loss = model(batch["x"], batch["lengths"], batch["y"])
    n = int(batch["y"].numel())
    return loss * n, n


@torch.no_grad()
def class_probs(
    model: nn.Module, ids: Sequence[Sequence[int]], device: torch.device, batch_size: int = 256
) -> np.ndarray:
    """``(N, K)`` class probabilities of encoded lines, in their order."""
    out = []
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # batches of similar length
    for lo in range(0, len(order), batch_size):
        rows = order[lo : lo + batch_size]
        x, lengths = collate([ids[i] for i in rows])
        logits, _ = model(x.to(device), lengths.to(device))
        out.append(torch.softmax(logits.float(), dim=-1).cpu())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    probs = torch.cat(out).numpy()
    result = np.empty_like(probs)
    result[np.asarray(order)] = probs
    return result


# ---------------------------------------------------------------------- the task
class ClassifyTask:
    """Text classification as a :class:`~seqtool.train.task.Task`."""

    name = "classify train"
    kinds: tuple[str, ...] = (KIND,)
    metric, mode = "valid_acc", "max"
    metric_label, metric_digits, token_label = "valid accuracy", 4, "lines"

    def __init__(self, config: ClassifyConfig) -> None:
        config.check()
        self.config = config
        self._warn: Callable[[str], None] = lambda text: None
        self.coverage: Coverage | None = None
        self._vectors: WordVectors | None = None

    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        c = self.config
        self._warn = warn
        train = c.read(c.files)
        if resume is not None:
            saved = resume.get("classify") or {}
            try:
                self.vocab = Vocab.from_dict(resume.get("vocab"), "`resume`: vocabulary")
                self.labels = LabelSet(list(saved["labels"]))
                self.model_name = str(saved["model"])
                self.model_config = dict(resume["config"])
                self.batch_size = int(saved["batch_size"])
                split = dict(saved["split"])
            except (KeyError, TypeError) as e:
                raise CheckpointError(f"`resume`: not a classifier checkpoint ({e})") from None
            if c.model_settings() or c.vectors is not None:
                warn("`resume`: the model comes from the checkpoint; model settings ignored")
        else:
            split = {"valid": [str(p) for p in c.valid or []], "valid_fraction": c.valid_fraction}
        train, valid, split = read_split(c, train, split)
        self.split = split
        if resume is None:
            self.labels = LabelSet.from_labels(
                train.labels, source=train.where[0].rsplit(":", 1)[0]
            )
            norm = Normalizer.make(c.normalize, c.lower)
            self.vocab = Vocab.build(
                train.texts, "word", norm, min_freq=c.min_freq, source="the training text"
            )
            self.model_name = c.model
            settings = {**CLASSIFY_MODEL[c.model], **c.model_settings()}
            self.batch_size = int(c.batch_size or settings.pop("batch_size"))
            settings.pop("batch_size", None)
            if "members" in settings:
                settings["members"] = member_list(settings["members"])
            if c.vectors is not None:
                self._vectors = WordVectors.load(c.vectors)
                if c.dim is None:
                    settings["dim"] = self._vectors.dim
                elif c.dim != self._vectors.dim:
                    raise UsageError(
                        f"the vectors in {c.vectors} have dimension {self._vectors.dim}, "
                        f"but `dim` is {c.dim}",
                        hint="leave `dim` out to take the vectors' dimension",
                    )
            cfg = make_config(
                c.model, vocab_size=len(self.vocab), classes=len(self.labels), **settings
            )
            self.model_config = asdict(cfg)
        self.train = Encoded([self.vocab.encode(t) for t in train.texts], self.labels.ids(train))
        self.valid = (
            None
            if valid is None
            else Encoded([self.vocab.encode(t) for t in valid.texts], self.labels.ids(valid))
        )

    def train_defaults(self, device: torch.device) -> dict[str, Any]:
        return dict(CLASSIFY_TRAIN[self.model_name])

    def build_model(self) -> nn.Module:
        model = model_from_config(self.model_name, self.model_config)
        if self._vectors is not None:
            for table in word_tables(model):
                self.coverage = init_from_vectors(
                    table,
                    self.vocab.tokens,
                    self.vocab.counts,
                    self._vectors.words,
                    self._vectors.vectors,
                    first=len(SPECIALS),
                    freeze=self.config.freeze_vectors,
                )
        shape_only = any(p.is_meta for p in model.parameters())  # built to check a checkpoint
        if isinstance(model, FitsData) and not shape_only:
            # counts on the training lines (a resumed run's weights then replace them
            # with the same numbers)
            ids, labels = self.train.ids, self.train.labels
            model.fit_data(
                [
                    (*collate(ids[lo : lo + 512]), torch.tensor(labels[lo : lo + 512]))
                    for lo in range(0, len(ids), 512)
                ]
            )
        return model

    def batches(self, seed: int, rank: int, world_size: int) -> BatchSource:
        return ClassifyBatches(self.train, self.batch_size, seed, rank, world_size)

    def loss(self, model: nn.Module) -> Callable[[nn.Module, Any], tuple[Tensor, int]]:
        return classify_loss

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]] | None:
        valid, names = self.valid, self.labels.names
        if valid is None or not len(valid):
            return None

        def evaluate(m: nn.Module) -> dict[str, Any]:
            device = next(m.parameters()).device
            probs = class_probs(m, valid.ids, device)
            gold = np.asarray(valid.labels)
            picked = probs[np.arange(len(gold)), gold]
            scores = classification_scores(valid.labels, probs.argmax(1).tolist(), names)
            return {
                "valid_loss": float(-np.log(np.maximum(picked, 1e-12)).mean()),
                "valid_acc": scores.accuracy,
                "valid_f1": scores.macro_f1,
            }

        return evaluate

    def payload(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "config": dict(self.model_config),
            "vocab": self.vocab.to_dict(),
            "preprocess": {
                "normalize": self.vocab.normalizer.name,
                "lowercase": self.vocab.normalizer.lower,
                "tokenizer": self.vocab.kind,
            },
            "classify": {
                "model": self.model_name,
                "labels": list(self.labels.names),
                "batch_size": self.batch_size,
                "split": {**self.split, "train_lines": len(self.train)},
            },
        }

    def describe(self, model: nn.Module, source: BatchSource) -> tuple[str, str]:
        n_valid = 0 if self.valid is None else len(self.valid)
        what = (
            f"{self.model_name} ({count_parameters(model) / 1e6:.2f}M parameters) on "
            f"{len(self.train)} lines, {len(self.labels)} classes, {len(self.vocab)} words; "
            f"{n_valid} validation lines"
        )
        if self.coverage is not None:
            cov = self.coverage
            what += (
                f"; vectors for {cov.found}/{cov.words} words ({100 * cov.types:.1f}%, "
                f"{100 * cov.token_rate:.1f}% of tokens)"
                + (", frozen" if self.config.freeze_vectors else "")
            )
        return what, f"{len(source)} batches of {self.batch_size} per epoch"


# ---------------------------------------------------------------------- the artifact
@dataclass
class Prediction:
    label: str
    prob: float
    top: list[tuple[str, float]] = field(default_factory=list)  # best first


@dataclass
class Evaluation:
    scores: ClassificationScores
    errors: list[dict[str, Any]]  # the most confident mistakes, most confident first


@dataclass
class Classifier:
    """A trained classifier: its model, vocabulary and labels, ready to predict."""

    model: nn.Module
    vocab: Vocab
    labels: list[str]
    checkpoint: dict[str, Any]
    device: torch.device
    run: Any = None  # the training run's summary, when this came from train_classify

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device = "auto") -> Classifier:
        name = str(path)
        ckpt = load_checkpoint(path, kinds=(KIND,))
        try:
            info = ckpt["classify"]
            model_name, labels = str(info["model"]), [str(x) for x in info["labels"]]
        except (KeyError, TypeError):
            raise CheckpointError(f"{name}: malformed classifier checkpoint") from None
        vocab = Vocab.from_dict(ckpt.get("vocab"), f"{name}: vocabulary")
        model = restore_model(ckpt, name, build=lambda c: model_from_config(model_name, c))
        dev = device if isinstance(device, torch.device) else resolve_device(device)
        return cls(model.to(dev).eval(), vocab, labels, ckpt, dev)

    @property
    def model_name(self) -> str:
        return str(self.checkpoint["classify"]["model"])

    def probs(self, lines: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """``(N, K)`` probabilities of the classes (in the order of :attr:`labels`)."""
        ids = [self.vocab.encode(line) for line in lines]
        if not ids:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return class_probs(self.model, ids, self.device, batch_size)

    def predict(self, lines: Sequence[str]) -> list[str]:
        """One label per line, in order."""
        return [self.labels[i] for i in self.probs(lines).argmax(1).tolist()] if lines else []

    def predict_top(self, lines: Sequence[str], k: int = 1) -> list[Prediction]:
        """The best label of each line with its probability, and the ``k`` best."""
        if k < 1:
            raise UsageError(f"`top` must be at least 1, not {k}")
        out = []
        for row in self.probs(lines):
            best = np.argsort(-row, kind="stable")[: min(k, len(row))]
            top = [(self.labels[i], float(row[i])) for i in best]
            out.append(Prediction(top[0][0], top[0][1], top))
        return out

    def evaluate(self, data: Labelled, errors: int = 0) -> Evaluation:
        """Scores on labelled ``data`` (a label the model does not know is an error)
        and the ``errors`` most confident mistakes."""
        gold = LabelSet(self.labels).ids(data)
        if not gold:
            raise InputError("no labelled examples to evaluate")
        probs = self.probs(data.texts)
        pred = probs.argmax(1)
        scores = classification_scores(gold, pred.tolist(), self.labels)
        wrong = [i for i in range(len(gold)) if pred[i] != gold[i]]
        wrong.sort(key=lambda i: -float(probs[i, pred[i]]))
        mistakes = [
            {
                "where": data.where[i],
                "text": data.texts[i],
                "gold": self.labels[gold[i]],
                "predicted": self.labels[int(pred[i])],
                "prob": float(probs[i, pred[i]]),
            }
            for i in wrong[: max(errors, 0)]
        ]
        return Evaluation(scores, mistakes)


def train_classify(
    config: ClassifyConfig,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    meta: dict[str, Any] | None = None,
    keep_last: bool = True,
) -> Classifier:
    """Train a classifier (see :func:`~seqtool.train.runner.run_training` for
    ``options``, ``output`` (default ``classifier.pt``), ``reporter``); returns the
    best model on validation (the final one without validation), with ``.run``.
    ``bow`` trains with numpy when it can (:mod:`seqtool.tasks.classify_bow`)."""
    if use_numpy(config, options or TrainOptions()):
        bow = train_bow_numpy(config, options, output, reporter, meta=meta)
        clf = Classifier.load(bow.output, "cpu")
        clf.run = bow
        return clf
    run = run_training(
        ClassifyTask(config),
        options,
        output,
        reporter,
        default_output="classifier.pt",
        meta=meta,
        keep_last=keep_last,
        inputs=[*config.files, *(config.valid or ()), config.vectors],
    )
    clf = Classifier.load(run.output, next(run.model.parameters()).device)
    clf.run = run
    return clf


__all__ = [
    "KIND",
    "MODEL_SETTINGS",
    "SETTINGS_OF",
    "VALID_FRACTION",
    "ClassifyBatches",
    "ClassifyConfig",
    "ClassifyTask",
    "Classifier",
    "Evaluation",
    "Prediction",
    "classify_loss",
    "held_out",
    "train_classify",
]
