"""Text handling shared by every command: normalisers, tokenisers and the Vocab.

Imports neither torch nor rich; sentencepiece is imported only for subword vocabularies.
"""

from seqtool.text.normalize import NORMALIZERS, Normalizer
from seqtool.text.vocab import SPECIALS, Vocab

__all__ = ["NORMALIZERS", "Normalizer", "SPECIALS", "Vocab"]
