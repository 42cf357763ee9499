"""Streaming n-gram counts: exact, vectorised, in memory bounded by distinct n-grams.

The input is read in ~1 MB chunks (:func:`seqtool.io.iter_chunks`); each chunk
becomes an array of token ids (:mod:`seqtool.stats.tokens`), its n-grams become
int64 keys counted with ``np.unique``, and the chunk counts are merged into one
sorted table per order (:mod:`seqtool.stats.keys`).  Nothing holds the corpus or
a Python object per n-gram.  As in the d2l book the whole input is one token
sequence (n-grams run across line breaks and chunk ends) unless ``per_line``.
With ``workers > 1`` worker processes tokenise and count chunks while this
process reads the input and merges their results.

Example::

    >>> import pathlib, tempfile
    >>> book = pathlib.Path(tempfile.mkdtemp()) / "book.txt"
    >>> _ = book.write_text("The time of the traveller.\\nOf the machine!\\n", encoding="utf-8")
    >>> counts = count_ngrams([book], orders=(1, 2))
    >>> counts.top(2, 1)
    [('of--the', 2)]

Output order (``ranked``) is by count, highest first; equal counts are ordered
by their tokens compared one by one in Unicode code-point order.  That is the
order of the joined strings whenever the separator sorts before every character
of the tokens, as ``--`` does for the default ``letters`` word tokens.
"""

from __future__ import annotations

import codecs
import json
import os
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from seqtool import __version__
from seqtool.errors import InputError, UsageError
from seqtool.io import (
    CHUNK_BYTES,
    atomic_write,
    check_encoding,
    display_name,
    iter_chunks,
    iter_chunks_utf8,
    iter_utf8_bytes,
    load_json,
    read_npz,
    tsv_escape,
    utf8_chars,
)
from seqtool.stats import heap
from seqtool.stats.keys import KeyTable, bits_for, count_unique, pack, packs, unpack
from seqtool.stats.tokens import BOUNDARY, ChunkTokenizer
from seqtool.stats.tsv import TokenBytes, tsv_lines
from seqtool.text.normalize import Normalizer

if TYPE_CHECKING:
    from seqtool.text.vocab import Vocab

FORMAT = "seqtool-ngrams"
FORMAT_VERSION = 1
TOKENIZERS = ("word", "char")
MAX_ORDER = 16
HEAPS_PER_DECADE = 16
SPARE_BITS = 63  # most bits of a count packed above the rank key (tests lower it)


@dataclass(frozen=True)
class Settings:
    """What was counted: the normaliser, the tokenizer and whether lines are separate."""

    normalizer: Normalizer = field(default_factory=Normalizer)
    tokenizer: str = "word"
    per_line: bool = False
    vocab: str | None = None  # fingerprint of the vocabulary the tokens were mapped to

    def to_dict(self) -> dict[str, Any]:
        return {
            "normalizer": self.normalizer.to_dict(),
            "tokenizer": self.tokenizer,
            "per_line": self.per_line,
            "vocab": self.vocab,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        return cls(
            Normalizer.from_dict(d["normalizer"]),
            str(d["tokenizer"]),
            bool(d["per_line"]),
            d.get("vocab"),
        )

    def describe(self) -> str:
        lower = " lowercase" if self.normalizer.lower else ""
        scope = "per line" if self.per_line else "whole text as one sequence"
        vocab = f", vocabulary {self.vocab[:12]}" if self.vocab else ""
        return f"{self.normalizer.name}{lower}, {self.tokenizer} tokens, {scope}{vocab}"


@dataclass
class NgramCounts:
    """Exact counts of n-grams of one or more orders, over a shared token list.

    ``tables[n]`` holds the distinct n-grams as packed keys in sorted order with
    their counts; ``tokens[i]`` is the token with id ``i`` (id 0 is reserved
    and no n-gram uses it).  ``heaps`` is ``(k, 2)`` int64: tokens read, distinct
    tokens seen, sampled on a log scale (None when unknown, e.g. after a merge).
    """

    settings: Settings
    tokens: list[str]
    tables: dict[int, KeyTable]
    n_tokens: int
    heaps: np.ndarray | None = None

    @property
    def orders(self) -> list[int]:
        return sorted(self.tables)

    def distinct(self, n: int) -> int:
        return len(self.tables[n].counts)

    def total(self, n: int) -> int:
        return int(self.tables[n].counts.sum())

    def counts_of(self, n: int) -> np.ndarray:
        """The count of every distinct n-gram, in key order; (m,) int64."""
        return self.tables[n].counts

    def ranked(self, n: int, top: int = 0, min_count: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The ``top`` (0: all) n-grams with count >= min_count, in output order.

        Returns (k, n) int64 id rows and their (k,) counts.
        """
        table = self.tables[n]
        sel = self._selected(n, top, min_count)
        order = self._output_order(n, sel)
        if top:
            order = order[:top]
        picked = order if sel is None else sel[order]
        return unpack(table.keys[picked], n, table.bits), table.counts[picked]

    def _selected(self, n: int, top: int, min_count: int) -> np.ndarray | None:
        """Indices of the table rows that can be printed (None: all of them)."""
        counts = self.tables[n].counts
        sel = np.flatnonzero(counts >= min_count) if min_count > 1 else None
        pool = counts if sel is None else counts[sel]
        if top and len(pool) > top:
            threshold = np.partition(pool, len(pool) - top)[len(pool) - top]
            keep = np.flatnonzero(pool >= threshold)
            sel = keep if sel is None else sel[keep]
        return sel

    def _column(self, n: int, j: int, sel: np.ndarray | None) -> np.ndarray:
        """Ids of the j-th token of the (selected) table rows, without unpacking them all."""
        t = self.tables[n]
        keys = t.keys if sel is None else t.keys[sel]
        if keys.ndim == 2:
            return keys[:, j]
        return (keys >> (t.bits * (n - 1 - j))) & ((1 << t.bits) - 1)

    def _ranks(self, n: int, sel: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The token ids used by the (selected) n-grams in code-point order of their
        tokens, and each token id's position in that order (``rank[id]``)."""
        if sel is None and n == 1:
            ids = self.tables[1].rows()[:, 0]  # sorted distinct ids
        elif sel is None and len(self.tokens) * 4 < len(self.tables[n].counts):
            # Many more n-grams than tokens: ranking every token (most are used anyway)
            # is cheaper than finding the used ones; the unused are never printed.
            ids = np.arange(len(self.tokens))
        else:
            used = np.zeros(len(self.tokens), dtype=bool)
            for j in range(n):
                used[self._column(n, j, sel)] = True
            ids = np.flatnonzero(used)
        ids = ids[_string_order(list(map(self.tokens.__getitem__, ids.tolist())))]
        rank = np.zeros(len(self.tokens), dtype=np.int64)
        rank[ids] = np.arange(len(ids))
        return ids, rank

    def _rank_keys(self, n: int, sel: np.ndarray | None, rank: np.ndarray, bits: int) -> np.ndarray:
        """The (selected) n-grams with every id replaced by its rank, packed with ``bits``."""
        t = self.tables[n]
        src = t.keys if sel is None else t.keys[sel]
        if not packs(n, bits):
            return np.stack([rank[self._column(n, j, sel)] for j in range(n)], axis=1)
        key = np.zeros(len(src), dtype=np.int64)
        tmp = np.empty(len(src), dtype=np.int64) if src.ndim == 1 else src
        small_rank = rank.astype(np.int32) if len(rank) < 2**31 else rank  # half the cache
        for j in range(n):
            if src.ndim == 2:
                idx = src[:, j]
            else:
                np.right_shift(src, t.bits * (n - 1 - j), out=tmp)
                np.bitwise_and(tmp, (1 << t.bits) - 1, out=tmp)
                idx = tmp
            key <<= bits
            key |= small_rank.take(idx)
        return key

    def _output_order(
        self, n: int, sel: np.ndarray | None, ranks: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Positions (in ``sel``, or the table) in output order: count descending, then
        tokens in code-point order.  Works column by column, so the peak memory is a
        few arrays of one int64 per n-gram (see the module docstring)."""
        ids, rank = ranks or self._ranks(n, sel)
        keys = self._rank_keys(n, sel, rank, bits_for(len(ids) + 1, n))
        first = np.argsort(keys) if keys.ndim == 1 else np.lexsort(keys.T[::-1])  # distinct
        del keys
        counts = self.tables[n].counts
        return first[_stable_descending(counts[first] if sel is None else counts[sel][first])]

    def _ranked_blocks(
        self, n: int, sel: np.ndarray | None, ranks: tuple[np.ndarray, np.ndarray], block: int
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(k, n) rank rows and their counts, in output order, ``block`` rows at a time.

        Counts and rank keys are packed into one int64 -- ``(limit - count)`` above
        the ranks, ``limit`` the largest count that fits the spare bits -- and sorted
        with one in-place ``sort``, several times faster than an ``argsort`` and a
        stable re-sort by count.  Counts of ``limit`` or more (few: most n-grams are
        rare) all get the prefix 0 and are ordered apart with ``lexsort``.  Without
        a spare bit (or with id-row keys) this falls back to :meth:`_output_order`.
        """
        table = self.tables[n]
        ids, rank = ranks
        bits = max(1, (len(ids) - 1).bit_length())
        free = min(63 - n * bits, SPARE_BITS)
        counts = table.counts if sel is None else table.counts[sel]
        if free < 1 or not len(counts):
            order = self._output_order(n, sel, ranks)
            for i in range(0, len(order), block):
                picked = order[i : i + block] if sel is None else sel[order[i : i + block]]
                yield rank[unpack(table.keys[picked], n, table.bits)], table.counts[picked]
            return
        # Packed: (limit - count) << shift | rank key; counts above limit get prefix 0
        # too, so the rows with prefix 0 (count >= limit: few) are ordered apart.
        limit = min(int(counts.max()), 1 << free)
        shift = n * bits
        keys = self._rank_keys(n, sel, rank, bits)
        prefix = np.subtract(limit, counts)
        np.maximum(prefix, 0, out=prefix)
        prefix <<= shift
        keys |= prefix
        del prefix
        keys.sort()
        low = (1 << shift) - 1
        top = int(np.searchsorted(keys, 1 << shift))
        if top:
            big = np.flatnonzero(counts > limit)
            big_keys = self._rank_keys(n, big if sel is None else sel[big], rank, bits)
            big_counts = counts[big]
            by_key = np.argsort(big_keys)
            big_keys, big_counts = big_keys[by_key], big_counts[by_key]
            head = keys[:top] & low
            at = np.minimum(np.searchsorted(big_keys, head), max(len(big_keys) - 1, 0))
            head_counts = np.full(top, limit, dtype=np.int64)
            if len(big_keys):
                hit = big_keys[at] == head
                head_counts[hit] = big_counts[at[hit]]
            order = np.lexsort((head, -head_counts))
            head, head_counts = head[order], head_counts[order]
            for i in range(0, top, block):
                yield unpack(head[i : i + block], n, bits), head_counts[i : i + block]
            del big, big_keys, big_counts, by_key, head, head_counts, order, at
        for i in range(top, len(keys), block):
            part = keys[i : i + block]
            yield unpack(part & low, n, bits), limit - (part >> shift)

    def strings(self, rows: np.ndarray, sep: str = "--") -> list[str]:
        """The n-grams of (k, n) id rows as strings, tokens joined by ``sep``."""
        cols = _columns(np.array(self.tokens, dtype=object), rows)
        if len(cols) == 1:
            return cols[0]
        return list(map(_pattern(len(cols), sep).__mod__, zip(*cols)))

    def token_lists(self, rows: np.ndarray) -> list[list[str]]:
        """The n-grams of (k, n) id rows as lists of tokens (unambiguous, whatever ``sep``)."""
        return [list(t) for t in zip(*_columns(np.array(self.tokens, dtype=object), rows))]

    def top(self, n: int, k: int = 10, sep: str = "--") -> list[tuple[str, int]]:
        rows, counts = self.ranked(n, k)
        return list(zip(self.strings(rows, sep), counts.tolist()))

    def tsv_blocks(
        self, n: int, sep: str = "--", min_count: int = 1, block: int = 1 << 16
    ) -> Iterator[bytes]:
        """Every n-gram as UTF-8 ``ngram<TAB>count`` lines, in output order, in blocks.

        Tokens and ``sep`` are escaped as TSV fields (:func:`seqtool.io.tsv_escape`).
        """
        sel = self._selected(n, 0, min_count)
        ranks = self._ranks(n, sel)
        toks = TokenBytes(list(map(self.tokens.__getitem__, ranks[0].tolist())))  # rank order
        glue = tsv_escape(sep).encode("utf-8")
        for rows, counts in self._ranked_blocks(n, sel, ranks, block):
            yield tsv_lines(toks, rows, counts, glue)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one .npz file (no pickles): tokens, and per order id rows and counts."""
        blob = "".join(self.tokens).encode("utf-8", "surrogatepass")
        ends = np.cumsum([len(t.encode("utf-8", "surrogatepass")) for t in self.tokens])
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "seqtool_version": __version__,
            "settings": self.settings.to_dict(),
            "n_tokens": self.n_tokens,
            "orders": self.orders,
        }
        id_type = np.int32 if len(self.tokens) < 2**31 else np.int64
        arrays: dict[str, np.ndarray] = {
            "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            "tokens": np.frombuffer(blob, dtype=np.uint8),
            "token_ends": np.asarray(ends, dtype=np.int64),
        }
        for n in self.orders:
            arrays[f"rows_{n}"] = self.tables[n].rows().astype(id_type)
            arrays[f"counts_{n}"] = self.tables[n].counts
        if self.heaps is not None:
            arrays["heaps"] = self.heaps
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NgramCounts:
        name = display_name(path)
        not_counts = f"{name}: not a seqtool counts file (.npz, as `seqtool ngrams --save` writes)"
        try:
            with open(path, "rb") as f:
                if f.read(4) != b"PK\x03\x04":  # an .npz is a zip archive
                    raise InputError(not_counts)
            # declared sizes checked before anything is inflated (no decompression bombs)
            try:
                data = read_npz(path, name, dtypes="iu")
            except InputError as e:
                raise InputError(f"{not_counts}; {e.message.removeprefix(name + ': ')}") from None
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            # numpy's own text would advise loading pickles: never say that here.
            raise InputError(f"{not_counts}; it is damaged ({type(e).__name__})") from None
        return cls._from_arrays(data, name)

    @classmethod
    def _from_arrays(cls, data: dict[str, np.ndarray], name: str) -> NgramCounts:
        try:
            meta = load_json(data["meta"].tobytes(), name, "a seqtool counts file")
            if not isinstance(meta, dict):
                raise ValueError("its metadata is not a JSON object")
            if meta.get("format") != FORMAT:
                raise InputError(f"{name}: not a seqtool n-gram counts file")
            if meta.get("format_version") != FORMAT_VERSION:
                raise InputError(
                    f"{name}: counts format version {meta.get('format_version')}, "
                    f"this seqtool reads version {FORMAT_VERSION}"
                )
            blob = data["tokens"].tobytes()
            ends = data["token_ends"].tolist()
            starts = [0, *ends[:-1]]
            tokens = [blob[a:b].decode("utf-8", "surrogatepass") for a, b in zip(starts, ends)]
            tables = {}
            for n in meta["orders"]:
                rows = data[f"rows_{n}"].astype(np.int64)
                counts = data[f"counts_{n}"].astype(np.int64)
                if rows.ndim != 2 or rows.shape != (len(counts), n):
                    raise ValueError(f"bad shape of rows_{n}")
                if len(rows) and (rows.min() < 0 or rows.max() >= len(tokens)):
                    raise ValueError(f"ids of rows_{n} out of range")
                if len(counts) and counts.min() < 1:
                    raise ValueError(f"counts_{n} holds {counts.min()}; counts are 1 or more")
                tables[int(n)] = _table_from_rows(rows, counts, len(tokens))
            heaps = data.get("heaps")
            return cls(
                Settings.from_dict(meta["settings"]),
                tokens,
                tables,
                int(meta["n_tokens"]),
                heaps,
            )
        except InputError:
            raise
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as e:
            raise InputError(f"{name}: damaged seqtool counts file: {e}") from None


def _stable_descending(c: np.ndarray) -> np.ndarray:
    """argsort of counts, highest first, equal counts in their given order.

    Most counts are small: those sort as int16 with numpy's radix sort (linear
    time); the few large ones with a merge sort.
    """
    small = c < 1 << 15
    order_small = np.argsort((-c[small]).astype(np.int16), kind="stable")
    if small.all():
        return order_small
    big = np.flatnonzero(~small)
    return np.concatenate(
        (big[np.argsort(-c[big], kind="stable")], np.flatnonzero(small)[order_small])
    )


def _columns(tok: np.ndarray, rows: np.ndarray) -> list[list[str]]:
    """The tokens of each column of (k, n) id rows, as plain lists."""
    return [tok[rows[:, j]].tolist() for j in range(rows.shape[1])]


def _pattern(n: int, sep: str) -> str:
    """A %-format joining n strings with ``sep``."""
    return sep.replace("%", "%%").join(["%s"] * n)


def _string_order(strings: list[str]) -> np.ndarray:
    """argsort of strings in code-point order; UTF-8 bytes sort the same way, in C."""
    encoded = [t.encode("utf-8", "surrogatepass") for t in strings]
    width = max(map(len, encoded), default=1)
    if width * len(encoded) <= 1 << 28:
        # NUL padding ties "a" with "a\0"; a NUL never occurs in a token read from text.
        return np.argsort(np.array(encoded, dtype=f"S{max(width, 1)}"), kind="stable")
    return np.asarray(sorted(range(len(strings)), key=strings.__getitem__), dtype=np.int64)


def _table_from_rows(rows: np.ndarray, counts: np.ndarray, vocab_size: int) -> KeyTable:
    n = rows.shape[1]
    table = KeyTable(n, bits_for(vocab_size, n))
    keys, summed = count_unique(pack([rows[:, j] for j in range(n)], table.bits), counts)
    table.add_counts(keys, summed)
    table.flush()
    return table


def merge_counts(parts: Sequence[NgramCounts], names: Sequence[str] | None = None) -> NgramCounts:
    """Add up counts of several shards counted with the same settings."""
    names = list(names or [f"part {i + 1}" for i in range(len(parts))])
    first = parts[0]
    for p, nm in zip(parts[1:], names[1:]):
        if p.settings != first.settings:
            raise InputError(
                f"{nm} was counted with different settings ({p.settings.describe()}) "
                f"than {names[0]} ({first.settings.describe()})"
            )
    orders = sorted(set.intersection(*(set(p.orders) for p in parts)))
    if not orders:
        raise InputError(f"{', '.join(names)}: no n-gram order is present in every file")
    index: dict[str, int] = {}
    tokens: list[str] = []
    maps = []
    for p in parts:
        ids = []
        for t in p.tokens:
            if t not in index:
                index[t] = len(tokens)
                tokens.append(t)
            ids.append(index[t])
        maps.append(np.asarray(ids, dtype=np.int64))
    tables = {}
    for n in orders:
        table = KeyTable(n, bits_for(len(tokens), n))
        for p, m in zip(parts, maps):
            rows = m[p.tables[n].rows()]
            table.add_counts(
                *count_unique(pack([rows[:, j] for j in range(n)], table.bits), p.counts_of(n))
            )
        table.flush()
        tables[n] = table
    return NgramCounts(first.settings, tokens, tables, sum(p.n_tokens for p in parts))


# ---------------------------------------------------------------------- counting
def check_orders(orders: Iterable[int]) -> tuple[int, ...]:
    out = tuple(sorted(set(orders)))
    if not out:
        raise UsageError("give at least one n-gram order (-n)")
    for n in out:
        if n < 1:
            raise UsageError(f"-n must be 1 or more, not {n}")
        if n > MAX_ORDER:
            raise UsageError(f"-n must be at most {MAX_ORDER}, not {n}")
    return out


def parse_order_range(text: str) -> list[int]:
    """``"1-3"`` or ``"1,2,4"`` -> [1, 2, 3] / [1, 2, 4]."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            a = int(lo)
            out.extend(range(a, int(hi) + 1) if hi else [a])
    except ValueError:
        raise UsageError(f"--order must look like 1-3 or 1,2,4, not {text!r}") from None
    if not out:
        raise UsageError(f"--order {text!r} names no order")
    return out


@dataclass
class _ChunkResult:
    worker: int
    new_tokens: list[str]
    n_tokens: int
    head: np.ndarray  # first (max order - 1) ids of the chunk
    tail: np.ndarray  # last (max order - 1) ids
    length: int
    tables: dict[int, tuple[int, np.ndarray, np.ndarray]]  # n -> (bits, keys, counts)


def _windows(ids: np.ndarray, n: int, per_line: bool) -> list[np.ndarray]:
    """The n-grams of an id sequence as n columns, dropping any that holds a boundary."""
    m = len(ids) - n + 1
    if m <= 0:
        return [ids[:0]] * n
    cols = [ids[k : k + m] for k in range(n)]
    if per_line:
        marks = np.concatenate(([0], np.cumsum(ids == BOUNDARY)))
        ok = marks[n : n + m] == marks[:m]
        cols = [c[ok] for c in cols]
    return cols


class _ChunkCounter:
    """Tokenises and counts one chunk at a time: the work a worker process does."""

    def __init__(
        self,
        settings: Settings,
        orders: tuple[int, ...],
        vocab: Vocab | None = None,
        ordered_ids: bool = False,
    ) -> None:
        subword = vocab if vocab is not None and vocab.is_subword else None
        self.tokenize = ChunkTokenizer(
            settings.normalizer, settings.tokenizer, settings.per_line, subword, ordered_ids
        )
        self.settings = settings
        self.orders = orders
        self.reported = 1  # lexicon entries already sent to the merging process

    def ids(
        self,
        index: int,
        chunk: str | None,
        utf8: bytes | None = None,
        leads: np.ndarray | None = None,
    ) -> np.ndarray:
        return self.tokenize(chunk, first=index == 0, utf8=utf8, leads=leads)

    def count(self, index: int, chunk: str) -> _ChunkResult:
        ids = self.ids(index, chunk)
        lex = self.tokenize.lexicon
        tables = {}
        for n in self.orders:
            bits = bits_for(len(lex), n)
            cols = _windows(ids, n, self.settings.per_line)
            tables[n] = (bits, *count_unique(pack(cols, bits)))
        new = lex.entries(self.reported)
        self.reported = len(lex)
        k = max(self.orders) - 1
        return _ChunkResult(
            os.getpid(),
            new,
            _real_tokens(ids, self.settings.per_line),
            ids[:k],
            ids[len(ids) - k :] if k else ids[:0],
            len(ids),
            tables,
        )


def _real_tokens(ids: np.ndarray, per_line: bool) -> int:
    return int(len(ids) - np.count_nonzero(ids == BOUNDARY)) if per_line else len(ids)


_WORKER: dict[str, _ChunkCounter] = {}


def _init_worker(settings: Settings, orders: tuple[int, ...], vocab: Vocab | None) -> None:
    _WORKER["counter"] = _ChunkCounter(settings, orders, vocab)


def _work(index: int, chunk: str) -> _ChunkResult:
    return _WORKER["counter"].count(index, chunk)


class _Merger:
    """Adds chunk results (in input order) into the per-order tables."""

    def __init__(self, settings: Settings, orders: tuple[int, ...], heaps: bool) -> None:
        self.settings = settings
        self.orders = orders
        self.tables = {n: KeyTable(n) for n in orders}
        self.tokens: list[str] = [""]
        self.index: dict[str, int] = {}
        self.maps: dict[int, np.ndarray] = {}
        self.n_tokens = 0
        self.prev = np.zeros(0, dtype=np.int64)  # last (max order - 1) ids of the stream
        self.heaps: list[tuple[int, int]] | None = [] if heaps else None
        self._next_heaps = 1
        self._heaps_max = 0

    def widen(self, vocab_size: int) -> None:
        for t in self.tables.values():
            t.widen(bits_for(vocab_size, t.n))

    def stitch(self, head: np.ndarray, length: int, tail: np.ndarray) -> None:
        """Count the n-grams that run from earlier chunks into this one."""
        if self.settings.per_line:
            return
        for n in self.orders:
            if n == 1:
                continue
            prev = self.prev[len(self.prev) - (n - 1) :]
            seq = np.concatenate((prev, head))
            m = min(len(prev), len(seq) - n + 1)
            if m > 0:
                self.tables[n].add_ids([seq[k : k + m] for k in range(n)])
        k = max(self.orders) - 1
        joined = tail if length >= k else np.concatenate((self.prev, head))
        self.prev = joined[len(joined) - k :] if k else joined[:0]

    def add_inline(self, ids: np.ndarray, lexicon_size: int) -> None:
        """Single-process path: the chunk's ids are already global."""
        self.widen(lexicon_size)
        for n in self.orders:
            self.tables[n].add_ids(_windows(ids, n, self.settings.per_line))
        k = max(self.orders) - 1
        self.stitch(ids[:k], len(ids), ids[len(ids) - k :] if k else ids[:0])
        if self.heaps is not None:
            self._record_heaps(ids)
        self.n_tokens += _real_tokens(ids, self.settings.per_line)

    def add_unigrams(self, ids: np.ndarray, counts: np.ndarray, lexicon_size: int) -> None:
        """Single-process path for order 1 alone: a chunk's distinct ids and counts."""
        self.widen(lexicon_size)
        self.tables[1].add_counts(ids, counts)
        self.n_tokens += int(counts.sum())

    def add_result(self, r: _ChunkResult) -> None:
        """Multi-process path: map the worker's ids to global ids, then merge."""
        gmap = self.maps.get(r.worker, np.zeros(1, dtype=np.int64))
        if r.new_tokens:
            new_ids = [self._global_id(t) for t in r.new_tokens]
            gmap = np.concatenate((gmap, np.asarray(new_ids, dtype=np.int64)))
        self.maps[r.worker] = gmap
        self.widen(len(self.tokens))
        for n, (bits, keys, counts) in r.tables.items():
            rows = gmap[unpack(keys, n, bits)]
            table = self.tables[n]
            table.add_counts(
                *count_unique(pack([rows[:, j] for j in range(n)], table.bits), counts)
            )
        self.stitch(gmap[r.head], r.length, gmap[r.tail])
        self.n_tokens += r.n_tokens

    def _global_id(self, token: str) -> int:
        i = self.index.get(token)
        if i is None:
            i = self.index[token] = len(self.tokens)
            self.tokens.append(token)
        return i

    def _record_heaps(self, ids: np.ndarray) -> None:
        """Sample (tokens read, distinct tokens) on a log grid: ids are first-appearance ranks."""
        assert self.heaps is not None
        real = ids[ids != BOUNDARY] if self.settings.per_line else ids
        start, end = self.n_tokens, self.n_tokens + len(real)
        if self._next_heaps <= end:
            seen = np.maximum.accumulate(real)
            np.maximum(seen, self._heaps_max, out=seen)
            step = 10 ** (1 / HEAPS_PER_DECADE)
            while self._next_heaps <= end:
                self.heaps.append((self._next_heaps, int(seen[self._next_heaps - start - 1])))
                self._next_heaps = max(self._next_heaps + 1, int(round(self._next_heaps * step)))
        if len(real):
            self._heaps_max = max(self._heaps_max, int(real.max()))


def count_ngrams(
    paths: Sequence[str | os.PathLike[str]],
    orders: Iterable[int] = (1,),
    settings: Settings | None = None,
    vocab: Vocab | None = None,
    workers: int = 1,
    heaps: bool = False,
    encoding: str = "utf-8",
    errors: str = "strict",
    on_chunk: Callable[[int], None] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> NgramCounts:
    """Count the n-grams of every order in ``orders`` over the inputs.

    ``vocab`` maps tokens to a fixed vocabulary (unknown ones to ``<unk>``) and
    fixes the normaliser and tokenizer; ``workers > 1`` counts in that many
    processes (``heaps`` is then not recorded); ``on_chunk(chars)`` reports progress.
    """
    orders = check_orders(orders)
    settings = settings or Settings()
    heap.keep_freed_blocks()
    if vocab is not None:
        settings = Settings(vocab.normalizer, vocab.kind, settings.per_line, vocab.fingerprint)
    elif settings.tokenizer not in TOKENIZERS:
        raise UsageError(f"--tokenizer must be word or char, not {settings.tokenizer!r}")
    if workers > 1:
        chunks = iter_chunks(paths, encoding, errors, chunk_bytes)
        merger = _count_parallel(chunks, settings, orders, vocab, workers, on_chunk)
    else:
        pieces: Iterable[tuple[str | None, bytes | None, np.ndarray | None]]
        subword = vocab if vocab is not None and vocab.is_subword else None
        check_encoding(encoding, errors)
        if (
            ChunkTokenizer.reads_bytes(
                settings.normalizer, settings.tokenizer, settings.per_line, subword, heaps
            )
            and errors == "strict"
            and codecs.lookup(encoding).name == "utf-8"
        ):  # tokenised from the bytes: checked, never decoded
            pieces = ((None, b, leads) for b, leads in iter_utf8_bytes(paths, chunk_bytes))
        else:
            pieces = (
                (t, b, None) for t, b in iter_chunks_utf8(paths, encoding, errors, chunk_bytes)
            )
        merger = _count_serial(pieces, settings, orders, vocab, heaps, on_chunk)
    for t in merger.tables.values():
        t.flush()
    counts = NgramCounts(settings, merger.tokens, merger.tables, merger.n_tokens)
    if merger.heaps is not None and merger.n_tokens:
        points = merger.heaps
        last = (merger.n_tokens, len(merger.tokens) - 1)
        if not points or points[-1][0] != last[0]:
            points.append(last)
        counts.heaps = np.asarray(points, dtype=np.int64)
    if vocab is not None and not vocab.is_subword:
        counts = restrict_to_vocab(counts, vocab)
    return counts


def _count_serial(
    chunks: Iterable[tuple[str | None, bytes | None, np.ndarray | None]],
    settings: Settings,
    orders: tuple[int, ...],
    vocab: Vocab | None,
    heaps: bool,
    on_chunk: Callable[[int], None] | None,
) -> _Merger:
    counter = _ChunkCounter(settings, orders, vocab, ordered_ids=heaps)
    merger = _Merger(settings, orders, heaps)
    lex = counter.tokenize.lexicon
    unigrams = orders == (1,) and not heaps
    # utf8: the chunk's bytes as read, or None; chunk: its text, or None (bytes only,
    # checked: leads says where its non-ASCII characters start)
    for i, (chunk, utf8, leads) in enumerate(chunks):
        counted = counter.tokenize.unigram_counts(chunk, utf8, leads) if unigrams else None
        if counted is not None:
            merger.add_unigrams(*counted, len(lex))
        else:
            merger.add_inline(counter.ids(i, chunk, utf8, leads), len(lex))
        if on_chunk:
            on_chunk(len(chunk) if chunk is not None else utf8_chars(utf8 or b""))
    merger.tokens = lex.entries()
    merger.tokens[0] = ""
    return merger


def _count_parallel(
    chunks: Iterable[str],
    settings: Settings,
    orders: tuple[int, ...],
    vocab: Vocab | None,
    workers: int,
    on_chunk: Callable[[int], None] | None,
) -> _Merger:
    import multiprocessing  # only here: its import costs a small run's time

    merger = _Merger(settings, orders, heaps=False)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(settings, orders, vocab)) as pool:
        # A bounded window of chunks in flight: Pool.imap would read the whole input ahead.
        window: deque[Any] = deque()
        for i, chunk in enumerate(chunks):
            window.append((pool.apply_async(_work, (i, chunk)), len(chunk)))
            if len(window) >= 2 * workers:
                _absorb(merger, window.popleft(), on_chunk)
        while window:
            _absorb(merger, window.popleft(), on_chunk)
    return merger


def _absorb(merger: _Merger, item: tuple[Any, int], on_chunk: Callable[[int], None] | None) -> None:
    result, size = item
    merger.add_result(result.get())
    if on_chunk:
        on_chunk(size)


def restrict_to_vocab(counts: NgramCounts, vocab: Vocab) -> NgramCounts:
    """Map every token to its id in ``vocab`` (``<unk>`` when absent) and re-add the counts."""
    index = vocab.index
    unk = index.get("<unk>", 1)
    mapping = np.asarray([index.get(t, unk) for t in counts.tokens], dtype=np.int64)
    tables = {}
    for n, t in counts.tables.items():
        rows = mapping[t.rows()]
        table = KeyTable(n, bits_for(len(vocab), n))
        table.add_counts(*count_unique(pack([rows[:, j] for j in range(n)], table.bits), t.counts))
        table.flush()
        tables[n] = table
    return NgramCounts(counts.settings, list(vocab.tokens), tables, counts.n_tokens, counts.heaps)
