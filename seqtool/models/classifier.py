"""Text classifiers: a line of token ids in, one score per class out.

Six models, each a plain ``nn.Module`` with its own ``@dataclass`` config and the
same forward contract, ``forward(x, lengths, targets=None) -> (logits, loss)``:

* ``x``: ``(B, T)`` token ids, right-padded with ``pad_id`` (0);
* ``lengths``: ``(B,)`` the real length of each row (0 is allowed: an empty line);
* ``logits``: ``(B, classes)``; ``loss`` is the mean cross-entropy when
  ``targets`` ``(B,)`` are given, else None.

The models:

* :class:`BagOfWords` (``bow``): fastText's supervised model.  The mean of the
  word embeddings and of hashed word n-gram embeddings (``word_ngrams=2`` adds
  bigrams), then one linear layer.  Order-blind by construction beyond n-grams.
* :class:`TextCNN` (``cnn``): Kim (2014).  Convolutions of widths 3, 4, 5 with
  100 feature maps each over the embedded sentence, ReLU, max over time, dropout
  0.5, a linear layer.  The d2l book's TextCNN.
* :class:`BiRNN` (``birnn``): a bidirectional GRU or LSTM (the forward and
  backward hidden states of d2l's deep-RNN chapter, concatenated per step),
  pooled over time (max, mean, or the two final states), then a linear layer.
* :class:`TransformerClassifier` (``transformer``): a small pre-LN Transformer
  encoder from :mod:`seqtool.models.layers` with mean pooling over the tokens.
* :class:`NBLinear` (``nb``): Wang and Manning's (2012) NBSVM idea trained as a
  logistic regression: binary word and hashed word-bigram features, each scaled
  by its naive-Bayes log-count ratio, which :meth:`NBLinear.fit_data` counts on
  the training lines before training.
* :class:`Ensemble` (``ensemble``): several of the models above (by default
  ``nb``, two ``birnn`` and a ``cnn``) trained side by side on the same batches,
  each on its own loss; it answers the mean of their class probabilities.

The word tables (``nn.Embedding``) of a model are :func:`word_tables`, which
:func:`init_from_vectors` fills from pretrained word vectors; a model whose
parameters start from counts on the training data (:class:`FitsData`) gets them
from :meth:`fit_data` before training.

Example::

    >>> model = build_classifier("cnn", vocab_size=50, classes=3, dim=16)
    >>> x = torch.randint(4, 50, (2, 7)); lengths = torch.tensor([7, 4])
    >>> logits, loss = model(x, lengths, torch.tensor([0, 2]))
    >>> tuple(logits.shape), loss.dim()
    ((2, 3), 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqtool.errors import UsageError
from seqtool.models.layers import Block, SinusoidalPositions, init_weights

_HASH_MULT = 116_049_371  # fastText's n-gram hash multiplier
_HASH_MOD = 2_147_483_647  # keeps every product inside int64


def _padding(lengths: Tensor, width: int) -> Tensor:
    """``(B, width)`` bool, True on the padding positions."""
    return torch.arange(width, device=lengths.device)[None, :] >= lengths[:, None]


def _param(name: str) -> str:
    """A parameter as library messages name it: `dim` in backticks, snake_case bare."""
    return name if "_" in name else f"`{name}`"


def _small_init(embedding: nn.Embedding) -> None:
    """Kim's initialisation of word vectors: uniform in +-0.25, padding row zero.

    ``nn.Embedding``'s N(0, 1) rows are four times larger; a word seen once then
    keeps a large random vector that the convolutions cannot learn to ignore
    (SST-2 dev accuracy of the CNN after 3 epochs: 68% with N(0, 1), 78% with this).
    """
    nn.init.uniform_(embedding.weight, -0.25, 0.25)
    if embedding.padding_idx is not None:
        with torch.no_grad():
            embedding.weight[embedding.padding_idx].zero_()


def _output(logits: Tensor, targets: Tensor | None) -> tuple[Tensor, Tensor | None]:
    loss = None if targets is None else F.cross_entropy(logits.float(), targets)
    return logits, loss


# ---------------------------------------------------------------------- bow
@dataclass
class BowConfig:
    vocab_size: int = 0
    classes: int = 2
    dim: int = 100
    word_ngrams: int = 1  # 2: words and word bigrams (fastText's -wordNgrams)
    buckets: int = 100_000  # hashed n-gram rows
    dropout: float = 0.0
    sparse: bool = True  # sparse gradients for the two tables: fast plain-SGD updates
    pad_id: int = 0


class BagOfWords(nn.Module):
    """fastText's supervised classifier: mean of word and n-gram vectors -> linear."""

    def __init__(self, cfg: BowConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(
            cfg.vocab_size, cfg.dim, padding_idx=cfg.pad_id, sparse=cfg.sparse
        )
        # row 0 of the n-gram table is the "no n-gram" padding row
        self.ngrams = (
            nn.Embedding(cfg.buckets + 1, cfg.dim, padding_idx=0, sparse=cfg.sparse)
            if cfg.word_ngrams > 1
            else None
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.dim, cfg.classes)
        # Output layer zero (as fastText), inputs uniform in +-1/sqrt(dim): with
        # fastText's +-1/dim the mean of a line's rows is so small that, with the
        # output at zero, batches of 64 sat at chance for the first 2-3 epochs on
        # SST-2 (5 epochs, 3 seeds: dev accuracy 0.750 at lr 8, 0.7856 this way).
        for table in (self.embedding, self.ngrams):
            if table is not None:
                a = 1.0 / math.sqrt(cfg.dim)
                nn.init.uniform_(table.weight, -a, a)
                with torch.no_grad():
                    table.weight[table.padding_idx or 0].zero_()
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def ngram_ids(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Hashed ids (1..buckets) of every word n-gram, 2 <= n <= word_ngrams; 0 = none."""
        return hashed_ngrams(x, lengths, self.cfg.word_ngrams, self.cfg.buckets)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        pad = _padding(lengths, x.shape[1])  # (B, T)
        keep = (~pad).unsqueeze(-1).to(self.embedding.weight.dtype)
        total = (self.embedding(x) * keep).sum(1)  # (B, D)
        count = lengths.to(total.dtype)
        if self.ngrams is not None:
            ids = self.ngram_ids(x, lengths)  # (B, N)
            total = total + self.ngrams(ids).sum(1)  # padding row is zero
            count = count + (ids > 0).sum(1).to(total.dtype)
        hidden = total / count.clamp(min=1.0)[:, None]
        return _output(self.out(self.drop(hidden)), targets)


# ---------------------------------------------------------------------- cnn
@dataclass
class CNNConfig:
    vocab_size: int = 0
    classes: int = 2
    dim: int = 128
    widths: list[int] = field(default_factory=lambda: [3, 4, 5])
    maps: int = 100  # feature maps per width
    dropout: float = 0.5
    embed_dropout: float = 0.0
    pad_id: int = 0


class TextCNN(nn.Module):
    """Kim (2014): parallel 1-D convolutions, max-over-time pooling, dropout, linear."""

    def __init__(self, cfg: CNNConfig) -> None:
        super().__init__()
        if not cfg.widths or min(cfg.widths) < 1:
            raise UsageError(f"`widths` must be positive, not {cfg.widths}")
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=cfg.pad_id)
        self.convs = nn.ModuleList(nn.Conv1d(cfg.dim, cfg.maps, w) for w in cfg.widths)
        self.embed_drop = nn.Dropout(cfg.embed_dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.maps * len(cfg.widths), cfg.classes)
        _small_init(self.embedding)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        widest = max(self.cfg.widths)
        if x.shape[1] < widest:  # every filter needs at least one window
            x = F.pad(x, (0, widest - x.shape[1]), value=self.cfg.pad_id)
        e = self.embed_drop(self.embedding(x)).transpose(1, 2)  # (B, D, T)
        pooled = []
        for w, conv in zip(self.cfg.widths, self.convs):
            h = F.relu(conv(e))  # (B, maps, T-w+1)
            # window t covers tokens t..t+w-1; a line shorter than w keeps window 0
            windows = (lengths - w + 1).clamp(min=1)
            h = h.masked_fill(_padding(windows, h.shape[2])[:, None, :], float("-inf"))
            pooled.append(h.max(dim=2).values)  # (B, maps)
        return _output(self.out(self.drop(torch.cat(pooled, dim=1))), targets)


# ---------------------------------------------------------------------- birnn
@dataclass
class BiRNNConfig:
    vocab_size: int = 0
    classes: int = 2
    dim: int = 128
    hidden: int = 128  # per direction
    layers: int = 1
    cell: str = "lstm"  # lstm | gru
    pool: str = "max"  # max | mean | last (the final forward and backward states)
    dropout: float = 0.5
    pad_id: int = 0


class BiRNN(nn.Module):
    """A bidirectional GRU/LSTM encoder pooled into a linear classifier.

    At each step ``t`` the forward state reads ``x_1..x_t`` and the backward state
    ``x_t..x_T``; their concatenation ``[h_t->; <-h_t]`` (B, 2H) represents token
    ``t`` in its whole sentence.  Padded sequences are packed, so the backward
    direction starts at each line's own last token.
    """

    def __init__(self, cfg: BiRNNConfig) -> None:
        super().__init__()
        cells = {"lstm": nn.LSTM, "gru": nn.GRU}
        if cfg.cell not in cells:
            raise UsageError(f"`cell` must be one of lstm, gru, not {cfg.cell!r}")
        if cfg.pool not in ("max", "mean", "last"):
            raise UsageError(f"`pool` must be one of max, mean, last, not {cfg.pool!r}")
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=cfg.pad_id)
        self.rnn = cells[cfg.cell](
            cfg.dim,
            cfg.hidden,
            num_layers=cfg.layers,
            bidirectional=True,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, cfg.classes)
        _small_init(self.embedding)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        steps = lengths.clamp(min=1)  # an empty line reads one padding token
        e = self.drop(self.embedding(x))  # (B, T, D)
        packed = nn.utils.rnn.pack_padded_sequence(
            e, steps.cpu(), batch_first=True, enforce_sorted=False
        )
        out, state = self.rnn(packed)
        if self.cfg.pool == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*2, B, H)
            pooled = torch.cat([h_n[-2], h_n[-1]], dim=1)  # (B, 2H)
        else:
            h, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)  # (B, T', 2H)
            pad = _padding(steps, h.shape[1])[:, :, None]
            if self.cfg.pool == "max":
                pooled = h.masked_fill(pad, float("-inf")).max(dim=1).values
            else:
                pooled = h.masked_fill(pad, 0.0).sum(1) / steps[:, None].to(h.dtype)
        return _output(self.out(self.drop(pooled)), targets)


# ---------------------------------------------------------------------- transformer
@dataclass
class TransformerClassifierConfig:
    vocab_size: int = 0
    classes: int = 2
    dim: int = 128
    heads: int = 4
    layers: int = 2
    ff_dim: int = 256
    dropout: float = 0.1
    pad_id: int = 0


class TransformerClassifier(nn.Module):
    """Embeddings + sinusoidal positions -> pre-LN encoder blocks -> mean over tokens."""

    def __init__(self, cfg: TransformerClassifierConfig) -> None:
        super().__init__()
        if cfg.dim % cfg.heads:
            raise UsageError(f"`dim` {cfg.dim} is not divisible by `heads` {cfg.heads}")
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=cfg.pad_id)
        self.positions = SinusoidalPositions(cfg.dim)
        self.blocks = nn.ModuleList(
            Block(cfg.dim, cfg.heads, cfg.ff_dim, cfg.dropout) for _ in range(cfg.layers)
        )
        self.ln = nn.LayerNorm(cfg.dim)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.dim, cfg.classes)
        init_weights(self, cfg.layers)
        with torch.no_grad():
            self.embedding.weight[cfg.pad_id].zero_()

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        pad = _padding(lengths, x.shape[1])  # (B, T)
        h = self.drop(self.positions(self.embedding(x) * math.sqrt(self.cfg.dim)))  # (B, T, D)
        for block in self.blocks:
            h = block(h, key_padding_mask=pad)
        h = self.ln(h).masked_fill(pad[:, :, None], 0.0)
        pooled = h.sum(1) / lengths.clamp(min=1)[:, None].to(h.dtype)  # (B, D)
        return _output(self.out(self.drop(pooled)), targets)


# ---------------------------------------------------------------------- nb
@runtime_checkable
class FitsData(Protocol):
    """A model with parameters that start from counts on the training data."""

    def fit_data(self, batches: Sequence[tuple[Tensor, Tensor, Tensor]]) -> None:
        """Count on the training lines, given as ``(x, lengths, targets)`` batches."""
        ...


def hashed_ngrams(x: Tensor, lengths: Tensor, n_max: int, buckets: int) -> Tensor:
    """Hashed ids (1..buckets) of every word n-gram, 2 <= n <= n_max, of each row of
    ``x`` ``(B, T)``, side by side ``(B, N)``; 0 where a row has no such n-gram."""
    parts = []
    h = x.long()
    for n in range(2, n_max + 1):
        if x.shape[1] < n:
            break
        h = (h[:, :-1] * _HASH_MULT + x[:, n - 1 :]) % _HASH_MOD  # (B, T-n+1)
        valid = torch.arange(h.shape[1], device=x.device)[None, :] <= (lengths[:, None] - n)
        parts.append(torch.where(valid, h % buckets + 1, 0))
    if not parts:
        return x.new_zeros(x.shape[0], 1)
    return torch.cat(parts, dim=1)


@dataclass
class NBConfig:
    vocab_size: int = 0
    classes: int = 2
    word_ngrams: int = 2  # words and word bigrams
    buckets: int = 200_000  # hashed n-gram rows
    alpha: float = 1.0  # the counts' smoothing
    pad_id: int = 0


class NBLinear(nn.Module):
    """Logistic regression on naive-Bayes-scaled binary n-gram features (NBSVM's idea).

    Feature ``g`` (a word, or a hashed word n-gram) present in a line adds
    ``w[g, c] * r[g, c]`` to the score of class ``c``, where ``r[g, c]`` is the log
    ratio of how often lines of class ``c`` and lines of the other classes hold
    ``g`` (smoothed by ``alpha``), counted once by :meth:`fit_data`.  ``w`` starts
    at 1, where the model is multinomial naive Bayes on binary features, and
    training moves it from there; weight decay pulls a weight towards 0, so a
    feature seen in few lines (small ``r``) needs more evidence to count.  On SST-2
    this alone matches the BiLSTM at a tenth of its cost, and it errs differently.
    """

    ratios: Tensor  # (rows, K) the log-count ratios, a buffer (saved, not trained)

    def __init__(self, cfg: NBConfig) -> None:
        super().__init__()
        self.cfg = cfg
        rows = cfg.vocab_size + (cfg.buckets if cfg.word_ngrams > 1 else 0) + 1
        self.weight = nn.Embedding(rows, cfg.classes)
        nn.init.ones_(self.weight.weight)
        self.bias = nn.Parameter(torch.zeros(cfg.classes))
        self.register_buffer("ratios", torch.zeros(rows, cfg.classes))

    def features(self, x: Tensor, lengths: Tensor) -> Tensor:
        """``(B, N)`` the distinct feature rows of each line, 0 (ratio 0) filling the rest:
        words at their ids, n-gram ``k`` (1..buckets) at ``vocab_size + k``."""
        ids = [x.masked_fill(_padding(lengths, x.shape[1]), self.cfg.pad_id)]
        if self.cfg.word_ngrams > 1:
            grams = hashed_ngrams(x, lengths, self.cfg.word_ngrams, self.cfg.buckets)
            ids.append(torch.where(grams > 0, grams + self.cfg.vocab_size, 0))
        f, _ = torch.cat(ids, dim=1).sort(dim=1)
        repeat = torch.zeros_like(f, dtype=torch.bool)
        repeat[:, 1:] = f[:, 1:] == f[:, :-1]
        return f.masked_fill(repeat | (f == self.cfg.pad_id), 0)  # binary: each once

    @torch.no_grad()
    def fit_data(self, batches: Sequence[tuple[Tensor, Tensor, Tensor]]) -> None:
        k = self.cfg.classes
        counts = torch.zeros_like(self.ratios)  # (rows, K) lines of each class with g
        for x, lengths, y in batches:
            f = self.features(x.to(counts.device), lengths.to(counts.device))  # (B, N)
            hot = F.one_hot(y.to(counts.device), k).to(counts.dtype)  # (B, K)
            counts.index_add_(
                0, f.reshape(-1), hot[:, None, :].expand(-1, f.shape[1], k).reshape(-1, k)
            )
        counts[0] = 0
        seen = counts.sum(1, keepdim=True) > 0  # (rows, 1); unseen rows keep ratio 0
        p = (counts + self.cfg.alpha) * seen  # (rows, K), smoothed, over the seen rows
        q = p.sum(1, keepdim=True) - p  # the other classes
        r = (p / p.sum(0)).log() - (q / q.sum(0)).log()
        self.ratios.copy_(torch.where(seen, r, 0.0))

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        f = self.features(x, lengths)  # (B, N)
        logits = (self.weight(f) * self.ratios[f]).sum(1) + self.bias  # (B, K)
        return _output(logits, targets)


# ---------------------------------------------------------------------- ensemble
@dataclass
class EnsembleConfig:
    vocab_size: int = 0
    classes: int = 2
    members: list[str] = field(default_factory=lambda: ["nb", "birnn", "birnn", "cnn"])
    # sizes shared by the members that take them (None: each member's own default)
    dim: int | None = None
    hidden: int | None = None
    maps: int | None = None
    dropout: float | None = None
    word_ngrams: int | None = None
    buckets: int | None = None
    pad_id: int = 0


class Ensemble(nn.Module):
    """Several classifiers trained side by side, answering their mean probability.

    Every member sees the same batches but learns from its own loss (the loss is
    the mean of the members' cross-entropies, not that of the mixture, which would
    make them specialise); members of the same kind differ by their random start.
    The logits are ``log(mean_m softmax(logits_m))``.  Averaging models that err
    differently (counts of n-grams, a BiLSTM, a CNN) is the oldest reliable gain
    on small data: on SST-2 about a point over the best member.
    """

    def __init__(self, cfg: EnsembleConfig) -> None:
        super().__init__()
        if not cfg.members:
            raise UsageError("`members` must name at least one model")
        wrong = [m for m in cfg.members if m not in CLASSIFIERS or m == "ensemble"]
        if wrong:
            choices = ", ".join(k for k in CLASSIFIERS if k != "ensemble")
            raise UsageError(f"`members`: unknown model {wrong[0]!r}; choose from {choices}")
        self.cfg = cfg
        shared = {
            k: getattr(cfg, k)
            for k in (
                "vocab_size",
                "classes",
                "dim",
                "hidden",
                "maps",
                "dropout",
                "word_ngrams",
                "buckets",
                "pad_id",
            )
            if getattr(cfg, k) is not None
        }
        members = []
        for name in cfg.members:
            cls, cfg_cls = CLASSIFIERS[name]
            mine = {k: v for k, v in shared.items() if k in config_fields(name)}
            member_cfg = cfg_cls(**mine)
            check_config(name, member_cfg)
            members.append(cls(member_cfg))
        self.members = nn.ModuleList(members)

    def fit_data(self, batches: Sequence[tuple[Tensor, Tensor, Tensor]]) -> None:
        for m in self.members:
            if isinstance(m, FitsData):
                m.fit_data(batches)

    def forward(
        self, x: Tensor, lengths: Tensor, targets: Tensor | None = None
    ) -> tuple[Tensor, Tensor | None]:
        outs = [m(x, lengths, targets) for m in self.members]
        logp = torch.stack(
            [F.log_softmax(logits.float(), dim=-1) for logits, _ in outs]
        )  # (M, B, K)
        logits = logp.logsumexp(0) - math.log(len(outs))  # (B, K) log of the mean probability
        if targets is None:
            return logits, None
        return logits, torch.stack([loss for _, loss in outs if loss is not None]).mean()


# ---------------------------------------------------------------------- building
def collate(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Right-pad id sequences into ``(x (B, T), lengths (B,))``, the models' input."""
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    x = torch.full((len(seqs), max(int(lengths.max()), 1) if len(seqs) else 1), pad_id)
    for i, s in enumerate(seqs):
        if len(s):
            x[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return x, lengths


CLASSIFIERS: dict[str, tuple[type[nn.Module], type]] = {
    "bow": (BagOfWords, BowConfig),
    "cnn": (TextCNN, CNNConfig),
    "birnn": (BiRNN, BiRNNConfig),
    "transformer": (TransformerClassifier, TransformerClassifierConfig),
    "nb": (NBLinear, NBConfig),
    "ensemble": (Ensemble, EnsembleConfig),
}


def config_fields(name: str) -> set[str]:
    """The settings the classifier ``name`` takes."""
    return {f.name for f in fields(CLASSIFIERS[name][1])}


def make_config(name: str, **settings: Any) -> Any:
    """The config of classifier ``name`` from ``settings`` (None values keep the defaults)."""
    if name not in CLASSIFIERS:
        raise UsageError(f"unknown `model` {name!r}; choose one of {', '.join(CLASSIFIERS)}")
    taken = config_fields(name)
    foreign = sorted(k for k, v in settings.items() if v is not None and k not in taken)
    if foreign:
        raise UsageError(f"the {name} model does not take {', '.join(_param(k) for k in foreign)}")
    cfg = CLASSIFIERS[name][1](**{k: v for k, v in settings.items() if v is not None})
    check_config(name, cfg)
    return cfg


def check_config(name: str, cfg: Any) -> None:
    positive = ("vocab_size", "dim", "word_ngrams", "buckets", "maps", "hidden", "layers")
    for key in positive:
        value = getattr(cfg, key, None)
        if value is not None and value < 1:
            raise UsageError(f"{_param(key)} must be at least 1, not {value}")
    if cfg.classes < 2:
        raise UsageError(f"`classes` must be at least 2, not {cfg.classes}")
    alpha = getattr(cfg, "alpha", None)
    if alpha is not None and not alpha > 0:
        raise UsageError(f"`alpha` must be positive, not {alpha}")
    for key in ("dropout", "embed_dropout"):
        value = getattr(cfg, key, None)
        if value is not None and not 0 <= value < 1:
            raise UsageError(f"{_param(key)} must be in [0, 1), not {value}")


def build_classifier(name: str, **settings: Any) -> nn.Module:
    cfg = make_config(name, **settings)
    return CLASSIFIERS[name][0](cfg)


def model_from_config(name: str, config: dict[str, Any]) -> nn.Module:
    """Rebuild a classifier from the ``asdict`` of its config (as stored in a checkpoint)."""
    if name not in CLASSIFIERS:
        raise UsageError(f"unknown `model` {name!r}; choose one of {', '.join(CLASSIFIERS)}")
    cls, cfg_cls = CLASSIFIERS[name]
    return cls(cfg_cls(**config))


# ---------------------------------------------------------------------- vectors
def word_tables(model: nn.Module) -> list[nn.Embedding]:
    """The word embedding tables of a classifier (an ensemble's, one per member
    that has one; none for ``nb``, whose features are counts)."""
    if isinstance(model, Ensemble):
        return [table for m in model.members for table in word_tables(m)]
    if isinstance(model, (BagOfWords, TextCNN, BiRNN, TransformerClassifier)):
        return [model.embedding]
    return []


@dataclass
class Coverage:
    """How much of a vocabulary pretrained vectors cover."""

    found: int  # vocabulary words with a vector
    words: int  # ordinary vocabulary words (specials excluded)
    tokens_found: int  # training tokens whose word has a vector
    tokens: int

    @property
    def types(self) -> float:
        return self.found / max(self.words, 1)

    @property
    def token_rate(self) -> float:
        return self.tokens_found / max(self.tokens, 1)


def init_from_vectors(
    embedding: nn.Embedding,
    tokens: Sequence[str],
    counts: Sequence[int],
    words: Sequence[str],
    vectors: np.ndarray,
    first: int = 4,
    freeze: bool = False,
) -> Coverage:
    """Copy the vector of every token found in ``words`` into ``embedding``'s rows.

    ``tokens[first:]`` are the ordinary vocabulary words (``first`` specials keep
    their rows); a word not found exactly is looked up lowercased.  Rows without
    a vector keep their random initialisation.  ``freeze`` stops training the table.
    """
    dim = embedding.weight.shape[1]
    if vectors.shape[1] != dim:
        raise UsageError(
            f"the vectors have dimension {vectors.shape[1]}, the model's `dim` is {dim}"
        )
    index: dict[str, int] = {}
    for i, w in enumerate(words):
        index.setdefault(w, i)
    for i, w in enumerate(words):
        index.setdefault(w.lower(), i)
    rows, sources = [], []
    tokens_found = 0
    for i in range(first, len(tokens)):
        j = index.get(tokens[i])
        if j is not None:
            rows.append(i)
            sources.append(j)
            tokens_found += int(counts[i])
    with torch.no_grad():
        if rows:
            rows_t = torch.from_numpy(np.ascontiguousarray(vectors[sources], dtype=np.float32))
            embedding.weight[torch.tensor(rows)] = rows_t.to(embedding.weight.dtype)
    embedding.weight.requires_grad_(not freeze)
    return Coverage(
        found=len(rows),
        words=max(len(tokens) - first, 0),
        tokens_found=tokens_found,
        tokens=int(sum(counts[first:])),
    )
