"""BLEU, chrF and TER through sacrebleu, plus the d2l book's sentence BLEU.

Corpus scores come from sacrebleu's own metric classes with the settings its
command line uses, so ``seqtool bleu`` and ``sacrebleu`` print the same numbers
and the same signatures on the same files (lines are right-stripped, as the
sacrebleu CLI does).  :class:`Score` keeps the score, its signature and
sacrebleu's verbose detail; :attr:`Score.json_text` is byte-for-byte what
``sacrebleu -f json`` prints for that metric.

:func:`d2l_bleu` is the Dive into Deep Learning formula, for teaching::

    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)

where ``p_n`` is the clipped n-gram precision.  It is a sentence-level score in
[0, 1], not comparable with corpus BLEU.

Example::

    >>> round(d2l_bleu("il est riche .".split(), "il est calme .".split(), k=2), 3)
    0.658
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from seqtool.errors import InputError, UsageError

METRICS = ("bleu", "chrf", "ter")
BOOTSTRAP_SAMPLES = 1000  # sacrebleu's --confidence-n and --paired-bs-n
BOOTSTRAP_SEED = 12345  # sacrebleu's default SACREBLEU_SEED
TOKENIZERS = ("13a", "intl", "char", "none", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200")


@dataclass(frozen=True)
class Score:
    """One corpus-level score with the settings that produced it."""

    name: str  # sacrebleu's name: "BLEU", "chrF2", "TER"
    score: float
    signature: str  # e.g. "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
    verbose: str  # sacrebleu's detail ("64.0/42.1/... (BP = ...)"), "" when it has none
    json_text: str  # what sacrebleu's CLI prints for this score with -f json (width 1)
    mean: float | None = None  # bootstrap estimate of the true score (with a confidence run)
    ci: float | None = None  # half the width of its 95% confidence interval

    def text(self, width: int = 1) -> str:
        """sacrebleu's text line: ``BLEU|<signature> = 32.3 88.9/57.1/...``."""
        line = f"{self.name}|{self.signature} = {self.score:.{width}f}"
        if self.mean is not None:
            line += f" (μ = {self.mean:.{width}f} ± {self.ci:.{width}f})"
        return f"{line} {self.verbose}" if self.verbose else line

    def as_dict(self) -> dict[str, Any]:
        return dict(json.loads(self.json_text))

    def json(self, width: int = 1) -> str:
        """What ``sacrebleu -w WIDTH -f json`` prints: the numbers rounded to ``width``."""
        d = self.as_dict()
        d["score"] = float(f"{self.score:.{width}f}")
        if self.mean is not None and self.ci is not None:
            mean, ci = f"{self.mean:.{width}f}", f"{self.ci:.{width}f}"
            d.update(confidence_mean=float(mean), confidence_var=float(ci))
            d["confidence"] = f"μ = {mean} ± {ci}"
        return json.dumps(d, indent=1, ensure_ascii=False)


def _metric(name: str, tokenize: str | None, lowercase: bool) -> Any:
    from sacrebleu.metrics import BLEU, CHRF, TER

    if name == "bleu":
        if tokenize is not None and tokenize not in BLEU.TOKENIZERS:
            raise UsageError(
                f"unknown BLEU tokenizer {tokenize!r}; choose one of {', '.join(BLEU.TOKENIZERS)}"
            )
        return BLEU(lowercase=lowercase, tokenize=tokenize)
    if name == "chrf":
        return CHRF(lowercase=lowercase)
    if name == "ter":
        return TER()  # TERCOM defaults (case-insensitive), as the sacrebleu CLI
    raise UsageError(f"unknown metric {name!r}; choose one of {', '.join(METRICS)}")


def check_lengths(hyps: Sequence[str], refs: Sequence[Sequence[str]], names: Sequence[str]) -> None:
    """Refuse hypotheses and references of different line counts, naming both."""
    for ref, name in zip(refs, names[1:]):
        if len(ref) != len(hyps):
            raise InputError(
                f"{names[0]} has {len(hyps)} lines but {name} has {len(ref)}; "
                "hypotheses and references must be line-aligned"
            )


def corpus_scores(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    metrics: Sequence[str] = ("bleu",),
    tokenize: str | None = None,
    lowercase: bool = False,
    *,
    samples: int = 0,
    seed: int = BOOTSTRAP_SEED,
) -> list[Score]:
    """Corpus scores of ``hyps`` against one or more reference streams.

    ``refs`` is a list of reference sets, each as long as ``hyps``.  Metrics come
    back in sacrebleu's order (sorted by name), as its CLI prints them.
    ``tokenize`` (BLEU only) defaults to sacrebleu's ``13a``; ``lowercase``
    applies to BLEU and chrF (TER is case-insensitive by default).

    ``samples`` > 0 adds a 95% confidence interval from that many bootstrap
    resamples of the segments: the numbers of ``sacrebleu REF -i HYP --confidence
    -cin SAMPLES`` with ``SACREBLEU_SEED=SEED`` (``mean`` and ``ci`` are set, the
    signature gains ``bs:SAMPLES|seed:SEED``).
    """
    if samples:
        _check_bootstrap(samples)
    if not refs:
        raise UsageError("give at least one reference")
    check_lengths(hyps, refs, ["hypotheses"] + [f"reference {i + 1}" for i in range(len(refs))])
    out = []
    for name in sorted({m.lower() for m in metrics}):
        metric = _metric(name, tokenize, lowercase)
        stats = metric._extract_corpus_statistics(list(hyps), [list(r) for r in refs])
        score = metric._aggregate_and_compute(stats)
        if samples:
            score.estimate_ci(_resampled(metric, stats, samples, seed))
            metric.n_bootstrap, metric.seed = samples, str(seed)  # what corpus_score records
        sig = metric.get_signature().format()
        out.append(
            Score(
                name=score.name,
                score=float(score.score),
                signature=sig,
                verbose=score._verbose or "",
                json_text=score.format(1, False, sig, True),
                mean=float(score._mean) if samples else None,
                ci=float(score._ci) if samples else None,
            )
        )
    return out


def _check_bootstrap(samples: int) -> None:
    if samples < 40:  # the 95% interval drops the lowest and highest 1/40 of the samples
        raise UsageError(f"samples must be at least 40, not {samples}")


def _resampled(metric: Any, stats: Any, samples: int, seed: int) -> Any:
    """Scores of ``samples`` bootstrap resamples of the segments (sacrebleu's
    ``_bootstrap_resample`` with the seed passed in, not read from SACREBLEU_SEED)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    idxs = rng.choice(len(stats), size=(samples, len(stats)), replace=True)
    stats_np = np.array(stats, dtype="float32")
    return [metric._compute_score_from_stats(s.sum(0)) for s in stats_np[idxs]]


@dataclass(frozen=True)
class SystemScore:
    """One system's score in a paired bootstrap test against a baseline."""

    system: str
    name: str  # sacrebleu's metric name: "BLEU", "chrF2", "TER"
    score: float
    mean: float  # bootstrap estimate of the true score
    ci: float  # half the width of its 95% confidence interval
    p_value: float | None  # None for the baseline itself
    signature: str  # with bs:SAMPLES|seed:SEED


def paired_bootstrap(
    systems: Sequence[tuple[str, Sequence[str]]],
    refs: Sequence[Sequence[str]],
    metrics: Sequence[str] = ("bleu",),
    tokenize: str | None = None,
    lowercase: bool = False,
    *,
    samples: int = BOOTSTRAP_SAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> list[SystemScore]:
    """Paired bootstrap resampling (Koehn 2004) of each system against the first, the baseline.

    sacrebleu's own test (``sacrebleu.significance``), so the numbers are those of
    ``sacrebleu REF -i BASE SYS... --paired-bs -pbsn SAMPLES`` with
    ``SACREBLEU_SEED=SEED``: every system is scored on the same ``samples``
    resamples of the segments; ``p_value`` is the chance of a difference at least
    as large as the observed one if both systems came from the same process.
    Results come system by system, metrics in sacrebleu's order.
    """
    import numpy as np
    from sacrebleu.significance import Result, _paired_bs_test, estimate_ci

    _check_bootstrap(samples)
    if len(systems) < 2:
        raise UsageError("a paired test needs a baseline and at least one other system")
    if not refs:
        raise UsageError("give at least one reference")
    ref_lists = [list(r) for r in refs]
    for name, hyps in systems:
        check_lengths(hyps, refs, [name] + [f"reference {i + 1}" for i in range(len(refs))])
    base_name, base_hyps = systems[0]
    by_metric: dict[str, Any] = {}
    baseline: dict[str, tuple[Any, Any]] = {}
    signatures: dict[str, str] = {}
    for name in sorted({m.lower() for m in metrics}):
        metric = _metric(name, tokenize, lowercase)
        stats = metric._extract_corpus_statistics(list(base_hyps), ref_lists)
        score = metric._aggregate_and_compute(stats)
        resampled = np.array([x.score for x in _resampled(metric, stats, samples, seed)])
        mean, ci = estimate_ci(resampled)
        baseline[score.name] = (stats, Result(score.score, mean=mean, ci=ci))
        by_metric[score.name] = metric
        sig = metric.get_signature()
        sig.update("seed", str(seed))
        sig.update("bs", samples)
        signatures[score.name] = sig.format()
    out = [_system_score(base_name, m, r, signatures[m]) for m, (_, r) in baseline.items()]
    for sys_name, hyps in systems[1:]:
        _, results = _paired_bs_test(
            baseline, sys_name, list(hyps), ref_lists, by_metric, samples, -1, seed
        )
        out += [_system_score(sys_name, m, r, signatures[m]) for m, r in results.items()]
    return out


def _system_score(system: str, name: str, result: Any, signature: str) -> SystemScore:
    """A :class:`SystemScore` from sacrebleu's ``significance.Result``."""
    p = result.p_value
    return SystemScore(
        system, name, float(result.score), float(result.mean), float(result.ci),
        None if p is None else float(p), signature,
    )  # fmt: skip


def _streams(refs: Sequence[str] | Sequence[Sequence[str]]) -> list[Sequence[str]]:
    """One reference stream (a list of lines) or several, as a list of streams."""
    if refs and isinstance(refs[0], str):
        return [refs]  # type: ignore[list-item]
    return list(refs)  # type: ignore[arg-type]


def bleu(
    hyps: Sequence[str],
    refs: Sequence[str] | Sequence[Sequence[str]],
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
) -> Score:
    """sacreBLEU's corpus BLEU of ``hyps`` against one reference stream or several.

    >>> s = bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
    >>> round(s.score, 1), s.signature.split("|")[:2]
    (100.0, ['nrefs:1', 'case:mixed'])
    """
    return corpus_scores(hyps, _streams(refs), ("bleu",), tokenize, lowercase)[0]


def chrf(
    hyps: Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]], *, lowercase: bool = False
) -> Score:
    """sacreBLEU's chrF2 (character n-gram F-score) of ``hyps``.

    >>> s = chrf(["abc"], ["abc"])
    >>> s.name, round(s.score, 1), s.signature.split("|")[3]
    ('chrF2', 100.0, 'nc:6')
    """
    return corpus_scores(hyps, _streams(refs), ("chrf",), None, lowercase)[0]


def ter(hyps: Sequence[str], refs: Sequence[str] | Sequence[Sequence[str]]) -> Score:
    """sacreBLEU's translation edit rate (lower is better), TERCOM's defaults."""
    return corpus_scores(hyps, _streams(refs), ("ter",))[0]


def sacrebleu_json(scores: Sequence[Score], width: int = 1) -> str:
    """What ``sacrebleu -w WIDTH -f json`` prints: one object, or a list for several metrics."""
    if len(scores) == 1:
        return scores[0].json(width)
    return "[\n" + ",\n".join(s.json(width) for s in scores) + "\n]"


def d2l_bleu(pred_tokens: Sequence[str], label_tokens: Sequence[str], k: int) -> float:
    """The d2l book's sentence BLEU of one prediction against one label.

    As in the book, n-gram orders run from 1 to ``min(k, len(pred))``; an empty
    prediction scores 0 (the book would divide by zero).
    """
    if k < 1:
        raise UsageError(f"d2l_k must be at least 1, not {k}")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    if len_pred == 0:
        return 0.0
    score = math.exp(min(0.0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        label_ngrams = Counter(tuple(label_tokens[i : i + n]) for i in range(len_label - n + 1))
        matches = 0
        for i in range(len_pred - n + 1):
            gram = tuple(pred_tokens[i : i + n])
            if label_ngrams[gram] > 0:
                matches += 1
                label_ngrams[gram] -= 1
        score *= math.pow(matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def d2l_sentence_scores(
    hyps: Sequence[str],
    refs: Sequence[str],
    k: int,
    tokenize: str | None = "13a",
    lowercase: bool = False,
) -> list[float]:
    """:func:`d2l_bleu` per line, after sacrebleu's BLEU tokenizer (13a by default).

    Tokenizing first puts spaces before punctuation, as d2l's own preprocessing
    does, so ``"il est riche."`` is read as four tokens.
    """
    from sacrebleu.metrics import BLEU

    tok = BLEU(tokenize=tokenize or "13a").tokenizer

    def split(s: str) -> list[str]:
        s = tok(s.rstrip())
        return (s.lower() if lowercase else s).split()

    return [d2l_bleu(split(h), split(r), k) for h, r in zip(hyps, refs)]
