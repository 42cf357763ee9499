"""Tokenisers: ``char`` (every character, spaces included) and ``word`` (split on
whitespace), plus training and loading of sentencepiece subword models.

sentencepiece models are trained from an iterator into memory and loaded from
bytes, which is what lets a vocabulary file carry its model inside.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from typing import Any

from seqtool.errors import UsageError

TOKENIZERS = ("char", "word", "bpe", "unigram")
SUBWORD = ("bpe", "unigram")


def char_tokens(text: str) -> list[str]:
    return list(text)


def word_tokens(text: str) -> list[str]:
    return text.split()


def train_sentencepiece(
    lines: Iterable[str],
    model_type: str,
    vocab_size: int,
    specials: tuple[str, ...],
    max_sentences: int = 2_000_000,
    threads: int = 2,
) -> bytes:
    """Train a sentencepiece model and return its serialised bytes.

    The four specials get the ids 0-3 inside sentencepiece too, so sentencepiece ids
    and seqtool ids are the same.  Text is taken as it is (identity normalisation,
    whitespace kept), so decoding reproduces the input; with a vocabulary of 1000
    pieces or more, byte fallback makes every string encodable without ``<unk>``.
    """
    import sentencepiece as spm

    if model_type not in SUBWORD:
        raise UsageError(f"unknown subword model {model_type!r}")
    pad, unk, bos, eos = specials
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(line for line in lines if line.strip()),
            model_writer=model,
            model_type=model_type,
            vocab_size=vocab_size,
            pad_id=0,
            unk_id=1,
            bos_id=2,
            eos_id=3,
            pad_piece=pad,
            unk_piece=unk,
            bos_piece=bos,
            eos_piece=eos,
            character_coverage=1.0,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            byte_fallback=vocab_size >= 1000,
            hard_vocab_limit=False,
            input_sentence_size=max_sentences,
            shuffle_input_sentence=True,
            num_threads=threads,
            minloglevel=2,
        )
    except RuntimeError as e:
        # Say it in seqtool's terms: sentencepiece's own text names its internal
        # options (--character_coverage), which seqtool does not have.
        text = str(e)
        need = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", text)
        if need:
            raise UsageError(
                f"vocab_size {vocab_size} is too small: this text has {need.group(2)} "
                f"distinct characters and specials, and a {model_type} vocabulary needs each",
                hint=f"use vocab_size {int(need.group(2)) + 1} or more",
            ) from None
        text = re.sub(r"^[A-Z_]+: \S+\(\d+\) (\[.*?\] )?", "", text)  # drop source locations
        raise UsageError(f"sentencepiece could not train a {model_type} model: {text}") from None
    return model.getvalue()


def load_sentencepiece(model: bytes) -> Any:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model)
    return sp
