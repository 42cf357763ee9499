"""The one vocabulary type every seqtool command shares.

A :class:`Vocab` knows how to turn raw text into ids and back: it holds the
normaliser settings, the tokenizer kind, the ordered token list and, for subword
kinds, the sentencepiece model itself.  The specials have fixed ids
(``<pad>`` 0, ``<unk>`` 1, ``<bos>`` 2, ``<eos>`` 3) so a model never depends on
how a corpus happened to sort.  Ordinary tokens follow by count, most frequent
first, ties broken by code-point order of the token, so the same corpus always
gives the same ids.

Example::

    >>> v = Vocab.build(["the cat", "the dog"], kind="word")
    >>> v.encode("the cow")
    [4, 1]
    >>> v.decode([4, 5])
    'the cat'
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.text.normalize import Normalizer
from seqtool.text.tokenize import (
    SUBWORD,
    TOKENIZERS,
    char_tokens,
    load_sentencepiece,
    train_sentencepiece,
    word_tokens,
)

FORMAT = "seqtool-vocab"
FORMAT_VERSION = 1
# Subword models train on at most this many lines, a uniform random sample of the
# input (sentencepiece's input_sentence_size), so memory stays bounded on any corpus.
SUBWORD_SAMPLE_LINES = 1_000_000
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
PAD, UNK, BOS, EOS = 0, 1, 2, 3


@dataclass(frozen=True)
class Coverage:
    """What share of a corpus's tokens a vocabulary knows."""

    tokens: int
    oov_tokens: int  # tokens that became <unk>
    oov_types: int  # distinct such tokens

    @property
    def coverage(self) -> float:
        return 1 - self.oov_tokens / self.tokens


def default_normalizer(kind: str) -> str:
    """Word and char vocabularies clean text by default; subword models see it raw."""
    return "none" if kind in SUBWORD else "letters"


@dataclass
class Vocab:
    kind: str
    tokens: list[str]
    counts: list[int]
    normalizer: Normalizer = field(default_factory=Normalizer)
    spm_model: bytes | None = None
    # (lines used, lines read) when a subword model was trained on a sample
    sampled: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    # ------------------------------------------------------------------ building
    # (reading files is the caller's: pass seqtool.io.read_lines(paths) as ``lines``)
    @classmethod
    def build(
        cls,
        lines: Iterable[str],
        kind: str = "word",
        normalizer: Normalizer | None = None,
        min_freq: int = 1,
        max_size: int | None = None,
        vocab_size: int = 8000,
        extra_tokens: Sequence[str] = (),
        source: str = "input",
    ) -> Vocab:
        """Build a vocabulary from lines of raw text.

        ``min_freq`` and ``max_size`` (total size, specials included) prune char and
        word vocabularies; ``vocab_size`` is the sentencepiece target for subwords.
        ``extra_tokens`` are always kept (a char LM adds ``"\\n"`` this way).
        ``source`` names the input in error messages.
        """
        if kind not in TOKENIZERS:
            raise UsageError(f"unknown tokenizer {kind!r}; choose one of {', '.join(TOKENIZERS)}")
        if min_freq < 1:
            raise UsageError(f"min_freq must be at least 1, not {min_freq}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise UsageError(
                f"max_size must be more than the {len(SPECIALS)} special tokens, not {max_size}"
            )
        norm = normalizer or Normalizer.make(default_normalizer(kind))
        if kind in SUBWORD:
            return cls._build_subword(lines, kind, norm, vocab_size, source)
        if kind == "char":
            counter = char_counts(lines, norm)
        else:
            counter = Counter()
            for line in lines:
                counter.update(word_tokens(norm.line(line)))
        return cls.from_counter(counter, kind, norm, min_freq, max_size, extra_tokens, source)

    @classmethod
    def from_counter(
        cls,
        counter: Counter[str],
        kind: str,
        normalizer: Normalizer,
        min_freq: int = 1,
        max_size: int | None = None,
        extra_tokens: Sequence[str] = (),
        source: str = "input",
    ) -> Vocab:
        """The char or word vocabulary of token counts (of lines ``normalizer`` made),
        pruned as :meth:`build` prunes; ``counter`` is consumed."""
        norm = normalizer
        for tok in extra_tokens:
            counter.setdefault(tok, 0)
        unk_seen = sum(counter.pop(s, 0) for s in SPECIALS)  # e.g. PTB's literal "<unk>"
        if not counter:
            raise InputError(f"{source}: no tokens found (is it empty after normalisation?)")
        ranked = sorted(counter)  # by count, most frequent first, ties by code point
        ranked.sort(key=counter.__getitem__, reverse=True)  # (a stable sort, reversed)
        keep = [(t, counter[t]) for t in ranked if counter[t] >= min_freq or t in extra_tokens]
        if max_size is not None:
            keep = keep[: max_size - len(SPECIALS)]
        dropped = sum(counter.values()) - sum(c for _, c in keep) + unk_seen
        tokens = list(SPECIALS) + [t for t, _ in keep]
        counts = [0, dropped, 0, 0] + [c for _, c in keep]
        return cls(kind, tokens, counts, norm)

    @classmethod
    def _build_subword(
        cls, lines: Iterable[str], kind: str, norm: Normalizer, vocab_size: int, source: str
    ) -> Vocab:
        if vocab_size <= len(SPECIALS):
            raise UsageError(f"vocab_size must be more than {len(SPECIALS)}, not {vocab_size}")
        text, seen = _reservoir((norm.line(line) for line in lines), SUBWORD_SAMPLE_LINES)
        if not any(line.strip() for line in text):
            raise InputError(f"{source}: no text found to train a subword model on")
        model = train_sentencepiece(text, kind, vocab_size, SPECIALS)
        sp = load_sentencepiece(model)
        tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        counter: Counter[int] = Counter()
        for ids in sp.encode(text):
            counter.update(ids)
        counts = [counter.get(i, 0) for i in range(len(tokens))]
        vocab = cls(kind, tokens, counts, norm, model)
        if seen > len(text):
            vocab.sampled = (len(text), seen)
        return vocab

    # ------------------------------------------------------------------ using
    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    @cached_property
    def _sp(self) -> Any:
        assert self.spm_model is not None
        return load_sentencepiece(self.spm_model)

    @property
    def is_subword(self) -> bool:
        return self.kind in SUBWORD

    def tokenize(self, text: str) -> list[str]:
        """Normalise and split one line into token strings."""
        text = self.normalizer.line(text)
        if self.is_subword:
            return list(self._sp.encode(text, out_type=str))
        return char_tokens(text) if self.kind == "char" else word_tokens(text)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        index = self.index
        return [index.get(t, UNK) for t in tokens]

    def encode(self, text: str, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of one line of raw text."""
        if self.is_subword:
            ids = list(self._sp.encode(self.normalizer.line(text)))
        else:
            ids = self.ids(self.tokenize(text))
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def encode_batch(self, lines: Sequence[str]) -> list[list[int]]:
        if self.is_subword:
            return [list(x) for x in self._sp.encode([self.normalizer.line(s) for s in lines])]
        return [self.encode(s) for s in lines]

    def decode(self, ids: Iterable[int], keep_specials: bool = False) -> str:
        """Text of a sequence of ids; ``<pad>``, ``<bos>``, ``<eos>`` are dropped unless asked."""
        n = len(self.tokens)
        out: list[int] = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise InputError(f"id {i} is outside this vocabulary (size {n})")
            if not keep_specials and i in (PAD, BOS, EOS):
                continue
            out.append(i)
        if self.is_subword:
            return str(self._sp.decode(out))
        sep = "" if self.kind == "char" else " "
        return sep.join(self.tokens[i] for i in out)

    # ------------------------------------------------------------------ files
    def most_frequent(self, k: int = 10) -> list[tuple[int, str, int]]:
        """The ``k`` most frequent ordinary tokens as (id, token, count); 0: none."""
        if k < 0:
            raise UsageError(f"`top` must be 0 or more, not {k}")
        ranked = sorted(range(len(SPECIALS), len(self)), key=lambda i: (-self.counts[i], i))
        return [(i, self.tokens[i], self.counts[i]) for i in ranked[:k]]

    def coverage(self, lines: Iterable[str], source: str = "input") -> Coverage:
        """How much of ``lines`` this vocabulary covers (tokens that are not ``<unk>``).

        >>> Vocab.build(["a a b"], kind="word").coverage(["a c c"])
        Coverage(tokens=3, oov_tokens=2, oov_types=1)
        """
        n_tokens = n_unk = 0
        unk_types: set[str] = set()
        for line in lines:
            toks = self.tokenize(line)
            ids = self.ids(toks) if not self.is_subword else self.encode(line)
            n_tokens += len(ids)
            for t, i in zip(toks, ids):
                if i == UNK:
                    n_unk += 1
                    unk_types.add(t)
        if n_tokens == 0:
            raise InputError(f"{source}: no tokens found")
        return Coverage(n_tokens, n_unk, len(unk_types))

    @property
    def fingerprint(self) -> str:
        """A short hash of what decides the ids: tokenizer, normaliser, tokens, model."""
        h = hashlib.sha256()
        h.update(json.dumps([self.kind, self.normalizer.to_dict(), self.tokens]).encode())
        if self.spm_model:
            h.update(self.spm_model)
        return h.hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "normalizer": self.normalizer.to_dict(),
            "specials": list(SPECIALS),
            "size": len(self.tokens),
            "fingerprint": self.fingerprint,
            "tokens": [[t, c] for t, c in zip(self.tokens, self.counts)],
        }
        if self.spm_model is not None:
            d["spm_model"] = base64.b64encode(self.spm_model).decode("ascii")
        return d

    @classmethod
    def from_dict(cls, d: Any, source: str = "vocabulary") -> Vocab:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise CheckpointError(
                f"{source}: not a seqtool vocabulary (format {found!r}, expected {FORMAT!r})"
            )
        version = d.get("format_version")
        if type(version) is not int:
            raise CheckpointError(
                f"{source}: format_version must be a whole number, not {version!r}"
            )
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"{source}: vocabulary format version {version} is not supported "
                f"(this seqtool reads version {FORMAT_VERSION})"
            )
        try:
            kind = d["kind"]
            if kind not in TOKENIZERS:
                raise CheckpointError(f"{source}: unknown tokenizer kind {kind!r}")
            norm = Normalizer.from_dict(d["normalizer"])
            tokens, counts = _tokens_and_counts(d["tokens"], source)
            model = base64.b64decode(d["spm_model"], validate=True) if "spm_model" in d else None
        except CheckpointError:
            raise
        except (KeyError, TypeError, ValueError, UsageError) as e:
            raise CheckpointError(
                f"{source}: malformed vocabulary ({type(e).__name__}: {e})"
            ) from None
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise CheckpointError(
                f"{source}: the first tokens must be the specials {', '.join(SPECIALS)}"
            )
        if (kind in SUBWORD) != (model is not None):
            raise CheckpointError(
                f"{source}: a {kind} vocabulary must {'' if kind in SUBWORD else 'not '}carry a sentencepiece model"
            )
        _check_tokens(kind, tokens, source)
        if model is not None:
            _check_model(model, tokens, source)
        return cls(kind, tokens, counts, norm, model)

    def save(self, path: str | os.PathLike[str]) -> None:
        from seqtool.io import write_text

        write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        name = str(path)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise InputError(f"{name}: is a directory, not a vocabulary file") from None
        from seqtool.io import load_json

        data = load_json(raw, name, "a seqtool vocabulary", CheckpointError)
        return cls.from_dict(data, name)


def _tokens_and_counts(entries: Any, source: str) -> tuple[list[str], list[int]]:
    """The ``[[token, count], ...]`` list, each entry a string and a whole count >= 0."""
    if not isinstance(entries, list):
        raise CheckpointError(f"{source}: tokens must be a list of [token, count] pairs")
    tokens: list[str] = []
    counts: list[int] = []
    for i, entry in enumerate(entries):
        if not (isinstance(entry, list) and len(entry) == 2):
            raise CheckpointError(f"{source}: token entry {i} is not a [token, count] pair")
        tok, count = entry
        if not isinstance(tok, str):
            raise CheckpointError(f"{source}: token {i} is {tok!r}, not a string")
        if type(count) is not int or count < 0:
            raise CheckpointError(
                f"{source}: the count of token {i} is {count!r}, not a whole number >= 0"
            )
        tokens.append(tok)
        counts.append(count)
    return tokens, counts


# What a sentencepiece piece never holds: the space it turns into "▁", and line
# breaks (it reads lines).  Other white space (the narrow no-break space French
# puts before "?") is an ordinary character to it: str.split breaks words on it,
# so only word vocabularies refuse all of str.isspace.
_PIECE_BREAKS = frozenset(" \n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def breaks_piece(kind: str, token: str) -> bool:
    """Does ``token`` hold a character a ``bpe``/``unigram`` tokenizer never produces?"""
    return kind in ("bpe", "unigram") and any(ch in _PIECE_BREAKS for ch in token)


def _check_tokens(kind: str, tokens: list[str], source: str) -> None:
    """Tokens a tokenizer of ``kind`` can produce, each once, all valid Unicode."""
    seen: set[str] = set()
    for i, tok in enumerate(tokens):
        if tok in seen:
            raise CheckpointError(f"{source}: token {tok!r} appears more than once")
        seen.add(tok)
        if i < len(SPECIALS):
            continue
        if not tok:
            raise CheckpointError(f"{source}: token {i} is empty")
        if any("\ud800" <= ch <= "\udfff" for ch in tok):
            raise CheckpointError(f"{source}: token {i} ({tok!r}) holds a lone surrogate")
        if kind == "char" and len(tok) != 1:
            raise CheckpointError(
                f"{source}: token {tok!r} of a char vocabulary is not one character"
            )
        if (kind == "word" and any(ch.isspace() for ch in tok)) or breaks_piece(kind, tok):
            raise CheckpointError(
                f"{source}: token {tok!r} holds white space, which a {kind} tokenizer never produces"
            )


def _check_model(model: bytes, tokens: list[str], source: str) -> None:
    """The embedded sentencepiece model loads and has exactly the vocabulary's pieces."""
    try:
        sp = load_sentencepiece(model)
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    except Exception:  # noqa: BLE001 - sentencepiece raises RuntimeError, OSError, ...
        raise CheckpointError(
            f"{source}: the embedded sentencepiece model is damaged or not a sentencepiece model"
        ) from None
    if pieces != tokens:
        raise CheckpointError(
            f"{source}: the embedded sentencepiece model has {len(pieces)} pieces, "
            f"the token list {len(tokens)}"
            + ("" if len(pieces) != len(tokens) else " but they differ")
        )


def _reservoir(items: Iterable[str], k: int, seed: int = 0) -> tuple[list[str], int]:
    """A uniform random sample of at most ``k`` items in one pass (reservoir sampling),
    in input order when everything fits; returns it and how many items were seen."""
    import random

    rng = random.Random(seed)
    sample: list[str] = []
    n = 0
    for n, item in enumerate(items, 1):
        if n <= k:
            sample.append(item)
        else:
            j = rng.randrange(n)
            if j < k:
                sample[j] = item
    return sample, n


def char_counts(lines: Iterable[str], norm: Normalizer, block: int = 1 << 20) -> Counter[str]:
    """Characters counted as ``ngrams -t char`` counts them: the whole text is one
    sequence and a line break is a character (``d2l`` and ``letters`` turn it into
    the space of the run of non-letters it belongs to, as the d2l book does)."""
    counter: Counter[str] = Counter()
    collapses = norm.name in ("d2l", "letters")
    first = True
    pending: list[str] = []
    size = 0

    def flush() -> None:
        nonlocal first, size
        text = norm("".join(pending))
        if collapses and not first and text.startswith(" "):
            text = text[1:]  # the previous block ended in a line break, now a space
        counter.update(text)
        first, size = False, 0
        pending.clear()

    for line in lines:
        pending.append(line + "\n")
        size += len(line) + 1
        if size >= block:
            flush()
    if pending:
        flush()
    return counter
