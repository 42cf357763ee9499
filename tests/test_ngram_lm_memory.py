"""N-gram LM estimation in bounded memory: narrow count types, counting and
estimation a block at a time, suffix rows parked in a temporary file, and the ARPA
file written order by order; each gives the same numbers and bytes as the whole."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from seqtool.stats import arpa, kneser_ney, prefix_counts
from seqtool.stats.kneser_ney import (
    KNConfig,
    count_sentences,
    estimate_arpa_from,
    estimate_from,
)
from seqtool.text.normalize import Normalizer

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "english.txt"
PLAIN = Normalizer("none", False)


def counted(path: Path, order: int, **kw: int) -> kneser_ney.SentenceCounts:
    return count_sentences([path], order, PLAIN, "word", **kw)  # type: ignore[arg-type]


def test_counts_widen_from_one_byte_as_they_grow(tmp_path: Path, monkeypatch) -> None:
    # "a b" 70,000 times in batches: its bigram count passes 255 and 65,535 on the way;
    # the trigrams of the rare lines stay within one byte.
    monkeypatch.setattr(prefix_counts, "_BLOCK", 3)  # tables moved a few rows at a time
    lines = ["a b"] * 70_000 + [f"x{i} y{i % 7} z" for i in range(300)]
    path = tmp_path / "c.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts = counted(path, 3, chunk_bytes=4096, batch_tokens=20_000)
    want: Counter[tuple[str, ...]] = Counter()
    for ln in lines:
        seq = ["<s>", *ln.split(), "</s>"]
        for k in (2, 3):
            want.update(tuple(seq[i : i + k]) for i in range(len(seq) - k + 1))
    got: Counter[tuple[str, ...]] = Counter()
    for k in (2, 3):
        for r, c in zip(counts.rows(k).tolist(), counts.counts[k].tolist()):
            got[tuple(counts.words[i] for i in r)] = c
    assert got == want
    assert counts.counts[2].dtype == np.int32  # 70,000 > 65,535
    assert counts.counts[3].dtype == np.int32  # <s> a b: 70,000 too
    few = tmp_path / "few.txt"
    few.write_text("\n".join(lines[-300:] + ["p q r"] * 300) + "\n", encoding="utf-8")
    small = counted(few, 3)
    assert small.counts[2].dtype == np.uint16 and small.counts[3].dtype == np.uint16
    assert int(small.counts[3].max()) == 300
    once = counted(SAMPLE, 5)
    assert once.counts[5].dtype == np.uint8


def arpa_bytes(path: Path, order: int, prune: tuple[int, ...], streamed: bool, out: Path) -> bytes:
    config = KNConfig(order, prune=prune, discount_fallback=(0.5, 1.0, 1.5))
    counts = counted(path, order)
    if streamed:
        meta = estimate_arpa_from(counts, config, out)
        assert meta["order"] == order and meta["vocab_size"] > 3
    else:
        estimate_from(counts, config).write_arpa(out)
    return out.read_bytes()


@pytest.mark.parametrize(("order", "prune"), [(1, ()), (2, ()), (3, ()), (5, ()), (4, (0, 0, 1))])
def test_streamed_arpa_is_the_whole_models_arpa(
    tmp_path: Path, monkeypatch, order: int, prune: tuple[int, ...]
) -> None:
    monkeypatch.setattr(arpa, "_BLOCK", 64)  # several ARPA blocks per order
    whole = arpa_bytes(SAMPLE, order, prune, False, tmp_path / "whole.arpa")
    # estimation in small blocks (every context boundary, ranges of continuation
    # counts, ARPA pieces that do not line up with the writer's blocks): the same bytes
    monkeypatch.setattr(kneser_ney, "_BLOCK", 50)
    monkeypatch.setattr(kneser_ney, "_ARPA_ROWS", 37)
    monkeypatch.setattr(kneser_ney, "_RANGE", 100)
    assert arpa_bytes(SAMPLE, order, prune, True, tmp_path / "s.arpa") == whole
    assert arpa_bytes(SAMPLE, order, prune, False, tmp_path / "m.arpa") == whole


def test_estimation_without_a_temporary_file(tmp_path: Path, monkeypatch) -> None:
    whole = arpa_bytes(SAMPLE, 4, (), True, tmp_path / "whole.arpa")

    def no_room(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(kneser_ney.tempfile, "TemporaryFile", no_room)
    assert arpa_bytes(SAMPLE, 4, (), True, tmp_path / "again.arpa") == whole


def test_cli_arpa_alone_is_streamed_with_the_same_bytes(cli, tmp_path: Path) -> None:
    alone, both, npz = tmp_path / "a.arpa", tmp_path / "b.arpa", tmp_path / "b.npz"
    r = cli("ngrams", "lm", SAMPLE, "-n", "4", "-o", alone, "--discount-fallback")
    assert r.exit_code == 0, r.stderr
    assert "4-gram model" in r.stderr and f"estimated and wrote {alone}" in r.stderr
    r = cli("ngrams", "lm", SAMPLE, "-n", "4", "-o", both, "--binary", npz, "--discount-fallback")
    assert r.exit_code == 0, r.stderr
    assert alone.read_bytes() == both.read_bytes()


def test_arpa_with_words_longer_than_the_padded_fields(tmp_path: Path) -> None:
    # A word of 40 UTF-8 bytes among short ones: its lines are made one at a time,
    # the others in the padded layout; the file reads back to the same model.
    from seqtool.stats.kneser_ney import estimate_lm
    from seqtool.stats.ngram_lm import NGramLM

    long = "Donaudampfschifffahrtsgesellschaftsküche"  # 41 bytes
    lines = [f"die {long} ist groß", "die Küche ist klein", f"{long} und Küche"] * 5
    path = tmp_path / "de.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    lm = estimate_lm([path], 3, discount_fallback=(0.5, 1.0, 1.5))
    out = tmp_path / "de.arpa"
    lm.write_arpa(out)
    text = out.read_text(encoding="utf-8")
    assert f"\tdie {long}\t" in text and f"\t<s> die {long}\n" in text
    again = NGramLM.load(out)
    assert again.counts() == lm.counts()
    for ln in [*lines[:3], f"{long} ist klein"]:
        assert again.score(ln) == pytest.approx(lm.score(ln), abs=1e-5)
