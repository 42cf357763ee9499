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
_LINES_PER_BATCH = 1 << 14


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
        oov = scores.ids == UNK
        self.log10_prob += float(scores.logprob.sum())
        self.oov_log10_prob += float(scores.logprob[oov].sum())
        self.tokens += len(scores.ids)
        self.oovs += int(oov.sum())
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

        Order by order, the k-grams ending at the positions whose (k-1)-gram context
        is in the model are looked up (hash index); the longest found gives the
        probability, and the backoffs of the longer contexts found are added.
        """
        n = len(ids)
        V = self.vocab_size
        N = self.order
        logp = self.logp[0][ids].astype(np.float64)
        longest = np.ones(n, dtype=np.int64)
        # per order k: the positions whose (k-1)-gram context is in the model, and
        # the row of that context
        cand = [np.zeros(0, dtype=np.int64), np.flatnonzero(offset >= 1)]
        ctx = [np.zeros(0, dtype=np.int64), ids[cand[1] - 1]]
        for k in range(2, N + 1):
            want = ctx[k - 1].astype(np.int64)  # rows may come as int32
            want *= V
            want += ids[cand[k - 1]]
            r = hashindex.find(self._index(k), self.keys[k - 1], want)
            hit = r >= 0
            found = cand[k - 1][hit]
            r = r[hit]
            logp[found] = self.logp[k - 1][r]
            longest[found] = k
            if k < N:
                found += 1
                ok = found < n
                ok[ok] = offset[found[ok]] >= 1
                cand.append(found[ok])
                ctx.append(r[ok])
        # backoffs of the contexts longer than the n-gram used: the j-gram ending just before
        for j in range(1, N):
            use = longest[cand[j]] <= j
            logp[cand[j][use]] += self.logb[j - 1][ctx[j][use]]
        first = offset == 0
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
        plain = self.meta.get("tokenizer", "word") == "word" and self.meta.get(
            "normalizer", {"name": "none", "lower": False}
        ) == {"name": "none", "lower": False}
        if plain and lines:
            got = self._text_ids(lines)
            if got is not None:
                ids, lens = got
                starts = np.cumsum(lens) - lens
                offset = np.arange(len(ids)) - np.repeat(starts, lens)
                logp, used = self.score_ids(ids, offset)
                keep = offset >= 1
                line = np.repeat(np.arange(len(lines)), lens)
                return Scores(ids[keep], logp[keep], used[keep], line[keep])
            # One split and one C-level lookup for the whole batch (as in estimation).
            toks = ("<s> " + " </s>\n<s> ".join(lines) + " </s>").split()
            ids = np.fromiter(map(self._lookup().__getitem__, toks), np.int64, len(toks))
            ends = np.flatnonzero(ids == EOS)
            if len(ends) == len(lines) and np.count_nonzero(ids == BOS) == len(lines):
                lens = np.diff(ends, prepend=-1)
                starts = ends - lens + 1
                offset = np.arange(len(ids)) - np.repeat(starts, lens)
                logp, used = self.score_ids(ids, offset)
                keep = offset >= 1
                line = np.repeat(np.arange(len(lines)), lens)
                return Scores(ids[keep], logp[keep], used[keep], line[keep])
        return self.score_sentences([self.tokenize(ln) for ln in lines])

    def _text_ids(self, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """Ids of ``<s> words </s>`` of every line, and each line's length, with array
        work on the UTF-8 bytes (:mod:`seqtool.stats.wordbytes`); None when the text
        needs the ``str.split`` path (other whitespace, line breaks inside a line, or a
        literal ``<s>``/``</s>``)."""
        data = "\n".join(lines).encode("utf-8", "surrogatepass")
        buf = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(buf == 10)
        if len(newlines) != len(lines) - 1 or not wordbytes.plain_spaces(data, buf):
            return None
        if self._word_bytes is None:
            blob, ends = self._word_arrays or _word_arrays(self.words)
            self._word_bytes = wordbytes.WordIndex(blob, ends)
        starts, ends = wordbytes.spans(buf)
        words = self._word_bytes.ids(data, buf, starts, ends, UNK)
        if np.count_nonzero(words <= EOS) != np.count_nonzero(words == UNK):
            return None  # a literal <s> or </s>
        line_of = np.searchsorted(newlines, starts)
        lens = np.bincount(line_of, minlength=len(lines)) + 2
        ids = np.empty(int(lens.sum()), dtype=np.int64)
        first = np.cumsum(lens) - lens
        ids[first] = BOS
        ids[first + lens - 1] = EOS
        line_of *= 2
        line_of += np.arange(1, len(words) + 1)
        ids[line_of] = words
        return ids, lens

    def _lookup(self) -> dict[str, int]:
        if self._unk_lookup is None:
            self._unk_lookup = _UnkDict(self.index)
        return self._unk_lookup

    def score_lines(self, lines: Iterable[str]) -> Iterator[tuple[list[str], Scores]]:
        """Stream of (lines, their scores), a batch of lines at a time."""
        batch: list[str] = []
        for line in lines:
            batch.append(line.rstrip("\r\n"))
            if len(batch) >= _LINES_PER_BATCH:
                yield batch, self.score_text(batch)
                batch = []
        if batch:
            yield batch, self.score_text(batch)

    def perplexity(self, lines: Iterable[str]) -> Perplexity:
        """Corpus perplexity with and without OOVs, as KenLM's ``query`` reports it."""
        result = Perplexity(0.0, 0, 0, 0.0, 0)
        for batch, s in self.score_lines(lines):
            result.add(s, len(batch))
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
