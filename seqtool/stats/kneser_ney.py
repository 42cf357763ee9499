"""Interpolated modified Kneser-Ney estimation, as KenLM's ``lmplz`` does it.

A sentence is one line, ``<s> w1 ... wm </s>``.  The n-grams of order k are the
windows of k tokens inside one sentence (so only the first can be ``<s>``), counted
in streamed batches into sorted integer tables
(:class:`seqtool.stats.prefix_counts.PrefixCounter`), in memory bounded by the
distinct n-grams.  Then, per order k < N (Chen & Goodman
1998; Heafield et al. 2013):

* adjusted count ``a(g)``: the raw count for the highest order and for n-grams that
  start with ``<s>`` (nothing can precede them), otherwise the number of distinct
  words that precede ``g`` (its continuation count); ``a(<s>) = 0``;
* discounts from the counts-of-counts ``n1..n4`` of the adjusted counts of each order:
  ``Y = n1 / (n1 + 2 n2)``, ``D_j = j - (j + 1) Y n_{j+1} / n_j`` for j = 1, 2, 3+;
* for a context c: ``u(w|c) = (a(cw) - D(a(cw))) / sum_v a(cv)`` and the left-over
  mass ``gamma(c) = sum_v D(a(cv)) / sum_v a(cv)``;
* ``p(w|c) = u(w|c) + gamma(c) p(w|c')`` (c' drops c's first word), down to the
  unigrams, interpolated with the uniform distribution over the vocabulary
  (``<unk>`` included, ``<s>`` excluded); the ARPA backoff of c is ``gamma(c)``.

``<unk>``: words outside ``vocab`` or below ``min_count`` become ``<unk>``, and so
does a literal ``<unk>`` in the text (the Penn Treebank convention), so ``<unk>`` is
estimated like any word from the places it occurs; with no ``<unk>`` in the text
it keeps only its share of the uniform distribution, as in ``lmplz``.

Memory: the counts' tables (one int64 key and one count, in the narrowest integer
type that holds it, per distinct n-gram), then, order by order, the suffix rows
and probabilities of two orders; :func:`estimate_arpa_from` writes each order's
ARPA section as soon as its backoffs are known and never holds the model whole.

Pruning (``prune[k-1]``, non-decreasing, unigrams never): n-grams of order k seen
at most that often are dropped after the adjusted counts and discounts are known;
their discounted mass moves to their context's backoff, as in ``lmplz --prune``.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import IO, Any

import numpy as np

from seqtool.errors import InputError, UsageError
from seqtool.io import CHUNK_BYTES, atomic_write, display_name, iter_chunks
from seqtool.stats import heap
from seqtool.stats.arpa import write_arpa_blocks
from seqtool.stats.keys import count_unique
from seqtool.stats.ngram_lm import (
    BOS,
    EOS,
    SPECIALS,
    UNK,
    NGramLM,
    lookup_sorted,
    words_from_arrays,
    words_to_arrays,
)
from seqtool.stats.prefix_counts import PrefixCounter
from seqtool.text.normalize import Normalizer

MAX_ORDER = 16
_BLOCK = 1 << 20  # rows computed at a time (bounds the temporary arrays)
_ARPA_ROWS = 1 << 18  # n-grams turned into ARPA lines at a time
_RANGE = 1 << 22  # rows whose continuation counts are taken at a time (int64 temporaries)
COUNTS_FORMAT = "seqtool-lm-counts"
LMPLZ_FALLBACK = (0.5, 1.0, 1.5)  # lmplz's --discount_fallback values


@dataclass(frozen=True)
class KNConfig:
    """What to estimate: order, tokens, vocabulary cut-offs, pruning, discounts."""

    order: int = 3
    normalizer: Normalizer = field(default_factory=lambda: Normalizer("none", False))
    tokenizer: str = "word"  # word: whitespace-separated tokens; char: characters
    min_count: int = 1  # rarer words become <unk>
    prune: tuple[int, ...] = ()  # per order: drop n-grams seen at most this often
    discount_fallback: tuple[float, float, float] | None = None  # used when degenerate

    def thresholds(self) -> list[int]:
        """The pruning threshold of every order (the last one given repeats)."""
        if not self.prune:
            return [0] * self.order
        return [self.prune[min(k, len(self.prune) - 1)] for k in range(self.order)]

    def check(self) -> None:
        if self.order < 1:
            raise UsageError(f"order must be >= 1, not {self.order}")
        if self.order > MAX_ORDER:
            raise UsageError(f"order must be <= {MAX_ORDER}, not {self.order}")
        if self.tokenizer not in ("word", "char"):
            raise UsageError(f"tokenizer must be word or char, not {self.tokenizer!r}")
        if self.min_count < 1:
            raise UsageError(f"min_count must be >= 1, not {self.min_count}")
        if len(self.prune) > self.order:
            raise UsageError(f"prune gives {len(self.prune)} thresholds for order {self.order}")
        if any(t < 0 for t in self.prune):
            raise UsageError("prune thresholds must be >= 0")
        if self.prune and self.prune[0] != 0:
            raise UsageError("prune[0] must be 0: unigrams are never pruned")
        if any(b < a for a, b in zip(self.prune, self.prune[1:])):
            raise UsageError("prune thresholds must not decrease with the order")
        fb = self.discount_fallback
        if fb is not None:
            if len(fb) != 3 or not all(0.0 <= d <= j + 1 for j, d in enumerate(fb)):
                raise UsageError(
                    "discount_fallback must be three discounts D1 D2 D3+ with 0 <= Dj <= j"
                )


# ---------------------------------------------------------------------- counting
class _Words(dict[str, int]):
    """token -> id in order of first appearance; ids 0, 1, 2 are <unk>, <s>, </s>."""

    def __init__(self) -> None:
        super().__init__(zip(SPECIALS, range(len(SPECIALS))))
        self.tokens: list[str] = list(SPECIALS)

    def __missing__(self, token: str) -> int:
        i = self[token] = len(self.tokens)
        self.tokens.append(token)
        return i


def sentence_ids(
    chunk: str, words: dict[str, int], normalizer: Normalizer, tokenizer: str
) -> np.ndarray:
    """The ids of ``<s> w1 .. wm </s>`` for every line of a chunk (ending in a newline)."""
    plain = normalizer.name == "none" and not normalizer.lower
    lookup = words.__getitem__
    if tokenizer == "word":
        if not plain:
            chunk = "".join(normalizer.line(ln) + "\n" for ln in chunk.split("\n")[:-1])
        toks = ("<s> " + chunk.replace("\n", " </s> <s> ")).split()
        toks.pop()  # the <s> after the last line
        return np.fromiter(map(lookup, toks), np.int64, len(toks))
    out: list[int] = []
    for line in chunk.split("\n")[:-1]:
        line = line.removesuffix("\r")
        out.append(BOS)
        out.extend(map(lookup, normalizer.line(line) if not plain else line))
        out.append(EOS)
    return np.asarray(out, dtype=np.int64)


@dataclass
class SentenceCounts:
    """Raw n-gram counts of sentences: what estimation starts from, and what
    ``save``/``load`` keep, so a corpus counted in pieces gives the same model.

    Orders >= 2 are sorted keys ``row * V + w`` (``row``: the n-gram's first k-1
    words in the order below; order 1 is the word id) with their counts, the
    model's own layout (:mod:`seqtool.stats.prefix_counts`).
    """

    words: list[str]
    unigrams: np.ndarray  # raw count per id (<s>: sentences)
    keys: dict[int, np.ndarray]  # order >= 2: sorted keys row * V + w
    counts: dict[int, np.ndarray]  # their raw counts
    sentences: int
    tokens: int  # words, without the sentence markers
    normalizer: Normalizer = field(default_factory=lambda: Normalizer("none", False))
    tokenizer: str = "word"

    @property
    def order(self) -> int:
        return max(self.keys, default=1)

    def rows(self, k: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The word ids of order-k n-grams ``start:stop`` as (m, k) rows, in order."""
        if k == 1:
            return np.arange(len(self.words), dtype=np.int64)[start:stop, None]
        V = len(self.words)
        sel = self.keys[k][start:stop]
        rows = np.empty((len(sel), k), dtype=np.int64)
        for j in range(k - 1, 0, -1):
            sel, rows[:, j] = np.divmod(sel, V)
            if j > 1:
                sel = self.keys[j][sel]
        rows[:, 0] = sel
        return rows

    def save(self, path: str | os.PathLike[str]) -> None:
        """One .npz of plain arrays (no pickles): words, unigram counts, per order id rows and counts."""
        meta = {
            "format": COUNTS_FORMAT,
            "format_version": 1,
            "order": self.order,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "normalizer": self.normalizer.to_dict(),
            "tokenizer": self.tokenizer,
        }
        arrays = {
            "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            **words_to_arrays(self.words),
            "unigrams": self.unigrams,
        }
        id_type = np.int32 if len(self.words) < 2**31 else np.int64
        for k in self.keys:
            arrays[f"rows_{k}"] = self.rows(k).astype(id_type)
            arrays[f"counts_{k}"] = self.counts[k]
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SentenceCounts:
        name = display_name(path)
        bad = f"{name}: not a seqtool sentence-counts file (as `seqtool ngrams lm --save-counts` writes)"
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            if meta.get("format") != COUNTS_FORMAT:
                raise InputError(bad)
            words = words_from_arrays(data)
            order = int(meta["order"])
            rows = {k: data[f"rows_{k}"].astype(np.int64) for k in range(2, order + 1)}
            counts = {k: data[f"counts_{k}"].astype(np.int64) for k in range(2, order + 1)}
            if any(r.ndim != 2 or r.shape[1] != k for k, r in rows.items()):
                raise InputError(bad)
            keys, counts = _tables_of(rows, counts, len(words))
            return cls(
                words,
                data["unigrams"].astype(np.int64),
                keys,
                counts,
                int(meta["sentences"]),
                int(meta["tokens"]),
                Normalizer.from_dict(meta["normalizer"]),
                str(meta["tokenizer"]),
            )
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
            raise InputError(bad) from None


def merge_sentence_counts(parts: Sequence[SentenceCounts], names: Sequence[str]) -> SentenceCounts:
    """Add up counts of pieces of a corpus; words keep their order of first appearance
    (the first piece's, then each new word of the next), as if counted in one go."""
    first = parts[0]
    for p, nm in zip(parts[1:], names[1:]):
        if (p.normalizer, p.tokenizer) != (first.normalizer, first.tokenizer):
            raise InputError(f"{nm} was counted with other settings than {names[0]}")
    order = min(p.order for p in parts)
    index: dict[str, int] = {}
    words: list[str] = []
    maps = []
    for p in parts:
        for w in p.words:
            if w not in index:
                index[w] = len(words)
                words.append(w)
        maps.append(np.asarray([index[w] for w in p.words], dtype=np.int64))
    unigrams = np.zeros(len(words), dtype=np.int64)
    for p, m in zip(parts, maps):
        np.add.at(unigrams, m, p.unigrams)
    rows = {
        k: np.concatenate([m[p.rows(k)] for p, m in zip(parts, maps)]) for k in range(2, order + 1)
    }
    counts = {
        k: np.concatenate([p.counts[k].astype(np.int64) for p in parts])
        for k in range(2, order + 1)
    }
    keys, counts = _tables_of(rows, counts, len(words))
    return SentenceCounts(
        words,
        unigrams,
        keys,
        counts,
        sum(p.sentences for p in parts),
        sum(p.tokens for p in parts),
        first.normalizer,
        first.tokenizer,
    )


def _tables_of(
    rows: dict[int, np.ndarray], counts: dict[int, np.ndarray], vocab_size: int
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Sorted keys ``row * V + w`` and summed counts of (m, k) id rows (repeats allowed)
    of every order 2..; rows are released as they are converted."""
    V = vocab_size
    keys: dict[int, np.ndarray] = {}
    summed: dict[int, np.ndarray] = {}
    for k in sorted(rows):
        r = rows.pop(k)
        idx = r[:, 0]
        for j in range(1, k - 1):
            want = idx * V + r[:, j]
            pos = np.minimum(np.searchsorted(keys[j + 1], want), len(keys[j + 1]) - 1)
            if len(want) and not np.array_equal(keys[j + 1][pos], want):
                raise InputError(f"the {k}-gram counts hold n-grams missing from order {j + 1}")
            idx = pos
        keys[k], summed[k] = count_unique(idx * V + r[:, k - 1], counts.pop(k).astype(np.int64))
    return keys, summed


def count_sentences(
    paths: Sequence[str | os.PathLike[str]],
    order: int,
    normalizer: Normalizer,
    tokenizer: str,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_chunk: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    batch_tokens: int = 1 << 21,
) -> SentenceCounts:
    """Raw counts of every order 1..order over the sentences (lines) of the inputs."""
    words = _Words()
    unigrams = np.zeros(0, dtype=np.int64)
    counter = PrefixCounter(order, batch_tokens)
    sentences = 0
    names = ", ".join(display_name(p) for p in paths)
    for chunk in iter_chunks(paths, encoding, errors, chunk_bytes):
        lines = chunk.count("\n")
        ids = sentence_ids(chunk, words, normalizer, tokenizer)
        if tokenizer == "word" and (
            np.count_nonzero(ids == BOS) != lines or np.count_nonzero(ids == EOS) != lines
        ):
            raise InputError(f"{names}: the text holds the reserved token <s> or </s>")
        sentences += lines
        seen = np.bincount(ids, minlength=len(words.tokens))
        if len(unigrams) < len(seen):
            unigrams = np.concatenate((unigrams, np.zeros(len(seen) - len(unigrams), np.int64)))
        unigrams += seen
        counter.add(ids, len(words.tokens))
        if on_chunk:
            on_chunk(len(chunk))
    if len(unigrams) < len(words.tokens):
        unigrams = np.concatenate((unigrams, np.zeros(len(words.tokens) - len(unigrams), np.int64)))
    keys, counts = counter.finish(len(words.tokens))
    tokens_of = words.tokens
    del counter, words
    heap.release(sum(t.nbytes for t in keys.values()))  # the batches' temporaries, the word index
    tokens = int(unigrams.sum() - unigrams[BOS] - unigrams[EOS])
    if sentences == 0 or tokens == 0:
        raise InputError(f"{names}: empty corpus (no tokens to estimate a language model from)")
    return SentenceCounts(
        tokens_of, unigrams, keys, counts, sentences, tokens, normalizer, tokenizer
    )


def _vocab_map(
    counts: SentenceCounts, min_count: int, vocab: Collection[str] | None
) -> np.ndarray | None:
    """old id -> new id with rare or out-of-vocabulary words as <unk> (None: no change)."""
    keep = np.ones(len(counts.words), dtype=bool)
    if min_count > 1:
        keep &= counts.unigrams >= min_count
    if vocab is not None:
        keep &= np.fromiter((w in vocab for w in counts.words), bool, len(counts.words))
    keep[: len(SPECIALS)] = True
    if keep.all():
        return None
    new = np.cumsum(keep) - 1
    return np.where(keep, new, UNK)


def _remap(counts: SentenceCounts, mapping: np.ndarray) -> None:
    size = int(mapping.max()) + 1
    words = [""] * size
    for old, new in enumerate(mapping.tolist()):
        if new != UNK or old == UNK:
            words[new] = counts.words[old]
    rows = {k: mapping[counts.rows(k)] for k in counts.keys}
    counts.words = words
    counts.unigrams = np.bincount(mapping, weights=counts.unigrams, minlength=size).astype(np.int64)
    counts.keys, counts.counts = _tables_of(rows, counts.counts, size)


# ---------------------------------------------------------------------- estimation
def _compact(counts: SentenceCounts) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Keys ``prefix index * V + last word`` (sorted) and raw counts of every order,
    order 1 being every id; the counts' tables are handed over, not copied."""
    keys = [np.arange(len(counts.words), dtype=np.int64)]
    raw = [counts.unigrams]
    for k in sorted(counts.keys):
        keys.append(counts.keys.pop(k))
        raw.append(counts.counts.pop(k))
    return keys, raw


def counts_of_counts(adjusted: np.ndarray) -> np.ndarray:
    """n1..n4: how many n-grams have adjusted count 1, 2, 3, 4; (4,) float64."""
    n = np.zeros(6, dtype=np.int64)
    for s in range(0, len(adjusted), _BLOCK):  # no copy of the whole table
        n += np.bincount(np.minimum(adjusted[s : s + _BLOCK], 5), minlength=6)
    return n[1:5].astype(np.float64)


def _discounts(
    k: int, adjusted: np.ndarray, fallback: tuple[float, float, float] | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """D0..D3 of one order from its adjusted counts; (discounts, n1..n4, fell back)."""
    return _discounts_of(k, counts_of_counts(adjusted), fallback)


def _discounts_of(
    k: int, n: np.ndarray, fallback: tuple[float, float, float] | None
) -> tuple[np.ndarray, np.ndarray, bool]:
    """D0..D3 of one order from its counts-of-counts n1..n4."""
    problem = None
    for j in range(3):
        if n[j] == 0:
            problem = f"no {k}-grams have adjusted count {j + 1}"
            break
    d = np.zeros(4)
    if problem is None:
        y = n[0] / (n[0] + 2 * n[1])
        for j in range(1, 4):
            d[j] = j - (j + 1) * y * n[j] / n[j - 1]
            if not 0 <= d[j] <= j:
                problem = f"the {k}-gram discount D{j} = {d[j]:.4g} is out of range"
                break
    if problem is None:
        return d, n, False
    if fallback is None:
        raise InputError(
            f"cannot estimate Kneser-Ney discounts: {problem} (the corpus is too small or "
            "repetitive); set discount_fallback to use fixed discounts",
        )
    return np.array([0.0, *fallback]), n, True


def _suffixes(keys: list[np.ndarray], V: int, k: int, below: np.ndarray, small: type) -> np.ndarray:
    """The row of every order-k n-gram's suffix (its last k-1 words) in order k-1,
    from ``below``, the suffix rows of order k-1 (unused for k = 2); k >= 2."""
    table = keys[k - 1]
    suf: np.ndarray = np.empty(len(table), dtype=small)
    for s in range(0, len(table), _BLOCK):
        p, w = np.divmod(table[s : s + _BLOCK], V)
        if k == 2:
            suf[s : s + len(p)] = w
        else:
            want = below[p].astype(np.int64)
            want *= V
            want += w
            suf[s : s + len(p)] = lookup_sorted(keys[k - 2], want)
    return suf


def _starts(table: np.ndarray, V: int, prefixes: np.ndarray) -> np.ndarray:
    """The rows (sorted) of the n-grams of ``table`` whose prefix row is in ``prefixes``
    (sorted): those that start with <s> when the prefixes do."""
    lo = np.searchsorted(table, prefixes * V)
    hi = np.searchsorted(table, (prefixes + 1) * V)
    size = hi - lo
    ends = np.cumsum(size)
    return np.repeat(lo - ends + size, size) + np.arange(int(ends[-1]) if len(ends) else 0)


def _continuation_into(out: np.ndarray, suffix: np.ndarray) -> None:
    """``out[r]`` = how many n-grams have suffix row r (the continuation counts), a
    range of rows at a time: no int64 array of every row or every suffix; out keeps
    its dtype (raw counts, which continuation counts never exceed)."""
    m = len(out)
    limit = np.iinfo(out.dtype).max
    for lo in range(0, m, _RANGE):
        hi = min(m, lo + _RANGE)
        picked = []
        for s in range(0, len(suffix), _BLOCK):
            part = suffix[s : s + _BLOCK]
            sel = part >= lo
            sel &= part < hi
            picked.append(part[sel].astype(np.int64))
        rows = np.concatenate(picked) if picked else np.zeros(0, dtype=np.int64)
        del picked
        rows -= lo
        seen = np.bincount(rows, minlength=hi - lo)
        del rows
        if seen.max(initial=0) > limit:  # cannot happen: a count above its raw count
            raise AssertionError("a continuation count exceeds its raw count's type")
        out[lo:hi] = seen


def _row_of(keys: list[np.ndarray], V: int, words: list[int]) -> int:
    """The row of an n-gram (word ids) known to be in the tables."""
    row = words[0]
    for j, w in enumerate(words[1:], start=1):
        row = int(np.searchsorted(keys[j], row * V + w))
    return row


def _lmplz_open_ngrams(
    keys: list[np.ndarray], starts: list[np.ndarray], V: int
) -> list[tuple[int, int]]:
    """The n-grams lmplz still has open when its counts-of-counts walk ends, as
    (order, row) from the highest order down (see :func:`_lmplz_fixes`); [] if none.

    lmplz walks the n-grams in suffix order (last word first): the walk ends at the
    last of the highest-order n-grams and of the lower-order ones that start with
    <s> (lmplz pads those with <s> on the left), and the lower-order n-grams still
    open are the suffixes of that one.  Ids here are lmplz's (order of first
    appearance), so the same n-grams are found.
    """
    N = len(keys)
    # Only the highest-order n-grams whose last word is the largest of all can win,
    # so they are picked a block at a time first (no array the size of the table).
    highest = keys[N - 1]
    largest = max(
        (int((highest[s : s + _BLOCK] % V).max()) for s in range(0, len(highest), _BLOCK)),
        default=-1,
    )
    for k in range(2, N):
        lead = keys[k - 1][starts[k - 1]] % V
        largest = max(largest, int(lead.max(initial=-1)))
    cands = {
        N: np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [
                np.flatnonzero(highest[s : s + _BLOCK] % V == largest) + s
                for s in range(0, len(highest), _BLOCK)
            ]
        )
    }
    for k in range(2, N):
        cands[k] = starts[k - 1]
    cur = {k: c.copy() for k, c in cands.items()}
    for j in range(N):
        words = {}
        for k, c in cur.items():
            if k - j >= 1:
                words[k] = keys[k - j - 1][c] % V
            else:
                words[k] = np.full(len(c), BOS, dtype=np.int64)
        best = max((int(w.max()) for w in words.values() if len(w)), default=None)
        if best is None:
            return []
        for k in list(cur):
            keep = words[k] == best
            cands[k], cur[k] = cands[k][keep], cur[k][keep]
            if k - j >= 2:
                cur[k] = keys[k - j - 1][cur[k]] // V
            if not len(cands[k]):
                del cands[k], cur[k]
    top = max(cands)  # one n-gram is left (several only for duplicate keys: impossible)
    idx = int(cands[top][0])
    # its words, then the rows of its suffixes in the orders below
    words_of: list[int] = []
    row = idx
    for k in range(top, 1, -1):
        row, w = divmod(int(keys[k - 1][row]), V)
        words_of.append(w)
    words_of.append(row)
    words_of.reverse()
    return [(k, _row_of(keys, V, words_of[top - k :])) for k in range(top, 0, -1)]


def _lmplz_fixes(open_ngrams: list[tuple[int, int, int, int]], N: int) -> list[np.ndarray]:
    """Corrections to each order's n1..n4 that give lmplz's discounts, to the last digit:
    lmplz enters the lower-order n-grams still open when its walk ends into its
    counts-of-counts with their raw count instead of their adjusted count.
    ``open_ngrams``: (order, row, raw count, adjusted count) of each."""
    fixes = [np.zeros(4) for _ in range(N)]
    for k, idx, raw, adjusted in open_ngrams:
        if k < N:
            counted = raw if k > 1 or idx != BOS else 0
            for seen, sign in ((adjusted, -1), (counted, 1)):
                if 1 <= seen <= 4:
                    fixes[k - 1][seen - 1] += sign
    return fixes


def _gammas(
    keys: np.ndarray,
    V: int,
    adjusted: np.ndarray,
    discounts: np.ndarray,
    keep: np.ndarray | None,
    s: int,
    e: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """For order-k rows s:e (whole contexts): their context offsets from the first
    context p0, the discounts, the contexts' sums of adjusted counts and backoff
    weights gamma (float64), p0 and the number of contexts."""
    p = keys[s:e] // V
    p0 = int(p[0])
    p -= p0
    span = int(p[-1]) + 1
    a = adjusted[s:e]
    d = discounts[np.minimum(a, 3)]
    denom = np.bincount(p, weights=a, minlength=span)
    mass = d if keep is None else np.where(keep[s:e], d, a)
    gamma = np.bincount(p, weights=mass, minlength=span)
    del mass
    with np.errstate(divide="ignore", invalid="ignore"):
        gamma = np.where(denom > 0, gamma / np.where(denom > 0, denom, 1), 1.0)
    return p, d, denom, gamma, p0


def _context_blocks(keys: np.ndarray, V: int) -> Iterator[tuple[int, int]]:
    """Row ranges of about _BLOCK rows that end at a context's last n-gram, so every
    context's sums are taken in one go, in the same order as over the whole table."""
    m = len(keys)
    s = 0
    while s < m:
        e = min(m, s + _BLOCK)
        if e < m:  # move the end to the next context boundary
            e = int(np.searchsorted(keys, (keys[e] // V) * V))
            if e <= s:
                e = int(np.searchsorted(keys, (keys[s] // V + 1) * V))
        yield s, e
        s = e


def _backoffs(
    keys: np.ndarray,
    V: int,
    adjusted: np.ndarray,
    discounts: np.ndarray,
    keep: np.ndarray | None,
    contexts: int,
) -> np.ndarray:
    """log10 backoff (gamma) of every order k-1 context, from order k (float32)."""
    back = np.zeros(contexts, dtype=np.float32)  # log10 1: contexts that are never followed
    for s, e in _context_blocks(keys, V):
        _, _, _, gamma, p0 = _gammas(keys, V, adjusted, discounts, keep, s, e)
        with np.errstate(divide="ignore"):
            back[p0 : p0 + len(gamma)] = np.log10(gamma)
    return back


def _probabilities(
    keys: np.ndarray,
    V: int,
    adjusted: np.ndarray,
    discounts: np.ndarray,
    keep: np.ndarray | None,
    suffix: np.ndarray,
    lower: np.ndarray,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Interpolated probabilities of one order k >= 2 (float64), a block of rows at a
    time: ``p(w|c) = (a - D(a)) / sum a + gamma(c) p(w|c')``; yields (start, stop, p)."""
    for s, e in _context_blocks(keys, V):
        p, d, denom, gamma, _ = _gammas(keys, V, adjusted, discounts, keep, s, e)
        with np.errstate(divide="ignore", invalid="ignore"):
            pr = (adjusted[s:e] - d) / denom[p]
        del d, denom
        pr += gamma[p] * lower[suffix[s:e]]
        yield s, e, pr


def _log10(prob: np.ndarray) -> np.ndarray:
    """log10 probabilities as float32 (at most 0)."""
    with np.errstate(divide="ignore"):
        return np.minimum(np.log10(prob), 0.0).astype(np.float32)


class _Spill:
    """Arrays parked in an unnamed temporary file until they are needed again (each
    order's suffix rows, used once for the adjusted counts and once for the
    probabilities): memory for other arrays meanwhile, and no second computation."""

    def __init__(self) -> None:
        self.file: IO[bytes] | None = None
        self.where: dict[int, tuple[int, np.dtype, int]] = {}  # key -> offset, dtype, length

    def put(self, key: int, array: np.ndarray) -> None:
        try:
            if self.file is None:
                self.file = tempfile.TemporaryFile(prefix="seqtool-lm-")
            offset = self.file.seek(0, os.SEEK_END)
            array.tofile(self.file)
            self.file.flush()
        except OSError:  # no room for a temporary file: computed again when needed
            return
        self.where[key] = (offset, array.dtype, len(array))

    def get(self, key: int) -> np.ndarray | None:
        if key not in self.where or self.file is None:
            return None
        offset, dtype, length = self.where.pop(key)
        self.file.seek(offset)
        array = np.fromfile(self.file, dtype=dtype, count=length)
        if len(array) != length:
            raise InputError("the temporary file of the n-gram estimation was cut short")
        if not self.where:
            self.file.close()
            self.file = None
        return array


class _Estimate:
    """Interpolated modified Kneser-Ney over sentence counts (which it consumes): the
    adjusted counts and discounts of every order, then, order by order, the
    probabilities and backoffs as ARPA sections (:meth:`sections`).

    Memory: every order's keys and counts (the adjusted counts overwrite the raw
    ones in place), two orders' suffix rows, and the probabilities of two orders
    (the one being computed and the one below it); the highest order's are never
    kept whole.
    """

    def __init__(
        self, counts: SentenceCounts, config: KNConfig, vocab: Collection[str] | None
    ) -> None:
        mapping = _vocab_map(counts, config.min_count, vocab)
        if mapping is not None:
            _remap(counts, mapping)
        N = self.order = config.order
        V = self.V = len(counts.words)
        self.words = counts.words
        keys, adjusted = _compact(counts)
        self.keys = keys
        self.small: type = np.int32 if max(map(len, keys)) < 2**31 else np.int64
        thresholds = config.thresholds()
        # per order: the rows of the n-grams that start with <s> (nothing can precede
        # them: they keep their raw count), and whether pruning keeps each n-gram
        starts = [np.array([BOS], dtype=np.int64)]
        for k in range(2, N + 1):
            starts.append(_starts(keys[k - 1], V, starts[k - 2]))
        self.kept = [
            adjusted[k - 1] > thresholds[k - 1] if k > 1 and thresholds[k - 1] > 0 else None
            for k in range(1, N + 1)
        ]
        opened = _lmplz_open_ngrams(keys, starts, V) if mapping is None and N > 1 else []
        open_raw = [int(adjusted[k - 1][i]) for k, i in opened]
        # adjusted counts of orders below N: continuation counts, in place of the raw
        # counts, from the suffix rows of the order above (two orders' rows at a time)
        suffix = np.zeros(0, dtype=self.small)
        self.spill = _Spill()
        for k in range(2, N + 1):
            suffix = _suffixes(keys, V, k, suffix, self.small)
            self.spill.put(k, suffix)
            a = adjusted[k - 2]
            keep_raw = a[starts[k - 2]]
            _continuation_into(a, suffix)
            a[starts[k - 2]] = keep_raw
            if k == 2:
                a[BOS] = 0
        del suffix, starts
        self.size = sum(t.nbytes for t in keys)
        heap.release(self.size)
        if N == 1:
            adjusted[0][BOS] = 0
        fixes = _lmplz_fixes(
            [(k, i, r, int(adjusted[k - 1][i])) for (k, i), r in zip(opened, open_raw)], N
        )
        self.adjusted = adjusted
        self.discounts = []
        counts_of = []
        fell_back = []
        for k in range(1, N + 1):
            n = counts_of_counts(adjusted[k - 1]) + fixes[k - 1]
            d, n, fb = _discounts_of(k, n, config.discount_fallback)
            self.discounts.append(d)
            counts_of.append(n)
            fell_back.append(fb)
        self.meta = {
            "estimator": "interpolated modified Kneser-Ney",
            "order": N,
            "sentences": counts.sentences,
            "tokens": counts.tokens,
            "discounts": [d[1:].tolist() for d in self.discounts],
            "discount_fallback": fell_back,
            "counts_of_counts": [n.astype(int).tolist() for n in counts_of],
            "prune": thresholds,
            "min_count": config.min_count,
            "normalizer": config.normalizer.to_dict(),
            "tokenizer": config.tokenizer,
        }

    def counts(self) -> list[int]:
        """The number of n-grams of every order that the model keeps (after pruning)."""
        return [
            len(t) if keep is None else int(np.count_nonzero(keep))
            for t, keep in zip(self.keys, self.kept)
        ]

    def sections(self) -> Iterator[tuple[int, int, int, np.ndarray, np.ndarray | None]]:
        """(order k, start, stop, log10 p, log10 backoff or None for the highest order)
        of the n-grams ``start:stop`` of every order, order by order, before pruning.

        Order k's backoffs come from order k+1's counts alone, so order k is handed
        out before order k+1's probabilities are computed; the arrays of each order
        (its adjusted counts, suffix rows, probabilities) are dropped once used.
        """
        N, V = self.order, self.V
        keys, adjusted, discounts, kept = self.keys, self.adjusted, self.discounts, self.kept
        # unigrams: interpolated with the uniform distribution (<unk> in, <s> out)
        a = adjusted[0]
        d = discounts[0][np.minimum(a, 3)]
        one = np.zeros(V, dtype=np.int64)  # one context: the empty one
        denom = np.bincount(one, weights=a, minlength=1)
        mass = d if kept[0] is None else np.where(kept[0], d, a)
        gamma = np.bincount(one, weights=mass, minlength=1)
        del one, mass
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where(denom > 0, gamma / np.where(denom > 0, denom, 1), 1.0)
            lower = (a - d) / denom[0]
        g = np.full(V, gamma[0])
        g[BOS] = 0.0
        lower[BOS] = 1.0
        lower += g * (1.0 / (V - 1))
        del d, g
        adjusted[0] = np.zeros(0, dtype=np.int64)
        suffix: np.ndarray = np.zeros(0, dtype=self.small)
        for k in range(2, N + 1):
            table, a = keys[k - 1], adjusted[k - 1]
            back = _backoffs(table, V, a, discounts[k - 1], kept[k - 1], len(keys[k - 2]))
            for s in range(0, len(lower), _BLOCK):
                yield (
                    k - 1,
                    s,
                    min(len(lower), s + _BLOCK),
                    _log10(lower[s : s + _BLOCK]),
                    back[s : s + _BLOCK],
                )
            del back
            parked = self.spill.get(k)
            # not parked: computed again from the order below
            suffix = parked if parked is not None else _suffixes(keys, V, k, suffix, self.small)
            del parked
            blocks = _probabilities(table, V, a, discounts[k - 1], kept[k - 1], suffix, lower)
            if k == N:
                for s, e, pr in blocks:
                    yield k, s, e, _log10(pr), None
                break
            prob = np.empty(len(table), dtype=np.float64)
            for s, e, pr in blocks:
                prob[s:e] = pr
            del blocks
            adjusted[k - 1] = np.zeros(0, dtype=np.int64)
            lower = prob
            del prob
            if k + 1 in self.spill.where:  # else kept to compute the next order's again
                suffix = np.zeros(0, dtype=self.small)
            heap.release(self.size)
        else:  # a unigram model
            for s in range(0, len(lower), _BLOCK):
                yield 1, s, min(len(lower), s + _BLOCK), _log10(lower[s : s + _BLOCK]), None

    def arpa_blocks(self) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
        """(order, word id rows, log10 p, log10 backoff) of the kept n-grams, in order."""
        view = NGramLM(self.words, self.keys, [], [])  # for its rows of word ids
        for k, s, e, logp, logb in self.sections():
            keep = self.kept[k - 1]
            for a in range(s, e, _ARPA_ROWS):
                b = min(e, a + _ARPA_ROWS)
                rows = view.ngram_rows(k, a, b)
                lp = logp[a - s : b - s]
                lb = logb[a - s : b - s] if logb is not None else None
                if keep is not None:
                    sel = keep[a:b]
                    rows, lp = rows[sel], lp[sel]
                    lb = lb[sel] if lb is not None else None
                yield k, rows, lp, lb

    def model(self) -> NGramLM:
        """The whole model as an :class:`NGramLM` (pruned n-grams dropped)."""
        N, V = self.order, self.V
        keys = self.keys
        logp = [np.empty(len(t), dtype=np.float32) for t in keys]
        logb = [np.empty(len(t), dtype=np.float32) for t in keys[:-1]]
        for k, s, e, lp, lb in self.sections():
            logp[k - 1][s:e] = lp
            if lb is not None:
                logb[k - 1][s:e] = lb
        # drop pruned n-grams, renumbering the prefixes of the next order (the next
        # order's n-grams with a pruned prefix are pruned too)
        for k in range(2, N + 1):
            keep = self.kept[k - 1]
            if keep is None:
                continue
            renumber = np.cumsum(keep) - 1
            keys[k - 1] = keys[k - 1][keep]
            logp[k - 1] = logp[k - 1][keep]
            if k < N:
                logb[k - 1] = logb[k - 1][keep]
                p, w = np.divmod(keys[k], V)
                keys[k] = renumber[p] * V + w
        return NGramLM(self.words, keys, logp, logb, self.meta)


def estimate_counts(
    counts: SentenceCounts,
    config: KNConfig,
    vocab: Collection[str] | None = None,
) -> NGramLM:
    """The interpolated modified Kneser-Ney model of raw counts (see the module docstring)."""
    return _Estimate(counts, config, vocab).model()


def estimate_to_arpa(
    counts: SentenceCounts,
    config: KNConfig,
    path: str | os.PathLike[str],
    vocab: Collection[str] | None = None,
) -> dict[str, Any]:
    """Estimate as :func:`estimate_counts` and write the model as an ARPA file while
    its orders are computed, never holding it whole (the counts are consumed);
    the same file as ``estimate_counts(...).write_arpa(path)``.  Returns the
    model's meta data, with ``counts`` (n-grams per order) and ``vocab_size``."""
    est = _Estimate(counts, config, vocab)
    sizes = est.counts()
    write_arpa_blocks(path, est.words, sizes, est.arpa_blocks())
    return {**est.meta, "counts": sizes, "vocab_size": est.V}


def estimate(
    paths: Sequence[str | os.PathLike[str]],
    config: KNConfig,
    vocab: Collection[str] | None = None,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_chunk: Callable[[int], None] | None = None,
) -> NGramLM:
    """Estimate an n-gram language model from text files (one sentence a line).

    Inputs ending in ``.npz`` are saved sentence counts (:meth:`SentenceCounts.save`),
    added up instead of counted; their normaliser and tokenizer are used.
    """
    config.check()
    return estimate_from(count_or_load(paths, config, encoding, errors, on_chunk), config, vocab)


def estimate_from(
    counts: SentenceCounts, config: KNConfig, vocab: Collection[str] | None = None
) -> NGramLM:
    """The model of sentence counts (of any order >= config.order; they are consumed)."""
    return estimate_counts(counts, _settings(counts, config), vocab)


def estimate_arpa_from(
    counts: SentenceCounts,
    config: KNConfig,
    path: str | os.PathLike[str],
    vocab: Collection[str] | None = None,
) -> dict[str, Any]:
    """:func:`estimate_from` written straight to an ARPA file, order by order (the
    same file as ``estimate_from(...).write_arpa(path)`` in less memory); returns
    the model's meta data with ``counts`` and ``vocab_size``."""
    return estimate_to_arpa(counts, _settings(counts, config), path, vocab)


def _settings(counts: SentenceCounts, config: KNConfig) -> KNConfig:
    """The settings to estimate with from counts; orders above config.order are dropped."""
    config.check()
    if counts.order < config.order:
        raise UsageError(f"order {config.order} is above the saved counts' order {counts.order}")
    for k in range(config.order + 1, counts.order + 1):
        del counts.keys[k], counts.counts[k]
    if (counts.normalizer, counts.tokenizer) != (config.normalizer, config.tokenizer):
        config = replace(config, normalizer=counts.normalizer, tokenizer=counts.tokenizer)
    return config


def count_or_load(
    paths: Sequence[str | os.PathLike[str]],
    config: KNConfig,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_chunk: Callable[[int], None] | None = None,
) -> SentenceCounts:
    """The sentence counts of text inputs, or the sum of saved counts (.npz inputs)."""
    saved = [str(p).endswith(".npz") for p in paths]
    if any(saved) and not all(saved):
        raise UsageError("give either text files or saved counts (.npz), not both")
    if all(saved):
        names = [display_name(p) for p in paths]
        parts = [SentenceCounts.load(p) for p in paths]
        return parts[0] if len(parts) == 1 else merge_sentence_counts(parts, names)
    return count_sentences(
        paths, config.order, config.normalizer, config.tokenizer, encoding, errors, on_chunk
    )


def estimate_lm(
    paths: Sequence[str | os.PathLike[str]],
    order: int = 3,
    *,
    min_count: int = 1,
    prune: Sequence[int] = (),
    discount_fallback: Sequence[float] | None = None,
    vocab: Collection[str] | None = None,
    normalize: str = "none",
    lower: bool | None = None,
    tokenizer: str = "word",
    encoding: str = "utf-8",
) -> NGramLM:
    """Interpolated modified Kneser-Ney estimate from text, one sentence a line
    (:func:`estimate` with the settings as keywords)."""
    fallback = tuple(discount_fallback) if discount_fallback is not None else None
    config = KNConfig(
        order,
        Normalizer.make(normalize, lower),
        tokenizer,
        min_count,
        tuple(prune),
        fallback,  # type: ignore[arg-type]
    )
    return estimate(paths, config, vocab, encoding)
