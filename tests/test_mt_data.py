"""Parallel text: reading, alignment errors, empty lines, columns, --max-len and token batches."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from seqtool.errors import InputError, UsageError
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab
from seqtool.train.mt_data import (
    PairBatches,
    collate,
    column_languages,
    encode_pairs,
    lang_from_name,
    pair_columns,
    read_parallel,
    split_valid,
    token_batches,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_two_files_compressed_and_languages_from_names(tmp_path: Path) -> None:
    src = tmp_path / "train.de.gz"
    with gzip.open(src, "wt", encoding="utf-8") as f:
        f.write("Ein Hund.\nZwei Katzen.\n")
    tgt = write(tmp_path / "train.en", "A dog.\nTwo cats.\n")
    data = read_parallel(src, tgt)
    assert data.src == ["Ein Hund.", "Zwei Katzen."]
    assert data.tgt == ["A dog.", "Two cats."]
    assert (data.src_lang, data.tgt_lang) == ("de", "en")


def test_mismatched_files_name_both_counts(tmp_path: Path) -> None:
    src = write(tmp_path / "a.txt", "x\ny\nz\n")
    tgt = write(tmp_path / "b.txt", "x\ny\n")
    with pytest.raises(InputError) as e:
        read_parallel(src, tgt)
    msg = str(e.value)
    assert "a.txt has 3 lines" in msg and "b.txt has 2" in msg


def test_empty_lines_are_skipped_and_counted_or_refused(tmp_path: Path) -> None:
    src = write(tmp_path / "s.txt", "a\n\nc\n  \n")
    tgt = write(tmp_path / "t.txt", "A\nB\n\nD\n")
    data = read_parallel(src, tgt)
    assert data.src == ["a"] and data.dropped_empty == 3
    with pytest.raises(InputError, match=r"s.txt:2: empty source sentence"):
        read_parallel(src, tgt, empty="error")
    with pytest.raises(UsageError):
        read_parallel(src, tgt, empty="keep")


def test_all_empty_is_an_error(tmp_path: Path) -> None:
    src = write(tmp_path / "s.txt", "\n\n")
    with pytest.raises(InputError, match="no sentence pairs"):
        read_parallel(src, src)


def test_pairs_file_columns_by_language_or_number(tmp_path: Path) -> None:
    p = write(tmp_path / "en-fr.tsv", "Hi.\tSalut.\tCC-BY\nRun!\tCours !\tCC-BY\n\n")
    data = read_parallel(pairs=p)
    assert data.src == ["Hi.", "Run!"] and data.tgt == ["Salut.", "Cours !"]
    assert data.dropped_empty == 1 and (data.src_lang, data.tgt_lang) == ("en", "fr")
    rev = read_parallel(pairs=p, src_lang="fr", tgt_lang="en")
    assert rev.src == ["Salut.", "Cours !"] and rev.tgt == ["Hi.", "Run!"]
    assert (rev.src_lang, rev.tgt_lang) == ("fr", "en")
    by_number = read_parallel(pairs=p, src_lang="2", tgt_lang="1")
    assert by_number.src == rev.src
    with pytest.raises(UsageError, match="holds en and fr"):
        read_parallel(pairs=p, src_lang="de")


def test_tatoeba_file_layout(tmp_path: Path) -> None:
    folder = tmp_path / "fra-eng"
    folder.mkdir()
    p = write(folder / "fra.txt", "Go.\tVa !\tCC-BY 2.0\n")
    assert column_languages(p) == ("en", "fr")
    assert pair_columns(p, "fra", "eng") == (1, 0)
    assert read_parallel(pairs=p, src_lang="fr").tgt == ["Go."]


def test_pairs_file_errors(tmp_path: Path) -> None:
    p = write(tmp_path / "pairs.tsv", "a\tb\nonly one column\n")
    with pytest.raises(InputError, match=r"pairs.tsv:2: expected at least 2"):
        read_parallel(pairs=p)
    with pytest.raises(UsageError, match="cannot tell which column"):
        read_parallel(pairs=p, src_lang="en")
    with pytest.raises(UsageError):
        read_parallel(pairs=p, src=p)
    with pytest.raises(UsageError):
        read_parallel(src=p)


def test_lang_from_name() -> None:
    assert lang_from_name("x/train.de.gz") == "de"
    assert lang_from_name("val.en") == "en"
    assert lang_from_name("corpus.txt") is None
    assert lang_from_name("-") is None


def test_split_valid_is_seeded_and_disjoint(tmp_path: Path) -> None:
    src = write(tmp_path / "s.txt", "".join(f"s{i}\n" for i in range(50)))
    tgt = write(tmp_path / "t.txt", "".join(f"t{i}\n" for i in range(50)))
    data = read_parallel(src, tgt)
    tr, va = split_valid(data, 10, seed=3)
    tr2, va2 = split_valid(data, 10, seed=3)
    assert va.src == va2.src and len(va) == 10 and len(tr) == 40
    assert not set(tr.src) & set(va.src)
    assert all(s[1:] == t[1:] for s, t in zip(va.src, va.tgt))
    with pytest.raises(UsageError):
        split_valid(data, 50, seed=0)


def test_encode_pairs_max_len_drops_and_counts() -> None:
    vocab = Vocab.build(["a b c d e f"], kind="word", normalizer=Normalizer.make("none"))
    from seqtool.train.mt_data import ParallelText

    data = ParallelText(["a b", "a b c d e", "c"], ["d", "e f", "a b c d"], "x")
    enc = encode_pairs(vocab, vocab, data, max_len=4)
    assert enc.dropped_long == 2 and enc.index == [0]
    assert enc.src == [[*vocab.encode("a b"), 3]] and enc.tgt == [vocab.encode("d")]
    assert encode_pairs(vocab, vocab, data).dropped_long == 0
    with pytest.raises(UsageError):
        encode_pairs(vocab, vocab, data, max_len=1)


def test_token_batches_respect_the_budget_and_cover_everything() -> None:
    g = torch.Generator().manual_seed(0)
    src = torch.randint(1, 40, (500,), generator=g).tolist()
    tgt = torch.randint(1, 40, (500,), generator=g).tolist()
    batches = token_batches(src, tgt, 256, seed=1)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for b in batches:
        assert len(b) * max(max(src[i], tgt[i] + 1) for i in b) <= 256
    # Bucketing: each batch holds similar lengths (of its longer side).
    cost = [max(s, t + 1) for s, t in zip(src, tgt)]
    spread = [max(cost[i] for i in b) - min(cost[i] for i in b) for b in batches]
    assert sum(spread) / len(spread) < 2
    # Same number of batches whatever the seed (the data position stays valid).
    assert len(token_batches(src, tgt, 256, seed=2)) == len(batches)
    assert token_batches(src, tgt, 256, seed=1) == batches
    # A pair longer than the budget gets a batch of its own.
    assert token_batches([300, 2], [2, 2], 256) == [[1], [0]]
    with pytest.raises(UsageError):
        token_batches(src, tgt, 0)


def test_collate_shifts_the_target() -> None:
    b = collate([[5, 6, 3], [7, 3]], [[8, 9], [10]])
    assert b["src"].tolist() == [[5, 6, 3], [7, 3, 0]]
    assert b["src_lens"].tolist() == [3, 2]
    assert b["tgt_in"].tolist() == [[2, 8, 9], [2, 10, 0]]
    assert b["tgt_out"].tolist() == [[8, 9, 3], [10, 3, 0]]


def test_pair_batches_shard_evenly_and_resume_mid_epoch() -> None:
    from seqtool.train.mt_data import EncodedPairs

    data = EncodedPairs(
        [[4] * (i % 9 + 1) + [3] for i in range(101)], [[5] * (i % 7 + 1) for i in range(101)]
    )
    whole = PairBatches(data, 64, seed=0)
    ranks = [PairBatches(data, 64, seed=0, rank=r, world=2) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == len(whole) // 2
    assert list(map(len, [list(r.batches(0)) for r in ranks])) == [len(ranks[0])] * 2
    first = [b["src"].tolist() for b in whole.batches(3)]
    assert [b["src"].tolist() for b in whole.batches(3, start=4)] == first[4:]
    assert [b["src"].tolist() for b in whole.batches(4)] != first  # reshuffled each epoch
