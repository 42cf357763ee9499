"""TextRank keywords: words ranked by PageRank over a co-occurrence graph, merged into phrases.

Following Mihalcea & Tarau (2004): the candidate words are the text's words less
stop words, numbers and very short words (there is no part-of-speech filter);
two candidates (as stems, so *machine* and *machines* are one node) are joined
when they occur within ``window`` candidates of each other, the edge weighted by
how often they do.  PageRank scores the nodes; the top third (at least
``top``) are keywords, and runs of keywords that stand next to each other in the
text (no stop word or punctuation between them) are merged into one phrase, kept
if it occurs at least ``min_count`` times.  A phrase scores the sum of its words'
scores; it is shown in its most frequent written form, lower-cased.  With no
part-of-speech filter, frequent verbs (*came*, *looked*) can rank among the nouns.

Example::

    >>> text = ("The time machine stood in the laboratory. The time traveller built the "
    ...         "time machine in the laboratory. The time traveller smiled. The machine "
    ...         "was made of brass.")
    >>> [k.phrase for k in keywords(text, KeywordConfig(top=3))]
    ['time machine', 'time traveller', 'machine']
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from seqtool.errors import InputError, UsageError
from seqtool.rank.pagerank import Graph, pagerank
from seqtool.rank.terms import STOP_WORDS, stem

__all__ = ["Keyword", "KeywordConfig", "keywords"]

# words, or single punctuation marks (which break phrases)
_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+(?:[.,]\d+)*|[^\w\s]")


@dataclass(frozen=True)
class KeywordConfig:
    top: int = 10  # phrases to return
    window: int = 2  # candidates within this distance are joined (2: neighbours)
    min_length: int = 3  # shorter words are not candidates
    phrases: bool = True  # merge adjacent keywords into phrases
    min_count: int = 2  # a phrase of several words must occur this often
    damping: float = 0.85
    tolerance: float = 1e-8

    def validate(self) -> None:
        if self.top < 1:
            raise UsageError(f"top must be at least 1, not {self.top}")
        if self.window < 2:
            raise UsageError(f"window must be at least 2, not {self.window}")
        if self.min_count < 1:
            raise UsageError(f"min_count must be at least 1, not {self.min_count}")
        if self.min_length < 1:
            raise UsageError(f"min_length must be at least 1, not {self.min_length}")


@dataclass
class Keyword:
    phrase: str
    score: float
    count: int  # occurrences of the phrase (as stems) in the text


def keywords(text: str, config: KeywordConfig | None = None, name: str = "text") -> list[Keyword]:
    """The ``config.top`` best keywords or keyphrases of ``text``, best first."""
    config = config or KeywordConfig()
    config.validate()
    tokens = _TOKEN.findall(text.lower().replace("\u2019", "'"))
    ids: dict[str, int] = {}
    cache: dict[str, int] = {}
    seq = np.full(len(tokens), -1, dtype=np.int64)  # node id per token; -1: breaks phrases
    for k, tok in enumerate(tokens):
        t = cache.get(tok)
        if t is None:
            ok = tok.isalpha() or "'" in tok
            if not ok or tok in STOP_WORDS or len(tok) < config.min_length:
                t = -1
            else:
                t = ids.setdefault(stem(tok), len(ids))
            cache[tok] = t
        seq[k] = t
    n = len(ids)
    if n == 0:
        raise InputError(f"{name}: no candidate words (empty text, or only stop words)")
    cand = seq[seq >= 0]
    src_parts, dst_parts = [], []
    for d in range(1, config.window):
        a, b = cand[:-d], cand[d:]
        keep = a != b
        src_parts += [a[keep], b[keep]]
        dst_parts += [b[keep], a[keep]]
    src = np.concatenate(src_parts) if src_parts else np.zeros(0, np.int64)
    dst = np.concatenate(dst_parts) if dst_parts else np.zeros(0, np.int64)
    key, weight = np.unique(src * n + dst, return_counts=True)
    graph = Graph(n, key // n, key % n, weight.astype(np.float64))
    scores = pagerank(graph, config.damping, config.tolerance).scores
    keep = max(config.top, min(n // 3, 2 * config.top))
    top_ids = np.lexsort((np.arange(n), -scores))[:keep]
    is_key = np.zeros(n, dtype=bool)
    is_key[top_ids] = True
    return _phrases(tokens, seq, is_key, scores, config)


def _phrases(
    tokens: list[str],
    seq: np.ndarray,
    is_key: np.ndarray,
    scores: np.ndarray,
    config: KeywordConfig,
) -> list[Keyword]:
    forms: dict[tuple[int, ...], Counter[str]] = defaultdict(Counter)
    run: list[int] = []

    def close(end: int) -> None:
        if run:
            key = tuple(int(seq[k]) for k in run)
            forms[key][" ".join(tokens[k] for k in run)] += 1
            run.clear()

    for k, t in enumerate(seq.tolist()):
        if t >= 0 and is_key[t]:
            if run and not config.phrases:
                close(k)
            run.append(k)
        else:
            close(k)
    close(len(seq))
    found = []
    for key, surface in forms.items():
        if len(set(key)) != len(key):
            continue  # "time after time": a repeat, not a phrase
        if len(key) > 1 and sum(surface.values()) < config.min_count:
            continue  # a chance meeting of two keywords
        score = float(sum(scores[t] for t in key))
        form, _ = max(surface.items(), key=lambda kv: (kv[1], kv[0]))
        found.append(Keyword(form, score, sum(surface.values())))
    found.sort(key=lambda k: (-k.score, k.phrase))
    return found[: config.top]
