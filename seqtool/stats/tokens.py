"""Text chunks to arrays of dense token ids, fast.

Counting works on integer ids, so the only per-token Python work left is
splitting text and one dict lookup per token.  Two fast paths do most corpora:

* the ``d2l`` rule, and ``letters`` on ASCII text, become one ``bytes.translate``
  (letters kept and lowercased, everything else a space) and ``bytes.split``:
  the same tokens as the regular-expression normaliser at a fraction of the cost;
* character tokens skip the dict: code points map to ids through a lookup array.

Ids are dense and given in order of first appearance, so the number of distinct
tokens among the first N is the running maximum of the ids (Heaps' law for free).
Id 0 (:data:`BOUNDARY`) is reserved: in ``per_line`` mode it ends every line, so
n-grams that would span two lines can be dropped with array arithmetic.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np

from seqtool.stats.letters import LetterCodes
from seqtool.stats.utf8letters import byte_table, letter_bytes
from seqtool.stats.wordbytes import split_words
from seqtool.text.normalize import Normalizer

if TYPE_CHECKING:
    from seqtool.text.vocab import Vocab

BOUNDARY = 0
_MARK = b"\x00"  # NUL never reaches us: seqtool.io refuses it as binary input
_SPACES = re.compile(rb" {2,}")
_UNICODE_MAX = 0x110000


class _WordIndex(dict[bytes, int]):
    """token -> id; looking up an unseen token gives it the next id (first-appearance order).

    One C-level pass (``map(index.__getitem__, tokens)``) both assigns and looks
    up; Python runs only for new tokens.  With a large vocabulary the lookups
    miss the cache, so a second pass would cost as much again.
    """

    def __init__(self) -> None:
        super().__init__({_MARK: BOUNDARY})
        self.tokens: list[bytes] = [_MARK]

    def __missing__(self, token: bytes) -> int:
        i = self[token] = len(self.tokens)
        self.tokens.append(token)
        return i


class Lexicon:
    """Token <-> dense id in order of first appearance; id 0 is the boundary marker.

    Word tokens are UTF-8 ``bytes`` (the fast paths never decode); character
    tokens are code points, mapped through an array instead of a dict.
    """

    def __init__(self, char: bool) -> None:
        self.char = char
        self.index = _WordIndex()
        self.cps: list[int] = [0]  # char mode: id -> code point
        self._cp2id: np.ndarray | None = None
        self.dict_used = False  # word_ids was called: any token may be in the dict

    @property
    def tokens(self) -> list[bytes]:
        return self.index.tokens

    def __len__(self) -> int:
        return len(self.cps) if self.char else len(self.index.tokens)

    def word_ids(self, toks: list[bytes]) -> np.ndarray:
        """Ids of the tokens, adding unseen ones; (len(toks),) int64."""
        self.dict_used = True
        return np.fromiter(map(self.index.__getitem__, toks), np.int64, len(toks))

    def add_many(self, toks: list[bytes], unseen: bool = False) -> np.ndarray:
        """Ids of distinct tokens, adding the unseen ones in bulk; (len(toks),) int64.

        ``unseen``: the caller knows that none of them is in the lexicon yet.
        """
        index = self.index
        start = len(index.tokens)
        if not unseen:
            found = list(map(index.get, toks))
            if None not in found:
                return np.asarray(found, dtype=np.int64)
            missing = [t for t, i in zip(toks, found) if i is None]
            if len(missing) < len(toks):
                index.update(zip(missing, range(start, start + len(missing))))
                index.tokens.extend(missing)
                return np.fromiter(map(index.__getitem__, toks), np.int64, len(toks))
        index.update(zip(toks, range(start, start + len(toks))))
        index.tokens.extend(toks)
        return np.arange(start, start + len(toks), dtype=np.int64)

    def char_ids(self, cps: np.ndarray) -> np.ndarray:
        """Ids of the code points, adding unseen ones; (len(cps),) int64."""
        if self._cp2id is None:
            self._cp2id = np.full(_UNICODE_MAX, -1, dtype=np.int32)
            self._cp2id[0] = BOUNDARY
        ids = self._cp2id[cps]
        unseen = ids < 0
        if unseen.any():
            new = cps[unseen]
            u, first = np.unique(new, return_index=True)
            u = u[np.argsort(first)]
            self._cp2id[u] = np.arange(len(self.cps), len(self.cps) + len(u))
            self.cps.extend(u.tolist())
            ids = self._cp2id[cps]
        return ids.astype(np.int64)

    def entries(self, start: int = 0) -> list[str]:
        """Tokens as strings, from id ``start`` on."""
        if self.char:
            return [chr(c) for c in self.cps[start:]]
        tokens = self.index.tokens[start:]
        joined = b"\n".join(tokens)
        if joined.count(b"\n") == len(tokens) - 1:  # no token holds a line break
            return joined.decode("utf-8").split("\n")  # one decode instead of one per token
        return [t.decode("utf-8") for t in tokens]


class ChunkTokenizer:
    """Turns each chunk of text (ending at a line break) into token ids.

    ``word`` tokens are the whitespace-separated words of the normalised text,
    ``char`` tokens its characters (spaces included, as the d2l book counts
    them).  The whole input is one token sequence unless ``per_line``, where each
    line ends with :data:`BOUNDARY`.  A subword ``vocab`` tokenises line by line
    with its own sentencepiece model.
    """

    def __init__(
        self,
        normalizer: Normalizer,
        tokenizer: str = "word",
        per_line: bool = False,
        vocab: Vocab | None = None,
        ordered_ids: bool = False,
    ) -> None:
        self.norm = normalizer
        self.kind = tokenizer
        self.per_line = per_line
        self.vocab = vocab
        self.lexicon = Lexicon(char=tokenizer == "char")
        self._table = byte_table(normalizer.lower, per_line, keep_high=False)
        self._collapses = normalizer.name in ("d2l", "letters")
        packed = self.reads_bytes(normalizer, tokenizer, per_line, vocab, ordered_ids)
        self._codes = LetterCodes(self.lexicon) if packed else None

    @staticmethod
    def reads_bytes(
        normalizer: Normalizer,
        tokenizer: str = "word",
        per_line: bool = False,
        vocab: Vocab | None = None,
        ordered_ids: bool = False,
    ) -> bool:
        """Whether chunks are tokenised from their UTF-8 bytes alone (array-only word
        ids, :mod:`seqtool.stats.letters`): the text may then be passed as None.

        Those ids come out of first-appearance order, so they are off when the caller
        needs that order (Heaps' law)."""
        return (
            tokenizer == "word"
            and vocab is None
            and not per_line
            and normalizer.lower
            and normalizer.name in ("d2l", "letters")
            and not ordered_ids
        )

    def __call__(
        self,
        chunk: str | None,
        first: bool = False,
        utf8: bytes | None = None,
        leads: np.ndarray | None = None,
    ) -> np.ndarray:
        """Ids of one chunk; ``first`` marks the start of the whole input (char mode);
        ``utf8``: the chunk's UTF-8 bytes, when known (not encoded again).  The text
        may be None when the bytes are given and :meth:`reads_bytes` holds; ``leads``:
        where the bytes' non-ASCII characters start, when known."""
        if chunk is None:
            assert utf8 is not None
            packed = self._packable(None, utf8, leads) if self._codes is not None else None
            if self._codes is not None and packed is not None:
                return self._codes.word_ids(*packed)
            chunk = utf8.decode("utf-8")
        if self.vocab is not None:
            return self.lexicon.word_ids(self._subword_tokens(chunk))
        if self.kind == "char":
            return self.lexicon.char_ids(self._code_points(chunk, first))
        if self._codes is not None:
            packed = self._packable(chunk, utf8, leads)
            if packed is not None:
                return self._codes.word_ids(*packed)
        return self.lexicon.word_ids(self._word_tokens(chunk, utf8))

    def unigram_counts(
        self, chunk: str | None, utf8: bytes | None = None, leads: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(distinct ids, counts) of the chunk's tokens when the packed-letters path
        applies (see :meth:`LetterCodes.word_counts`), else None: call the tokenizer.
        ``chunk``, ``utf8`` and ``leads`` as in :meth:`__call__`."""
        if self._codes is not None:
            packed = self._packable(chunk, utf8, leads)
            if packed is not None:
                return self._codes.word_counts(*packed)
        return None

    def _fast(self, chunk: str | None, utf8: bytes | None = None) -> bool:
        if self.norm.name == "d2l":
            return True
        ascii_text = chunk.isascii() if chunk is not None else utf8 is not None and utf8.isascii()
        return self.norm.name == "letters" and ascii_text

    def _packable(
        self, chunk: str | None, utf8: bytes | None = None, leads: np.ndarray | None = None
    ) -> tuple[bytes, bool, np.ndarray | None] | None:
        """The chunk as :class:`LetterCodes` takes it: raw bytes (d2l, ASCII text), or
        ``letters`` applied to UTF-8 bytes (flag True, with where the non-ASCII
        letters start); None: use the normaliser.  One of ``chunk`` and ``utf8``
        may be None."""
        if self._fast(chunk, utf8):
            return utf8 or (chunk or "").encode("utf-8"), False, None
        spaced = letter_bytes(chunk, self.norm.lower, utf8=utf8, leads=leads)
        return None if spaced is None else (spaced.text, True, spaced.letters)

    def _letters(self, chunk: str, line_mark: bool) -> bytes | None:
        """``letters`` of a non-ASCII chunk as spaced UTF-8 tokens (None: not that rule,
        or text the byte route cannot take)."""
        if self.norm.name != "letters":
            return None
        spaced = letter_bytes(chunk, self.norm.lower, line_mark)
        return None if spaced is None else spaced.text

    def _word_tokens(self, chunk: str, utf8: bytes | None = None) -> list[bytes]:
        none = self.norm.name == "none" and not self.norm.lower and not self.per_line
        if none and utf8 is not None:
            return split_words(utf8)  # the text as it is: its words, from the bytes
        if self._fast(chunk):
            buf = chunk.encode("utf-8").translate(self._table)
            if self.per_line:
                buf = buf.replace(_MARK, b" \x00 ")
            return buf.split()
        spaced = self._letters(chunk, self.per_line)
        if spaced is not None:
            return (spaced.replace(_MARK, b" \x00 ") if self.per_line else spaced).split()
        norm = self.norm
        if self.per_line:
            text = "".join(norm(line) + " \x00 " for line in chunk.split("\n")[:-1])
        else:
            text = norm(chunk)
        if self._collapses:  # only letters and single spaces are left: split bytes
            return text.encode("utf-8").split()
        return [t.encode("utf-8") for t in text.split()]  # Unicode whitespace, as str.split

    def _code_points(self, chunk: str, first: bool) -> np.ndarray:
        if self.per_line:
            spaced = self._letters(chunk, line_mark=True)
            if spaced is not None:  # each line collapsed and trimmed, as Normalizer.line does
                spaced = _SPACES.sub(b" ", spaced).replace(b" \x00", b"\x00")
                spaced = spaced.replace(b"\x00 ", b"\x00").removeprefix(b" ")
                return _utf32(spaced)
            lines = chunk.split("\n")[:-1]
            text = "".join(self.norm.line(ln.removesuffix("\r")) + "\x00" for ln in lines)
            return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if not self._collapses:
            text = self.norm(chunk.replace("\r\n", "\n"))
            return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        # The chunk ends with a line break, now a space; a run of non-letters at the
        # start of the next chunk must merge into it, as in the whole text at once.
        if self._fast(chunk):
            buf = _SPACES.sub(b" ", chunk.encode("utf-8").translate(self._table))
            if not first and buf.startswith(b" "):
                buf = buf[1:]
            return np.frombuffer(buf, dtype=np.uint8)
        spaced = self._letters(chunk, line_mark=False)
        if spaced is not None:
            spaced = _SPACES.sub(b" ", spaced)
            return _utf32(spaced[1:] if not first and spaced.startswith(b" ") else spaced)
        text = self.norm(chunk)
        if not first and text.startswith(" "):
            text = text[1:]
        return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)

    def _subword_tokens(self, chunk: str) -> list[bytes]:
        assert self.vocab is not None
        out: list[bytes] = []
        for line in chunk.split("\n")[:-1]:
            out.extend(p.encode("utf-8") for p in self.vocab.tokenize(line.removesuffix("\r")))
            if self.per_line:
                out.append(_MARK)
        return out


def _utf32(utf8: bytes) -> np.ndarray:
    """Code points of UTF-8 text; (k,) uint32 (uint8 when the text is ASCII)."""
    if utf8.isascii():
        return np.frombuffer(utf8, dtype=np.uint8)
    return np.frombuffer(utf8.decode("utf-8").encode("utf-32-le"), dtype=np.uint32)
