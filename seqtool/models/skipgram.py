"""word2vec skip-gram with negative sampling, trained in large vectorised steps.

The model (Mikolov et al. 2013; d2l.ai, "Word Embedding (word2vec)"): every word has
an input vector ``v`` and an output vector ``u``.  For each context word ``o`` within
the window of a centre word ``c``, training raises ``σ(u_c · v_o)`` and lowers
``σ(u_n · v_o)`` for ``negative`` noise words ``n`` drawn from the unigram counts
raised to 0.75.  As in word2vec.c and gensim, the context word's input vector predicts
the centre word; the input vectors are the word vectors people use.  Frequent words
are subsampled with Mikolov's formula, the window shrinks at random per centre word
and the learning rate decays linearly to ``min_lr``.

Why it is fast without a C extension (measurements in README.md, "seqtool word2vec"):

1. numpy makes the training examples of a block of the corpus at once: the
   subsampling draw, the random window of every centre word, the context matrix
   (one column per offset, filled by slicing rather than gathering) and the noise
   words (a word2vec.c-style table lookup).
2. A step trains ``batch_size`` centre words at once.  The noise words of a centre
   word are shared by all of its context words (Ji et al. 2016, "pWord2Vec"), so a
   step is three batched matrix products over (contexts x (centre + noise)) blocks
   instead of millions of separate dot products.  Rows are sorted by window size in
   short spans so the padded context dimension is tight.
3. The gradients are written by hand (no autograd graph) and only the touched rows
   are updated, with ``index_add_``.
4. Summing a step's updates is plain SGD for rows touched a few times, but a
   frequent word can be hit hundreds of times in one large step, where sequential
   SGD would have corrected course after each hit; summed, those updates overshoot
   and can diverge.  So a row hit more than ``row_cap`` times in a step has its
   updates scaled by ``row_cap / hits``.
5. On the CPU, ``threads`` Python threads train disjoint parts of the corpus at once
   on shared weights without locks ("Hogwild", what gensim's workers and
   word2vec.c's threads do); torch releases the GIL inside each operation.  On a GPU
   one thread feeds the device.

The same code runs on any torch device; it is chosen at run time.

Example::

    >>> from seqtool.text import Normalizer, Vocab
    >>> lines = ["a b c d"] * 50 + ["e f g h"] * 50
    >>> vocab = Vocab.build(lines, "word", Normalizer.make("none"))
    >>> corpus = encode_corpus(lines, vocab, min_count=1)
    >>> result = train(corpus, SkipGramConfig(dim=8, epochs=2, threads=1))
    >>> result.vectors.shape
    (8, 8)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from seqtool.errors import InputError, UsageError
from seqtool.limits import check_threads
from seqtool.text.vocab import SPECIALS, Vocab

NOISE_POWER = 0.75
# Centre words per step (per thread): big enough to amortise Python, small enough that a
# step's working set stays in the CPU's caches.  Bigger steps would keep a GPU busier,
# but they cost quality: on PTB, SimLex-999 fell from 0.12 at 512 to 0.10-0.11 at
# 1024-4096 (and a GPU finishes PTB's 5 epochs in seconds even at 512).
BATCH = 512
SORT_SPAN = 16  # rows are sorted by window size within spans of this many steps


@dataclass
class SkipGramConfig:
    """Hyper-parameters of skip-gram training; the defaults are word2vec.c's and gensim's."""

    dim: int = 100
    window: int = 5
    negative: int = 5
    sample: float = 1e-3
    epochs: int = 5
    lr: float = 0.025
    min_lr: float = 1e-4
    batch_size: int = BATCH  # centre words per step
    threads: int = 0  # 0: one per CPU core
    seed: int = 0
    device: str = "auto"
    row_cap: int = 32  # see the module docstring, point 4; 0 turns the cap off

    def check(self) -> None:
        """Refuse impossible settings before any work, naming the flag."""
        positive = {
            "--dim": self.dim,
            "--window": self.window,
            "--negative": self.negative,
            "--epochs": self.epochs,
        }
        for flag, value in positive.items():
            if value < 1:
                raise UsageError(f"{flag} must be at least 1, not {value}")
        if not self.sample >= 0:
            raise UsageError(f"--sample must be 0 (off) or more, not {self.sample}")
        if not self.lr > 0:
            raise UsageError(f"--lr must be more than 0, not {self.lr}")
        if not 0 <= self.min_lr <= self.lr:
            raise UsageError(f"the final learning rate must be in [0, --lr], not {self.min_lr}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.threads < 0:
            raise UsageError(f"--threads must be 0 (all cores) or more, not {self.threads}")
        check_threads(self.threads, "--threads")
        if self.row_cap < 0:
            raise UsageError(f"the row cap must be 0 (off) or more, not {self.row_cap}")


# ---------------------------------------------------------------------- formulas
def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """Chance that each occurrence of a word survives subsampling (word2vec.c, gensim).

    With ``t = sample * total`` the formula is ``(sqrt(count / t) + 1) * t / count``,
    capped at 1: words rarer than about ``t`` are always kept, ``the`` mostly dropped.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        p = (np.sqrt(counts / threshold) + 1.0) * threshold / counts
    return np.where(counts > 0, np.minimum(p, 1.0), 1.0)


def noise_distribution(counts: np.ndarray, power: float = NOISE_POWER) -> np.ndarray:
    """Probability of each word as a noise word: ``count**0.75``, normalised."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()


def noise_table(counts: np.ndarray, size: int | None = None) -> np.ndarray:
    """A table of word ids in proportion to the noise distribution (word2vec.c's idea).

    Sampling is then one uniform integer and one lookup per noise word.  Slots are
    handed out by largest remainder, so every word's share is within ``1/size`` of
    its probability; the default size gives at least 64 slots per word on average.
    """
    p = noise_distribution(counts)
    if size is None:
        size = min(max(1 << 20, 64 * len(p)), 1 << 25)
    exact = p * size
    slots = np.floor(exact).astype(np.int64)
    short = size - int(slots.sum())
    if short > 0:
        slots[np.argsort(slots - exact, kind="stable")[:short]] += 1
    return np.repeat(np.arange(len(p), dtype=np.int32), slots)


# ---------------------------------------------------------------------- corpus
@dataclass
class Corpus:
    """A corpus as word indices: the words of the vectors file, counts, sentence numbers.

    ``ids[i]`` indexes ``words``; ``sentences[i]`` is the line the token came from
    (windows never cross lines, as in gensim).  Words are ordered by count, most
    frequent first, so the vectors file is too.
    """

    words: list[str]
    counts: np.ndarray  # (V,) int64
    ids: np.ndarray  # (N,) int32
    sentences: np.ndarray  # (N,) int32, non-decreasing


def encode_corpus(
    lines: Iterable[str],
    vocab: Vocab,
    min_count: int = 5,
    max_vocab: int | None = None,
) -> Corpus:
    """Encode text with a vocabulary and keep the words seen at least ``min_count`` times.

    Counts come from this corpus (a reused ``--vocab`` only decides which words
    exist); words outside the vocabulary and the specials are dropped from the
    text, as word2vec.c and gensim drop out-of-vocabulary words.
    """
    if min_count < 1:
        raise UsageError(f"--min-count must be at least 1, not {min_count}")
    if max_vocab is not None and max_vocab < 2:
        raise UsageError(f"--max-vocab must be at least 2, not {max_vocab}")
    ids, sentences = _encode(lines, vocab)
    counts = np.bincount(ids, minlength=len(vocab))
    counts[: len(SPECIALS)] = 0
    order = np.lexsort((np.arange(len(vocab)), -counts))  # by count, then vocabulary id
    order = order[counts[order] >= min_count]
    if max_vocab is not None:
        order = order[:max_vocab]
    if len(order) < 2:
        raise InputError(
            f"only {len(order)} distinct word(s) occur at least {min_count} time(s); "
            "word2vec needs at least 2",
            hint="lower --min-count or give more text",
        )
    remap = np.full(len(vocab), -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    new_ids = remap[ids]
    kept = new_ids >= 0
    return Corpus(
        words=[vocab.tokens[i] for i in order],
        counts=counts[order].astype(np.int64),
        ids=new_ids[kept],
        sentences=sentences[kept],
    )


def _encode(lines: Iterable[str], vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary ids and line numbers of every token, gathered in numpy pieces."""
    id_parts: list[np.ndarray] = []
    line_parts: list[np.ndarray] = []
    ids: list[int] = []
    lengths: list[int] = []
    first_line = 0

    def flush() -> None:
        nonlocal first_line, ids, lengths
        id_parts.append(np.array(ids, dtype=np.int32))
        line_parts.append(np.repeat(np.arange(first_line, first_line + len(lengths)), lengths))
        first_line += len(lengths)
        ids, lengths = [], []

    for line in lines:
        encoded = vocab.encode(line)
        ids.extend(encoded)
        lengths.append(len(encoded))
        if len(ids) >= 1 << 20:
            flush()
    flush()
    return np.concatenate(id_parts), np.concatenate(line_parts).astype(np.int32)


# ---------------------------------------------------------------------- examples
@dataclass
class Examples:
    """The training examples of one block of text, one row per centre word.

    ``contexts[i]`` holds the context words of centre ``i``, nearest first, left
    before right; slots beyond its window or its line hold the padding row.  Rows
    are sorted by ``reach`` (the shrunk window) within spans, so a step can cut the
    context matrix to ``2 * max reach`` columns.
    """

    centres: np.ndarray  # (n,) int32
    contexts: np.ndarray  # (n, 2 * window) int32
    noise: np.ndarray  # (n, negative) int32
    reach: np.ndarray  # (n,) int8, 1..window
    raw_words: int  # tokens in the block before subsampling


def make_examples(
    ids: np.ndarray,
    sentences: np.ndarray,
    keep: np.ndarray,
    table: np.ndarray,
    window: int,
    negative: int,
    pad: int,
    rng: np.random.Generator,
    span: int,
) -> Examples:
    """Subsample a block, shrink each window at random, and list contexts and noise."""
    survive = rng.random(len(ids), dtype=np.float32) < keep[ids]
    words, lines = ids[survive], sentences[survive]
    n = len(words)
    reach = (window - rng.integers(0, window, n, dtype=np.int8)).astype(np.int8)  # 1..window
    contexts = np.full((n, 2 * window), pad, dtype=np.int32)
    for off in range(1, min(window, n - 1) + 1):
        same_line = lines[off:] == lines[:-off]  # token i and token i+off
        # right context of centre i is word i+off; left context of centre i+off is word i
        np.copyto(
            contexts[:-off, 2 * off - 1], words[off:], where=same_line & (reach[:-off] >= off)
        )
        np.copyto(contexts[off:, 2 * off - 2], words[:-off], where=same_line & (reach[off:] >= off))
    noise = table[rng.integers(0, len(table), (n, negative))]
    order = _sort_by_reach(reach, span, window)
    return Examples(words[order], contexts[order], noise, reach[order], len(ids))


def _sort_by_reach(reach: np.ndarray, span: int, window: int) -> np.ndarray:
    """Row order that sorts by reach within consecutive spans (a stable radix sort)."""
    n = len(reach)
    key = (np.arange(n, dtype=np.int64) // span) * (window + 1) + reach
    if n == 0 or key[-1] < 1 << 16:
        key = key.astype(np.uint16)  # numpy radix-sorts 16-bit keys: linear time
    return np.argsort(key, kind="stable")


# ---------------------------------------------------------------------- model
class SkipGram(nn.Module):
    """Input and output embeddings of the skip-gram model, plus one padding row each.

    :meth:`forward` is the d2l loss, used to check the hand-written gradients of
    :meth:`sgd_step`, which is what training runs.
    """

    def __init__(self, n_words: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        # word2vec.c's initialisation: inputs uniform in ±0.5/dim, outputs zero
        inp = (rng.random((n_words + 1, dim), dtype=np.float32) - 0.5) / dim
        inp[n_words] = 0.0
        self.pad = n_words
        self.inp = nn.Parameter(torch.from_numpy(inp), requires_grad=False)
        self.out = nn.Parameter(torch.zeros(n_words + 1, dim), requires_grad=False)

    @staticmethod
    def step_masks(contexts: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
        """Which (context, target) scores count: real contexts, noise unequal to the centre."""
        ctx_ok = (contexts != pad).unsqueeze(2)  # (B, c, 1)
        tgt_ok = torch.ones_like(targets, dtype=torch.bool)
        tgt_ok[:, 1:] = targets[:, 1:] != targets[:, :1]  # word2vec.c skips noise == centre
        return ctx_ok & tgt_ok.unsqueeze(1)  # (B, c, 1+k)

    def forward(self, contexts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed loss ``-log σ(u_c·v_o) - Σ log σ(-u_n·v_o)`` of a step's examples.

        ``contexts`` (B, c): context words (or the padding row); ``targets`` (B, 1+k):
        each centre word followed by its noise words.
        """
        x = self.inp[contexts]  # (B, c, d)
        u = self.out[targets]  # (B, 1+k, d)
        scores = torch.bmm(x, u.transpose(1, 2))  # (B, c, 1+k)
        sign = torch.full_like(scores[:1, :1], -1.0).expand_as(scores).clone()
        sign[:, :, 0] = 1.0
        mask = self.step_masks(contexts, targets, self.pad)
        return -(nn.functional.logsigmoid(sign * scores) * mask).sum()

    @torch.no_grad()
    def sgd_step(
        self, contexts: torch.Tensor, targets: torch.Tensor, lr: float, row_cap: int = 0
    ) -> None:
        """One SGD step on :meth:`forward`'s loss with hand-written gradients.

        Only the rows in ``contexts`` and ``targets`` change.  With ``row_cap`` > 0 a
        row hit more than ``row_cap`` times has its summed update scaled down to
        ``row_cap`` hits' worth (module docstring, point 4).
        """
        inp, out = self.inp, self.out
        x = nn.functional.embedding(contexts, inp)  # (B, c, d) context input vectors
        u = nn.functional.embedding(targets, out)  # (B, 1+k, d) centre + noise outputs
        g = torch.bmm(x, u.transpose(1, 2))  # (B, c, 1+k) scores u_t · v_o
        g.sigmoid_().neg_()
        g[:, :, 0].add_(1.0)  # label - σ(score): 1 for the centre word, 0 for noise
        g[:, :, 1:].mul_((targets[:, 1:] != targets[:, :1]).unsqueeze(1))  # noise == centre
        lr_x, lr_u = _step_sizes(contexts, targets, len(inp), lr, row_cap, self.pad)
        dx = torch.bmm(g * lr_x.unsqueeze(2), u)  # (B, c, d)
        du = torch.bmm((g * lr_u.unsqueeze(1)).transpose(1, 2), x)  # (B, 1+k, d)
        inp.index_add_(0, contexts.reshape(-1), dx.reshape(-1, inp.shape[1]))
        out.index_add_(0, targets.reshape(-1), du.reshape(-1, out.shape[1]))


def _step_sizes(
    contexts: torch.Tensor, targets: torch.Tensor, n_rows: int, lr: float, cap: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The learning rate of every context (B, c) and target (B, 1+k) entry of a step.

    ``lr``, times ``cap / hits`` for a row hit more than ``cap`` times in the step, and
    0 for padding contexts (so the padding row stays zero and adds nothing to the
    output gradients).  Hits are counted with a scatter rather than ``bincount``: no
    device sync on a GPU, one pass for both tables (targets offset by ``n_rows``).
    """
    if cap > 0:
        flat = torch.cat([contexts.reshape(-1), targets.reshape(-1) + n_rows])
        ones = torch.ones(flat.shape, device=flat.device)
        hits = torch.zeros(2 * n_rows, device=flat.device).index_add_(0, flat, ones)
        share = hits.index_select(0, flat).clamp_(min=cap).reciprocal_().mul_(cap * lr)
        lr_x, lr_u = share.split([contexts.numel(), targets.numel()])
        lr_x, lr_u = lr_x.view(contexts.shape), lr_u.view(targets.shape)
    else:
        lr_x = torch.full(contexts.shape, lr, device=contexts.device)
        lr_u = torch.full(targets.shape, lr, device=targets.device)
    return lr_x * (contexts != pad), lr_u


# ---------------------------------------------------------------------- training
@dataclass
class Progress:
    """What :func:`train` reports to its ``on_progress`` callback, a few times a second."""

    raw_words: int  # corpus tokens processed so far, all epochs, before subsampling
    total_words: int  # raw words when training is done
    effective_words: int  # words that survived subsampling (gensim's "effective words")
    lr: float
    elapsed: float  # seconds


@dataclass
class TrainResult:
    vectors: np.ndarray  # (V, dim) float32, rows in ``corpus.words`` order
    raw_words: int
    effective_words: int
    seconds: float
    device: str
    threads: int
    batch_size: int


@dataclass
class _Shared:
    """State the training threads share: the model, counters, a stop flag, errors."""

    model: SkipGram
    cfg: SkipGramConfig
    device: torch.device
    batch: int
    keep: np.ndarray
    table: np.ndarray
    raw: list[int]
    effective: list[int]
    lr: list[float]
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


def train(
    corpus: Corpus,
    cfg: SkipGramConfig,
    on_progress: Callable[[Progress], None] | None = None,
) -> TrainResult:
    """Train skip-gram vectors on ``corpus``; returns the input vectors.

    ``on_progress`` is called from this thread about five times a second.  With
    ``threads == 1`` the result depends only on the seed; with more threads, as
    with gensim's workers, the order in which threads update shared rows varies.
    """
    from seqtool.train.device import resolve_device

    cfg.check()
    device = resolve_device(cfg.device)
    on_gpu = device.type != "cpu"
    threads = 1 if on_gpu else (cfg.threads or _cpu_count())
    batch = cfg.batch_size
    model = SkipGram(len(corpus.words), cfg.dim, cfg.seed).to(device)
    shared = _Shared(
        model,
        cfg,
        device,
        batch,
        keep_probability(corpus.counts, cfg.sample).astype(np.float32),
        noise_table(corpus.counts),
        raw=[0] * threads,
        effective=[0] * threads,
        lr=[cfg.lr] * threads,
    )
    shards = _shards(corpus.sentences, threads)
    total = len(corpus.ids) * cfg.epochs
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from our threads, not from inside ops
    try:
        workers = [
            threading.Thread(
                target=_worker, args=(shared, corpus, lo, hi, i), name=f"skipgram-{i}", daemon=True
            )
            for i, (lo, hi) in enumerate(shards)
        ]
        for w in workers:
            w.start()
        _watch(workers, shared, total, start, on_progress)
    finally:
        shared.stop.set()
        torch.set_num_threads(previous)
    if shared.errors:
        raise shared.errors[0]
    seconds = time.perf_counter() - start
    if on_progress is not None:
        on_progress(Progress(total, total, sum(shared.effective), cfg.min_lr, seconds))
    return TrainResult(
        vectors=model.inp[: len(corpus.words)].detach().cpu().numpy().copy(),
        raw_words=sum(shared.raw),
        effective_words=sum(shared.effective),
        seconds=seconds,
        device=str(device),
        threads=threads,
        batch_size=batch,
    )


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _shards(sentences: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split the token range into ``parts`` pieces at line starts (empty ones dropped)."""
    n = len(sentences)
    cuts = [0]
    for i in range(1, parts):
        at = n * i // parts
        at = int(np.searchsorted(sentences, sentences[at], side="left")) if at < n else n
        cuts.append(max(at, cuts[-1]))
    cuts.append(n)
    return [(lo, hi) for lo, hi in zip(cuts, cuts[1:]) if hi > lo]


def _watch(
    workers: list[threading.Thread],
    shared: _Shared,
    total: int,
    start: float,
    on_progress: Callable[[Progress], None] | None,
) -> None:
    """Wait for the threads, reporting progress; Ctrl-C stops them and propagates."""
    try:
        while not shared.errors:
            alive = [w for w in workers if w.is_alive()]
            if not alive:
                break
            alive[0].join(0.2)
            if on_progress is not None:
                on_progress(
                    Progress(
                        sum(shared.raw),
                        total,
                        sum(shared.effective),
                        min(shared.lr),
                        time.perf_counter() - start,
                    )
                )
    except BaseException:
        shared.stop.set()
        for w in workers:
            w.join()
        raise
    shared.stop.set()
    for w in workers:
        w.join()


def _worker(shared: _Shared, corpus: Corpus, lo: int, hi: int, index: int) -> None:
    """Train on tokens ``lo:hi`` for every epoch; errors are handed to the main thread."""
    try:
        _run_shard(shared, corpus, lo, hi, index)
    except BaseException as e:  # noqa: BLE001 - re-raised by train()
        shared.errors.append(e)
        shared.stop.set()


def _run_shard(shared: _Shared, corpus: Corpus, lo: int, hi: int, index: int) -> None:
    cfg, model, batch = shared.cfg, shared.model, shared.batch
    rng = np.random.default_rng([cfg.seed, index])
    block = max(1 << 18, 64 * batch)
    total = (hi - lo) * cfg.epochs
    done = 0
    for _ in range(cfg.epochs):
        for b_lo in range(lo, hi, block):
            b_hi = min(b_lo + block, hi)
            ex = make_examples(
                corpus.ids[b_lo:b_hi],
                corpus.sentences[b_lo:b_hi],
                shared.keep,
                shared.table,
                cfg.window,
                cfg.negative,
                model.pad,
                rng,
                SORT_SPAN * batch,
            )
            _train_block(shared, ex, done, total, index)
            if shared.stop.is_set():
                return
            done += ex.raw_words
            shared.raw[index] = done
            shared.effective[index] += len(ex.centres)


def _train_block(shared: _Shared, ex: Examples, done: int, total: int, index: int) -> None:
    """Run the steps of one block, with the learning rate decaying by shard progress."""
    cfg, model, batch, device = shared.cfg, shared.model, shared.batch, shared.device
    n = len(ex.centres)
    if n == 0:
        return
    centres = torch.from_numpy(ex.centres).to(device, torch.int64)
    contexts = torch.from_numpy(ex.contexts).to(device, torch.int64)
    noise = torch.from_numpy(ex.noise).to(device, torch.int64)
    targets = torch.cat([centres.unsqueeze(1), noise], 1)  # (n, 1+k)
    width = 2 * ex.reach.astype(np.int64)
    for s0 in range(0, n, batch):
        s1 = min(s0 + batch, n)
        progress = (done + ex.raw_words * s0 / n) / total
        lr = cfg.lr - (cfg.lr - cfg.min_lr) * min(progress, 1.0)
        c = int(width[s1 - 1])  # a step lies inside one sorted span: its last row reaches farthest
        model.sgd_step(contexts[s0:s1, :c], targets[s0:s1], lr, cfg.row_cap)
        shared.lr[index] = lr
        if shared.stop.is_set():
            return
