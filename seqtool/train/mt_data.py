"""Parallel text for translation: reading, cleaning, encoding and token-budget batches.

Two input layouts are accepted:

* two line-aligned files (``--src F --tgt F``), plain or compressed; a different
  number of lines is an error that names both counts;
* one tab-separated file of pairs (``--pairs F.tsv``, the fra-eng layout
  ``source<TAB>target[<TAB>more...]``).  Columns are picked by language code
  when the file name tells the languages (``en-fr.tsv``; a Tatoeba/manythings
  file such as ``fra.txt`` is English then French) or by 1-based column number.

Empty lines: a pair with an empty side teaches nothing and would make an empty
source, so by default (``empty="skip"``) such pairs are dropped and counted;
``empty="error"`` refuses the input at the first one instead.

Batches hold about ``max_tokens`` tokens *including padding* (batch size times
the longest side), which keeps memory flat however sentence lengths vary;
sentences of similar length are bucketed together so little compute is spent
on padding, and the order of batches is shuffled every epoch.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from seqtool.errors import InputError, UsageError
from seqtool.io import display_name, read_lines
from seqtool.text.vocab import BOS, EOS, Vocab

EMPTY_POLICIES = ("skip", "error")
# manythings.org / Tatoeba files are named by the ISO 639-3 code of the non-English side.
_ISO3 = {
    "eng": "en",
    "fra": "fr",
    "deu": "de",
    "spa": "es",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "rus": "ru",
    "tur": "tr",
    "jpn": "ja",
    "cmn": "zh",
    "zho": "zh",
}
_PAIR_NAME = re.compile(r"(?:^|[^a-z])([a-z]{2,3})[-_]([a-z]{2,3})(?:$|[^a-z])")


def _code(lang: str) -> str:
    lang = lang.lower()
    return _ISO3.get(lang, lang)


@dataclass
class ParallelText:
    """Aligned source and target sentences as raw text."""

    src: list[str]
    tgt: list[str]
    name: str
    src_lang: str | None = None
    tgt_lang: str | None = None
    dropped_empty: int = 0

    def __len__(self) -> int:
        return len(self.src)


def lang_from_name(path: str | os.PathLike[str]) -> str | None:
    """The language suffix of a file such as ``train.de`` or ``train.de.gz``."""
    parts = Path(str(path)).name.split(".")
    if parts and parts[-1] in ("gz", "bz2", "xz"):
        parts = parts[:-1]
    if len(parts) >= 2 and re.fullmatch(r"[a-z]{2,3}", parts[-1]) and parts[-1] != "txt":
        return parts[-1]
    return None


def column_languages(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """The languages of the first two columns of a pairs file, read from its name."""
    p = Path(str(path))
    m = _PAIR_NAME.search(p.name.lower())
    if m:
        return _code(m.group(1)), _code(m.group(2))
    stem = p.name.lower().split(".")[0]
    if stem in _ISO3 and stem != "eng":  # manythings.org: English<TAB>other<TAB>attribution
        return "en", _ISO3[stem]
    return None


def pair_columns(
    path: str | os.PathLike[str], src_lang: str | None, tgt_lang: str | None
) -> tuple[int, int]:
    """0-based (source, target) columns of a pairs file for the languages asked for."""
    if src_lang is None and tgt_lang is None:
        return 0, 1
    langs = column_languages(path)

    def col(lang: str | None, default: int) -> int:
        if lang is None:
            return default
        if lang.isdigit():
            if int(lang) < 1:
                raise UsageError(f"column numbers start at 1, not {lang}")
            return int(lang) - 1
        if langs is None:
            raise UsageError(
                f"cannot tell which column of {display_name(path)} holds {lang!r} from its name",
                hint="name the file like en-fr.tsv, or give --src-lang/--tgt-lang as column numbers (1, 2)",
            )
        if _code(lang) not in langs:
            raise UsageError(
                f"{display_name(path)} holds {langs[0]} and {langs[1]} (from its name), not {lang!r}"
            )
        return langs.index(_code(lang))

    s = col(src_lang, 0)
    t = col(tgt_lang, 1 - s if s < 2 else 1)
    if s == t:
        raise UsageError("the source and target columns must differ")
    return s, t


def _empty(name: str, line: int, side: str, policy: str) -> None:
    if policy == "error":
        raise InputError(
            f"{name}:{line}: empty {side} sentence",
            hint="remove empty lines, or pass --empty-lines skip to drop such pairs",
        )


def read_parallel(
    src: str | os.PathLike[str] | None = None,
    tgt: str | os.PathLike[str] | None = None,
    pairs: str | os.PathLike[str] | None = None,
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    empty: str = "skip",
    encoding: str = "utf-8",
    errors: str = "strict",
) -> ParallelText:
    """Read aligned sentences from two files or one pairs file (see the module doc)."""
    if empty not in EMPTY_POLICIES:
        raise UsageError(f"--empty-lines must be skip or error, not {empty!r}")
    if pairs is not None:
        if src is not None or tgt is not None:
            raise UsageError("give either --pairs or --src and --tgt, not both")
        return _read_pairs(pairs, src_lang, tgt_lang, empty, encoding, errors)
    if src is None or tgt is None:
        raise UsageError("give parallel data as --src F --tgt F, or --pairs F.tsv")
    s_lines = list(read_lines(src, encoding, errors))
    t_lines = list(read_lines(tgt, encoding, errors))
    sn, tn = display_name(src), display_name(tgt)
    if len(s_lines) != len(t_lines):
        raise InputError(
            f"{sn} has {len(s_lines)} lines but {tn} has {len(t_lines)}; "
            "parallel files must be line-aligned"
        )
    out = ParallelText(
        [], [], f"{sn} + {tn}", src_lang or lang_from_name(src), tgt_lang or lang_from_name(tgt)
    )
    for n, (s, t) in enumerate(zip(s_lines, t_lines), 1):
        s, t = s.strip(), t.strip()
        if not s or not t:
            _empty(sn if not s else tn, n, "source" if not s else "target", empty)
            out.dropped_empty += 1
            continue
        out.src.append(s)
        out.tgt.append(t)
    if not out.src:
        raise InputError(f"{out.name}: no sentence pairs found (empty input)")
    return out


def _read_pairs(
    path: str | os.PathLike[str],
    src_lang: str | None,
    tgt_lang: str | None,
    empty: str,
    encoding: str,
    errors: str,
) -> ParallelText:
    name = display_name(path)
    si, ti = pair_columns(path, src_lang, tgt_lang)
    need = max(si, ti) + 1
    langs = column_languages(path)
    out = ParallelText(
        [],
        [],
        name,
        src_lang
        if src_lang and not src_lang.isdigit()
        else (langs[si] if langs and si < 2 else None),
        tgt_lang
        if tgt_lang and not tgt_lang.isdigit()
        else (langs[ti] if langs and ti < 2 else None),
    )
    for n, line in enumerate(read_lines(path, encoding, errors), 1):
        if not line.strip():
            _empty(name, n, "pair (blank line)", empty)
            out.dropped_empty += 1
            continue
        cols = line.split("\t")
        if len(cols) < need:
            raise InputError(
                f"{name}:{n}: expected at least {need} tab-separated columns, found {len(cols)}",
                hint="a pairs file holds source<TAB>target on every line",
            )
        s, t = cols[si].strip(), cols[ti].strip()
        if not s or not t:
            _empty(name, n, "source" if not s else "target", empty)
            out.dropped_empty += 1
            continue
        out.src.append(s)
        out.tgt.append(t)
    if not out.src:
        raise InputError(f"{name}: no sentence pairs found (empty input)")
    return out


def split_valid(data: ParallelText, size: int, seed: int) -> tuple[ParallelText, ParallelText]:
    """Hold out ``size`` random pairs for validation (when no validation files are given)."""
    if size <= 0 or size >= len(data):
        raise UsageError(
            f"cannot hold out {size} of {len(data)} pairs for validation; "
            "give --valid-src/--valid-tgt or --valid-pairs"
        )
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    held = set(order[:size])

    def part(keep: bool, name: str) -> ParallelText:
        idx = [i for i in range(len(data)) if (i in held) != keep]
        return ParallelText(
            [data.src[i] for i in idx],
            [data.tgt[i] for i in idx],
            name,
            data.src_lang,
            data.tgt_lang,
        )

    return part(True, data.name), part(False, f"{data.name} (held out)")


@dataclass
class EncodedPairs:
    """Token ids of aligned pairs: sources end with ``<eos>``, targets are bare.

    The decoder reads ``<bos> + target`` and predicts ``target + <eos>``.
    """

    src: list[list[int]]
    tgt: list[list[int]]
    dropped_long: int = 0
    index: list[int] = field(default_factory=list)  # position of each kept pair in the input

    def __len__(self) -> int:
        return len(self.src)

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.src) + sum(len(t) + 1 for t in self.tgt)


def encode_pairs(
    src_vocab: Vocab, tgt_vocab: Vocab, data: ParallelText, max_len: int | None = None
) -> EncodedPairs:
    """Encode both sides; drop pairs longer than ``max_len`` tokens (counting ``<eos>``)."""
    if max_len is not None and max_len < 2:
        raise UsageError(f"--max-len must be at least 2, not {max_len}")
    src_ids = src_vocab.encode_batch(data.src)
    tgt_ids = tgt_vocab.encode_batch(data.tgt)
    out = EncodedPairs([], [])
    for i, (s, t) in enumerate(zip(src_ids, tgt_ids)):
        if max_len is not None and (len(s) + 1 > max_len or len(t) + 1 > max_len):
            out.dropped_long += 1
            continue
        out.src.append(list(s) + [EOS])
        out.tgt.append(list(t))
        out.index.append(i)
    return out


def token_batches(
    src_lens: Sequence[int],
    tgt_lens: Sequence[int],
    max_tokens: int,
    seed: int | None = None,
    max_sentences: int | None = None,
) -> list[list[int]]:
    """Group pair indices into batches of at most ``max_tokens`` padded tokens.

    A batch's cost is its size times its longest side (target length + 1 for the
    ``<eos>``/``<bos>`` shift).  Pairs are sorted by length, with ties in random
    order when ``seed`` is given, packed greedily, and the batch order is then
    shuffled; with ``seed=None`` the order is by length (for evaluation).  A pair
    longer than ``max_tokens`` on its own gets a batch of its own.
    """
    if max_tokens < 1:
        raise UsageError(f"--max-tokens must be at least 1, not {max_tokens}")
    n = len(src_lens)
    order = list(range(n))
    rng = random.Random(seed)
    if seed is not None:
        rng.shuffle(order)
    cost = [max(src_lens[i], tgt_lens[i] + 1) for i in range(n)]
    order.sort(key=lambda i: (cost[i], src_lens[i]))  # stable: ties keep the shuffled order
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        new_longest = max(longest, cost[i])
        too_many = max_sentences is not None and len(cur) >= max_sentences
        if cur and (new_longest * (len(cur) + 1) > max_tokens or too_many):
            batches.append(cur)
            cur, new_longest = [], cost[i]
        cur.append(i)
        longest = new_longest
    if cur:
        batches.append(cur)
    if seed is not None:
        rng.shuffle(batches)
    return batches


def pad_batch(seqs: Sequence[Sequence[int]], pad: int = 0) -> tuple[Tensor, Tensor]:
    """(B, L) padded long tensor and the (B,) lengths."""
    width = max((len(s) for s in seqs), default=0)
    out = torch.tensor([[*s, *([pad] * (width - len(s)))] for s in seqs], dtype=torch.long)
    return out.view(len(seqs), width), torch.tensor([len(s) for s in seqs], dtype=torch.long)


def collate(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]]) -> dict[str, Tensor]:
    """One padded batch (pad id 0), as the trainer moves it to the device::

    src (B, S): x1 .. xm <eos>        src_lens (B,)
    tgt_in (B, T): <bos> y1 .. yn     tgt_out (B, T): y1 .. yn <eos>
    """
    s, s_lens = pad_batch(src)
    t_in, _ = pad_batch([[BOS, *t] for t in tgt])
    t_out, _ = pad_batch([[*t, EOS] for t in tgt])
    return {"src": s, "src_lens": s_lens, "tgt_in": t_in, "tgt_out": t_out}


class PairBatches:
    """The trainer's batch source over encoded pairs (see :class:`~seqtool.train.trainer.BatchSource`).

    Every epoch re-buckets with the seed ``(seed, epoch)``; the number of batches
    does not change between epochs (it depends only on the sorted lengths), so
    ``(epoch, index)`` is the whole data position.  Rank ``r`` of ``world`` takes
    every ``world``-th batch, and all ranks get the same number of them.
    """

    def __init__(
        self, data: EncodedPairs, max_tokens: int, seed: int = 0, rank: int = 0, world: int = 1
    ) -> None:
        self.data, self.max_tokens, self.seed = data, max_tokens, seed
        self.rank, self.world = rank, world
        self._src_lens = [len(s) for s in data.src]
        self._tgt_lens = [len(t) for t in data.tgt]
        total = len(token_batches(self._src_lens, self._tgt_lens, max_tokens, None))
        self._len = total // world

    def __len__(self) -> int:
        return self._len

    def batches(self, epoch: int, start: int = 0) -> Iterator[dict[str, Tensor]]:
        order = token_batches(
            self._src_lens, self._tgt_lens, self.max_tokens, self.seed * 1_000_003 + epoch
        )
        mine = order[self.rank :: self.world][: self._len]
        for b in mine[start:]:
            yield collate([self.data.src[i] for i in b], [self.data.tgt[i] for i in b])
