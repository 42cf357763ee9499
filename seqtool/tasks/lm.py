"""Language modelling: train an RNN, GRU, LSTM or Transformer on text, then score and
sample with it.

Text becomes one stream of token ids (a line-end token after every line: ``"\\n"``
for character models, ``<eos>`` for word and subword models), the stream becomes
batches (:mod:`seqtool.train.data`), and :class:`LMTask` supplies the model, the
loss (carrying an RNN's state between windows), the validation perplexity and
the checkpoint contents to :func:`~seqtool.train.runner.run_training`.  A trained
model comes back as a :class:`LanguageModel`.

Example::

    lm = train_lm(LMConfig(files=["timemachine.txt"], model="lstm"),
                  TrainOptions(time_budget=60, seed=1), output="lm.pt")
    lm = LanguageModel.load("lm.pt")
    print(lm.generate(["the time "], max_tokens=40)[0][0])
    print(lm.perplexity(["the time machine"]).ppl)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from seqtool import __version__
from seqtool.decode.sampling import SamplingConfig
from seqtool.decode.sampling import generate as sample
from seqtool.errors import (
    CheckpointError,
    InputError,
    UsageError,
    check_at_least,
    check_choice,
    check_fraction,
    check_seed,
)
from seqtool.io import check_encoding, display_name, read_lines
from seqtool.metrics.perplexity import Perplexity, line_scores, stream_perplexity
from seqtool.models import build_model, model_settings
from seqtool.models.protocols import as_lm
from seqtool.models.rnn_lm import CELLS, detach_state
from seqtool.models.transformer_lm import count_parameters
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import BOS, EOS, PAD, UNK, Vocab
from seqtool.train.checkpoint import load_checkpoint, restore_model
from seqtool.train.data import StreamBatches, WindowBatches
from seqtool.train.defaults import LM_DATA, LM_MODEL, LM_TRAIN
from seqtool.train.device import resolve_device, single_thread_recurrence
from seqtool.train.options import compact
from seqtool.train.runner import Run, TrainOptions, run_training
from seqtool.train.task import Reporter
from seqtool.train.trainer import BatchSource

LM_KINDS = ("rnn_lm", "transformer_lm")
MODEL_NAMES = (*CELLS, "transformer")
MODEL_SETTINGS = (
    "layers",
    "hidden",
    "embed",
    "dim",
    "heads",
    "ff_dim",
    "dropout",
    "positions",
    "tie",
)
VALID_FRACTION = 0.1


# ---------------------------------------------------------------------- config
@dataclass
class LMConfig:
    """What ``train-lm`` trains, on what text (fields named as its parameters).

    Model sizes left ``None`` take the defaults of ``model``
    (:data:`seqtool.train.defaults.LM_MODEL`); ``seq_len`` and ``batch_size`` those of
    :data:`~seqtool.train.defaults.LM_DATA`.  Without ``valid`` files the last
    ``valid_fraction`` (default 0.1) of the training text is held out; a resumed run
    keeps the split it was started with.
    """

    files: Sequence[str]
    valid: Sequence[str] | None = None
    valid_fraction: float | None = None
    model: str = "transformer"
    layers: int | None = None
    hidden: int | None = None
    embed: int | None = None
    dim: int | None = None
    heads: int | None = None
    ff_dim: int | None = None
    dropout: float | None = None
    positions: str | None = None
    tie: bool | None = None
    seq_len: int | None = None
    batch_size: int | None = None
    tokenizer: str = "char"
    vocab_file: str | os.PathLike[str] | None = None
    normalize: str = "none"
    lower: bool | None = None
    vocab_size: int = 8000
    min_freq: int = 1
    encoding: str = "utf-8"
    errors: str = "strict"

    def check(self) -> None:
        """Refuse impossible settings, naming the parameter."""
        if not self.files:
            raise UsageError("`files`: give at least one training file")
        check_choice("model", self.model, MODEL_NAMES)
        check_at_least("seq_len", self.seq_len)
        check_at_least("batch_size", self.batch_size)
        check_fraction("valid_fraction", self.valid_fraction)
        check_fraction("dropout", self.dropout)
        check_encoding(self.encoding, self.errors)

    def model_settings(self) -> dict[str, Any]:
        """The model sizes set here (the others take the model's defaults)."""
        return {k: getattr(self, k) for k in MODEL_SETTINGS if getattr(self, k) is not None}


# ---------------------------------------------------------------------- data
def prompt_seed(seed: int, index: int) -> int:
    """The seed of the prompt at ``index`` in a run seeded with ``seed``: ``seed`` itself
    for the first (so one prompt samples as it always did), then a splitmix64 mix of
    the two."""
    if index == 0:
        return seed
    mask = (1 << 64) - 1
    x = (seed * 0x9E3779B97F4A7C15 + index) & mask
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
    return (x ^ (x >> 31)) & ((1 << 63) - 1)


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
    valid_fraction: float = VALID_FRACTION,
    encoding: str = "utf-8",
    errors: str = "strict",
) -> LMData:
    """Read the corpora, build the vocabulary if a builder is given, encode the text.

    Without ``valid_files`` the last ``valid_fraction`` of the training stream's
    tokens (a contiguous tail) is held out for validation.
    """
    if not 0 <= valid_fraction < 1:
        raise UsageError(f"valid_fraction must be in [0, 1), not {valid_fraction}")
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


# ---------------------------------------------------------------------- model
@dataclass
class LMSpec:
    """What to build: the model name and kind, its config, and how batches are cut."""

    name: str  # rnn | gru | lstm | transformer
    kind: str
    config: dict[str, Any]
    seq_len: int
    batch_size: int

    def build(self) -> nn.Module:
        return build_model(self.kind, self.config)

    @classmethod
    def from_checkpoint(cls, ckpt: dict[str, Any], name: str = "`resume`") -> LMSpec:
        lm = ckpt.get("lm", {})
        try:
            spec = cls(
                str(lm.get("model", ckpt["kind"])),
                ckpt["kind"],
                dict(ckpt["config"]),
                int(lm.get("seq_len", 64)),
                int(lm.get("batch_size", 32)),
            )
        except (TypeError, ValueError, OverflowError) as e:
            raise CheckpointError(f"{name}: malformed language model settings ({e})") from None
        if spec.name not in MODEL_NAMES or spec.seq_len < 1 or spec.batch_size < 1:
            raise CheckpointError(f"{name}: malformed language model settings")
        return spec


def lm_spec(
    name: str,
    vocab: Vocab,
    overrides: dict[str, Any] | None = None,
    seq_len: int | None = None,
    batch_size: int | None = None,
) -> LMSpec:
    """The model ``name`` with its default sizes, then ``overrides``."""
    if name not in MODEL_NAMES:
        raise UsageError(f"unknown `model` {name!r}; choose {', '.join(MODEL_NAMES)}")
    kind = "transformer_lm" if name == "transformer" else "rnn_lm"
    cfg = model_settings(kind, name, LM_MODEL[name], overrides)
    seq_len = seq_len if seq_len is not None else LM_DATA[name]["seq_len"]
    batch_size = batch_size if batch_size is not None else LM_DATA[name]["batch_size"]
    if seq_len < 1:
        raise UsageError(f"seq_len must be at least 1, not {seq_len}")
    if batch_size < 1:
        raise UsageError(f"batch_size must be at least 1, not {batch_size}")
    cfg["vocab_size"] = len(vocab)
    if name == "transformer":
        cfg["context"] = seq_len
    else:
        cfg["cell"] = name
    spec = LMSpec(name, kind, cfg, seq_len, batch_size)
    spec.build()  # refuse impossible sizes now, before reading more data
    return spec


class LMLoss:
    """``loss_fn`` for the trainer: the summed cross-entropy of a batch (the model
    computes it, ``model(x, state, targets=y)``), with an RNN's state carried
    (detached) from one window to the next."""

    def __init__(self) -> None:
        self.state: Any = None

    def __call__(self, model: nn.Module, batch: dict[str, Any]) -> tuple[Tensor, int]:
        x, y = batch["x"], batch["y"]  # (B, T)
        state = self.state if batch["carry"] else None
        loss, state = model(x, state, targets=y)
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


# ---------------------------------------------------------------------- the task
class LMTask:
    """Language modelling as a :class:`~seqtool.train.task.Task`."""

    name = "train-lm"
    kinds: tuple[str, ...] = LM_KINDS
    metric, mode = "valid_ppl", "min"
    metric_label, metric_digits, token_label = "valid ppl", 3, "tokens"

    def __init__(self, config: LMConfig) -> None:
        config.check()
        self.config = config
        self._warn: Callable[[str], None] = lambda text: None

    # The runner calls these in this order.
    def prepare(
        self, resume: dict[str, Any] | None, seed: int, warn: Callable[[str], None]
    ) -> None:
        c = self.config
        self._warn = warn
        split: dict[str, Any] = {"valid": list(c.valid or []), "valid_fraction": c.valid_fraction}
        vocab: Vocab | Callable[[list[str]], Vocab]
        if resume is not None:
            vocab = Vocab.from_dict(resume.get("vocab"), "`resume`: vocabulary")
            split = _resumed_split(c, resume)
            if c.model_settings():
                warn(
                    "`resume`: the model's settings come from the checkpoint; model settings ignored"
                )
        elif c.vocab_file is not None:
            vocab = Vocab.load(c.vocab_file)
        else:
            norm = Normalizer.make(c.normalize, c.lower)
            extra = ("\n",) if c.tokenizer == "char" else ()

            def vocab(lines: list[str]) -> Vocab:
                return Vocab.build(
                    lines,
                    c.tokenizer,
                    norm,
                    min_freq=c.min_freq,
                    vocab_size=c.vocab_size,
                    extra_tokens=extra,
                )

        fraction = split["valid_fraction"]
        self.split = {
            "valid": split["valid"],
            "valid_fraction": VALID_FRACTION if fraction is None else float(fraction),
        }
        self.data = prepare_data(
            c.files,
            vocab,
            self.split["valid"],
            self.split["valid_fraction"],
            c.encoding,
            c.errors,
        )
        if resume is not None:
            self.spec = LMSpec.from_checkpoint(resume)
            _check_resumed_tokens(resume, self.data, warn)
        else:
            self.spec = lm_spec(
                c.model, self.data.vocab, c.model_settings(), c.seq_len, c.batch_size
            )

    def train_defaults(self, device: torch.device) -> dict[str, Any]:
        return dict(LM_TRAIN[self.spec.name])

    def build_model(self) -> nn.Module:
        return single_thread_recurrence(self.spec.build())

    def batches(self, seed: int, rank: int, world_size: int) -> BatchSource:
        cls = StreamBatches if self.spec.kind == "rnn_lm" else WindowBatches
        source = cls(
            self.data.train, self.spec.batch_size, self.spec.seq_len, seed, rank, world_size
        )
        if source.batch_size < self.spec.batch_size:
            self._warn(
                f"the corpus is small: batches of {source.batch_size}, not {self.spec.batch_size}"
            )
        return source

    def loss(self, model: nn.Module) -> LMLoss:
        return LMLoss()

    def evaluator(self) -> Callable[[nn.Module], dict[str, Any]] | None:
        data, spec = self.data, self.spec
        if data.valid is None:
            return None
        valid = data.valid
        char_level = data.vocab.kind == "char"

        def evaluate(m: nn.Module) -> dict[str, Any]:
            lm = as_lm(m)
            dev = next(m.parameters()).device
            chunk = 256 if lm.carries_state else spec.seq_len
            p = stream_perplexity(
                lm, valid, dev, rows=16, chunk=chunk, chars=data.valid_chars, oov=data.valid_oov
            )
            return valid_metrics(p, char_level)

        return evaluate

    def payload(self) -> dict[str, Any]:
        spec, vocab = self.spec, self.data.vocab
        return {
            "kind": spec.kind,
            "config": dict(spec.config),
            "vocab": vocab.to_dict(),
            "preprocess": {
                "normalize": vocab.normalizer.name,
                "lowercase": vocab.normalizer.lower,
                "tokenizer": vocab.kind,
            },
            "lm": {
                "model": spec.name,
                "seq_len": spec.seq_len,
                "batch_size": spec.batch_size,
                # The split, so that a resumed run trains and validates on the same tokens.
                "split": {
                    **self.split,
                    "train_tokens": len(self.data.train),
                    "valid_tokens": 0 if self.data.valid is None else len(self.data.valid),
                },
            },
        }

    def describe(self, model: nn.Module, source: BatchSource) -> tuple[str, str]:
        data, spec = self.data, self.spec
        batch = getattr(source, "batch_size", spec.batch_size)
        what = (
            f"{spec.name} ({compact(count_parameters(model))} parameters), {data.vocab.kind} "
            f"vocabulary of {len(data.vocab)}, {compact(len(data.train))} training tokens"
            + (f", {compact(len(data.valid))} validation tokens" if data.valid is not None else "")
        )
        return what, f"batch {batch} x {spec.seq_len}, {len(source)} batches per epoch"


def _resumed_split(c: LMConfig, resume: dict[str, Any]) -> dict[str, Any]:
    """The resumed run's data split; a different one asked for now is refused, since
    it would train on the tokens the run validated on (or the other way round)."""
    saved = resume.get("lm", {}).get("split")
    if saved is None:  # a checkpoint from before the split was recorded
        return {"valid": list(c.valid or []), "valid_fraction": c.valid_fraction}
    try:
        fraction = float(saved.get("valid_fraction", VALID_FRACTION))
        if not isinstance(saved.get("valid", []), list) or not 0 <= fraction < 1:
            raise ValueError("split")
    except (AttributeError, TypeError, ValueError):
        raise CheckpointError("`resume`: malformed language model settings (split)") from None
    if c.valid_fraction is not None and c.valid_fraction != fraction:
        raise UsageError(
            f"valid_fraction {c.valid_fraction} differs from the {fraction} of the run "
            "being resumed; the data split must stay as it was",
            hint="leave valid_fraction out when resuming",
        )
    saved_valid = [str(v) for v in saved.get("valid", [])]
    if c.valid and [str(v) for v in c.valid] != saved_valid:
        names = ", ".join(saved_valid) if saved_valid else f"the held-out {fraction} of the text"
        raise UsageError(f"`valid` differs from the run being resumed, which validated on {names}")
    return {"valid": saved_valid, "valid_fraction": fraction}


def _check_resumed_tokens(
    resume: dict[str, Any], data: LMData, warn: Callable[[str], None]
) -> None:
    saved = resume.get("lm", {}).get("split") or {}
    if "train_tokens" in saved and saved["train_tokens"] != len(data.train):
        warn(
            f"`resume`: the training text has {len(data.train):,} tokens, the run being "
            f"resumed had {saved['train_tokens']:,}; training continues on the new text"
        )


# ---------------------------------------------------------------------- the trained model
@dataclass
class LanguageModel:
    """A trained language model, ready to sample and score with (on ``device``)."""

    model: nn.Module
    vocab: Vocab
    checkpoint: dict[str, Any]
    device: torch.device
    run: Run | None = field(default=None, repr=False)  # set by :func:`train_lm`

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], device: str | torch.device = "auto"
    ) -> LanguageModel:
        """Read a model written by ``train-lm`` (any ``.pt`` it wrote)."""
        dev = resolve_device(device) if isinstance(device, str) else device
        ckpt = load_checkpoint(path, kinds=LM_KINDS)
        vocab = Vocab.from_dict(ckpt.get("vocab"), f"{path}: vocabulary")
        model = single_thread_recurrence(restore_model(ckpt, str(path)))
        if len(vocab) != ckpt["config"].get("vocab_size"):
            raise CheckpointError(f"{path}: vocabulary size {len(vocab)} does not match the model")
        model.to(dev).eval()
        return cls(model, vocab, ckpt, dev)

    @property
    def boundary(self) -> int:
        """The id that ends a line."""
        return boundary_id(self.vocab)

    @property
    def name(self) -> str:
        """The model name: rnn, gru, lstm or transformer."""
        return str(self.checkpoint.get("lm", {}).get("model", self.checkpoint["kind"]))

    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model)

    @property
    def signature(self) -> str:
        """The settings every score from this model was computed with."""
        ctx = as_lm(self.model).context or "all"
        return (
            f"model:{self.name}|tok:{self.vocab.kind}|vocab:{self.vocab.fingerprint}|"
            f"ctx:{ctx}|eol:yes|version:{__version__}"
        )

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ids, with line ends where the model ended a line."""
        lines: list[str] = []
        b = self.boundary
        start = 0
        ids = list(ids)
        for end, i in enumerate(ids):
            if i == b:
                lines.append(self.vocab.decode(ids[start:end]))
                start = end + 1
        lines.append(self.vocab.decode(ids[start:]))
        return "\n".join(lines)

    def generate(
        self,
        prompts: Sequence[str],
        max_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        greedy: bool = False,
        num: int = 1,
        one_line: bool = False,
        seed: int = 0,
        first: int = 0,
    ) -> list[list[str]]:
        """``num`` continuations of each prompt (prompt text included), in order.

        Prompts of the same length are sampled together, each with its own random
        stream (from ``seed`` and its place ``first + i`` in the input), so a prompt's
        samples do not depend on the prompts sampled with it: the same ``seed``
        gives the same samples, however the prompts are batched or streamed
        (:meth:`generate_stream`).  ``one_line``: each sample is one line of text,
        ended at its first line end after some text; line ends before any text
        (a prompt like ``"ROMEO:"`` usually goes on on the next line) are dropped,
        and read as one space between the prompt and the text.
        """
        if num < 1:
            raise UsageError(f"`num` must be at least 1, not {num}")
        if first < 0:
            raise UsageError(f"`first` must be 0 or more, not {first}")
        check_seed("seed", seed)
        b = self.boundary
        banned = {PAD, BOS} | ({UNK, EOS} - {b} if self.vocab.kind == "char" else set())
        blank = set(self._blank_ids()) if one_line else set()
        lead = {b} | blank if one_line else set()
        cfg = SamplingConfig(
            max_tokens=max_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            greedy=greedy,
            stop=(b,) if one_line else (),
            banned=tuple(banned),
            lead=tuple(lead),
        )
        cfg.check()
        encoded = [[b, *self.vocab.encode(p)] for p in prompts]
        results: dict[int, list[list[int]]] = {}
        by_len: dict[int, list[int]] = {}
        for i, ids in enumerate(encoded):
            by_len.setdefault(len(ids), []).append(i)
        per_batch = max(1, 64 // num)
        for _, idx in sorted(by_len.items()):
            for s in range(0, len(idx), per_batch):
                group = idx[s : s + per_batch]
                rows = torch.tensor([encoded[i] for i in group for _ in range(num)])
                gens = [torch.Generator().manual_seed(prompt_seed(seed, first + i)) for i in group]
                out = sample(as_lm(self.model), rows.to(self.device), cfg, gens)
                for j, i in enumerate(group):
                    results[i] = out[j * num : (j + 1) * num]
        texts = []
        for i in range(len(prompts)):
            prompt = encoded[i][1:]
            texts.append(
                [
                    self._one_line(prompt, c, blank) if one_line else self.decode(prompt + c)
                    for c in results[i]
                ]
            )
        return texts

    def generate_stream(
        self, blocks: Iterable[Sequence[str]], **kwargs: Any
    ) -> Iterator[list[list[str]]]:
        """:meth:`generate` for each block of prompts as it is read, one list per block
        (arguments as :meth:`generate`): give it the prompts that have arrived
        (:func:`seqtool.io.read_line_batches`) to answer a stream without waiting."""
        if kwargs.pop("first", 0):
            raise UsageError("`first` is counted by generate_stream itself")
        first = 0
        for block in blocks:
            yield self.generate(block, first=first, **kwargs)
            first += len(block)

    def _blank_ids(self) -> list[int]:
        """Ids of tokens that are only white space (a space, a tab, sentencepiece's ▁)."""
        return [i for i, t in enumerate(self.vocab.tokens) if not t.replace("\u2581", " ").strip()]

    def _one_line(self, prompt: list[int], cont: list[int], blank: set[int]) -> str:
        """The prompt and its continuation on one line: line ends (and white space) the
        sample opened with become one space between the prompt and the text."""
        k = 0
        while k < len(cont) and (cont[k] == self.boundary or cont[k] in blank):
            k += 1
        if self.boundary not in cont[:k]:
            return self.decode(prompt + cont)
        head, text = self.decode(prompt), self.decode(cont[k:]).lstrip()
        if not text:
            return head
        return head + ("" if not head or head[-1].isspace() else " ") + text

    def perplexity(self, lines: Sequence[str], batch_size: int = 16) -> Perplexity:
        """Perplexity of ``lines`` read as one text (line ends predicted, the first
        token too), in ``batch_size`` parallel rows."""
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {batch_size}")
        if not any(line.strip() for line in lines):
            raise InputError("empty input (no text found)")
        stream, chars, oov = encode_lines(lines, self.vocab)
        stream = torch.cat([torch.tensor([self.boundary]), stream])  # predict the first token
        return stream_perplexity(
            as_lm(self.model), stream, self.device, rows=batch_size, chars=chars, oov=oov
        )

    def score_lines(self, lines: Sequence[str], batch_size: int = 64) -> list[tuple[float, int]]:
        """``(log-probability in nats, tokens)`` of each line on its own, line end
        included, in input order."""
        ids = [self.vocab.encode(line) for line in lines]
        return line_scores(
            as_lm(self.model), ids, self.boundary, self.boundary, self.device, batch_size=batch_size
        )


def train_lm(
    config: LMConfig,
    options: TrainOptions | None = None,
    output: str | os.PathLike[str] | None = None,
    reporter: Reporter | None = None,
    *,
    meta: dict[str, Any] | None = None,
    keep_last: bool = True,
) -> LanguageModel:
    """Train a language model (see :func:`~seqtool.train.runner.run_training` for
    ``options``, ``output`` (default ``lm.pt``), ``reporter``); returns the best
    model (or the final one without validation), its run summary in ``.run``."""
    run = run_training(
        LMTask(config),
        options,
        output,
        reporter,
        default_output="lm.pt",
        meta=meta,
        keep_last=keep_last,
        inputs=[*config.files, *(config.valid or ()), config.vocab_file],
    )
    device = next(run.model.parameters()).device
    lm = LanguageModel.load(run.output, device)
    lm.run = run
    return lm


__all__ = [
    "LMConfig",
    "LMData",
    "LMLoss",
    "LMSpec",
    "LMTask",
    "LanguageModel",
    "encode_lines",
    "lm_spec",
    "prepare_data",
    "train_lm",
]
