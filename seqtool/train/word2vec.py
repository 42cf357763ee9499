"""word2vec training: skip-gram with negative sampling, with two engines.

:func:`train_word2vec` is the whole job (text -> vocabulary -> corpus ids ->
training -> :class:`~seqtool.wordvectors.WordVectors`); :func:`train` trains on an
encoded :class:`Corpus`. The model is :class:`seqtool.models.skipgram.SkipGram`.
Frequent words are subsampled with Mikolov's formula, the window shrinks at random
per centre word, noise words come from the unigram counts raised to 0.75 and the
learning rate decays linearly to ``min_lr``.

Why this is not a task of the shared trainer (:mod:`seqtool.train.trainer`): that
loop is built around autograd, an optimizer, dense batches and one step at a time;
word2vec's speed comes from the opposite choices: hand-written sparse SGD updates
to the touched rows only, no optimizer state, and several Python threads updating
shared weights without locks. Forcing it through the shared loop would cost most
of its speed (it is compared with gensim, a C extension). So it keeps its own
engine, with the same contracts as the other trainers: progress through a callback
object (:class:`Reporter`; the library never prints), a resumable checkpoint
(atomic, ``torch.load(weights_only=True)``) at the end of every epoch and on
SIGINT/SIGTERM, exact resumption with one thread, and a seed that fixes the result
with one thread.

Two engines (``Word2VecConfig.engine``; ``auto`` takes numba on the CPU and torch
on a GPU, or on a CPU without numba).  Both start from the same draws
(:func:`draw_windows`: numpy subsamples a block of the corpus, shrinks every
window and draws the noise words at once, a word2vec.c-style table lookup), and on
the CPU both run ``threads`` Python threads on disjoint parts of the corpus at once,
on shared weights without locks ("Hogwild", what gensim's workers and word2vec.c's
threads do).  Measurements are in README.md, "seqtool word2vec".

numba (:mod:`seqtool.train.word2vec_kernel`): a compiled loop over the centre words
of a block, gensim's and word2vec.c's sequential SGD with one change, the noise
words of a centre word shared by its context words (Ji et al. 2016, "pWord2Vec"),
so a window's output rows stay in the L1 cache.  It releases the GIL.  Its input
vectors start uniform in ±1/dim, as gensim 4's do (word2vec.c's ±0.5/dim cost
about a third of the analogy accuracy on gensim's 330,000-word Wikipedia sample,
3 seeds, and made no measurable difference on PTB).

torch (GPUs, and the CPU without numba), in large vectorised steps:

1. numpy lays a block's examples out as a context matrix (one column per offset,
   filled by slicing rather than gathering).
2. A step trains ``batch_size`` centre words at once.  With the noise words shared
   by the context words, a step is three batched matrix products over
   (contexts x (centre + noise)) blocks instead of millions of separate dot
   products.  Rows are sorted by window size in short spans so the padded context
   dimension is tight.
3. The gradients are written by hand (no autograd graph) and only the touched rows
   are updated, with ``index_add_``.  A block's targets (noise words equal to their
   centre replaced by the padding row) and the counter index of point 4 are made
   once in numpy, so a step is about 20 tensor operations and allocates nothing
   the size of the vocabulary.
4. Summing a step's updates is plain SGD for rows touched a few times, but a
   frequent word can be hit hundreds of times in one large step, where sequential
   SGD would have corrected course after each hit; summed, those updates overshoot
   and can diverge.  So a row hit more than ``row_cap`` times in a step has its
   updates scaled by ``row_cap / hits``.
5. torch releases the GIL inside each operation; on a GPU one thread feeds the device.

Randomness: every block of every thread's shard draws from its own generator seeded
by ``(seed, shard, epoch, block)``, so a run can stop at any block boundary and go
on later exactly as if it had not stopped (with one thread; with more, as with
gensim's workers, the order of updates to shared rows varies anyway).

Example::

    >>> lines = ["a b c d"] * 50 + ["e f g h"] * 50
    >>> result = train_word2vec(lines, Word2VecConfig(dim=8, epochs=2, threads=1, min_count=1))
    >>> result.vectors.vectors.shape
    (8, 8)
    >>> sorted(result.vectors.words)
    ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from seqtool.errors import (
    CheckpointError,
    InputError,
    UsageError,
    check_choice,
    check_finite,
    check_seed,
)
from seqtool.io import check_output_path
from seqtool.limits import check_threads
from seqtool.models.skipgram import SkipGram, StepRows
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import SPECIALS, Vocab
from seqtool.train.checkpoint import check_weights, load_checkpoint, save_checkpoint
from seqtool.train.device import resolve_device
from seqtool.train.signals import stop_signals
from seqtool.train.trainer import TrainingInterrupted
from seqtool.wordvectors import WordVectors

KIND = "word2vec"
NOISE_POWER = 0.75
# Centre words per step (per thread).  A step costs about the same per centre word from
# 256 to 1024 (its operations stream rows through memory either way; below 256 the
# per-operation overhead starts to show), but smaller steps train better: a step's
# updates are summed from the same stale rows, and its centre words share context
# words.  On PTB (2 threads, seeds 1-3) analogy accuracy rose from 2.62% at 512 to
# 2.75% at 256 (6 runs), and 128 was no better at 1.3x the CPU time; SimLex-999 fell
# from 0.12 at 512 to 0.10-0.11 at 1024-4096.
BATCH = 256
SORT_SPAN = 16  # rows are sorted by window size within spans of this many steps
BLOCK = 1 << 18  # tokens per block (at least 64 steps): the unit of randomness and resumption
ENGINES = ("auto", "numba", "torch")


@dataclass
class Word2VecConfig:
    """Settings of word2vec training; the defaults are word2vec.c's and gensim's."""

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
    min_count: int = 5  # words seen fewer times are dropped
    max_vocab: int | None = None  # keep only this many most frequent words
    engine: str = "auto"  # auto: numba on the CPU, torch elsewhere; or numba, torch

    def check(self) -> None:
        """Refuse impossible settings before any work, naming the parameter."""
        positive = {"dim": self.dim, "window": self.window, "negative": self.negative}
        for name, value in {**positive, "epochs": self.epochs}.items():
            if value < 1:
                raise UsageError(f"`{name}` must be at least 1, not {value}")
        check_finite("sample", self.sample)
        if not self.sample >= 0:
            raise UsageError(f"`sample` must be 0 (off) or more, not {self.sample}")
        check_seed("seed", self.seed)
        if not (self.lr > 0 and np.isfinite(self.lr)):
            raise UsageError(f"`lr` must be more than 0, not {self.lr}")
        if not 0 <= self.min_lr <= self.lr:
            raise UsageError(f"the final learning rate must be in [0, `lr`], not {self.min_lr}")
        if self.batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, not {self.batch_size}")
        if self.threads < 0:
            raise UsageError(f"`threads` must be 0 (all cores) or more, not {self.threads}")
        check_threads(self.threads)  # bounded by the machine
        if self.row_cap < 0:
            raise UsageError(f"the row cap must be 0 (off) or more, not {self.row_cap}")
        if self.min_count < 1:
            raise UsageError(f"min_count must be at least 1, not {self.min_count}")
        if self.max_vocab is not None and self.max_vocab < 2:
            raise UsageError(f"max_vocab must be at least 2, not {self.max_vocab}")
        check_choice("engine", self.engine, ENGINES)

    @classmethod
    def from_dict(cls, data: dict[str, Any], name: str) -> Word2VecConfig:
        """The config stored in checkpoint ``name``, refusing unknown or missing fields."""
        known = {f.name for f in fields(cls)}
        if "engine" not in data:  # written before the numba engine: torch trained it
            data = {**data, "engine": "torch"}
        if set(data) != known:
            raise CheckpointError(f"{name}: malformed word2vec checkpoint (config fields differ)")
        cfg = cls(**data)
        cfg.check()
        return cfg


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

    Counts come from this corpus (a vocabulary given only decides which words
    exist); words outside the vocabulary and the specials are dropped from the
    text, as word2vec.c and gensim drop out-of-vocabulary words.
    """
    if min_count < 1:
        raise UsageError(f"min_count must be at least 1, not {min_count}")
    if max_vocab is not None and max_vocab < 2:
        raise UsageError(f"max_vocab must be at least 2, not {max_vocab}")
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
            hint="lower min_count or give more text",
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


@dataclass
class Windows:
    """A block of text after the random draws: what the numba engine trains on.

    The subsampled words in corpus order, each with its line, its shrunk window and
    its noise words; the context words are the neighbours within ``reach`` on the
    same line (the kernel finds them).
    """

    words: np.ndarray  # (n,) int32
    lines: np.ndarray  # (n,) int32, non-decreasing
    reach: np.ndarray  # (n,) int8, 1..window
    noise: np.ndarray  # (n, negative) int32
    raw_words: int  # tokens in the block before subsampling


def draw_windows(
    ids: np.ndarray,
    sentences: np.ndarray,
    keep: np.ndarray,
    table: np.ndarray,
    window: int,
    negative: int,
    rng: np.random.Generator,
) -> Windows:
    """Subsample a block, shrink each window at random and draw the noise words.

    Both engines make the same draws from ``rng`` in the same order, so a seed gives
    them the same subsampling, windows and noise words.
    """
    survive = rng.random(len(ids), dtype=np.float32) < keep[ids]
    words, lines = ids[survive], sentences[survive]
    n = len(words)
    reach = (window - rng.integers(0, window, n, dtype=np.int8)).astype(np.int8)  # 1..window
    noise = table[rng.integers(0, len(table), (n, negative))]
    return Windows(words, lines, reach, noise, len(ids))


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
    """Subsample a block, shrink each window at random, and list contexts and noise
    (:func:`draw_windows`, then the context matrix the torch engine's steps take)."""
    drawn = draw_windows(ids, sentences, keep, table, window, negative, rng)
    words, lines, reach = drawn.words, drawn.lines, drawn.reach
    n = len(words)
    contexts = np.full((n, 2 * window), pad, dtype=np.int32)
    for off in range(1, min(window, n - 1) + 1):
        same_line = lines[off:] == lines[:-off]  # token i and token i+off
        # right context of centre i is word i+off; left context of centre i+off is word i
        np.copyto(
            contexts[:-off, 2 * off - 1], words[off:], where=same_line & (reach[:-off] >= off)
        )
        np.copyto(contexts[off:, 2 * off - 2], words[:-off], where=same_line & (reach[off:] >= off))
    order = _sort_by_reach(reach, span, window)
    return Examples(words[order], contexts[order], drawn.noise, reach[order], len(ids))


def _sort_by_reach(reach: np.ndarray, span: int, window: int) -> np.ndarray:
    """Row order that sorts by reach within consecutive spans (a stable radix sort)."""
    n = len(reach)
    key = (np.arange(n, dtype=np.int64) // span) * (window + 1) + reach
    if n == 0 or key[-1] < 1 << 16:
        key = key.astype(np.uint16)  # numpy radix-sorts 16-bit keys: linear time
    return np.argsort(key, kind="stable")


# ---------------------------------------------------------------------- training
@dataclass
class Progress:
    """What training reports to :meth:`Reporter.progress`, a few times a second."""

    raw_words: int  # corpus tokens processed so far, all epochs, before subsampling
    total_words: int  # raw words when training is done
    effective_words: int  # words that survived subsampling (gensim's "effective words")
    lr: float
    elapsed: float  # seconds, this run only
    epoch: int  # epochs finished


class Reporter(Protocol):
    """Receives training events (the CLI draws them), in the thread that called
    :func:`train`. :class:`SilentReporter` ignores them all."""

    def start(self, corpus: Corpus, config: Word2VecConfig, epoch: int) -> None:
        """Training begins (at ``epoch`` > 0 when resuming)."""

    def progress(self, progress: Progress) -> None:
        """About five times a second, and once at the end."""

    def checkpoint(self, path: Path, epoch: int) -> None:
        """A resumable checkpoint was written after ``epoch`` finished epochs."""


class SilentReporter:
    """A :class:`Reporter` that ignores everything (the default)."""

    def start(self, corpus: Corpus, config: Word2VecConfig, epoch: int) -> None:
        pass

    def progress(self, progress: Progress) -> None:
        pass

    def checkpoint(self, path: Path, epoch: int) -> None:
        pass


@dataclass
class TrainResult:
    vectors: np.ndarray  # (V, dim) float32, rows in ``corpus.words`` order
    raw_words: int  # all epochs, resumed ones included
    effective_words: int
    seconds: float  # this run only
    device: str
    threads: int
    batch_size: int
    start_epoch: int = 0  # > 0: resumed from a checkpoint
    engine: str = "torch"  # what trained: "numba" (compiled CPU loop) or "torch"


@dataclass
class _Shared:
    """State the training threads share: the model, positions, stop flags, errors."""

    model: SkipGram
    cfg: Word2VecConfig
    device: torch.device
    engine: str  # "numba" or "torch"
    keep: np.ndarray
    table: np.ndarray
    shards: list[tuple[int, int]]
    positions: list[int]  # per shard: the next block starts here (this epoch)
    raw: list[int]  # per shard, all epochs
    effective: list[int]
    lr: list[float]
    epoch: int = 0
    stop: threading.Event = field(default_factory=threading.Event)  # quit at once (errors)
    pause: threading.Event = field(default_factory=threading.Event)  # quit at a block's end
    signum: int | None = None
    errors: list[BaseException] = field(default_factory=list)
    kernel: Callable[..., None] | None = None  # numba: the compiled loop
    sigmoid: np.ndarray | None = None  # numba: its sigmoid table


def train(
    corpus: Corpus,
    cfg: Word2VecConfig,
    reporter: Reporter | None = None,
    *,
    last_path: str | os.PathLike[str] | None = None,
    resume: dict[str, Any] | None = None,
) -> TrainResult:
    """Train skip-gram vectors on ``corpus``; returns the input vectors.

    ``last_path``: where the resumable checkpoint goes, at the end of every epoch and
    when SIGINT/SIGTERM stops training (then :class:`TrainingInterrupted` is raised
    once it is written). ``resume``: a checkpoint dict from :func:`load_resume`,
    trained on this same corpus. With ``threads == 1`` the result depends only on
    the seed, however often training stops and resumes.
    """
    cfg.check()
    report = reporter or SilentReporter()
    device = resolve_device(cfg.device)
    engine = resolve_engine(cfg.engine, device)
    threads = 1 if device.type != "cpu" else (cfg.threads or _cpu_count())
    # numba: gensim's sequential SGD, with gensim's wider initial vectors (docstring)
    model = SkipGram(len(corpus.words), cfg.dim, cfg.seed, 1.0 if engine == "numba" else 0.5)
    shards = _shards(corpus.sentences, threads)
    shared = _Shared(
        model,
        cfg,
        device,
        engine,
        keep_probability(corpus.counts, cfg.sample).astype(np.float32),
        noise_table(corpus.counts),
        shards,
        positions=[lo for lo, _ in shards],
        raw=[0] * len(shards),
        effective=[0] * len(shards),
        lr=[cfg.lr] * len(shards),
    )
    if resume is not None:
        _restore(shared, resume, corpus)
    if engine == "numba":
        from seqtool.train import word2vec_kernel

        shared.kernel = word2vec_kernel.train_windows
        shared.sigmoid = word2vec_kernel.sigmoid_table()
        _load_kernel(shared)
    model.to(device)
    start_epoch = shared.epoch
    report.start(corpus, cfg, start_epoch)
    total = len(corpus.ids) * cfg.epochs
    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from our threads, not from inside ops
    try:
        with _signals(shared):
            while shared.epoch < cfg.epochs:
                _run_epoch(shared, corpus, total, start, report)
                if shared.errors:
                    raise shared.errors[0]
                if shared.pause.is_set():
                    break
                shared.epoch += 1
                shared.positions = [lo for lo, _ in shards]
                if last_path is not None:
                    save_checkpoint(last_path, _payload(shared, corpus))
                    report.checkpoint(Path(last_path), shared.epoch)
    finally:
        shared.stop.set()
        torch.set_num_threads(previous)
    if shared.pause.is_set():
        if last_path is not None:
            save_checkpoint(last_path, _payload(shared, corpus))
        raise TrainingInterrupted(
            shared.signum or signal.SIGINT,
            None if last_path is None else Path(last_path),
            position=f"in epoch {shared.epoch + 1} of {cfg.epochs}",
        )
    seconds = time.perf_counter() - start
    report.progress(Progress(total, total, sum(shared.effective), cfg.min_lr, seconds, cfg.epochs))
    return TrainResult(
        vectors=model.inp[: len(corpus.words)].detach().cpu().numpy().copy(),
        raw_words=sum(shared.raw),
        effective_words=sum(shared.effective),
        seconds=seconds,
        device=str(device),
        threads=len(shards),
        batch_size=cfg.batch_size,
        start_epoch=start_epoch,
        engine=engine,
    )


def _load_kernel(shared: _Shared) -> None:
    """Compile the numba loop, or load it from numba's cache, before the clock starts:
    one call on an empty block with the argument types of the real ones."""
    assert shared.kernel is not None and shared.sigmoid is not None
    words = np.empty(0, dtype=np.int32)
    shared.kernel(
        shared.model.inp.detach().numpy(),
        shared.model.out.detach().numpy(),
        words,
        words,
        np.empty(0, dtype=np.int8),
        np.empty((0, shared.cfg.negative), dtype=np.int32),
        0.0,
        0.0,
        shared.sigmoid,
    )


def resolve_engine(name: str, device: torch.device) -> str:
    """``numba`` or ``torch``: ``auto`` is numba on the CPU (when numba is installed)
    and torch on other devices."""
    check_choice("engine", name, ENGINES)
    if name == "torch":
        return name
    if device.type != "cpu":
        if name == "numba":
            raise UsageError(
                f"`engine` numba runs on the CPU only, not on `device` {device.type}",
                hint="use `engine` torch (or auto) on a GPU",
            )
        return "torch"
    if importlib.util.find_spec("numba") is None:
        if name == "numba":
            raise UsageError("`engine` numba needs the numba package", hint="pip install numba")
        return "torch"
    return "numba"


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


def _signals(shared: _Shared) -> contextlib.AbstractContextManager[None]:
    """SIGINT/SIGTERM ask the threads to stop at the end of their block, so that the
    checkpoint is exact; a second signal acts at once."""

    def stop(signum: int) -> None:
        shared.signum = signum
        shared.pause.set()

    return stop_signals(stop)


def _run_epoch(shared: _Shared, corpus: Corpus, total: int, start: float, report: Reporter) -> None:
    """One epoch: a thread per shard from its saved position; reports while waiting."""
    workers = [
        threading.Thread(
            target=_worker, args=(shared, corpus, i, total), name=f"skipgram-{i}", daemon=True
        )
        for i in range(len(shared.shards))
    ]
    for w in workers:
        w.start()
    try:
        while not shared.errors:
            alive = [w for w in workers if w.is_alive()]
            if not alive:
                break
            alive[0].join(0.2)
            report.progress(
                Progress(
                    sum(shared.raw),
                    total,
                    sum(shared.effective),
                    min(shared.lr),
                    time.perf_counter() - start,
                    shared.epoch,
                )
            )
    except BaseException:
        shared.stop.set()
        raise
    finally:
        if shared.errors:
            shared.stop.set()
        for w in workers:
            w.join()


def _worker(shared: _Shared, corpus: Corpus, index: int, total: int) -> None:
    """Train shard ``index`` for the current epoch; errors go to the main thread."""
    try:
        # This thread's own OpenMP and MKL settings: one thread inside each operation,
        # set before its first one (no pool of helper threads spinning between steps).
        torch.set_num_threads(1)
        _run_shard(shared, corpus, index, total)
    except BaseException as e:  # noqa: BLE001 - re-raised by train()
        shared.errors.append(e)
        shared.stop.set()


def _run_shard(shared: _Shared, corpus: Corpus, index: int, total: int) -> None:
    cfg = shared.cfg
    lo, hi = shared.shards[index]
    block = max(BLOCK, 64 * cfg.batch_size)
    shard_total = (hi - lo) * cfg.epochs
    rows = None
    if shared.engine == "torch":
        size = cfg.batch_size * (2 * cfg.window + 1 + cfg.negative)
        rows = StepRows(shared.model, size, 1 + cfg.negative)
    while shared.positions[index] < hi:
        if shared.stop.is_set() or shared.pause.is_set():
            return
        b_lo = shared.positions[index]
        b_hi = min(b_lo + block, hi)
        rng = np.random.default_rng([cfg.seed, index, shared.epoch, (b_lo - lo) // block])
        done = shared.epoch * (hi - lo) + (b_lo - lo)  # this shard's words before the block
        effective = _train_block(shared, corpus, b_lo, b_hi, rng, done, shard_total, index, rows)
        if shared.stop.is_set():
            return  # the block is half done: an error elsewhere, nothing will be saved
        shared.positions[index] = b_hi
        shared.raw[index] += b_hi - b_lo
        shared.effective[index] += effective


def lr_at(cfg: Word2VecConfig, progress: float) -> float:
    """The learning rate after ``progress`` (0..1) of training: linear decay to ``min_lr``."""
    return cfg.lr - (cfg.lr - cfg.min_lr) * min(progress, 1.0)


def _train_block(
    shared: _Shared,
    corpus: Corpus,
    lo: int,
    hi: int,
    rng: np.random.Generator,
    done: int,
    total: int,
    index: int,
    rows: StepRows | None,
) -> int:
    """Train on corpus tokens ``lo:hi`` (one block) with the run's engine, the learning
    rate decaying by shard progress (``done`` of ``total`` words); returns how many
    words survived subsampling."""
    cfg, model = shared.cfg, shared.model
    ids, sentences = corpus.ids[lo:hi], corpus.sentences[lo:hi]
    kernel = shared.kernel
    if kernel is not None:  # numba: the compiled loop walks the windows itself
        drawn = draw_windows(
            ids, sentences, shared.keep, shared.table, cfg.window, cfg.negative, rng
        )
        lr_to = lr_at(cfg, (done + drawn.raw_words) / total)
        if len(drawn.words):
            kernel(
                model.inp.detach().numpy(),
                model.out.detach().numpy(),
                drawn.words,
                drawn.lines,
                drawn.reach,
                drawn.noise,
                lr_at(cfg, done / total),
                lr_to,
                shared.sigmoid,
            )
        shared.lr[index] = lr_to
        return len(drawn.words)
    span = SORT_SPAN * cfg.batch_size
    ex = make_examples(
        ids, sentences, shared.keep, shared.table, cfg.window, cfg.negative, model.pad, rng, span
    )
    assert rows is not None  # the torch engine's scratch buffers (see _run_shard)
    _torch_steps(shared, ex, done, total, index, rows)
    return len(ex.centres)


def _torch_steps(
    shared: _Shared, ex: Examples, done: int, total: int, index: int, rows: StepRows
) -> None:
    """The torch engine: the steps of one block, ``batch_size`` centre words each."""
    cfg, model, batch, device = shared.cfg, shared.model, shared.cfg.batch_size, shared.device
    n = len(ex.centres)
    if n == 0:
        return
    targets, hit = _step_input(ex, model.pad)
    contexts = torch.from_numpy(ex.contexts.astype(np.int64)).to(device)
    targets_t = torch.from_numpy(targets).to(device)
    hit_t = torch.from_numpy(hit).to(device)
    width = 2 * ex.reach.astype(np.int64)
    full = ex.contexts.shape[1]
    for s0 in range(0, n, batch):
        s1 = min(s0 + batch, n)
        lr = lr_at(cfg, (done + ex.raw_words * s0 / n) / total)
        c = int(width[s1 - 1])  # a step lies inside one sorted span: its last row reaches farthest
        model.prepared_step(
            contexts[s0:s1, :c].contiguous(),
            targets_t[s0:s1],
            hit_t[s0:s1],
            full,
            lr,
            cfg.row_cap,
            rows,
        )
        shared.lr[index] = lr
        if shared.stop.is_set():
            return


def _step_input(ex: Examples, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """A block's targets (centre, then noise; noise equal to the centre -> padding)
    and hit index (:meth:`SkipGram.hit_index`), made in numpy in one go."""
    n, k = ex.noise.shape
    width = ex.contexts.shape[1]
    targets = np.empty((n, 1 + k), dtype=np.int64)
    targets[:, 0] = ex.centres
    targets[:, 1:] = np.where(ex.noise == ex.centres[:, None], pad, ex.noise)
    n_rows = pad + 1
    hit = np.empty((n, width + 1 + k), dtype=np.int64)
    hit[:, :width] = ex.contexts
    np.add(targets, n_rows, out=hit[:, width:])
    hit[(hit == pad) | (hit == pad + n_rows)] = 2 * n_rows
    return targets, hit


# ---------------------------------------------------------------------- checkpoints
def _fingerprint(corpus: Corpus) -> dict[str, int]:
    words = "\n".join(corpus.words).encode("utf-8")
    return {
        "tokens": len(corpus.ids),
        "ids_crc32": zlib.crc32(corpus.ids.tobytes()),
        "words_crc32": zlib.crc32(words),
    }


def _payload(shared: _Shared, corpus: Corpus) -> dict[str, Any]:
    """The resumable checkpoint: weights, config, words and where every shard stands."""
    return {
        "kind": KIND,
        "config": asdict(shared.cfg),
        "words": list(corpus.words),
        "model": {k: v.detach().cpu() for k, v in shared.model.state_dict().items()},
        "train_state": {
            "epoch": shared.epoch,
            "shards": [list(s) for s in shared.shards],
            "positions": list(shared.positions),
            "raw": list(shared.raw),
            "effective": list(shared.effective),
            "corpus": _fingerprint(corpus),
        },
    }


def load_resume(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a word2vec resumable checkpoint (its ``config`` tells how to go on)."""
    data = load_checkpoint(path, kinds={KIND})
    name = str(path)
    state = data.get("train_state")
    if not isinstance(state, dict) or not isinstance(data.get("words"), list):
        raise CheckpointError(f"{name}: not a resumable word2vec checkpoint (no training state)")
    data["config"] = cfg = Word2VecConfig.from_dict(data["config"], name)
    # The weights must be what the words and `dim` make, before anything that size
    # is allocated (an edited `dim` would otherwise ask for terabytes).
    shape = (len(data["words"]) + 1, cfg.dim)
    if set(data["model"]) != {"inp", "out"}:
        raise CheckpointError(f"{name}: malformed word2vec checkpoint (weights differ)")
    for key, value in data["model"].items():
        if tuple(value.shape) != shape or not value.is_floating_point():
            raise CheckpointError(
                f"{name}: weights do not match the word2vec config ({key} is "
                f"{'x'.join(map(str, value.shape))} {str(value.dtype).replace('torch.', '')}, "
                f"the {shape[0] - 1:,} words and dim {cfg.dim} make it {shape[0]}x{shape[1]})"
            )
    check_weights(data["model"], name)
    data["name"] = name
    return data


def _restore(shared: _Shared, data: dict[str, Any], corpus: Corpus) -> None:
    name = data.get("name", "checkpoint")
    state = data["train_state"]
    if data["words"] != corpus.words or state.get("corpus") != _fingerprint(corpus):
        raise InputError(
            f"{name}: this checkpoint was trained on other text (or another vocabulary); "
            "resume with the same inputs and options"
        )
    try:
        shards = [(int(lo), int(hi)) for lo, hi in state["shards"]]
        positions = [int(p) for p in state["positions"]]
        raw = [int(r) for r in state["raw"]]
        effective = [int(e) for e in state["effective"]]
        epoch = int(state["epoch"])
        shared.model.load_state_dict(data["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{name}: malformed word2vec training state ({e})") from None
    n = len(corpus.ids)
    if not (
        0 <= epoch <= shared.cfg.epochs
        and len(positions) == len(shards) == len(raw) == len(effective)
        and all(0 <= lo <= p <= hi <= n for (lo, hi), p in zip(shards, positions))
    ):
        raise CheckpointError(f"{name}: malformed word2vec training state")
    shared.shards, shared.positions, shared.epoch = shards, positions, epoch
    shared.raw, shared.effective = raw, effective
    shared.lr = [shared.cfg.lr] * len(shards)


# ---------------------------------------------------------------------- the whole job
@dataclass
class Word2VecResult:
    """What :func:`train_word2vec` returns: the vectors and how training went."""

    vectors: WordVectors
    tokens: int  # corpus tokens kept (in-vocabulary), one epoch
    train: TrainResult


def train_word2vec(
    lines: Iterable[str] | Callable[[], Iterable[str]],
    config: Word2VecConfig | None = None,
    *,
    vocab: Vocab | None = None,
    normalizer: Normalizer | None = None,
    reporter: Reporter | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    source: str = "text",
) -> Word2VecResult:
    """Train word vectors on ``lines`` (a sequence, or a function giving the lines anew).

    The vocabulary is ``vocab`` if given, else built from the text with ``normalizer``
    (default: none, text split on whitespace as word2vec and gensim do). Words seen
    fewer than ``config.min_count`` times are dropped. ``checkpoint`` is written at
    the end of every epoch and on SIGINT/SIGTERM; ``resume`` continues from such a
    file, with its settings (``config`` is then ignored) on the same text.
    ``source`` names the text in error messages.
    """
    state = load_resume(resume) if resume is not None else None
    cfg = state["config"] if state is not None else (config or Word2VecConfig())
    cfg.check()
    resolve_device(cfg.device)  # a wrong device fails now, not after reading the text
    if checkpoint is not None:  # writable, and a file: checked before the first epoch
        check_output_path(checkpoint, (), "checkpoint")  # resuming rewrites it: no input check
    if vocab is not None and normalizer is not None:
        raise UsageError("normalizer cannot be combined with vocab: it carries its own")
    text = _replayable(lines)
    if vocab is None:
        vocab = _build_vocab(text(), normalizer, cfg, source)
    corpus = encode_corpus(text(), vocab, cfg.min_count, cfg.max_vocab)
    result = train(corpus, cfg, reporter, last_path=checkpoint, resume=state)
    return Word2VecResult(WordVectors(corpus.words, result.vectors), len(corpus.ids), result)


def _replayable(lines: Iterable[str] | Callable[[], Iterable[str]]) -> Callable[[], Iterable[str]]:
    """The text as a function that gives it again (it is read twice)."""
    if callable(lines):
        return lines
    kept: Sequence[str] = lines if isinstance(lines, Sequence) else list(lines)
    return lambda: kept


def _build_vocab(
    lines: Iterable[str], normalizer: Normalizer | None, cfg: Word2VecConfig, source: str
) -> Vocab:
    try:
        return Vocab.build(
            lines,
            kind="word",
            normalizer=normalizer or Normalizer.make("none"),
            min_freq=cfg.min_count,
            max_size=None if cfg.max_vocab is None else cfg.max_vocab + len(SPECIALS),
        )
    except InputError as e:
        if any(e.message.startswith(f"{name}:") for name in source.split(", ")):
            raise  # already names its file ("missing.txt: no such file")
        raise InputError(f"{source}: {e.message}", hint=e.hint) from None
