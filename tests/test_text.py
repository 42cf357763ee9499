"""Normalisers and the shared Vocab."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.text import SPECIALS, Normalizer, Vocab

SAMPLE = [
    "The Time Traveller (for so it will be convenient to speak of him)",
    "was expounding a recondite matter to us.",
    "",
    "His grey eyes shone and twinkled, 1895!",
]


def d2l_reference(line: str) -> str:
    return re.sub("[^A-Za-z]+", " ", line).strip().lower()


@pytest.mark.parametrize(
    "line", SAMPLE + ["  spaces\tand\ttabs  ", "under_score and digits 123abc", "--"]
)
def test_d2l_and_letters_agree_on_ascii(line: str) -> None:
    assert Normalizer.make("d2l").line(line) == d2l_reference(line)
    assert Normalizer.make("letters").line(line) == d2l_reference(line)


def test_letters_keeps_accented_letters() -> None:
    norm = Normalizer.make("letters")
    assert norm.line("Café crème, Straße; garçon!") == "café crème straße garçon"
    assert Normalizer.make("d2l").line("Café crème") == "caf cr me"
    # a decomposed é (e + combining acute) is composed, not split
    assert norm.line("Cafe\u0301") == "café"
    assert Normalizer.make("letters", lower=False).line("Élan Vital") == "Élan Vital"


def test_letters_keeps_combining_vowel_signs() -> None:
    # Devanagari writes vowels as combining marks: words must stay whole
    assert Normalizer.make("letters").line("हिन्दी भाषा, 2024!") == "हिन्दी भाषा"


def test_nfkc_and_none() -> None:
    assert Normalizer.make("nfkc")("ﬁne ＡＢ") == "fine AB"
    assert Normalizer.make("none")(" As Is ") == " As Is "
    assert Normalizer.make("none", lower=True)("As Is") == "as is"
    with pytest.raises(UsageError):
        Normalizer.make("stem")


def test_specials_have_fixed_ids_and_order_is_by_count_then_token() -> None:
    v = Vocab.build(["b a c b", "a b d"], kind="word")
    assert v.tokens[:4] == list(SPECIALS)
    # b:3, a:2, then c and d tie at 1 and sort by code point
    assert v.tokens[4:] == ["b", "a", "c", "d"]
    assert v.counts[4:] == [3, 2, 1, 1]
    assert v.encode("a z b", bos=True, eos=True) == [2, 5, 1, 4, 3]


def test_order_does_not_depend_on_input_order() -> None:
    lines = ["x y z", "z y", "w"]
    assert Vocab.build(lines).tokens == Vocab.build(lines[::-1]).tokens


def test_min_freq_and_max_size() -> None:
    lines = ["a a a b b c"]
    assert Vocab.build(lines, min_freq=2).tokens[4:] == ["a", "b"]
    v = Vocab.build(lines, max_size=5)
    assert len(v) == 5 and v.tokens[4:] == ["a"]
    assert v.counts[1] == 3  # the dropped b b c are counted as <unk>
    with pytest.raises(UsageError):
        Vocab.build(lines, max_size=4)
    with pytest.raises(UsageError):
        Vocab.build(lines, min_freq=0)


def test_literal_unk_token_maps_to_unk() -> None:
    v = Vocab.build(["the <unk> cat", "the dog"], kind="word", normalizer=Normalizer.make("none"))
    assert "<unk>" not in v.tokens[4:]
    assert v.encode("the <unk> cat")[1] == 1


def test_char_vocab_and_round_trip() -> None:
    v = Vocab.build(SAMPLE, kind="char", normalizer=Normalizer.make("d2l"))
    assert v.tokens[4] == " "
    assert set(v.tokens[4:]) <= set(" abcdefghijklmnopqrstuvwxyz")
    for line in SAMPLE:
        assert v.decode(v.encode(line)) == d2l_reference(line)


def test_word_round_trip() -> None:
    v = Vocab.build(SAMPLE, kind="word", normalizer=Normalizer.make("d2l"))
    for line in SAMPLE:
        assert v.decode(v.encode(line)) == d2l_reference(line)


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_round_trip_reproduces_original_text(kind: str) -> None:
    lines = [f"{s} Line {i}, with  double spaces." for i, s in enumerate(SAMPLE * 30)]
    v = Vocab.build(lines, kind=kind, vocab_size=120)
    assert v.tokens[:4] == list(SPECIALS)
    assert v.normalizer.name == "none"
    for line in lines[:20]:
        ids = v.encode(line)
        assert min(ids) >= 4
        assert v.decode(ids) == line


def test_save_load_round_trip(tmp_path: Path) -> None:
    for kind in ("word", "bpe"):
        v = Vocab.build(SAMPLE * 20, kind=kind, vocab_size=80)
        p = tmp_path / f"{kind}.json"
        v.save(p)
        w = Vocab.load(p)
        assert (w.kind, w.tokens, w.counts, w.normalizer, w.spm_model) == (
            v.kind,
            v.tokens,
            v.counts,
            v.normalizer,
            v.spm_model,
        )
        assert w.fingerprint == v.fingerprint
        assert w.encode(SAMPLE[0]) == v.encode(SAMPLE[0])


def test_load_refuses_other_formats_and_versions(tmp_path: Path) -> None:
    v = Vocab.build(SAMPLE)
    p = tmp_path / "v.json"
    d = v.to_dict()
    p.write_text(json.dumps({**d, "format_version": 99}))
    with pytest.raises(CheckpointError, match="version 99 is not supported.*reads version 1"):
        Vocab.load(p)
    p.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a seqtool vocabulary"):
        Vocab.load(p)
    p.write_text(json.dumps({**d, "tokens": [["a", 1]]}))
    with pytest.raises(CheckpointError, match="specials"):
        Vocab.load(p)
    p.write_text("not json at all")
    with pytest.raises(CheckpointError, match="not a JSON file"):
        Vocab.load(p)
    with pytest.raises(InputError, match="no such file"):
        Vocab.load(tmp_path / "missing.json")


def test_empty_input_is_an_error() -> None:
    with pytest.raises(InputError):
        Vocab.build(["", "  ", "123 !!"], kind="word")
    with pytest.raises(InputError):
        Vocab.build([], kind="bpe")


def test_decode_refuses_ids_outside_the_vocabulary() -> None:
    v = Vocab.build(["a b"])
    with pytest.raises(InputError, match="outside this vocabulary"):
        v.decode([4, 99])


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_pieces_with_a_narrow_no_break_space_round_trip(tmp_path: Path, kind: str) -> None:
    """French puts U+202F before "?" and "!": sentencepiece keeps it inside pieces
    (only the ASCII space is a word boundary to it), so a vocabulary train-mt wrote
    from fra-eng must load again (it was refused as "holds white space")."""
    lines = [f"Qui est-ce\u202f? Comment vas-tu\u202f? Viens ici\u202f! {i}" for i in range(200)]
    v = Vocab.build(lines, kind=kind, vocab_size=40)
    assert any("\u202f" in t for t in v.tokens)
    p = tmp_path / "v.json"
    v.save(p)
    again = Vocab.load(p)
    assert again.tokens == v.tokens
    assert again.decode(again.encode(lines[0])) == lines[0]
    with pytest.raises(CheckpointError, match="white space"):
        Vocab.from_dict({**v.to_dict(), "tokens": [*v.to_dict()["tokens"], ["a b", 1]]}, "x")
