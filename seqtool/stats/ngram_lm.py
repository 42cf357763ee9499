"""Back-off n-gram language models: the model arrays, scoring and perplexity.

An :class:`NGramLM` holds, per order k, the n-grams as sorted int64 keys
``prefix * V + w`` (``prefix`` is the row of the n-gram's first k-1 words in the
order k-1 arrays; order 1 is every word id), their log10 probabilities and, below
the highest order, their log10 backoff weights: the ARPA model, as arrays.
Scoring a text is array work too: words are found from the text's UTF-8 bytes
(:mod:`seqtool.stats.wordbytes`), every token's longest known n-gram with one
hash-index lookup (:mod:`seqtool.stats.hashindex`) per order over all positions at
once, and the backoffs of the longer contexts found are added (the ARPA rule).  A corpus this small needs
fixed discounts (``discount_fallback``); a real one estimates them::

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> text = "the cat sat on the mat\\nthe dog sat on the log\\nthe cat ate\\n"
    >>> _ = (folder / "tiny.txt").write_text(text, encoding="utf-8")
    >>> from seqtool.stats.kneser_ney import estimate_lm
    >>> lm = estimate_lm([folder / "tiny.txt"], order=3, discount_fallback=(0.5, 1.0, 1.5))
    >>> lm.order
    3
    >>> round(lm.score("the cat sat"), 3)  # log10 p, with <s> and </s>
    -2.781
    >>> round(lm.perplexity(["the dog sat on the mat"]).perplexity, 2)
    1.78
    >>> lm.save(folder / "tiny.npz"); lm.write_arpa(folder / "tiny.arpa")
    >>> round(NGramLM.load(folder / "tiny.npz").score("the cat sat"), 3)
    -2.781

Estimation lives in :mod:`seqtool.stats.kneser_ney` (:func:`~seqtool.stats.kneser_ney.estimate_lm`), ARPA files in
:mod:`seqtool.stats.arpa`; the binary format here is one uncompressed ``.npz``
(no pickles) that loads in a few milliseconds.
"""

from __future__ import annotations

import itertools
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from seqtool import __version__
from seqtool.errors import InputError
from seqtool.io import atomic_write, display_name
from seqtool.stats import hashindex, wordbytes
from seqtool.stats.arpa import SPECIALS, read_arpa, write_arpa

UNK, BOS, EOS = 0, 1, 2
FORMAT = "seqtool-ngram-lm"
FORMAT_VERSION = 1
BLOCK_LINES = 1 << 14  # lines scored at a time


@dataclass
class Scores:
    """Per-token scores of a batch of sentences (every token after ``<s>``, ``</s>`` included)."""

    ids: np.ndarray  # (t,) word ids (0 = <unk>: an OOV)
    logprob: np.ndarray  # (t,) log10 p(token | history)
    order: np.ndarray  # (t,) length of the n-gram that gave the probability
    line_of: np.ndarray  # (t,) sentence index within the batch

    def per_line(self, n_lines: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sentence of the batch: total log10 p, tokens (with </s>), OOVs."""
        logp = np.bincount(self.line_of, weights=self.logprob, minlength=n_lines)
        tokens = np.bincount(self.line_of, minlength=n_lines)
        oovs = np.bincount(self.line_of[self.ids == UNK], minlength=n_lines)
        return logp, tokens, oovs


@dataclass
class Perplexity:
    """A corpus score as KenLM's ``query`` summarises it."""

    log10_prob: float  # total over every token and </s>
    tokens: int  # words + one </s> per sentence
    oovs: int
    oov_log10_prob: float
    sentences: int

    def add(self, scores: Scores, sentences: int) -> None:
        """Count in the scores of a batch of ``sentences`` sentences."""
        self.add_tokens(scores.ids, scores.logprob, sentences, 0)

    def add_tokens(
        self, ids: np.ndarray, logprob: np.ndarray, sentences: int, bos: int = 1
    ) -> None:
        """Count in the tokens of ``sentences`` sentences with ``bos`` ``<s>`` each
        among them (their log10 p 0: context only)."""
        oov = np.flatnonzero(ids == UNK)
        self.log10_prob += float(logprob.sum())
        self.oov_log10_prob += float(logprob.take(oov).sum())
        self.tokens += len(ids) - bos * sentences
        self.oovs += len(oov)
        self.sentences += sentences

    @property
    def perplexity(self) -> float:
        return float(10 ** (-self.log10_prob / self.tokens)) if self.tokens else float("nan")

    @property
    def perplexity_without_oovs(self) -> float:
        known = self.tokens - self.oovs
        if not known:
            return float("nan")
        return float(10 ** (-(self.log10_prob - self.oov_log10_prob) / known))

    def to_dict(self) -> dict[str, Any]:
        return {
            "perplexity": self.perplexity,
            "perplexity_without_oovs": self.perplexity_without_oovs,
            "log10_prob": self.log10_prob,
            "tokens": self.tokens,
            "oovs": self.oovs,
            "sentences": self.sentences,
        }


def words_to_arrays(words: list[str]) -> dict[str, np.ndarray]:
    """A word list as two arrays for an .npz: the UTF-8 bytes and each word's end."""
    encoded = [w.encode("utf-8", "surrogatepass") for w in words]
    return {
        "words": np.frombuffer(b"".join(encoded), dtype=np.uint8),
        "word_ends": np.cumsum([len(e) for e in encoded]).astype(np.int64),
    }


def _word_arrays(words: list[str]) -> tuple[bytes, np.ndarray]:
    arrays = words_to_arrays(words)
    return arrays["words"].tobytes(), arrays["word_ends"]


def words_from_arrays(data: dict[str, np.ndarray]) -> list[str]:
    """The inverse of :func:`words_to_arrays`."""
    blob = data["words"].tobytes()
    ends = data["word_ends"].tolist()
    return [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip([0, *ends[:-1]], ends)]


def lookup_sorted(table: np.ndarray, want: np.ndarray) -> np.ndarray:
    """np.searchsorted(table, want), with the needles sorted first: the lookups then
    walk the table in order (cache hits) instead of jumping, 3x faster on large tables."""
    if len(want) < 64 or len(table) < 1 << 14:  # a small table stays in the cache anyway
        return np.searchsorted(table, want)
    order = np.argsort(want)
    out = np.empty(len(want), dtype=np.int64)
    out[order] = np.searchsorted(table, want[order])
    return out


def _marked(ids: np.ndarray, lines: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(ids, where the <s> are) of ``lines`` sentences written ``<s> .. </s>``; None
    when a line holds a literal <s> or </s> (more of them than lines)."""
    first = ids == BOS
    if np.count_nonzero(first) != lines or np.count_nonzero(ids == EOS) != lines:
        return None
    return ids, first


def _blocks(lines: Iterable[str]) -> Iterator[list[str]]:
    """Lists of up to BLOCK_LINES lines, without their line ends."""
    it = iter(lines)
    while block := list(itertools.islice(it, BLOCK_LINES)):
        joined = "".join(block)  # one look at all of them: most come without line ends
        if "\n" in joined or "\r" in joined:
            block = [line.rstrip("\r\n") for line in block]
        yield block


class _UnkDict(dict[str, int]):
    """word -> id, with every unknown word <unk>."""

    def __missing__(self, word: str) -> int:
        return UNK


class NGramLM:
    """An n-gram language model in back-off (ARPA) form; see the module docstring."""

    def __init__(
        self,
        words: list[str],
        keys: list[np.ndarray],
        logp: list[np.ndarray],
        logb: list[np.ndarray],
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.words = words
        self.keys = keys
        self.logp = logp
        self.logb = logb
        self.meta = dict(meta or {})
        self._word_index: dict[str, int] | None = None
        self._unk_lookup: dict[str, int] | None = None
        self._slots: list[np.ndarray | None] = [None]  # per order >= 2: hash index
        self._word_arrays: tuple[bytes, np.ndarray] | None = None  # the words' UTF-8 bytes, ends
        self._word_bytes: wordbytes.WordIndex | None = None

    # ------------------------------------------------------------------ basics
    @property
    def order(self) -> int:
        return len(self.keys)

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def counts(self) -> list[int]:
        """The number of n-grams of every order (as an ARPA header lists them)."""
        return [len(k) for k in self.keys]

    @property
    def index(self) -> dict[str, int]:
        if self._word_index is None:
            self._word_index = {w: i for i, w in enumerate(self.words)}
        return self._word_index

    def ngram_rows(self, k: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The word ids of order-k n-grams ``start:stop`` as (m, k) rows."""
        V = self.vocab_size
        sel = self.keys[k - 1][start:stop]
        rows = np.empty((len(sel), k), dtype=np.int64)
        for j in range(k - 1, 0, -1):
            sel, rows[:, j] = np.divmod(sel, V)
            sel = self.keys[j - 1][sel] if j > 1 else sel
        rows[:, 0] = sel
        return rows

    # ------------------------------------------------------------------ scoring
    def ids_of(self, tokens: Iterable[str]) -> np.ndarray:
        get = self.index.get
        return np.fromiter((get(t, UNK) for t in tokens), np.int64)

    def _index(self, k: int) -> np.ndarray:
        """The hash index of the order-k keys (built on first use, or loaded)."""
        while len(self._slots) < k:
            self._slots.append(None)
        slots = self._slots[k - 1]
        if slots is None:
            slots = self._slots[k - 1] = hashindex.build(self.keys[k - 1])
        return slots

    def score_ids(self, ids: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log10 p and n-gram length for every position with ``offset >= 1``.

        ``ids`` is a flat run of sequences; ``offset`` is each position's place in its
        sequence (0 at its first token, which is only context).  Returns (n,) arrays;
        positions with offset 0 get 0 and length 0.
        """
        return self._score_ids(ids, np.asarray(offset) == 0)

    def _score_ids(self, ids: np.ndarray, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`score_ids` with ``first`` marking the first token of every sequence.

        Order by order, the k-grams ending at the positions whose (k-1)-gram context
        is in the model are looked up, all at once (hash index): where one is found
        its probability replaces what the position had; where not, the position
        backs off and pays the context's backoff.  So every position ends with the
        probability of its longest n-gram found plus the backoffs of the longer
        contexts found (the ARPA rule), added in the same order as one at a time.
        """
        n = len(ids)
        V = self.vocab_size
        N = self.order
        logp = self.logp[0].take(ids).astype(np.float64)
        longest = np.ones(n, dtype=np.int64)
        after = np.append(first, True)  # "not a context for the next position"
        cand = np.flatnonzero(~first)  # positions whose (k-1)-gram context is in the model
        ctx = ids[cand - 1]  # the row of that context in the order k-1 arrays
        for k in range(2, N + 1):
            if not len(cand):
                break
            want = ctx.astype(np.int64)  # rows may come as int32
            want *= V
            want += ids.take(cand)
            r = hashindex.find(self._index(k), self.keys[k - 1], want)
            miss = np.flatnonzero(r < 0)
            logp[cand.take(miss)] += self.logb[k - 2].take(ctx.take(miss))
            hit = np.flatnonzero(r >= 0)
            found = cand.take(hit)
            r = r.take(hit)
            np.put(logp, found, self.logp[k - 1].take(r))
            np.put(longest, found, k)
            if k < N:
                found += 1
                ok = ~after.take(found)
                cand = found[ok]
                ctx = r[ok]
        logp[first] = 0.0
        longest[first] = 0
        return logp, longest

    def score_sentences(
        self, sentences: Sequence[Sequence[str]], bos: bool = True, eos: bool = True
    ) -> Scores:
        """Scores of every token of tokenised sentences (with ``</s>`` when ``eos``)."""
        get = self.index.get
        flat: list[int] = []
        lengths = []
        for s in sentences:
            seq = ([BOS] if bos else []) + [get(t, UNK) for t in s] + ([EOS] if eos else [])
            flat.extend(seq)
            lengths.append(len(seq))
        ids = np.asarray(flat, dtype=np.int64)
        lens = np.asarray(lengths, dtype=np.int64)
        starts = np.cumsum(lens) - lens
        offset = np.arange(len(ids)) - np.repeat(starts, lens)
        logp, used = self.score_ids(ids, offset)
        line = np.repeat(np.arange(len(lens)), lens)
        keep = offset >= 1 if bos else np.ones(len(ids), dtype=bool)
        if not bos:
            # Without <s>, the first word is scored by its unigram alone.
            first = offset == 0
            logp[first] = self.logp[0][ids[first]]
            used[first] = 1
        return Scores(ids[keep], logp[keep], used[keep], line[keep])

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """log10 probability of one sentence (a string is split on whitespace)."""
        tokens = sentence.split() if isinstance(sentence, str) else list(sentence)
        return float(self.score_sentences([tokens], bos, eos).logprob.sum())

    def tokenize(self, line: str) -> list[str]:
        """A line as the model's tokens (its normaliser and tokenizer)."""
        from seqtool.text.normalize import Normalizer

        norm = Normalizer.from_dict(self.meta.get("normalizer", {"name": "none", "lower": False}))
        if norm.name != "none" or norm.lower:
            line = norm.line(line)
        if self.meta.get("tokenizer", "word") == "char":
            return list(line)
        return line.split()

    def score_text(self, lines: Sequence[str]) -> Scores:
        """Scores of every token of every line (each a sentence with ``<s>``, ``</s>``)."""
        ids, first, logp, used = self._score_text(lines)
        keep = ~first
        line = np.cumsum(first)
        line -= 1
        return Scores(ids[keep], logp[keep], used[keep], line[keep])

    def _score_text(self, lines: Sequence[str]) -> tuple[np.ndarray, ...]:
        """Every token of ``<s> line </s>`` for every line: (ids, whether it is the
        ``<s>``, log10 p, n-gram length); the ``<s>`` get 0 and 0."""
        got = self._line_ids(lines) if lines and self._plain() else None
        if got is None:  # the model's normaliser or tokenizer, or a literal <s> / </s>
            sentences = [self.tokenize(ln) for ln in lines]
            lens = np.fromiter(map(len, sentences), np.int64, len(sentences)) + 2
            ids = np.fromiter(
                (i for s in sentences for i in (BOS, *map(self._lookup().__getitem__, s), EOS)),
                np.int64,
                int(lens.sum()),
            )
            first = np.zeros(len(ids), dtype=bool)
            first[np.cumsum(lens) - lens] = True
        else:
            ids, first = got
        logp, used = self._score_ids(ids, first)
        return ids, first, logp, used

    def _plain(self) -> bool:
        """Whether the model's lines are plain whitespace-separated words."""
        return self.meta.get("tokenizer", "word") == "word" and self.meta.get(
            "normalizer", {"name": "none", "lower": False}
        ) == {"name": "none", "lower": False}

    def _line_ids(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """The ids of ``<s> words </s>`` of every line and where each ``<s>`` is; None
        when a line holds a literal ``<s>`` or ``</s>``.

        Array work on the text's UTF-8 bytes (:mod:`seqtool.stats.wordbytes`), or
        for text with other whitespace (which ``str.split`` splits on) one split and
        one C-level dict lookup for the whole batch.
        """
        text = "<s> " + " </s>\n<s> ".join(lines) + " </s>"
        data = text.encode("utf-8", "surrogatepass")
        buf = np.frombuffer(data, dtype=np.uint8)
        if wordbytes.plain_spaces(data, buf):
            if self._word_bytes is None:
                blob, ends = self._word_arrays or _word_arrays(self.words)
                self._word_bytes = wordbytes.WordIndex(blob, ends)
            starts, ends = wordbytes.spans(buf)
            ids = self._word_bytes.ids(data, buf, starts, ends, UNK)
        else:
            toks = text.split()
            ids = np.fromiter(map(self._lookup().__getitem__, toks), np.int64, len(toks))
        return _marked(ids, len(lines))

    def _lookup(self) -> dict[str, int]:
        if self._unk_lookup is None:
            self._unk_lookup = _UnkDict(self.index)
        return self._unk_lookup

    def score_lines(self, lines: Iterable[str]) -> Iterator[tuple[list[str], Scores]]:
        """Stream of (lines, their scores), a batch of lines at a time."""
        return self.score_blocks(_blocks(lines))

    def score_blocks(self, blocks: Iterable[list[str]]) -> Iterator[tuple[list[str], Scores]]:
        """(block, its scores) for every block of lines as it comes (lines without their
        line ends): a reader of live input (:func:`seqtool.io.read_line_batches`)
        gets each line's answer before the next line arrives."""
        for block in blocks:
            yield block, self.score_text(block)

    def perplexity(self, lines: Iterable[str]) -> Perplexity:
        """Corpus perplexity with and without OOVs, as KenLM's ``query`` reports it."""
        result = Perplexity(0.0, 0, 0, 0.0, 0)
        for block in _blocks(lines):
            ids, _, logp, _ = self._score_text(block)
            result.add_tokens(ids, logp, len(block))  # the <s> count for nothing
        return result

    # ------------------------------------------------------------------ files
    def write_arpa(self, path: str | os.PathLike[str]) -> None:
        write_arpa(self, path)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the binary model: one uncompressed .npz of plain arrays (no pickles)."""
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "seqtool_version": __version__,
            "order": self.order,
            "model": self.meta,
        }
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            **words_to_arrays(self.words),
        }
        for k in range(1, self.order + 1):
            if k > 1:
                arrays[f"keys_{k}"] = self.keys[k - 1]
                arrays[f"slots_{k}"] = self._index(k)  # saved: scoring needs no build
            arrays[f"logp_{k}"] = self.logp[k - 1]
            if k < self.order:
                arrays[f"logb_{k}"] = self.logb[k - 1]
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NGramLM:
        """Load a binary model (.npz, as :meth:`save` writes) or an ARPA file."""
        name = display_name(path)
        try:
            with open(path, "rb") as f:
                magic = f.read(4)
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except OSError as e:
            raise InputError(f"{name}: cannot read ({e.strerror})") from None
        if magic != b"PK\x03\x04":
            return cls(*read_arpa(path))
        return cls._load_binary(path, name)

    @classmethod
    def _load_binary(cls, path: str | os.PathLike[str], name: str) -> NGramLM:
        bad = f"{name}: not a seqtool n-gram language model"
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise InputError(f"{bad} ({type(e).__name__})") from None
        if meta.get("format") != FORMAT:
            raise InputError(f"{bad} (format {meta.get('format')!r})")
        if meta.get("format_version") != FORMAT_VERSION:
            raise InputError(
                f"{name}: model format version {meta.get('format_version')} is not supported "
                f"(this seqtool reads version {FORMAT_VERSION})"
            )
        try:
            words = words_from_arrays(data)
            N = int(meta["order"])
            keys = [np.arange(len(words), dtype=np.int64)]
            keys += [data[f"keys_{k}"] for k in range(2, N + 1)]
            logp = [data[f"logp_{k}"] for k in range(1, N + 1)]
            logb = [data[f"logb_{k}"] for k in range(1, N)]
        except (KeyError, ValueError, UnicodeDecodeError) as e:
            raise InputError(f"{bad}; it is damaged ({type(e).__name__})") from None
        if words[: len(SPECIALS)] != list(SPECIALS) or len(logp[0]) != len(words):
            raise InputError(f"{bad}; it is damaged (vocabulary)")
        model = cls(words, keys, logp, logb, meta.get("model", {}))
        model._word_arrays = (data["words"].tobytes(), data["word_ends"])
        for k in range(2, N + 1):
            slots = data.get(f"slots_{k}")  # absent in files of older versions: built when needed
            if slots is not None and not hashindex.valid(slots, len(keys[k - 1])):
                raise InputError(f"{bad}; it is damaged (the {k}-gram index)")
            model._slots.append(slots)
        return model
