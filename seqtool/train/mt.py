"""Translation as a task for the :class:`~seqtool.train.trainer.Trainer`.

Parallel text (:mod:`seqtool.train.mt_data`) becomes ids through one joint
sentencepiece BPE vocabulary trained on both sides (or given vocabularies), the
ids become token-budget batches, and this module supplies the model, the
label-smoothed loss, the per-evaluation validation loss, perplexity and BLEU
(sacrebleu on greedy translations of the validation set, detokenized, against
the raw references) and the checkpoint contents.  ``best`` is kept by valid
BLEU.  :func:`load_mt` reads a trained model back for ``translate``.

Example::

    train = read_parallel(src="train.de.gz", tgt="train.en.gz")
    valid = read_parallel(src="val.de.gz", tgt="val.en.gz")
    data = prepare_data(train, valid)
    spec = mt_spec("transformer", data)
    result, model = train_mt(spec, data, TrainConfig(time_budget=600), Path("mt.pt"))
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.models import MODELS, as_flags, foreign_settings
from seqtool.models.seq2seq import translation_loss
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import EOS, PAD, UNK, Vocab
from seqtool.train import distributed as dist_util
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.defaults import MT_MODEL, MT_TRAIN
from seqtool.train.mt_data import (
    EncodedPairs,
    PairBatches,
    ParallelText,
    collate,
    encode_pairs,
    split_valid,
    token_batches,
)
from seqtool.train.trainer import StepInfo, TrainConfig, Trainer, TrainResult

MT_KINDS = ("gru_attn_mt", "transformer_mt")
KIND_OF = {"gru-attn": "gru_attn_mt", "transformer": "transformer_mt"}
MODEL_NAMES = tuple(KIND_OF)

MODEL_DEFAULTS, TRAIN_DEFAULTS = MT_MODEL, MT_TRAIN
MAX_TOKENS = 2048  # padded tokens per batch (batch size x longest side)
VOCAB_SIZE = 8000
VALID_HOLDOUT = 500  # pairs held out when no validation data is given


@dataclass
class MTData:
    src_vocab: Vocab
    tgt_vocab: Vocab
    train: EncodedPairs
    valid: EncodedPairs | None
    valid_refs: list[str]  # raw target sentences of the kept validation pairs
    src_lang: str | None = None
    tgt_lang: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def joint(self) -> bool:
        return self.src_vocab.fingerprint == self.tgt_vocab.fingerprint


def build_vocabs(
    train: ParallelText,
    vocab: Vocab | None = None,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
    vocab_size: int = VOCAB_SIZE,
    tokenizer: str = "bpe",
) -> tuple[Vocab, Vocab]:
    """The source and target vocabularies: given ones, else one joint subword model."""
    if vocab is not None:
        if src_vocab is not None or tgt_vocab is not None:
            raise UsageError("give either --vocab (joint) or --src-vocab/--tgt-vocab, not both")
        return vocab, vocab
    if src_vocab is None and tgt_vocab is None:
        joint = Vocab.build(
            train.src + train.tgt,
            kind=tokenizer,
            normalizer=Normalizer.make("none"),
            vocab_size=vocab_size,
        )
        return joint, joint
    none = Normalizer.make("none")
    if src_vocab is None:
        src_vocab = Vocab.build(train.src, kind=tokenizer, normalizer=none, vocab_size=vocab_size)
    if tgt_vocab is None:
        tgt_vocab = Vocab.build(train.tgt, kind=tokenizer, normalizer=none, vocab_size=vocab_size)
    return src_vocab, tgt_vocab


def prepare_data(
    train: ParallelText,
    valid: ParallelText | None = None,
    src_vocab: Vocab | None = None,
    tgt_vocab: Vocab | None = None,
    vocab: Vocab | None = None,
    vocab_size: int = VOCAB_SIZE,
    tokenizer: str = "bpe",
    max_len: int | None = None,
    valid_size: int | None = None,
    seed: int = 0,
) -> MTData:
    """Hold out validation pairs if none are given, build vocabularies, encode, filter.

    ``max_len`` drops training pairs with a side longer than that many tokens
    (``<eos>`` counted); validation pairs are never dropped, so valid BLEU is on
    the whole set.
    """
    stats: dict[str, Any] = {"dropped_empty": train.dropped_empty}
    if valid is None:
        size = valid_size if valid_size is not None else min(VALID_HOLDOUT, len(train) // 10)
        if size > 0:
            train, valid = split_valid(train, size, seed)
    elif valid_size is not None:
        raise UsageError(
            "--valid-size holds out training pairs; it cannot go with validation files"
        )
    s_vocab, t_vocab = build_vocabs(train, vocab, src_vocab, tgt_vocab, vocab_size, tokenizer)
    enc = encode_pairs(s_vocab, t_vocab, train, max_len)
    if len(enc) == 0:
        raise InputError(
            f"no training pairs are left after --max-len {max_len} dropped all {enc.dropped_long}",
            hint="raise --max-len",
        )
    stats.update(train_pairs=len(enc), dropped_long=enc.dropped_long, train_tokens=enc.tokens)
    venc = None
    refs: list[str] = []
    if valid is not None:
        venc = encode_pairs(s_vocab, t_vocab, valid, None)
        refs = list(valid.tgt)
        stats.update(valid_pairs=len(venc), valid_dropped_empty=valid.dropped_empty)
    return MTData(s_vocab, t_vocab, enc, venc, refs, train.src_lang, train.tgt_lang, stats)


@dataclass
class MTSpec:
    """What to build: the model name and kind, its config, and the batch budget."""

    name: str  # gru-attn | transformer
    kind: str
    config: dict[str, Any]
    max_tokens: int

    def build(self) -> nn.Module:
        return build_model(self.kind, self.config)


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    if kind not in MT_KINDS or kind not in MODELS:
        raise CheckpointError(f"unknown translation model kind {kind!r}")
    cls, cfg_cls = MODELS[kind]
    try:
        return cls(cfg_cls(**config))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as e:
        raise UsageError(f"impossible {kind} settings: {e}") from None


def mt_spec(
    name: str,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    overrides: dict[str, Any] | None = None,
    max_tokens: int | None = None,
) -> MTSpec:
    """The model for ``--model name``: default sizes, then ``overrides``.

    Source, target and output embeddings are shared when the vocabulary is joint.
    """
    if name not in KIND_OF:
        raise UsageError(f"unknown --model {name!r}; choose {', '.join(MODEL_NAMES)}")
    foreign = foreign_settings(KIND_OF[name], overrides or {})
    if foreign:
        raise UsageError(
            f"{as_flags(foreign)}: not a setting of --model {name}",
            hint=f"its sizes are {as_flags(MODEL_DEFAULTS[name])}",
        )
    cfg: dict[str, Any] = dict(MODEL_DEFAULTS[name])
    cfg.update({k: v for k, v in (overrides or {}).items() if v is not None})
    cfg["src_vocab"], cfg["tgt_vocab"] = len(src_vocab), len(tgt_vocab)
    cfg["shared_embeddings"] = src_vocab.fingerprint == tgt_vocab.fingerprint
    max_tokens = max_tokens if max_tokens is not None else MAX_TOKENS
    if max_tokens < 8:
        raise UsageError(f"--max-tokens must be at least 8, not {max_tokens}")
    for key in ("layers", "dim", "heads", "ff_dim", "embed", "hidden"):
        if key in cfg and int(cfg[key]) < 1:
            raise UsageError(f"--{key.replace('_', '-')} must be at least 1, not {cfg[key]}")
    if not 0 <= float(cfg.get("dropout", 0)) < 1:
        raise UsageError(f"--dropout must be in [0, 1), not {cfg['dropout']}")
    spec = MTSpec(name, KIND_OF[name], cfg, max_tokens)
    spec.build()  # refuse impossible sizes now, before training starts
    return spec


class MTLoss:
    """``loss_fn`` for the trainer: summed (label-smoothed) cross-entropy of the target tokens."""

    def __init__(self, label_smoothing: float = 0.1) -> None:
        if not 0 <= label_smoothing < 1:
            raise UsageError(f"--label-smoothing must be in [0, 1), not {label_smoothing}")
        self.label_smoothing = label_smoothing

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
        logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"])  # (B, T, V)
        n = int((batch["tgt_out"] != PAD).sum())
        return translation_loss(logits, batch["tgt_out"], self.label_smoothing) * n, n


def _hypotheses(
    model: nn.Module, pairs: EncodedPairs, tgt_vocab: Vocab, max_tokens: int, device: torch.device
) -> list[str]:
    from seqtool.decode.beam import greedy_search

    out = [""] * len(pairs)
    for b in token_batches([len(s) for s in pairs.src], [len(s) for s in pairs.src], max_tokens):
        batch = collate([pairs.src[i] for i in b], [[] for _ in b])
        hyps = greedy_search(model, batch["src"].to(device), batch["src_lens"].to(device))  # type: ignore[arg-type]
        for i, h in zip(b, hyps):
            out[i] = tgt_vocab.decode(h.tokens)
    return out


def evaluate_mt(
    model: nn.Module,
    valid: EncodedPairs,
    refs: list[str],
    tgt_vocab: Vocab,
    max_tokens: int = MAX_TOKENS,
    bleu: bool = True,
) -> dict[str, Any]:
    """Validation loss and perplexity (no label smoothing), and BLEU/chrF of greedy output."""
    from seqtool.metrics.bleu import corpus_scores

    device = next(model.parameters()).device
    total, n = 0.0, 0
    for b in token_batches([len(s) for s in valid.src], [len(t) for t in valid.tgt], max_tokens):
        batch = collate([valid.src[i] for i in b], [valid.tgt[i] for i in b])
        batch = {k: v.to(device) for k, v in batch.items()}
        logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"])
        k = int((batch["tgt_out"] != PAD).sum())
        total += float(translation_loss(logits, batch["tgt_out"])) * k
        n += k
    loss = total / max(n, 1)
    out: dict[str, Any] = {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50.0))}
    if bleu:
        hyps = _hypotheses(model, valid, tgt_vocab, max_tokens, device)
        for s in corpus_scores(hyps, [refs], ["bleu", "chrf"]):
            key = "valid_bleu" if s.name == "BLEU" else "valid_chrf"
            out[key] = s.score
            out[key + "_signature"] = s.signature
    return out


def target_shortlist(train: EncodedPairs) -> list[int]:
    """The target tokens a model can learn to produce: those of the training targets,
    plus ``<unk>`` and ``<eos>``.  Translation scores only these (see
    :meth:`~seqtool.models.transformer_mt.TransformerMT.restrict_output`)."""
    seen = {UNK, EOS}
    for t in train.tgt:
        seen.update(t)
    return sorted(seen)


def mt_trainer(
    spec: MTSpec,
    data: MTData,
    cfg: TrainConfig,
    output: Path | None,
    *,
    label_smoothing: float = 0.1,
    resume: dict[str, Any] | None = None,
    log_path: Path | None = None,
    on_step: Callable[[StepInfo], None] | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    dist: dist_util.DistInfo = dist_util.SINGLE,
    device: torch.device | None = None,
    meta: dict[str, Any] | None = None,
) -> Trainer:
    """A :class:`Trainer` for ``spec`` on ``data`` (``best`` by valid BLEU), its model
    holding ``resume``'s weights when given; call ``fit(resume=resume["train_state"])``."""
    model = spec.build()
    if resume is not None:
        model.load_state_dict(resume["model"])
    source = PairBatches(data.train, spec.max_tokens, cfg.seed, dist.rank, dist.world_size)
    evaluate = None
    if data.valid is not None and len(data.valid):
        valid, refs = data.valid, data.valid_refs

        def evaluate(m: nn.Module) -> dict[str, Any]:
            return evaluate_mt(m, valid, refs, data.tgt_vocab, spec.max_tokens)

    shortlist = target_shortlist(data.train)

    def extra() -> dict[str, Any]:
        return {
            "kind": spec.kind,
            "config": dict(spec.config),
            "src_vocab": data.src_vocab.to_dict(),
            "tgt_vocab": data.tgt_vocab.to_dict(),
            "preprocess": {
                "normalize": "none",
                "lowercase": False,
                "tokenizer": data.src_vocab.kind,
            },
            "mt": {
                "model": spec.name,
                "max_tokens": spec.max_tokens,
                "label_smoothing": label_smoothing,
                "src_lang": data.src_lang,
                "tgt_lang": data.tgt_lang,
                "joint_vocab": data.joint,
                "output_ids": shortlist,
            },
            **(meta or {}),
        }

    return Trainer(
        model,
        cfg,
        source,
        MTLoss(label_smoothing),
        evaluate=evaluate,
        metric="valid_bleu",
        mode="max",
        output=output,
        log_path=log_path,
        checkpoint_extra=extra,
        on_step=on_step,
        on_eval=on_eval,
        dist=dist,
        device=device,
    )


def train_mt(
    spec: MTSpec, data: MTData, cfg: TrainConfig, output: Path | None, **kwargs: Any
) -> tuple[TrainResult, nn.Module]:
    """Train ``spec`` on ``data`` (arguments as :func:`mt_trainer`); returns the summary
    and the trained module."""
    resume = kwargs.get("resume")
    trainer = mt_trainer(spec, data, cfg, output, **kwargs)
    result = trainer.fit(resume=resume["train_state"] if resume is not None else None)
    return result, trainer.module


@dataclass
class LoadedMT:
    model: nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab
    checkpoint: dict[str, Any]
    device: torch.device

    @property
    def name(self) -> str:
        return str(self.checkpoint.get("mt", {}).get("model", self.checkpoint["kind"]))


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX).

    On such CPUs bf16 autocast trains the default Transformer at about twice the
    tokens per CPU-second of float32 (benchmarks/mt.py), so train-mt and translate
    use it there by default.
    """
    cpu = getattr(torch, "cpu", None)
    return any(
        bool(getattr(cpu, probe, lambda: False)())
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )


def inference_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype to translate in: ``auto`` is bfloat16 where the hardware computes it
    natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX: about 5x the float32
    matrix throughput on such CPUs), else float32."""
    if precision not in ("auto", "fp32", "bf16"):
        raise UsageError(f"--precision must be auto, fp32 or bf16, not {precision!r}")
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def load_mt(
    path: str | os.PathLike[str],
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    shortlist: bool = True,
) -> LoadedMT:
    """A trained translation model, in eval mode on ``device`` with weights in ``dtype``;
    with ``shortlist`` it decodes over the target tokens seen in training only."""
    ckpt = load_checkpoint(path, kinds=MT_KINDS)
    src_vocab = Vocab.from_dict(ckpt.get("src_vocab"), f"{path}: source vocabulary")
    tgt_vocab = Vocab.from_dict(ckpt.get("tgt_vocab"), f"{path}: target vocabulary")
    cfg = ckpt["config"]
    if len(src_vocab) != cfg.get("src_vocab") or len(tgt_vocab) != cfg.get("tgt_vocab"):
        raise CheckpointError(f"{path}: vocabulary sizes do not match the model")
    try:
        model = build_model(ckpt["kind"], cfg)
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, UsageError, KeyError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path}: weights do not match the model config ({first[:160]})"
        ) from None
    model.to(device=device, dtype=dtype).eval()
    ids = ckpt.get("mt", {}).get("output_ids")
    if shortlist and ids:
        if not all(isinstance(i, int) and 0 <= i < len(tgt_vocab) for i in ids) or EOS not in ids:
            raise CheckpointError(f"{path}: malformed output shortlist")
        model.restrict_output(torch.tensor(sorted(ids), device=device))  # type: ignore[operator]
    return LoadedMT(model, src_vocab, tgt_vocab, ckpt, device)


def config_from_checkpoint(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The training settings a checkpoint was made with (for --resume)."""
    saved = ckpt.get("train_config") or {}
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in saved.items() if k in names}
