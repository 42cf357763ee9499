"""seqtool: NLP and sequence modelling, as a command line and as a Python library.

Everything the ``seqtool`` command does is a library call first::

    >>> import seqtool
    >>> vocab = seqtool.Vocab.build(["the cat sat", "the dog sat"], kind="word")
    >>> vocab.encode("the cat")
    [5, 6]
    >>> round(seqtool.bleu(["the cat sat on the mat"], ["the cat sat on the mat"]).score, 1)
    100.0

The names below are imported on first use (module ``__getattr__``), so
``import seqtool`` stays cheap: no torch, typer or rich until a name needs them.
See ``examples/api.py`` for a tour.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

# torch's OpenMP threads spin-wait for each other by default; on a machine with other
# work one of them is descheduled and every parallel op waits a time slice for it
# (a 40-step translator took 452 s instead of 49 s on 2 cores at load 18).  Sleeping
# idle threads cost nothing measurable when the machine is quiet.  The policy is read
# once, when torch loads, so this only helps if seqtool is imported first; an explicit
# OMP_WAIT_POLICY in the environment always wins.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # data bundled with seqtool
    "sample_path": "seqtool.datasets",
    # errors
    "SeqtoolError": "seqtool.errors",
    "UsageError": "seqtool.errors",
    "InputError": "seqtool.errors",
    "CheckpointError": "seqtool.errors",
    "ResourceError": "seqtool.errors",
    # text
    "Normalizer": "seqtool.text.normalize",
    "Vocab": "seqtool.text.vocab",
    "Coverage": "seqtool.text.vocab",
    "preprocessor": "seqtool.text.preprocess",
    # n-grams and Zipf
    "NgramConfig": "seqtool.stats.counting",
    "count_ngrams": "seqtool.stats.counting",
    "merge_saved": "seqtool.stats.counting",
    "ZipfConfig": "seqtool.stats.counting",
    "ZipfAnalysis": "seqtool.stats.counting",
    "analyze_zipf": "seqtool.stats.counting",
    "NgramCounts": "seqtool.stats.ngrams",
    "fit_zipf": "seqtool.stats.zipf",
    "fit_power_law": "seqtool.stats.zipf",
    "zipf_report": "seqtool.stats.zipf",
    "ZipfFit": "seqtool.stats.zipf",
    "PowerLawFit": "seqtool.stats.zipf",
    "ZipfReport": "seqtool.stats.zipf",
    # word vectors
    "Word2VecConfig": "seqtool.train.word2vec",
    "Word2VecResult": "seqtool.train.word2vec",
    "train_word2vec": "seqtool.train.word2vec",
    "WordVectors": "seqtool.wordvectors",
    "evaluate_analogies": "seqtool.metrics.wordvec",
    "evaluate_pairs": "seqtool.metrics.wordvec",
    # trained models: language models and translation (one runner for both)
    "TrainOptions": "seqtool.train.options",
    "run_training": "seqtool.train.runner",
    "LMConfig": "seqtool.tasks.lm",
    "LanguageModel": "seqtool.tasks.lm",
    "train_lm": "seqtool.tasks.lm",
    "MTConfig": "seqtool.tasks.mt",
    "Translator": "seqtool.tasks.mt",
    "train_mt": "seqtool.tasks.mt",
    # n-gram language models
    "NGramLM": "seqtool.stats.ngram_lm",
    "estimate_lm": "seqtool.stats.kneser_ney",
    # summaries and keywords
    "split_sentences": "seqtool.text.sentences",
    "SummaryConfig": "seqtool.rank.summarize",
    "summarize": "seqtool.rank.summarize",
    "KeywordConfig": "seqtool.rank.keywords",
    "keywords": "seqtool.rank.keywords",
    "rouge_scores": "seqtool.metrics.rouge",
    # classification
    "read_labelled": "seqtool.text.labels",
    "classification_scores": "seqtool.metrics.classification",
    "ClassifyConfig": "seqtool.tasks.classify",
    "Classifier": "seqtool.tasks.classify",
    "train_classify": "seqtool.tasks.classify",
    # forecasting
    "read_series": "seqtool.forecast.data",
    "forecast_baseline": "seqtool.forecast.baselines",
    "ForecastConfig": "seqtool.tasks.forecast",
    "ForecastModel": "seqtool.tasks.forecast",
    "train_forecaster": "seqtool.tasks.forecast",
    # metrics
    "Score": "seqtool.metrics.bleu",
    "bleu": "seqtool.metrics.bleu",
    "chrf": "seqtool.metrics.bleu",
    "ter": "seqtool.metrics.bleu",
    "d2l_bleu": "seqtool.metrics.bleu",
}

__all__ = [
    "__version__",
    "sample_path",
    "SeqtoolError",
    "UsageError",
    "InputError",
    "CheckpointError",
    "ResourceError",
    "Normalizer",
    "Vocab",
    "Coverage",
    "preprocessor",
    "NgramConfig",
    "count_ngrams",
    "merge_saved",
    "ZipfConfig",
    "ZipfAnalysis",
    "analyze_zipf",
    "NgramCounts",
    "fit_zipf",
    "fit_power_law",
    "zipf_report",
    "ZipfFit",
    "PowerLawFit",
    "ZipfReport",
    "Word2VecConfig",
    "Word2VecResult",
    "train_word2vec",
    "WordVectors",
    "TrainOptions",
    "run_training",
    "LMConfig",
    "LanguageModel",
    "train_lm",
    "MTConfig",
    "Translator",
    "train_mt",
    "evaluate_analogies",
    "evaluate_pairs",
    "NGramLM",
    "estimate_lm",
    "split_sentences",
    "SummaryConfig",
    "summarize",
    "KeywordConfig",
    "keywords",
    "rouge_scores",
    "read_labelled",
    "classification_scores",
    "ClassifyConfig",
    "Classifier",
    "train_classify",
    "read_series",
    "forecast_baseline",
    "ForecastConfig",
    "ForecastModel",
    "train_forecaster",
    "Score",
    "bleu",
    "chrf",
    "ter",
    "d2l_bleu",
]

if TYPE_CHECKING:
    from seqtool.datasets import sample_path
    from seqtool.errors import (
        CheckpointError,
        InputError,
        ResourceError,
        SeqtoolError,
        UsageError,
    )
    from seqtool.forecast.baselines import forecast_baseline
    from seqtool.forecast.data import read_series
    from seqtool.metrics.bleu import Score, bleu, chrf, d2l_bleu, ter
    from seqtool.metrics.classification import classification_scores
    from seqtool.metrics.rouge import rouge_scores
    from seqtool.metrics.wordvec import evaluate_analogies, evaluate_pairs
    from seqtool.rank.keywords import KeywordConfig, keywords
    from seqtool.rank.summarize import SummaryConfig, summarize
    from seqtool.stats.counting import (
        NgramConfig,
        ZipfAnalysis,
        ZipfConfig,
        analyze_zipf,
        count_ngrams,
        merge_saved,
    )
    from seqtool.stats.kneser_ney import estimate_lm
    from seqtool.stats.ngram_lm import NGramLM
    from seqtool.stats.ngrams import NgramCounts
    from seqtool.stats.zipf import (
        PowerLawFit,
        ZipfFit,
        ZipfReport,
        fit_power_law,
        fit_zipf,
        zipf_report,
    )
    from seqtool.tasks.classify import Classifier, ClassifyConfig, train_classify
    from seqtool.tasks.forecast import ForecastConfig, ForecastModel, train_forecaster
    from seqtool.tasks.lm import LanguageModel, LMConfig, train_lm
    from seqtool.tasks.mt import MTConfig, Translator, train_mt
    from seqtool.text.labels import read_labelled
    from seqtool.text.normalize import Normalizer
    from seqtool.text.preprocess import preprocessor
    from seqtool.text.sentences import split_sentences
    from seqtool.text.vocab import Coverage, Vocab
    from seqtool.train.options import TrainOptions
    from seqtool.train.runner import run_training
    from seqtool.train.word2vec import Word2VecConfig, Word2VecResult, train_word2vec
    from seqtool.wordvectors import WordVectors


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
