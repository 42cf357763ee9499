"""The hash index that n-gram scoring looks keys up with, and its place in the binary model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from seqtool.errors import InputError
from seqtool.stats import hashindex
from seqtool.stats.kneser_ney import estimate_lm
from seqtool.stats.ngram_lm import NGramLM

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "english.txt"


@pytest.mark.parametrize("n", [0, 1, 7, 1000, 50_000])
def test_find_agrees_with_binary_search(n: int) -> None:
    rng = np.random.default_rng(n)
    keys = np.unique(rng.integers(0, 1 << 40, size=n))
    # clustered keys (as prefix * V + w are) as well as spread ones
    keys = np.unique(np.concatenate((keys, np.arange(n // 2) * 3)))
    slots = hashindex.build(keys)
    assert hashindex.valid(slots, len(keys))
    assert np.array_equal(np.sort(slots[slots >= 0]), np.arange(len(keys)))
    want = np.concatenate((keys, rng.integers(0, 1 << 40, size=2000), [0, 1, 2]))
    rng.shuffle(want)
    pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    expect = np.where(keys[pos] == want, pos, -1) if len(keys) else np.full(len(want), -1)
    assert np.array_equal(hashindex.find(slots, keys, want), expect)


def test_key_zero_on_an_empty_slot_is_absent() -> None:
    # an empty slot reads row -1; the comparison must not take keys[0] for it
    keys = np.array([0, 5, 9], dtype=np.int64)
    slots = hashindex.build(keys)
    absent = np.array([k for k in range(1, 200) if k not in (5, 9)], dtype=np.int64)
    assert (hashindex.find(slots, keys, absent) == -1).all()
    assert hashindex.find(slots, keys, np.array([0, 9, 5]))[:3].tolist() == [0, 2, 1]


def test_binary_model_keeps_its_index_and_reads_files_without_one(tmp_path: Path) -> None:
    lm = estimate_lm([SAMPLE], 3, discount_fallback=(0.5, 1, 1.5))
    text = SAMPLE.read_text(encoding="utf-8").splitlines()[:60]
    want = lm.perplexity(text).perplexity
    path = tmp_path / "m.npz"
    lm.save(path)
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    assert {"slots_2", "slots_3"} <= set(data)
    assert NGramLM.load(path).perplexity(text).perplexity == want
    # a file without the index (as older seqtool versions wrote): built when needed
    old = tmp_path / "old.npz"
    np.savez(old, **{k: v for k, v in data.items() if not k.startswith("slots_")})
    assert NGramLM.load(old).perplexity(text).perplexity == want
    # a damaged index is refused, not trusted
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{**data, "slots_3": np.full(len(data["slots_3"]), 10**9, np.int32)})
    with pytest.raises(InputError, match="damaged"):
        NGramLM.load(bad)


def test_word_bytes_give_the_ids_of_str_split() -> None:
    from seqtool.stats import wordbytes
    from seqtool.stats.ngram_lm import _word_arrays

    words = ["<unk>", "<s>", "</s>", "a", "été", "abcdefgh", "abcdefghi", "x" * 40, "naïveté", "b"]
    index = dict(zip(words, range(len(words))))
    rng = np.random.default_rng(1)
    pool = [*words[3:], "unknown", "abcdefg", "abcdefghij", "ét"]
    text = "\n".join(
        "\t ".join(rng.choice(pool, size=int(rng.integers(0, 9))).tolist()) + " \r"
        for _ in range(300)
    )
    data = text.encode("utf-8")
    buf = np.frombuffer(data, dtype=np.uint8)
    assert wordbytes.plain_spaces(data, buf)
    starts, ends = wordbytes.spans(buf)
    got = wordbytes.WordIndex(*_word_arrays(words)).ids(data, buf, starts, ends, -1)
    assert got.tolist() == [index.get(t, -1) for t in text.split()]
    import sys

    # every character str.split splits on but ASCII space, tab, CR, LF is refused; its
    # neighbours (the E2 80 xx quotes and dashes, ...) are not
    spaces = [c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace()]
    near = [chr(cp) for cp in range(0x2000, 0x2070)] + ["\u00a1", "\u3001", "\u1681"]
    for c in spaces + near:
        raw = f"a{c}b «é» – ’".encode()
        plain = wordbytes.plain_spaces(raw, np.frombuffer(raw, dtype=np.uint8))
        assert plain == (c in " \t\r\n" or not c.isspace()), hex(ord(c))


def test_scoring_paths_agree(tmp_path: Path, monkeypatch) -> None:
    # the byte path, the str.split path (other whitespace) and per-sentence scoring
    from seqtool.stats import wordbytes

    lm = estimate_lm([SAMPLE], 3, discount_fallback=(0.5, 1, 1.5))
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:50]
    lines += ["", "  spaced\tout  words ", "unknownword another", "naïve café", "a\nb"]
    fast = lm.score_text(lines)
    assert lm._line_ids(lines) is not None
    slow = lm.score_sentences([ln.split() for ln in lines])
    assert np.array_equal(fast.ids, slow.ids) and np.array_equal(fast.order, slow.order)
    assert np.array_equal(fast.logprob, slow.logprob)
    assert np.array_equal(fast.line_of, slow.line_of)
    odd = [*lines, "vertical\x0btab"]
    assert not wordbytes.plain_spaces(b"\x0b", np.frombuffer(b"\x0b", dtype=np.uint8))
    assert np.array_equal(lm.score_text(odd).logprob[: len(fast.logprob)], fast.logprob)
    monkeypatch.setattr(wordbytes, "plain_spaces", lambda data, buf: False)  # str.split path
    split = lm.score_text(lines)
    assert np.array_equal(split.ids, fast.ids) and np.array_equal(split.logprob, fast.logprob)
    monkeypatch.undo()
    with_marker = [*lines, "a literal <s> here", "and </s>"]
    assert lm._line_ids(with_marker) is None
    marked = lm.score_text(with_marker)  # each line through tokenize: the markers as words
    per = lm.score_sentences([ln.split() for ln in with_marker])
    assert np.array_equal(marked.logprob, per.logprob)
    assert np.array_equal(marked.line_of, per.line_of)


def test_arpa_read_with_arrays_matches_the_line_parser(tmp_path: Path, monkeypatch) -> None:
    import seqtool.stats.arpa as arpa

    long_words = " ".join(f"{'w' * n}{i}" for i, n in enumerate((3, 9, 12, 15, 16, 17, 30)))
    text = SAMPLE.read_text(encoding="utf-8") + (long_words + " é\n") * 3
    lm = estimate_lm([_write(tmp_path, text)], 4, discount_fallback=(0.5, 1, 1.5))
    path = tmp_path / "m.arpa"
    lm.write_arpa(path)
    # numbers in other forms (an exponent), tabs and spaces mixed: still the array path
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(  # -1.25 as -125e-2: the same number
        r"\n(-?\d+)\.(\d+)\t",
        lambda m: f"\n{m[1]}{m[2]}e-{len(m[2])}\t",
        raw,
        count=200,
    ).replace("\t", " \t", 50)
    assert "e-" in raw
    path.write_text(raw, encoding="utf-8")
    fast = arpa.read_arpa(path)
    monkeypatch.setattr(arpa, "_fast_section", lambda *a: None)
    slow = arpa.read_arpa(path)
    assert fast.words == slow.words
    for a, b in zip(fast.keys + fast.logp + fast.logb, slow.keys + slow.logp + slow.logb):
        assert np.array_equal(a, b)


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "t.txt"
    p.write_text(text, encoding="utf-8")
    return p
