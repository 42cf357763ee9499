"""Counting UTF-8 text with the ``letters`` normaliser: the array path against the regex one."""

from __future__ import annotations

import random
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtool.errors import InputError
from seqtool.stats import ngrams as ngrams_module
from seqtool.stats import utf8letters as U
from seqtool.stats.ngrams import Settings, count_ngrams
from seqtool.stats.wordbytes import split_words
from seqtool.text import normalize as N
from seqtool.text.normalize import Normalizer
from tests.test_ngrams import as_counter, reference, write

# Curly quotes, accents (precomposed and combining), ß, Kelvin sign (lowercase is
# ASCII k: shorter UTF-8), İ (lowercase is two code points), Σ (final sigma),
# emoji, CJK, Hangul jamo (compose under NFC), Devanagari marks, Arabic digits,
# narrow no-break space, the Kannada length mark (a starter that NFC composes).
ALPHABET = (
    "ab Ez\n.,'’‘“”«»—–…éÉèçÇœŒàÀëïü ÜßẞKİıΣσςΑΒΓЖжд😀🇫🇷中文字日本\u1100\u1161\u11a8"
    "e\u0301\u0300o\u0308\u0327नमस्ते٣٤²½_\u202f\xa0\u0cbf\u0cd5\u0ccc\u212b"
)
TEXTS = [
    "“Où est-il ?” demanda-t-elle. — Très bien, l’été à Noël!\nÉCOLE Ça café naïve\n",
    "ΟΔΥΣΣΕΥΣ ΣΟΦΟΣ Σ. ΑΣ'Β ΑΣ-Β σίσυφος\nİSTANBUL İi KELVIN\u212a\n",
    "Emoji 😀 here🇫🇷there, 中文 字, 日本語です。\ne\u0301cole n\u0303o Zoë 2024_x\n",
    "नमस्ते दुनिया; ٣٤ x²y½ \u1100\u1161\u11a8 \u0cbf\u0cd5\n\n\r\nend\r\n",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("line_mark", [False, True])
def test_letter_bytes_split_like_the_normaliser(text: str, lower: bool, line_mark: bool) -> None:
    norm = Normalizer.make("letters", lower)
    spaced = U.letter_bytes(text, lower, line_mark)
    assert spaced is not None
    if line_mark:
        got = [ln.split() for ln in spaced.text.split(b"\x00")[:-1]]
        assert got == [norm(ln).encode().split() for ln in text.split("\n")[:-1]]
    else:
        assert spaced.text.split() == norm(text).encode().split()
    if spaced.letters is not None:  # where the non-ASCII letters start
        arr = np.frombuffer(spaced.text, dtype=np.uint8)
        assert spaced.letters.tolist() == np.flatnonzero(arr >= 0xC0).tolist()


def test_is_letter_is_the_normaliser_rule_for_every_code_point() -> None:
    """Every code point, kept or blanked exactly as the regular expression does."""
    cps = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    text = "".join(map(chr, cps))
    blank = np.zeros(sys.maxunicode + 1, dtype=bool)
    for m in N._not_letter().finditer(text):
        blank[cps[m.start()] : cps[m.end() - 1] + 1] = True  # cps is contiguous per match
    mine = np.array([not U.is_letter(chr(c)) for c in cps])
    assert (mine == blank[cps]).all()


def test_nfc_safe_characters_need_no_normalisation() -> None:
    """Text of characters that cannot compose with what precedes them is NFC already."""
    rng = random.Random(0)
    pool = [c for c in range(0x80, 0x30000) if not 0xD800 <= c <= 0xDFFF]
    safe = [chr(c) for c in pool if not U._composes_after(c)]
    assert "é" in safe and "’" in safe and "\u0301" not in safe and "\u1161" not in safe
    for _ in range(20000):
        s = "".join(rng.choice(safe) for _ in range(3))
        s = rng.choice("aeoAEOk ") + s  # an ASCII starter before them
        assert unicodedata.is_normalized("NFC", s), [hex(ord(c)) for c in s]


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(alphabet=ALPHABET, max_size=60),
    tok=st.sampled_from(["word", "char"]),
    per_line=st.booleans(),
    lower=st.booleans(),
    chunk=st.sampled_from([7, 1 << 20]),
)
def test_property_utf8_counts_equal_reference(
    tmp_path_factory: pytest.TempPathFactory,
    text: str,
    tok: str,
    per_line: bool,
    lower: bool,
    chunk: int,
) -> None:
    s = Settings(Normalizer.make("letters", lower), tok, per_line)
    path = write(tmp_path_factory.mktemp("u"), text)
    orders = (1, 2, 3)
    got = count_ngrams([path], orders, s, chunk_bytes=chunk)
    for n in orders:
        assert as_counter(got, n) == reference(text, n, s), n
    if tok == "word" and not per_line:  # order 1 alone counts per chunk, without ids
        alone = count_ngrams([path], (1,), s, chunk_bytes=chunk)
        assert as_counter(alone, 1) == reference(text, 1, s)


@pytest.mark.parametrize("text", TEXTS)
def test_utf8_texts_equal_reference_large_chunks(tmp_path: Path, text: str) -> None:
    """Many words per chunk: the distinct-word grouping of the non-ASCII words."""
    rng = random.Random(1)
    words = text.split()
    body = "\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(400)) + "\n"
    path = write(tmp_path, body)
    for tok, per_line in (("word", False), ("word", True), ("char", False)):
        s = Settings(Normalizer.make("letters"), tok, per_line)
        got = count_ngrams([path], (1, 2), s)
        for n in (1, 2):
            assert as_counter(got, n) == reference(body, n, s)


def test_utf8_unigrams_alone_count_each_long_word_group(tmp_path: Path) -> None:
    """Order 1 alone counts the non-ASCII words that need the lexicon (over 7 bytes) by
    group, without per-word indices: up to 8 bytes, up to 32, and longer; all three
    in one chunk with more than 64 such words, and across chunks (read as bytes)."""
    rng = random.Random(2)
    words = ["préférée", "Préférées", "éléphantesque", "anticonstitutionnellement’s",
             "Ünverständlichkeitsbeschreibungsgrößen", "été", "l’eau", "naïve", "chat", "É"]  # fmt: skip
    body = "".join(" ".join(rng.choice(words) for _ in range(9)) + "\n" for _ in range(300))
    path = write(tmp_path, body)
    s = Settings(Normalizer.make("letters"), "word", False)
    for chunk in (1 << 20, 200):
        got = count_ngrams([path], (1,), s, chunk_bytes=chunk)
        assert as_counter(got, 1) == reference(body, 1, s), chunk


def test_utf8_counting_takes_no_regex_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Non-ASCII text is counted by array operations: the per-character regular
    expression (about 0.4 s a megabyte, 4-9x slower than ASCII) is never run."""
    text = TEXTS[0] * 50 + TEXTS[2] * 50

    def refuse(*a: object) -> None:
        raise AssertionError("the regular-expression normaliser ran")

    path = write(tmp_path, text)
    want = {
        (tok, pl, n): reference(text, n, Settings(Normalizer.make("letters"), tok, pl))
        for tok in ("word", "char")
        for pl in (False, True)
        for n in (1, 2)
    }
    monkeypatch.setattr(N, "_RULES", {**N._RULES, "letters": refuse})
    for tok in ("word", "char"):
        for per_line in (False, True):
            s = Settings(Normalizer.make("letters"), tok, per_line)
            for orders in ((1,), (1, 2)):
                got = count_ngrams([path], orders, s)
                for n in orders:
                    assert as_counter(got, n) == want[tok, per_line, n]


def test_starter_seconds_table_matches_a_scan() -> None:
    """The stored list for this Python's Unicode version equals a scan of the data."""
    assert U._seconds() == U._seconds.__wrapped__("a version with no stored list")


def test_letters_words_are_counted_from_checked_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default word counting reads the bytes, checked but never decoded: the same
    counts, progress in characters, and an undecodable byte is the reading error."""
    text = TEXTS[0] * 20 + TEXTS[2] * 20  # NFC composition and ASCII lines too
    path = write(tmp_path, text)
    s = Settings(Normalizer.make("letters"))

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("the chunks were decoded")

    monkeypatch.setattr(ngrams_module, "iter_chunks_utf8", refuse)
    for orders in ((1,), (1, 2, 3)):
        seen: list[int] = []
        got = count_ngrams([path], orders, s, chunk_bytes=300, on_chunk=seen.append)
        for n in orders:
            assert as_counter(got, n) == reference(text, n, s)
        assert sum(seen) == len(text)
    bad = tmp_path / "bad.txt"
    head = text.encode()
    bad.write_bytes(head + b"caf\xc3 au lait\n" + head)
    line, offset = text.count("\n") + 1, len(head) + 3
    with pytest.raises(
        InputError, match=rf"bad.txt:{line}: invalid utf-8 byte 0xc3 at byte offset {offset}$"
    ):
        count_ngrams([bad], (1,), s, chunk_bytes=300)
    with pytest.raises(AssertionError, match="decoded"):  # Heaps' law needs ids in text order
        count_ngrams([path], (1,), s, heaps=True)


def test_none_words_split_from_bytes_as_str_split(tmp_path: Path) -> None:
    """``none`` words come from the bytes (no decoding, no encoding of each word):
    every white space character str.split knows separates them, nothing else does."""
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    text = "x".join(spaces) + "é’\u180e\u200b€y «ça» l’été\r\n" + TEXTS[1]
    assert split_words(text.encode()) == [t.encode() for t in text.split()]
    path = write(tmp_path, text * 30)
    s = Settings(Normalizer.make("none"), "word", False)
    got = count_ngrams([path], (1, 2), s, chunk_bytes=500)
    for n in (1, 2):
        assert as_counter(got, n) == reference(text * 30, n, s)
