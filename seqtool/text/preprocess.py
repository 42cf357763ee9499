"""What ``seqtool preprocess`` does to each line: normalise, then optionally split.

>>> from seqtool.text.normalize import Normalizer
>>> clean = preprocessor(Normalizer.make("d2l"), "word")
>>> clean("The Time  Machine, by H. G. Wells")
'the time machine by h g wells'
>>> preprocessor(Normalizer.make("none"), "char")("ab c")
'a b   c'
"""

from __future__ import annotations

from collections.abc import Callable

from seqtool.errors import UsageError
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab

SPLITS = ("none", "char", "word")


def preprocessor(normalizer: Normalizer, tokenize: str | Vocab = "none") -> Callable[[str], str]:
    """A function from a raw line to its normalised line, tokens joined by spaces.

    ``tokenize``: ``none`` (normalise only), ``char``, ``word``, or a :class:`Vocab`
    (its own normaliser and tokenizer; ``normalizer`` is then unused).
    """
    if isinstance(tokenize, Vocab):
        vocab = tokenize
        return lambda line: " ".join(vocab.tokenize(line))
    if tokenize == "char":
        return lambda line: " ".join(normalizer.line(line))
    if tokenize == "word":
        return lambda line: " ".join(normalizer.line(line).split())
    if tokenize == "none":
        return normalizer.line
    raise UsageError(f"`tokenize` must be none, char, word or a vocabulary, not {tokenize!r}")
