"""seqtool: a command-line toolkit for NLP and sequence modeling.

Only the version lives here, so that ``import seqtool`` (and ``seqtool --help``)
stays cheap: torch, sentencepiece and sacrebleu are imported by the commands
that need them.
"""

__version__ = "0.1.0"
