"""Translation: train a Transformer or a GRU with attention on parallel text, then
translate and score with it.

Parallel text (:mod:`seqtool.train.mt_data`) becomes ids through one joint
sentencepiece BPE vocabulary trained on both sides (or given vocabularies), the
ids become token-budget batches, and :class:`MTTask` supplies the model, the
label-smoothed loss, the per-evaluation validation loss, perplexity and BLEU
(sacrebleu on greedy translations of the validation set, detokenized, against
the raw references) and the checkpoint contents to
:func:`~seqtool.train.runner.run_training`.  ``best`` is kept by valid BLEU.  A
trained model comes back as a :class:`Translator`.

Example::

    mt = train_mt(MTConfig(src="train.de.gz", tgt="train.en.gz",
                           valid_src="val.de.gz", valid_tgt="val.en.gz"),
                  TrainOptions(time_budget=600), output="mt.pt")
    mt = Translator.load("mt.pt")
    print(mt.translate(["Ein Hund läuft."], beam=5)[0][0].text)
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from seqtool.decode.beam import SearchConfig, greedy_search
from seqtool.decode.translate import (
    MAX_SOURCE_TOKENS,
    TranslateStats,
    Translation,
    line_blocks,
    plot_attention,
    translate_blocks,
)
from seqtool.errors import CheckpointError, InputError, UsageError, check_choice
from seqtool.metrics.bleu import Score, corpus_scores
from seqtool.models import build_model, model_settings
from seqtool.models.protocols import as_seq2seq
from seqtool.models.seq2seq import translation_loss
from seqtool.models.transformer_lm import count_parameters
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import EOS, PAD, UNK, Vocab
from seqtool.train.checkpoint import load_checkpoint, restore_model
from seqtool.train.defaults import MT_MODEL, MT_TRAIN
from seqtool.train.device import cpu_has_fast_bf16, inference_dtype, resolve_device
from seqtool.train.mt_data import (
    EncodedPairs,
    PairBatches,
    ParallelText,
    collate,
    encode_pairs,
    read_parallel,
    split_valid,
    token_batches,
)
from seqtool.train.options import compact
from seqtool.train.runner import Run, TrainOptions, run_training
from seqtool.train.task import Reporter
from seqtool.train.trainer import BatchSource, named

MT_KINDS = ("gru_attn_mt", "transformer_mt")
KIND_OF = {"gru-attn": "gru_attn_mt", "transformer": "transformer_mt"}
MODEL_NAMES = tuple(KIND_OF)

MODEL_SETTINGS = ("layers", "dim", "heads", "ff_dim", "embed", "hidden", "bidirectional", "dropout")
TOKENIZERS = ("bpe", "unigram", "word", "char")
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
            raise UsageError("give either vocab_file (joint) or src_vocab/tgt_vocab, not both")
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
        raise UsageError("valid_size holds out training pairs; it cannot go with validation files")
    s_vocab, t_vocab = build_vocabs(train, vocab, src_vocab, tgt_vocab, vocab_size, tokenizer)
    enc = encode_pairs(s_vocab, t_vocab, train, max_len)
    if len(enc) == 0:
        raise InputError(
            f"no training pairs are left after max_len {max_len} dropped all {enc.dropped_long}",
            hint="raise max_len",
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
        if self.kind not in MT_KINDS:
            raise CheckpointError(f"unknown translation model kind {self.kind!r}")
        return build_model(self.kind, self.config)

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], name: str = "`resume`") -> MTSpec:
        info = ckpt.get("mt", {})
        try:
            spec = cls(
                str(info.get("model", ckpt["kind"])),
                ckpt["kind"],
                dict(ckpt["config"]),
                int(info.get("max_tokens", MAX_TOKENS)),
            )
        except (TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"{name}: malformed translation settings ({e})") from None
        if spec.max_tokens < 1:
            raise CheckpointError(f"{name}: malformed translation settings (max_tokens)")
        return spec


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
        raise UsageError(f"unknown `model` {name!r}; choose {', '.join(MODEL_NAMES)}")
    cfg = model_settings(KIND_OF[name], name, MT_MODEL[name], overrides)
    cfg["src_vocab"], cfg["tgt_vocab"] = len(src_vocab), len(tgt_vocab)
    cfg["shared_embeddings"] = src_vocab.fingerprint == tgt_vocab.fingerprint
    max_tokens = max_tokens if max_tokens is not None else MAX_TOKENS
    if max_tokens < 8:
        raise UsageError(f"max_tokens must be at least 8, not {max_tokens}")
    for key in ("layers", "dim", "heads", "ff_dim", "embed", "hidden"):
        if key in cfg and int(cfg[key]) < 1:
            raise UsageError(f"{named(key)} must be at least 1, not {cfg[key]}")
    if not 0 <= float(cfg.get("dropout", 0)) < 1:
        raise UsageError(f"`dropout` must be in [0, 1), not {cfg['dropout']}")
    spec = MTSpec(name, KIND_OF[name], cfg, max_tokens)
    spec.build()  # refuse impossible sizes now, before training starts
    return spec


class MTLoss:
    """``loss_fn`` for the trainer: summed (label-smoothed) cross-entropy of the target tokens."""

    def __init__(self, label_smoothing: float = 0.1) -> None:
        if not 0 <= label_smoothing < 1:
            raise UsageError(f"label_smoothing must be in [0, 1), not {label_smoothing}")
        self.label_smoothing = label_smoothing

    def __call__(self, model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
        logits, _ = model(batch["src"], batch["src_lens"], batch["tgt_in"])  # (B, T, V)
        n = int((batch["tgt_out"] != PAD).sum())
        return translation_loss(logits, batch["tgt_out"], self.label_smoothing) * n, n


def _hypotheses(
    model: nn.Module, pairs: EncodedPairs, tgt_vocab: Vocab, max_tokens: int, device: torch.device
) -> list[str]:
    out = [""] * len(pairs)
    for b in token_batches([len(s) for s in pairs.src], [len(s) for s in pairs.src], max_tokens):
        batch = collate([pairs.src[i] for i in b], [[] for _ in b])
        hyps = greedy_search(
            as_seq2seq(model), batch["src"].to(device), batch["src_lens"].to(device)
        )
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


# ---------------------------------------------------------------------- config
@dataclass
class MTConfig:
    """What ``train-mt`` trains, on what text (fields named as its parameters).

    Training data is ``src`` + ``tgt`` (line-aligned files) or ``pairs`` (one
    ``source<TAB>target`` file); validation likewise (``valid_src`` + ``valid_tgt``
    or ``valid_pairs``), else ``valid_size`` pairs (default min(500, 10%)) are held
    out, the same ones when the run is resumed.  Model sizes left ``None`` take the
    defaults of ``model`` (:data:`seqtool.train.defaults.MT_MODEL`).
    """

    src: str | os.PathLike[str] | None = None
    tgt: str | os.PathLike[str] | None = None
    pairs: str | os.PathLike[str] | None = None
    src_lang: str | None = None
    tgt_lang: str | None = None
    valid_src: str | os.PathLike[str] | None = None
    valid_tgt: str | os.PathLike[str] | None = None
    valid_pairs: str | os.PathLike[str] | None = None
    valid_size: int | None = None
    max_len: int | None = 256
    empty_lines: str = "skip"
    max_tokens: int | None = None
    model: str = "transformer"
    layers: int | None = None
    dim: int | None = None
    heads: int | None = None
    ff_dim: int | None = None
    embed: int | None = None
    hidden: int | None = None
    bidirectional: bool | None = None
    dropout: float | None = None
    label_smoothing: float = 0.1
    vocab_file: str | os.PathLike[str] | None = None
    src_vocab: str | os.PathLike[str] | None = None
    tgt_vocab: str | os.PathLike[str] | None = None
    vocab_size: int = VOCAB_SIZE
    tokenizer: str = "bpe"
    encoding: str = "utf-8"
    errors: str = "strict"

    def check(self) -> None:
        """Refuse impossible settings, naming the parameter."""
        from seqtool.io import check_encoding

        check_choice("model", self.model, MODEL_NAMES)
        if (self.valid_src is None) != (self.valid_tgt is None):
            raise UsageError("give both valid_src and valid_tgt, or neither")
        if self.tokenizer not in TOKENIZERS:
            raise UsageError(
                f"`tokenizer` must be bpe, unigram, word or char, not {self.tokenizer!r}"
            )
        if not 0 <= self.label_smoothing < 1:
            raise UsageError(f"label_smoothing must be in [0, 1), not {self.label_smoothing}")
        check_encoding(self.encoding, self.errors)

    def model_settings(self) -> dict[str, Any]:
        """The model sizes set here (the others take the model's defaults)."""
        return {k: getattr(self, k) for k in MODEL_SETTINGS if getattr(self, k) is not None}

    def read(self) -> tuple[ParallelText, ParallelText | None]:
        """The training and validation text."""
        read = dict(empty=self.empty_lines, encoding=self.encoding, errors=self.errors)
        train = read_parallel(self.src, self.tgt, self.pairs, self.src_lang, self.tgt_lang, **read)
        valid = None
        if self.valid_pairs is not None or self.valid_src is not None:
            valid = read_parallel(
                self.valid_src,
                self.valid_tgt,
                self.valid_pairs,
                self.src_lang,
                self.tgt_lang,
                **read,
            )
        return train, valid


# ---------------------------------------------------------------------- the task
class MTTask:
    """Translation as a :class:`~seqtool.train.task.Task` (``best`` by valid BLEU)."""

    name = "train-mt"
    kinds: tuple[str, ...] = MT_KINDS
    metric, mode = "valid_bleu", "max"
    metric_label, metric_digits, token_label = "valid BLEU", 2, "target tokens"

    def __init__(
        self,
        config: MTConfig,
        train_valid: bool = True,
        text: tuple[ParallelText, ParallelText | None] | None = None,
    ) -> None:
        """``train_valid=False`` holds the validation pairs out but does not evaluate
        on them during training (``data.valid`` still has them, for scoring after);
        ``text`` gives the training and validation text already read (in place of
        the config's files)."""
        config.check()
        self.config = config
        self.train_valid = train_valid
        self.text = text

    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        c = self.config
        train_text, valid_text = self.text if self.text is not None else c.read()
        self.train_text, self.held_out = train_text, valid_text is None
        valid_size = c.valid_size
        vocabs: dict[str, Vocab | None]
        if resume is not None:  # the vocabularies and split of the run being continued
            vocabs = {
                "vocab": None,
                "src_vocab": Vocab.from_dict(
                    resume.get("src_vocab"), "`resume`: source vocabulary"
                ),
                "tgt_vocab": Vocab.from_dict(
                    resume.get("tgt_vocab"), "`resume`: target vocabulary"
                ),
            }
            split = resume.get("mt", {}).get("split")
            if split is not None and not isinstance(split, dict):
                raise CheckpointError("`resume`: malformed translation settings (split)")
            if split is not None and valid_text is None and split.get("held_out"):
                try:
                    held, held_seed = int(split["valid_size"]), int(split["seed"])
                except (KeyError, TypeError, ValueError) as e:
                    raise CheckpointError(
                        f"`resume`: malformed translation settings (split: {e})"
                    ) from None
                if valid_size is not None and valid_size != held:
                    raise UsageError(
                        f"valid_size {valid_size} differs from the {held} "
                        "pairs the run being resumed held out; the split must stay as it was"
                    )
                valid_size, seed = held, held_seed
            if c.model_settings():
                warn("`resume`: the model's settings come from the checkpoint; settings ignored")
        else:
            vocabs = {
                "vocab": Vocab.load(c.vocab_file) if c.vocab_file else None,
                "src_vocab": Vocab.load(c.src_vocab) if c.src_vocab else None,
                "tgt_vocab": Vocab.load(c.tgt_vocab) if c.tgt_vocab else None,
            }
        self.data = prepare_data(
            train_text,
            valid_text,
            **vocabs,
            vocab_size=c.vocab_size,
            tokenizer=c.tokenizer,
            max_len=c.max_len,
            valid_size=valid_size,
            seed=seed,
        )
        n_valid = 0 if self.data.valid is None else len(self.data.valid)
        self.split = {
            "held_out": self.held_out and n_valid > 0,
            "valid_size": n_valid,
            "seed": seed,
        }
        if resume is not None:
            self.spec = MTSpec.from_checkpoint(resume)
        else:
            self.spec = mt_spec(
                c.model, self.data.src_vocab, self.data.tgt_vocab, c.model_settings(), c.max_tokens
            )
        self.shortlist = target_shortlist(self.data.train)

    def train_defaults(self, device: torch.device) -> dict[str, Any]:
        defaults = dict(MT_TRAIN[self.spec.name])
        if device.type == "cpu" and cpu_has_fast_bf16():
            defaults["precision"] = "bf16"  # twice the float32 speed on such CPUs
        return defaults

    def build_model(self) -> nn.Module:
        return self.spec.build()

    def batches(self, seed: int, rank: int, world_size: int) -> BatchSource:
        return PairBatches(self.data.train, self.spec.max_tokens, seed, rank, world_size)

    def loss(self, model: nn.Module) -> MTLoss:
        return MTLoss(self.config.label_smoothing)

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]] | None:
        data, spec = self.data, self.spec
        if not self.train_valid or data.valid is None or not len(data.valid):
            return None
        valid, refs = data.valid, data.valid_refs

        def evaluate(m: nn.Module) -> dict[str, Any]:
            return evaluate_mt(m, valid, refs, data.tgt_vocab, spec.max_tokens)

        return evaluate

    def payload(self) -> dict[str, Any]:
        data, spec = self.data, self.spec
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
                "label_smoothing": self.config.label_smoothing,
                "src_lang": data.src_lang,
                "tgt_lang": data.tgt_lang,
                "joint_vocab": data.joint,
                "output_ids": self.shortlist,
                "split": self.split,  # so that a resumed run holds out the same pairs
            },
        }

    def describe(self, model: nn.Module, source: BatchSource) -> tuple[str, str]:
        data, spec, st = self.data, self.spec, self.data.stats
        vocab = (
            f"joint {data.src_vocab.kind} vocabulary of {len(data.src_vocab)}"
            if data.joint
            else f"{data.src_vocab.kind} vocabularies of {len(data.src_vocab)} / {len(data.tgt_vocab)}"
        )
        pairs = (
            f"{self.train_text.name}: {st['train_pairs']:,} training pairs ({compact(st['train_tokens'])} tokens)"
            + (
                f", {st['valid_pairs']:,} validation pairs"
                + (" (held out)" if self.held_out else "")
                if data.valid is not None
                else ", no validation"
            )
            + (
                f", dropped {st['dropped_empty']:,} with an empty side and "
                f"{st['dropped_long']:,} longer than {self.config.max_len} tokens"
            )
        )
        what = f"{spec.name} ({compact(count_parameters(model))} parameters), {vocab}; {pairs}"
        return what, f"{len(source)} batches of <= {spec.max_tokens} tokens per epoch"


# ---------------------------------------------------------------------- the trained model
@dataclass
class Translator:
    """A trained translation model, in eval mode on ``device``."""

    model: nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab
    checkpoint: dict[str, Any]
    device: torch.device
    run: Run | None = field(default=None, repr=False)  # set by :func:`train_mt`

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        device: str | torch.device = "auto",
        precision: str = "fp32",
        shortlist: bool = True,
    ) -> Translator:
        """Read a model written by ``train-mt``.  ``precision``: fp32, bf16, or auto
        (bf16 where the GPU or CPU computes it natively); ``shortlist`` decodes over
        the target tokens seen in training only (faster, same output)."""
        dev = resolve_device(device) if isinstance(device, str) else device
        dtype = inference_dtype(precision, dev)
        ckpt = load_checkpoint(path, kinds=MT_KINDS)
        src_vocab = Vocab.from_dict(ckpt.get("src_vocab"), f"{path}: source vocabulary")
        tgt_vocab = Vocab.from_dict(ckpt.get("tgt_vocab"), f"{path}: target vocabulary")
        cfg = ckpt["config"]
        if len(src_vocab) != cfg.get("src_vocab") or len(tgt_vocab) != cfg.get("tgt_vocab"):
            raise CheckpointError(f"{path}: vocabulary sizes do not match the model")
        model = restore_model(ckpt, str(path))
        model.to(device=dev, dtype=dtype).eval()
        ids = ckpt.get("mt", {}).get("output_ids")
        if shortlist and ids:
            if (
                not isinstance(ids, list)
                or not all(isinstance(i, int) and 0 <= i < len(tgt_vocab) for i in ids)
                or EOS not in ids
            ):
                raise CheckpointError(f"{path}: malformed output shortlist")
            as_seq2seq(model).restrict_output(torch.tensor(sorted(ids), device=dev))
        return cls(model, src_vocab, tgt_vocab, ckpt, dev)

    @property
    def name(self) -> str:
        """The model name: transformer or gru-attn."""
        return str(self.checkpoint.get("mt", {}).get("model", self.checkpoint["kind"]))

    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model)

    def describe(self) -> str:
        """``cpu (2 threads, bf16)`` or ``cuda:0 (fp32)``."""
        dtype = "bf16" if next(self.model.parameters()).dtype == torch.bfloat16 else "fp32"
        threads = f"{torch.get_num_threads()} threads, " if self.device.type == "cpu" else ""
        return f"{self.device} ({threads}{dtype})"

    def translate_stream(
        self,
        lines: Iterable[str],
        beam: int = 5,
        lenpen: float = 1.0,
        nbest: int = 1,
        max_len_a: float = 1.5,
        max_len_b: int = 10,
        batch_size: int = 128,
        max_src_len: int = MAX_SOURCE_TOKENS,
        stats: TranslateStats | None = None,
    ) -> Iterator[list[Translation]]:
        """The ``nbest`` best translations of each line, yielded in input order as
        they are done, read in blocks of :data:`~seqtool.decode.translate.BLOCK_LINES`
        (``stats`` counts lines and cut sources)."""
        blocks = self.translate_blocks(
            line_blocks(lines), beam, lenpen, nbest, max_len_a, max_len_b, batch_size,
            max_src_len, stats,
        )  # fmt: skip
        return itertools.chain.from_iterable(blocks)

    def translate_blocks(
        self,
        blocks: Iterable[Sequence[str]],
        beam: int = 5,
        lenpen: float = 1.0,
        nbest: int = 1,
        max_len_a: float = 1.5,
        max_len_b: int = 10,
        batch_size: int = 128,
        max_src_len: int = MAX_SOURCE_TOKENS,
        stats: TranslateStats | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[list[list[Translation]]]:
        """The n-best lists of each block of lines, a list per block, each block
        translated as soon as it is read: give it the lines that have arrived
        (:func:`seqtool.io.read_line_batches`) to answer a stream without waiting
        for more input.  ``on_progress(lines)`` hears after each batch how many
        lines are done; other arguments as :meth:`translate_stream`."""
        search = self._search(beam, lenpen, nbest, max_len_a, max_len_b, batch_size)
        return translate_blocks(
            self.model,
            self.src_vocab,
            self.tgt_vocab,
            blocks,
            search,
            batch_size,
            max_src_len=max_src_len,
            stats=stats,
            on_progress=on_progress,
        )

    @staticmethod
    def _search(
        beam: int, lenpen: float, nbest: int, max_len_a: float, max_len_b: int, batch_size: int
    ) -> SearchConfig:
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {batch_size}")
        return SearchConfig(beam, lenpen, nbest, max_len_a, max_len_b).check()

    def translate(
        self, lines: Iterable[str], beam: int = 5, **kwargs: Any
    ) -> list[list[Translation]]:
        """The n-best lists of every line (arguments as :meth:`translate_stream`)."""
        return list(self.translate_stream(lines, beam=beam, **kwargs))

    def plot_attention(self, line: str, path: str | os.PathLike[str], beam: int = 5) -> None:
        """Draw the attention of ``line``'s translation as a PNG (needs matplotlib)."""
        plot_attention(
            self.model, self.src_vocab, self.tgt_vocab, line, SearchConfig(beam=beam), path
        )


def score(
    hyps: Sequence[str], refs: Sequence[Sequence[str]], metrics: Sequence[str] = ("bleu", "chrf")
) -> list[Score]:
    """Corpus BLEU and chrF (sacrebleu) of ``hyps`` against one or more reference sets
    (each line-aligned with ``hyps``)."""
    for i, r in enumerate(refs):
        if len(r) != len(hyps):
            raise InputError(
                f"{len(hyps)} translations but reference set {i + 1} has {len(r)} lines"
            )
    return corpus_scores(list(hyps), [list(r) for r in refs], list(metrics))


def scores_record(
    scores: Sequence[Score],
    *,
    checkpoint: str,
    input: str,
    references: Sequence[str],
    sentences: int,
    beam: int,
    lenpen: float,
) -> dict[str, Any]:
    """The metrics JSON of a scored translation run: what was translated with what
    settings, and every score with its signature."""
    return {
        "checkpoint": checkpoint,
        "input": input,
        "references": list(references),
        "sentences": sentences,
        "beam": beam,
        "lenpen": lenpen,
        "scores": [s.as_dict() for s in scores],
    }


def train_mt(
    config: MTConfig,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    meta: dict[str, Any] | None = None,
    keep_last: bool = True,
) -> Translator:
    """Train a translation model (see :func:`~seqtool.train.runner.run_training` for
    ``options``, ``output`` (default ``mt.pt``), ``reporter``); returns the best model
    (by valid BLEU; the final one without validation), its run summary in ``.run``."""
    c = config
    read = [c.src, c.tgt, c.pairs, c.valid_src, c.valid_tgt, c.valid_pairs]
    read += [c.vocab_file, c.src_vocab, c.tgt_vocab]
    run = run_training(
        MTTask(config),
        options,
        output,
        reporter,
        default_output="mt.pt",
        meta=meta,
        keep_last=keep_last,
        inputs=read,
    )
    mt = Translator.load(run.output, next(run.model.parameters()).device)
    mt.run = run
    return mt
