"""``classify train -m bow`` in numpy: fastText's model at fastText's speed.

The torch runner pays for torch's import (1-2 s of CPU) before it reads a line;
fastText trains SST-2 in less than that.  So ``bow`` trains here, with
:mod:`seqtool.train.bow_numpy`, without importing torch, and writes the same
checkpoint the runner would (:mod:`seqtool.train.torchfile`): kind
``classifier``, the :class:`~seqtool.models.classifier.BagOfWords` config and
weights, vocabulary, labels, split, metrics, so ``classify predict``/``eval`` and
:class:`~seqtool.tasks.classify.Classifier` load it as any other.  With at least as
many dimensions as classes the output layer is held at a fixed scaled identity and
only the input table trains (``train_config["output_layer"]`` says which; see
:mod:`seqtool.train.bow_numpy`).

What the engine does of the shared training options: the stopping rules
(``epochs``, ``max_steps``, ``time_budget``, ``patience``), ``eval_every``,
``lr`` with a ``linear``, ``cosine`` or ``constant`` schedule, ``min_lr`` and
``warmup``, ``seed`` (the same seed gives the same model), ``log``.  A setting it
does not have (another device, optimizer or precision, momentum, weight decay,
clipping, accumulation, ``resume``, ``vectors``, dropout, data parallelism) sends
the run to the torch runner (``engine="auto"``, see :func:`numpy_refusal`).  A
numpy run writes no resumable ``.last.pt``: it lasts seconds.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import numpy as np

from seqtool.errors import UsageError, check_at_least
from seqtool.io import atomic_write, check_not_input, check_output_path
from seqtool.metrics.classification import classification_scores
from seqtool.tasks.classify_config import KIND, ClassifyConfig, read_split
from seqtool.text.labels import LabelSet
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import UNK, Vocab
from seqtool.train.bow_numpy import OUTPUT_SCALE, Features, FixedOutputTrainer, FullTrainer
from seqtool.train.defaults import BOW_NUMPY_DIM, CLASSIFY_MODEL, CLASSIFY_TRAIN
from seqtool.train.options import (
    NullReporter,
    Reporter,
    StepInfo,
    TrainOptions,
    TrainResult,
    compact,
)
from seqtool.train.torchfile import checkpoint_header, write_torch_file

SCHEDULES = ("linear", "cosine", "constant")
# option -> the values the numpy engine accepts (None: not given)
_ACCEPTS: dict[str, tuple[Any, ...]] = {
    "device": (None, "auto", "cpu"),
    "precision": (None, "auto", "fp32"),
    "compile": (None, False),
    "optimizer": (None, "sgd"),
    "momentum": (None, 0, 0.0),
    "weight_decay": (None, 0, 0.0),
    "clip": (None, 0, 0.0),
    "accumulate": (None, 1),
    "resume": (None,),
}


def numpy_refusal(config: ClassifyConfig, options: TrainOptions) -> str | None:
    """Why the numpy engine cannot train this run (naming the parameter), or None."""
    if config.model != "bow":
        return f"it trains the bow model only, not {config.model}"
    for name, accepted in _ACCEPTS.items():
        value = getattr(options, name)
        if value not in accepted or (value is False and None not in accepted):
            return f"`{name}` {value} needs the torch engine"
    if options.schedule not in (None, *SCHEDULES):
        return f"`schedule` {options.schedule} needs the torch engine"
    if config.vectors is not None:
        return "`vectors` need the torch engine"
    if config.dropout:
        return "`dropout` needs the torch engine"
    # torchrun's data-parallel processes (the runner reads the same variable)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return "data-parallel training needs the torch engine"
    return None


def use_numpy(config: ClassifyConfig, options: TrainOptions) -> bool:
    """Whether ``config`` trains with the numpy engine; ``engine="numpy"`` with a
    setting it lacks is a :class:`UsageError`."""
    if config.engine == "torch" or config.model != "bow":
        return False
    why = numpy_refusal(config, options)
    if why is not None and config.engine == "numpy":
        raise UsageError(f"`engine` numpy: {why}")
    return why is None


@dataclass
class BowRun:
    result: TrainResult
    output: Path
    log_path: Path
    last_path: None = None
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Settings:
    lr: float
    schedule: str
    min_lr: float
    warmup: int
    epochs: int | None
    max_steps: int | None
    time_budget: float | None
    patience: int | None
    eval_every: int | None
    seed: int

    @classmethod
    def resolve(cls, options: TrainOptions) -> _Settings:
        d = {**CLASSIFY_TRAIN["bow"], **options.given()}
        rules = ("epochs", "max_steps", "time_budget")
        if any(getattr(options, k) is not None for k in rules):
            d.update({k: getattr(options, k) for k in rules})
        s = cls(
            lr=float(d.get("lr", 1.0)),
            schedule=str(d.get("schedule", "linear")),
            min_lr=float(d.get("min_lr", 0.0)),
            warmup=int(d.get("warmup", 0)),
            epochs=d.get("epochs"),
            max_steps=d.get("max_steps"),
            time_budget=d.get("time_budget"),
            patience=d.get("patience"),
            eval_every=d.get("eval_every"),
            seed=int(d.get("seed", 0)),
        )
        for name in ("lr", "epochs", "max_steps", "time_budget", "patience", "eval_every"):
            value = getattr(s, name)
            if value is not None and not value > 0:
                raise UsageError(f"`{name}` must be positive, not {value}")
        check_at_least("warmup", s.warmup, 0)
        if not 0 <= s.min_lr <= 1:
            raise UsageError(f"min_lr must be a fraction of `lr` in [0, 1], not {s.min_lr}")
        return s

    def factor(self, step: int, progress: float) -> float:
        """The learning rate's multiplier at ``step``, ``progress`` (0..1) into the run."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.schedule == "constant":
            return 1.0
        p = min(max(progress, 0.0), 1.0)
        shape = 1.0 - p if self.schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * p))
        return self.min_lr + (1.0 - self.min_lr) * shape


# ASCII bytes -> what the d2l/letters rules make of them: letters stay (lowercased or
# not), a line break stays, anything else is a space
_KEEP_CASE = bytes(
    c if chr(c).isalpha() or c == 10 else 32 for c in range(128)
) + b" " * 128  # fmt: skip
_LOWER_CASE = _KEEP_CASE.lower()


def _tokens(texts: Sequence[str], norm: Normalizer) -> tuple[list[str], np.ndarray]:
    """Every word of ``texts`` in order (``norm.line(text).split()`` of each) and
    how many each text has.  ASCII text under the d2l/letters rules is cleaned in
    one pass over all of it, not line by line."""
    joined = "\n".join(texts)
    if (
        norm.name in ("d2l", "letters")
        and joined.isascii()
        and joined.count("\n") == len(texts) - 1  # no text holds a line break
    ):
        clean = joined.encode("ascii").translate(_LOWER_CASE if norm.lower else _KEEP_CASE)
        text = clean.decode("ascii")
        lines = text.split("\n")
        return text.split(), np.fromiter(map(len, map(str.split, lines)), np.int64, len(texts))
    per_line = [norm.line(t).split() for t in texts]
    return list(chain.from_iterable(per_line)), np.fromiter(
        map(len, per_line), np.int64, len(texts)
    )


def _word_ids(words: list[str], vocab: Vocab) -> np.ndarray:
    """The vocabulary id of each word (``<unk>`` for the unknown)."""
    return np.fromiter(map(vocab.index.get, words, repeat(UNK)), np.int64, len(words))


def train_bow_numpy(
    config: ClassifyConfig,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    meta: dict[str, Any] | None = None,
) -> BowRun:
    """Train the ``bow`` classifier of ``config`` with numpy; the best model on
    validation (the final one without validation) goes to ``output`` (default
    ``classifier.pt``), one JSON line per evaluation to the log."""
    t0 = time.perf_counter()
    options = options or TrainOptions()
    reporter = reporter or NullReporter()
    config.check()
    why = numpy_refusal(config, options)
    if why is not None:
        raise UsageError(f"`engine` numpy: {why}")
    s = _Settings.resolve(options)
    c = config
    read = [*c.files, *(c.valid or ())]
    out = check_output_path(Path(output) if output is not None else Path("classifier.pt"), read)
    log_path = Path(options.log) if options.log else out.with_name(out.stem + ".log.jsonl")
    check_not_input(log_path, [*read, out], "`log`")

    split = {"valid": [str(p) for p in c.valid or []], "valid_fraction": c.valid_fraction}
    train, valid, split = read_split(c, c.read(c.files), split)
    labels = LabelSet.from_labels(train.labels, source=train.where[0].rsplit(":", 1)[0])
    norm = Normalizer.make(c.normalize, c.lower)
    # normalise once: the vocabulary is counted from the tokens the lines encode to
    tokens, lengths = _tokens(train.texts, norm)
    vocab = Vocab.from_counter(
        Counter(tokens), "word", norm, min_freq=c.min_freq, source="the training text"
    )
    settings = {**CLASSIFY_MODEL["bow"], "dim": BOW_NUMPY_DIM, **c.model_settings()}
    batch = int(c.batch_size or settings.pop("batch_size"))
    settings.pop("batch_size", None)
    dim, ngrams, buckets = (
        int(settings["dim"]),
        int(settings["word_ngrams"]),
        int(settings["buckets"]),
    )
    for name, value in (("dim", dim), ("word_ngrams", ngrams), ("buckets", buckets)):
        check_at_least(name, value)
    words, k = len(vocab), len(labels)
    feats = Features.from_flat(_word_ids(tokens, vocab), lengths, ngrams, buckets, words)
    del tokens
    y = np.asarray(labels.ids(train), dtype=np.int64)
    vfeats = vy = None
    if valid is not None and len(valid.texts):
        vwords, vlengths = _tokens(valid.texts, norm)
        vfeats = Features.from_flat(_word_ids(vwords, vocab), vlengths, ngrams, buckets, words)
        vy = np.asarray(labels.ids(valid), dtype=np.int64)

    rng = np.random.default_rng(s.seed)
    rows = words + (buckets + 1 if ngrams > 1 else 0)
    fixed = k <= dim  # the output layer can be held fixed (see bow_numpy.OUTPUT_SCALE)
    trainer = (FixedOutputTrainer if fixed else FullTrainer)(
        feats, y, rows, k, dim, words, min(batch, max(1, len(feats))), rng
    )
    n = len(feats)
    batch = max(1, min(batch, n))
    per_epoch = math.ceil(n / batch)
    model_config = {
        "vocab_size": words, "classes": k, "dim": dim, "word_ngrams": ngrams,
        "buckets": buckets, "dropout": 0.0, "sparse": True, "pad_id": 0,
    }  # fmt: skip
    reporter.on_message(
        "info",
        f"classify train: bow ({(rows * dim + k * dim + k) / 1e6:.2f}M parameters) on "
        f"{n} lines, {k} classes, {words} words; {0 if vy is None else len(vy)} validation "
        f"lines; cpu (numpy engine{', output layer fixed' if fixed else ''}); "
        f"{per_epoch} batches of {batch} per epoch",
    )

    total = None
    if s.max_steps is not None or s.epochs is not None:
        total = min(s.max_steps or math.inf, (s.epochs or math.inf) * per_epoch)

    def elapsed() -> float:
        return time.perf_counter() - t0

    def progress(step: int) -> float:
        parts = [step / total] if total else []
        if s.time_budget:
            parts.append(elapsed() / s.time_budget)
        return max(parts) if parts else 0.0

    records: list[dict[str, Any]] = []
    best: float | None = None
    best_step: int | None = None
    kept: list[np.ndarray] | None = None  # a copy of the best weights, once they changed
    best_is_now = False  # the best weights are the trainer's own, to be copied before a step
    bad = 0
    step = seen = 0  # optimizer steps, training lines read
    loss_sum, loss_n = 0.0, 0
    eval_seconds = 0.0
    reason = "epochs"
    log_path.unlink(missing_ok=True)

    def evaluate(epoch: float, lr: float) -> None:
        nonlocal best, best_step, best_is_now, bad, eval_seconds, reason, loss_sum, loss_n
        record: dict[str, Any] = {"step": step, "epoch": round(epoch, 4)}
        train_loss = loss_sum / loss_n if loss_n else None
        record["train_loss"] = train_loss
        if train_loss is not None:
            record["train_ppl"] = math.exp(min(train_loss, 50.0))
        loss_sum, loss_n = 0.0, 0
        if vfeats is not None and vy is not None:
            te = time.perf_counter()
            p = trainer.probs(vfeats)
            scores = classification_scores(vy.tolist(), p.argmax(1).tolist(), labels.names)
            picked = p[np.arange(len(vy)), vy]
            record.update(
                valid_loss=float(-np.log(np.maximum(picked, 1e-12)).mean()),
                valid_acc=scores.accuracy,
                valid_f1=scores.macro_f1,
            )
            eval_seconds = max(eval_seconds, time.perf_counter() - te)
            if best is None or scores.accuracy > best:
                best, best_step, bad = float(scores.accuracy), step, 0
                best_is_now = True  # copied only if training goes on (see the loop)
            else:
                bad += 1
                if s.patience and bad >= s.patience:
                    reason = "early stopping"
            record["best"] = best
        record.update(tokens=seen, lr=lr, elapsed=round(elapsed(), 2))
        records.append(record)
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        reporter.on_eval(record)

    epoch = 0
    lr = s.lr
    stopped = False
    while not stopped:
        order = trainer.epoch(rng)
        for i, b in enumerate(order):
            if best_is_now:  # training goes on: keep the best weights aside
                if kept is None:
                    kept = [a.copy() for a in trainer.arrays()]
                else:
                    for src, dst in zip(trainer.arrays(), kept):
                        np.copyto(dst, src)
                best_is_now = False
            lr = s.lr * s.factor(step, progress(step))
            loss_sum += trainer.step(int(b), lr)
            lines = trainer.lines(int(b))
            loss_n += lines
            seen += lines
            step += 1
            if step % 50 == 0:
                t = elapsed()
                info = StepInfo(
                    step, epoch, loss_sum / max(loss_n, 1), seen / t, lr, t, progress(step)
                )
                reporter.on_step(info)
            if total is not None and step >= total:
                reason = (
                    "max_steps" if s.max_steps is not None and step >= s.max_steps else "epochs"
                )
                stopped = True
            elif s.time_budget and elapsed() + 2 * eval_seconds >= s.time_budget:
                reason, stopped = "time_budget", True
            if s.eval_every and step % s.eval_every == 0 and not stopped and i + 1 < per_epoch:
                evaluate(epoch + (i + 1) / per_epoch, lr)
                stopped = reason == "early stopping"
            if stopped:
                break
        done_epoch = epoch + (i + 1) / per_epoch
        epoch += 1
        evaluate(done_epoch, lr)
        stopped = stopped or reason == "early stopping"

    last = records[-1] if records else None
    # the best weights: the trainer's own if nothing moved them since (or no validation)
    final = trainer.weights(
        trainer.arrays() if best is None or best_is_now or kept is None else kept
    )
    metrics = {k_: v for k_, v in (last or {}).items() if isinstance(v, (int, float))}
    payload = {
        **checkpoint_header(),
        "kind": KIND,
        "config": model_config,
        "vocab": vocab.to_dict(),
        "preprocess": {
            "normalize": vocab.normalizer.name,
            "lowercase": vocab.normalizer.lower,
            "tokenizer": vocab.kind,
        },
        "classify": {
            "model": "bow",
            "labels": list(labels.names),
            "batch_size": batch,
            "split": {**split, "train_lines": n},
        },
        **(meta or {}),
        "model": final.state_dict(),
        "metrics": metrics | {"best": best, "best_step": best_step, "step": step},
        "train_config": {
            "engine": "numpy",
            **vars(s),
            "batch_size": batch,
            "output_layer": f"fixed at {OUTPUT_SCALE:g} x identity" if fixed else "trained",
        },
    }
    with atomic_write(out, "wb") as f:
        write_torch_file(f, payload)
    result = TrainResult(step, done_epoch, elapsed(), seen, reason, best, best_step, last)
    best_text = f"best valid accuracy {best:.4f} at step {best_step}; " if best is not None else ""
    reporter.on_message(
        "info",
        f"done ({reason}): {step} steps, {done_epoch:.2f} epochs, {result.elapsed:.1f} s, "
        f"{compact(seen / max(result.elapsed, 1e-9))} lines/s; {best_text}model in {out}, "
        f"log in {log_path}",
    )
    return BowRun(result, out, log_path, records=records)


__all__ = ["BowRun", "numpy_refusal", "train_bow_numpy", "use_numpy"]
