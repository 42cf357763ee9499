"""Language modelling as a task for the :class:`~seqtool.train.trainer.Trainer`.

Text becomes one stream of token ids (a line-end token after every line: ``"\\n"``
for character models, ``<eos>`` for word and subword models), the stream becomes
batches (:mod:`seqtool.train.data`), and this module supplies the model, the
loss (carrying an RNN's state between windows), the validation perplexity and
the checkpoint contents.  :func:`load_lm` reads a trained model back.

Example::

    data = prepare_data(["train.txt"], vocab=Vocab.build(lines, "char", Normalizer.make("none"),
                                                         extra_tokens=("\\n",)),
                        valid_fraction=0.1)
    spec = lm_spec("lstm", data.vocab, {"hidden": 256})
    result = train_lm(spec, data, TrainConfig(time_budget=60), Path("lm.pt"))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.io import display_name, read_lines
from seqtool.metrics.perplexity import Perplexity, stream_perplexity
from seqtool.models import MODELS, as_flags, foreign_settings
from seqtool.models.rnn_lm import CELLS, detach_state
from seqtool.text.vocab import EOS, UNK, Vocab
from seqtool.train import distributed as dist_util
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.data import StreamBatches, WindowBatches
from seqtool.train.defaults import LM_DATA, LM_MODEL, LM_TRAIN
from seqtool.train.trainer import StepInfo, TrainConfig, Trainer, TrainResult

LM_KINDS = ("rnn_lm", "transformer_lm")
MODEL_NAMES = (*CELLS, "transformer")

MODEL_DEFAULTS, DATA_DEFAULTS, TRAIN_DEFAULTS = LM_MODEL, LM_DATA, LM_TRAIN


def boundary_id(vocab: Vocab) -> int:
    """The token that ends a line in the stream: ``"\\n"`` for char vocabularies that
    have it, else ``<eos>``."""
    if vocab.kind == "char" and "\n" in vocab.index:
        return vocab.index["\n"]
    return EOS


def encode_lines(lines: Iterable[str], vocab: Vocab) -> tuple[Tensor, int, int]:
    """The token stream of ``lines`` with a line end after each; also characters and
    out-of-vocabulary tokens counted."""
    end = boundary_id(vocab)
    ids: list[int] = []
    chars = 0
    for line in lines:
        chars += len(line) + 1
        ids.extend(vocab.encode(line))
        ids.append(end)
    t = torch.tensor(ids, dtype=torch.long)
    return t, chars, int((t == UNK).sum())


@dataclass
class LMData:
    vocab: Vocab
    train: Tensor  # (N,) ids
    valid: Tensor | None
    valid_chars: int = 0
    valid_oov: int = 0
    train_chars: int = 0


def prepare_data(
    train_files: Sequence[str],
    vocab: Vocab | Callable[[list[str]], Vocab],
    valid_files: Sequence[str] = (),
    valid_fraction: float = 0.1,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> LMData:
    """Read the corpora, build the vocabulary if a builder is given, encode the text.

    Without ``valid_files`` the last ``valid_fraction`` of the training stream's
    tokens (a contiguous tail) is held out for validation.
    """
    if not 0 <= valid_fraction < 1:
        raise UsageError(f"--valid-fraction must be in [0, 1), not {valid_fraction}")
    lines = list(read_lines(train_files, encoding, errors))
    if not any(line.strip() for line in lines):
        names = ", ".join(display_name(p) for p in train_files)
        raise InputError(f"{names}: empty input (no text found)")
    if callable(vocab):
        vocab = vocab(lines)
    ids, chars, _ = encode_lines(lines, vocab)
    valid: Tensor | None = None
    vchars = voov = 0
    if valid_files:
        vlines = list(read_lines(valid_files, encoding, errors))
        valid, vchars, voov = encode_lines(vlines, vocab)
        if len(valid) < 2:
            raise InputError(f"{', '.join(valid_files)}: validation text is empty")
    elif valid_fraction > 0:
        cut = int(len(ids) * (1 - valid_fraction))
        valid, ids = ids[cut:], ids[:cut]
        vchars = int(chars * valid_fraction)  # per-character figures: share of the text
        chars -= vchars
        voov = int((valid == UNK).sum())
    return LMData(vocab, ids, valid, vchars, voov, chars)


@dataclass
class LMSpec:
    """What to build: the model kind, its config, and how batches are cut."""

    name: str  # rnn | gru | lstm | transformer
    kind: str
    config: dict[str, Any]
    seq_len: int
    batch_size: int
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self) -> nn.Module:
        return build_model(self.kind, self.config)


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    if kind not in MODELS:
        raise CheckpointError(f"unknown model kind {kind!r}")
    cls, cfg_cls = MODELS[kind]
    try:
        return cls(cfg_cls(**config))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as e:
        raise UsageError(f"impossible {kind} settings: {e}") from None


def lm_spec(
    name: str,
    vocab: Vocab,
    overrides: dict[str, Any] | None = None,
    seq_len: int | None = None,
    batch_size: int | None = None,
) -> LMSpec:
    """The model for ``--model name`` with the default sizes, then ``overrides``."""
    if name not in MODEL_NAMES:
        raise UsageError(f"unknown --model {name!r}; choose {', '.join(MODEL_NAMES)}")
    kind = "transformer_lm" if name == "transformer" else "rnn_lm"
    foreign = foreign_settings(kind, overrides or {})
    if foreign:
        raise UsageError(
            f"{as_flags(foreign)}: not a setting of --model {name}",
            hint=f"its sizes are {as_flags(MODEL_DEFAULTS[name])}",
        )
    cfg: dict[str, Any] = dict(MODEL_DEFAULTS[name])
    cfg.update({k: v for k, v in (overrides or {}).items() if v is not None})
    seq_len = seq_len if seq_len is not None else DATA_DEFAULTS[name]["seq_len"]
    batch_size = batch_size if batch_size is not None else DATA_DEFAULTS[name]["batch_size"]
    if seq_len < 1:
        raise UsageError(f"--seq-len must be at least 1, not {seq_len}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    cfg["vocab_size"] = len(vocab)
    if name == "transformer":
        cfg["context"] = seq_len
    else:
        cfg["cell"] = name
    spec = LMSpec(name, kind, cfg, seq_len, batch_size)
    spec.build()  # refuse impossible sizes now, before reading more data
    return spec


class LMLoss:
    """``loss_fn`` for the trainer: summed cross-entropy of a batch, with an RNN's
    state carried (detached) from one window to the next.

    ``fused``: the model sums the loss itself (``model(x, state, targets=y)``, see
    :mod:`seqtool.models.fused_loss`), without float32 logits; decided once from the
    unwrapped model, since the trainer hands over a DDP- or compile-wrapped one.
    """

    def __init__(self, fused: bool = False) -> None:
        self.fused = fused
        self.state: Any = None

    def __call__(self, model: nn.Module, batch: dict[str, Any]) -> tuple[Tensor, int]:
        x, y = batch["x"], batch["y"]  # (B, T)
        state = self.state if batch["carry"] else None
        if self.fused:
            loss, state = model(x, state, targets=y)
        else:
            logits, state = model(x, state)  # (B, T, V)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), reduction="sum")
        self.state = detach_state(state)
        return loss, y.numel()

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        s = d.get("state")
        self.state = tuple(s) if isinstance(s, list) else s


def valid_metrics(p: Perplexity, char_level: bool) -> dict[str, float]:
    out = {"valid_loss": p.loss, "valid_ppl": p.ppl, "valid_bpc": p.bits_per_char}
    if char_level:
        out["valid_bpc"] = p.bits_per_token  # one token per character
    return out


def lm_trainer(
    spec: LMSpec,
    data: LMData,
    cfg: TrainConfig,
    output: Path | None,
    *,
    resume: dict[str, Any] | None = None,
    log_path: Path | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    dist: dist_util.DistInfo = dist_util.SINGLE,
    device: torch.device | None = None,
    meta: dict[str, Any] | None = None,
) -> Trainer:
    """A :class:`Trainer` for ``spec`` on ``data``, its model holding ``resume``'s
    weights when given; call ``fit(resume=resume["train_state"])`` on it."""
    model = spec.build()
    if resume is not None:
        model.load_state_dict(resume["model"])
    batches = StreamBatches if spec.kind == "rnn_lm" else WindowBatches
    source = batches(
        data.train, spec.batch_size, spec.seq_len, cfg.seed, dist.rank, dist.world_size
    )
    char_level = data.vocab.kind == "char"

    evaluate = None
    if data.valid is not None:
        valid = data.valid

        def evaluate(m: nn.Module) -> dict[str, Any]:
            dev = next(m.parameters()).device
            chunk = 256 if getattr(m, "carries_state", False) else spec.seq_len
            p = stream_perplexity(
                m, valid, dev, rows=16, chunk=chunk, chars=data.valid_chars, oov=data.valid_oov
            )
            return valid_metrics(p, char_level)

    def extra() -> dict[str, Any]:
        return {
            "kind": spec.kind,
            "config": dict(spec.config),
            "vocab": data.vocab.to_dict(),
            "preprocess": {
                "normalize": data.vocab.normalizer.name,
                "lowercase": data.vocab.normalizer.lower,
                "tokenizer": data.vocab.kind,
            },
            "lm": {"model": spec.name, "seq_len": spec.seq_len, "batch_size": spec.batch_size},
            **(meta or {}),
        }

    return Trainer(
        model,
        cfg,
        source,
        LMLoss(fused=bool(getattr(model, "fused_loss", False))),
        evaluate=evaluate,
        metric="valid_ppl",
        mode="min",
        output=output,
        log_path=log_path,
        checkpoint_extra=extra,
        on_step=on_step,
        on_eval=on_eval,
        dist=dist,
        device=device,
    )


def train_lm(
    spec: LMSpec, data: LMData, cfg: TrainConfig, output: Path | None, **kwargs: Any
) -> tuple[TrainResult, nn.Module]:
    """Train ``spec`` on ``data`` (arguments as :func:`lm_trainer`); returns the
    summary and the trained module."""
    resume = kwargs.get("resume")
    trainer = lm_trainer(spec, data, cfg, output, **kwargs)
    result = trainer.fit(resume=resume["train_state"] if resume is not None else None)
    return result, trainer.module


@dataclass
class LoadedLM:
    model: nn.Module
    vocab: Vocab
    checkpoint: dict[str, Any]
    device: torch.device

    @property
    def boundary(self) -> int:
        return boundary_id(self.vocab)


def load_lm(path: str | os.PathLike[str], device: torch.device) -> LoadedLM:
    """A trained language model, ready for scoring or generation on ``device``."""
    ckpt = load_checkpoint(path, kinds=LM_KINDS)
    vocab = Vocab.from_dict(ckpt.get("vocab"), f"{path}: vocabulary")
    try:
        model = build_model(ckpt["kind"], ckpt["config"])
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, UsageError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: weights do not match the model config ({first[:160]})"
        ) from None
    if len(vocab) != ckpt["config"].get("vocab_size"):
        raise CheckpointError(f"{path}: vocabulary size {len(vocab)} does not match the model")
    model.to(device).eval()
    return LoadedLM(model, vocab, ckpt, device)


def spec_from_checkpoint(ckpt: dict[str, Any]) -> LMSpec:
    lm = ckpt.get("lm", {})
    return LMSpec(
        lm.get("model", ckpt["kind"]),
        ckpt["kind"],
        dict(ckpt["config"]),
        int(lm.get("seq_len", 64)),
        int(lm.get("batch_size", 32)),
    )


def config_from_checkpoint(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The training settings a checkpoint was made with (for --resume)."""
    saved = ckpt.get("train_config") or {}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in saved.items() if k in names}
