"""N-gram counting: exact counts against a plain-Python reference, the key
machinery, save/merge, and the `seqtool ngrams` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqtool.stats import keys as K
from seqtool.stats.ngrams import NgramCounts, Settings, count_ngrams, merge_counts
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab
from tests.conftest import TINY, assert_one_line_error


def reference(text: str, n: int, settings: Settings) -> Counter[tuple[str, ...]]:
    """The obvious implementation: normalise, split, zip, Counter."""
    norm = settings.normalizer
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if settings.per_line:
        seqs = [
            list(norm.line(ln)) if settings.tokenizer == "char" else norm(ln).split()
            for ln in lines
        ]
    elif settings.tokenizer == "char":
        seqs = [list(norm("".join(ln + "\n" for ln in lines)))]
    else:
        seqs = [norm(text).split()]
    out: Counter[tuple[str, ...]] = Counter()
    for s in seqs:
        out.update(zip(*(s[k:] for k in range(n))))
    return out


def as_counter(counts: NgramCounts, n: int) -> Counter[tuple[str, ...]]:
    rows, c = counts.ranked(n)
    return Counter({tuple(counts.tokens[i] for i in row): k for row, k in zip(rows.tolist(), c)})


def write(tmp_path: Path, text: str, name: str = "c.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- exact counts
def test_tiny_by_hand(tiny: Path) -> None:
    c = count_ngrams([tiny], (1, 2))
    assert c.n_tokens == 18
    assert c.top(1, 3) == [("the", 5), ("a", 2), ("cat", 2)]  # ties by token order
    top2 = dict(c.top(2, 100))
    assert top2["sat--on"] == 2 and top2["on--the"] == 2
    assert top2["mat--the"] == 1 and top2["log--a"] == 1  # across lines, as d2l counts
    per_line = dict(count_ngrams([tiny], (2,), Settings(per_line=True)).top(2, 100))
    assert "mat--the" not in per_line and "log--a" not in per_line
    assert per_line["sat--on"] == 2


CASES = [
    ("letters", "word", False),
    ("letters", "word", True),
    ("d2l", "char", False),
    ("letters", "char", True),
    ("none", "word", False),
    ("nfkc", "char", False),
    ("letters", "char", False),
]
TEXTS = [
    TINY,
    "Ça va? Très bien, merci.\nÉcole — 2024: naïve café!\n",
    "  leading space\n\n\n...\ttabs\tand  spaces\r\nCRLF line\r\n",
    "one\n",
    "x y x y x y x\ny x y\n",
    "Antidisestablishmentarianism IS supercalifragilistic;\nABCDEFGHIJKL abcdefghijklm "
    "twelveletter abcdefghijkl abcdefgh abcdefghi a\n",  # 12-letter limit of packed codes
]


@pytest.mark.parametrize("norm,tok,per_line", CASES)
@pytest.mark.parametrize("text", TEXTS)
def test_matches_reference(tmp_path: Path, text: str, norm: str, tok: str, per_line: bool) -> None:
    s = Settings(Normalizer.make(norm), tok, per_line)
    path = write(tmp_path, text)
    got = count_ngrams([path], (1, 2, 3), s, chunk_bytes=16)  # many chunk boundaries
    for n in (1, 2, 3):
        assert as_counter(got, n) == reference(text.replace("\r\n", "\n"), n, s), n


@pytest.mark.parametrize("text", TEXTS)
def test_unigrams_alone_match_reference(tmp_path: Path, text: str) -> None:
    """-n 1 alone counts letter codes per chunk without per-token ids."""
    s = Settings(Normalizer.make("letters"))
    path = write(tmp_path, text * 3)
    for chunk in (16, 1 << 20):
        got = count_ngrams([path], (1,), s, chunk_bytes=chunk)
        want = reference((text * 3).replace("\r\n", "\n"), 1, s)
        assert as_counter(got, 1) == want
        assert got.n_tokens == sum(want.values())


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(alphabet="ab cé\n.", max_size=80),
    chunk=st.integers(1, 12),
    per_line=st.booleans(),
    tok=st.sampled_from(["word", "char"]),
)
def test_property_chunking_never_changes_counts(
    tmp_path_factory: pytest.TempPathFactory, text: str, chunk: int, per_line: bool, tok: str
) -> None:
    s = Settings(Normalizer.make("letters"), tok, per_line)
    path = write(tmp_path_factory.mktemp("p"), text)
    got = count_ngrams([path], (1, 2, 3), s, chunk_bytes=chunk)
    for n in (1, 2, 3):
        assert as_counter(got, n) == reference(text, n, s)


@settings(max_examples=40, deadline=None)
@given(words=st.lists(st.text(alphabet="abcXYZ", min_size=1, max_size=16), min_size=1, max_size=60))
def test_packed_letter_ids_match_dict_ids(words: list[str]) -> None:
    from seqtool.stats.letters import LetterCodes
    from seqtool.stats.tokens import Lexicon

    lex = Lexicon(char=False)
    text = " ".join(words).encode()
    ids = LetterCodes(lex).word_ids(text)
    assert [lex.tokens[i] for i in ids.tolist()] == text.lower().split()


def test_workers_equal_one_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcdef"), rng.integers(1, 6))) for _ in range(400)]
    lines = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(3000)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    one = count_ngrams([path], (1, 2, 4), chunk_bytes=2048)
    two = count_ngrams([path], (1, 2, 4), workers=2, chunk_bytes=2048)
    for n in (1, 2, 4):
        assert as_counter(one, n) == as_counter(two, n)
    assert one.n_tokens == two.n_tokens


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=30),
    counts=st.lists(st.integers(1, 10**18), min_size=30, max_size=30),
    sep=st.sampled_from(["--", "", " ", "→"]),
)
def test_tsv_bytes_equal_formatted_lines(
    rows: list[tuple[int, int]], counts: list[int], sep: str
) -> None:
    from seqtool.stats.tsv import TokenBytes, tsv_lines

    tokens = ["", "a", "bé", "ccc", "日本"]
    arr, c = np.array(rows), np.array(counts[: len(rows)])
    got = tsv_lines(TokenBytes(tokens), arr, c, sep.encode())
    want = "".join(f"{tokens[a]}{sep}{tokens[b]}\t{k}\n" for (a, b), k in zip(rows, c.tolist()))
    assert got.decode() == want


def test_heaps_points_are_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    toks = ["".join("abcdefgh"[int(d)] for d in f"{i:o}") for i in rng.zipf(1.5, 5000) % 400]
    path = write(tmp_path, " ".join(toks) + "\n")
    c = count_ngrams([path], (1,), heaps=True, chunk_bytes=500)
    assert c.heaps is not None and c.heaps[-1].tolist() == [5000, len(set(toks))]
    for n_read, v in c.heaps.tolist():
        assert v == len(set(toks[:n_read]))


def test_vocab_maps_unknown_tokens(tmp_path: Path, tiny: Path) -> None:
    vocab = Vocab.build(["the cat sat"], kind="word")
    c = count_ngrams([tiny], (1, 2), vocab=vocab)
    top = dict(c.top(1, 100))
    assert top["<unk>"] == 18 - 5 - 2 - 2 and top["the"] == 5
    assert dict(c.top(2, 100))["the--cat"] == 1
    assert c.settings.vocab == vocab.fingerprint


def test_output_order_ties_by_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, "b a c a b c d\n")
    c = count_ngrams([path], (1,))
    assert c.top(1, 0) == [("a", 2), ("b", 2), ("c", 2), ("d", 1)]
    assert b"".join(c.tsv_blocks(1)) == b"a\t2\nb\t2\nc\t2\nd\t1\n"


@pytest.mark.parametrize("spare", [1, 2, 3, 63])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_tsv_blocks_order_with_few_spare_bits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spare: int, n: int
) -> None:
    """Counts too large for the spare bits above the rank key are ordered apart."""
    import seqtool.stats.ngrams as ng

    rng = np.random.default_rng(spare * 10 + n)
    words = ["a", "b", "ab", "ba", "é", "z", "zz", "q"]
    toks = [words[i] for i in rng.zipf(1.3, 3000) % len(words)]
    c = count_ngrams([write(tmp_path, " ".join(toks) + "\n")], (n,))
    monkeypatch.setattr(ng, "SPARE_BITS", spare)
    want = sorted(as_counter(c, n).items(), key=lambda kv: (-kv[1], kv[0]))
    lines = "".join(f"{'--'.join(g)}\t{k}\n" for g, k in want)
    assert b"".join(c.tsv_blocks(n, block=7)).decode() == lines
    for min_count in (2, 5):
        kept = "".join(f"{'--'.join(g)}\t{k}\n" for g, k in want if k >= min_count)
        assert b"".join(c.tsv_blocks(n, min_count=min_count)).decode() == kept


def test_tsv_lines_unusual_tokens() -> None:
    """Tokens wider than the padded layout, or holding a NUL, are laid out byte by byte;
    tabs, line breaks and backslashes are escaped."""
    from seqtool.io import tsv_escape
    from seqtool.stats.tsv import PAD_WIDTH, TokenBytes, tsv_lines

    for tokens in (
        ["", "x" * (PAD_WIDTH + 3), "y", "é"],
        ["", "a\x00b", "c"],
        ["", "a\nb", "c"],
        ["", "\t", "\\"],
    ):
        rows = np.array([[1, 2], [2, 1], [2, 2], [1, 1]])
        c = np.array([10**12, 7, 1, 100])
        esc = [tsv_escape(t) for t in tokens]
        for sep in ("", " "):
            want = "".join(f"{esc[a]}{sep}{esc[b]}\t{k}\n" for (a, b), k in zip(rows, c))
            assert tsv_lines(TokenBytes(tokens), rows, c, sep.encode()).decode() == want
            want = "".join(f"{esc[a]}{sep}{esc[b]}\t{k}\n" for (a, b), k in zip(rows[2:], c[2:]))
            assert tsv_lines(TokenBytes(tokens), rows[2:], c[2:], sep.encode()).decode() == want


def test_letter_codes_large_vocabulary_and_dict_path() -> None:
    """Many new words (the recent table merged into the main one several times), and
    words first met by the dict path, keep one id each."""
    from seqtool.stats.letters import LetterCodes
    from seqtool.stats.tokens import Lexicon

    rng = np.random.default_rng(3)
    vocab = ["".join(rng.choice(list("abcdefghij"), rng.integers(1, 15))) for _ in range(30000)]
    lex = Lexicon(char=False)
    codes = LetterCodes(lex)
    for part in range(6):
        words = [vocab[i] for i in rng.integers(0, len(vocab), 20000)]
        if part == 3:
            ids = lex.word_ids([w.encode() for w in words])
        else:
            ids = codes.word_ids(" ".join(words).encode())
        assert [lex.tokens[i].decode() for i in ids.tolist()] == words
    assert len(set(lex.tokens)) == len(lex.tokens)


# ---------------------------------------------------------------- keys
@pytest.mark.parametrize("n,bits", [(1, 10), (3, 21), (4, 16), (5, 20)])  # last two: rows
def test_keys_pack_count_merge(n: int, bits: int) -> None:
    rng = np.random.default_rng(n)
    table = K.KeyTable(n, bits, floor=50)
    expect: Counter[tuple[int, ...]] = Counter()
    for _ in range(8):
        rows = rng.integers(0, 5, size=(200, n)) * ((1 << bits) // 5 - 1)
        expect.update(map(tuple, rows.tolist()))
        table.add_ids([rows[:, j] for j in range(n)])
    got = Counter(dict(zip(map(tuple, table.rows().tolist()), table.counts.tolist())))
    assert got == expect


def test_widen_repacks_and_keeps_order() -> None:
    table = K.KeyTable(3, 12)
    rows = np.array([[1, 2, 3], [4000, 1, 2], [1, 2, 3]])
    table.add_ids([rows[:, j] for j in range(3)])
    table.flush()
    table.widen(25)  # 3 * 25 > 63: keys become rows
    table.add_ids([np.array([1 << 24]), np.array([0]), np.array([5])])
    table.flush()
    assert table.rows().tolist() == [[1, 2, 3], [4000, 1, 2], [1 << 24, 0, 5]]
    assert table.counts.tolist() == [2, 1, 1]


# ---------------------------------------------------------------- save / merge
def test_save_load_merge(tmp_path: Path) -> None:
    a = write(tmp_path, "the cat sat\non the mat\n", "a.txt")
    b = write(tmp_path, "the dog sat\non the log\n", "b.txt")
    s = Settings(per_line=True)
    ca, cb = count_ngrams([a], (1, 2), s), count_ngrams([b], (1, 2), s)
    ca.save(tmp_path / "a.npz")
    cb.save(tmp_path / "b.npz")
    la = NgramCounts.load(tmp_path / "a.npz")
    assert as_counter(la, 2) == as_counter(ca, 2) and la.settings == s
    merged = merge_counts([la, NgramCounts.load(tmp_path / "b.npz")])
    both = count_ngrams([a, b], (1, 2), s)
    for n in (1, 2):
        assert as_counter(merged, n) == as_counter(both, n)
    assert merged.n_tokens == both.n_tokens


# ---------------------------------------------------------------- command line
def test_cli_top_tsv(cli, tiny: Path) -> None:
    r = cli("ngrams", tiny, "-n", "1", "-n", "2", "--top", "2")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "the\t5\na\t2\non--the\t2\nsat--on\t2\n"
    assert "18 tokens" in r.stderr and "9 types" in r.stderr


def test_cli_count_subcommand_stdin_and_order_range(cli) -> None:
    r = cli("ngrams", "count", "--order", "1-2", "--top", "1", input=TINY)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines() == ["the\t5", "on--the\t2"]
    r = cli("ngrams", "-", "--order", "1,3", "--top", "1", "--sep", " ", input=TINY)
    assert r.stdout.splitlines() == ["the\t5", "sat on the\t2"]


def test_cli_all_counts_json_and_char(cli, tiny: Path) -> None:
    r = cli("ngrams", tiny, "--top", "0", "-f", "jsonl", "-q")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 9 and rows[0] == {"n": 1, "ngram": "the", "count": 5, "tokens": ["the"]}
    assert r.stderr == ""
    r = cli("ngrams", tiny, "-t", "char", "-n", "2", "--top", "1", "-f", "json")
    want = [{"n": 2, "ngram": "a--t", "count": 5, "tokens": ["a", "t"]}]  # ties: at, e , he
    assert json.loads(r.stdout) == want
    r = cli("ngrams", tiny, "--top", "0", "--min-count", "2", "--header")
    assert r.stdout.splitlines()[0] == "ngram\tcount" and len(r.stdout.splitlines()) == 7


def test_cli_table_on_request(cli, tiny: Path) -> None:
    r = cli("ngrams", tiny, "-f", "table", "--top", "1")
    assert r.exit_code == 0 and "the" in r.stdout and "1-grams" in r.stdout


def test_cli_save_then_merge(cli, tmp_path: Path) -> None:
    a = write(tmp_path, "a b a\n", "a.txt")
    b = write(tmp_path, "b b c\n", "b.txt")
    assert cli("ngrams", a, "-n", "1", "-n", "2", "--save", tmp_path / "a.npz").exit_code == 0
    assert cli("ngrams", b, "-n", "1", "--save", tmp_path / "b.npz").exit_code == 0
    r = cli("ngrams", "merge", tmp_path / "a.npz", tmp_path / "b.npz", "--save", tmp_path / "m.npz")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # --save alone writes the counts, prints no lists
    assert cli("ngrams", tmp_path / "m.npz").stdout == "b\t3\na\t2\nc\t1\n"  # order 1 only
    r = cli("ngrams", tmp_path / "a.npz", "-n", "2")  # a saved file shown directly
    assert r.stdout == "a--b\t1\nb--a\t1\n"
    assert_one_line_error(cli("ngrams", "merge", tmp_path / "m.npz", "-n", "2"), 2)


def test_cli_help(cli) -> None:
    for args in (["ngrams", "--help"], ["ngrams", "count", "--help"], ["ngrams", "merge", "-h"]):
        r = cli(*args)
        assert r.exit_code == 0 and "Usage:" in r.stdout
    assert "merge" in cli("ngrams", "--help").stdout


@pytest.mark.parametrize(
    "args,code",
    [
        (["-n", "0"], 2),
        (["-n", "99"], 2),
        (["-n", "30"], 2),  # larger than the 18 tokens
        (["--order", "x"], 2),
        (["--top", "-1"], 2),
        (["--min-count", "0"], 2),
        (["--workers", "-2"], 2),
        (["-t", "bpe"], 2),
        (["--normalize", "nope"], 2),
        (["--sep", "\t"], 2),
        (["--per-line", "-n", "7"], 2),  # no line has 7 tokens
        (["--save", "/no/such/dir/x.npz"], 2),
        (["--encoding", "klingon"], 2),
    ],
)
def test_cli_bad_options(cli, tiny: Path, args: list[str], code: int) -> None:
    assert_one_line_error(cli("ngrams", tiny, *args), code)


def test_cli_bad_inputs(cli, bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    for name, path in bad_inputs.items():
        assert_one_line_error(cli("ngrams", path), 1)
        assert_one_line_error(cli("ngrams", "merge", path.with_suffix(".npz")), 1), name
    punct = write(tmp_path, "... !!! 123\n")
    r = cli("ngrams", punct)
    assert_one_line_error(r, 1)
    assert "empty input" in r.stderr
    not_npz = write(tmp_path, "hello\n", "fake.npz")
    assert_one_line_error(cli("ngrams", "merge", not_npz), 1)


def test_cli_merge_refuses_different_settings(cli, tiny: Path, tmp_path: Path) -> None:
    cli("ngrams", tiny, "--save", tmp_path / "w.npz")
    cli("ngrams", tiny, "-t", "char", "--save", tmp_path / "c.npz")
    r = cli("ngrams", "merge", tmp_path / "w.npz", tmp_path / "c.npz")
    assert_one_line_error(r, 1)
    assert "different settings" in r.stderr


def test_cli_vocab(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    Vocab.build(["the cat"], kind="word").save(v)
    r = cli("ngrams", tiny, "--vocab", v, "--top", "2")
    assert r.stdout == "<unk>\t11\nthe\t5\n"
    assert_one_line_error(cli("ngrams", tiny, "--vocab", v, "--normalize", "d2l"), 2)


def test_ngrams_imports_no_torch(tiny: Path) -> None:
    code = (
        "import sys; from seqtool.cli import main; "
        f"sys.argv = ['seqtool', 'ngrams', {str(tiny)!r}, '-q']; main(); "
        "bad = [m for m in ('torch', 'sentencepiece', 'sacrebleu', 'scipy', 'matplotlib') "
        "if m in sys.modules]; assert not bad, bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- real data
@pytest.mark.slow
def test_time_machine_d2l_figures(cli, shared_data: Path) -> None:
    tm = shared_data / "timemachine.txt"
    r = cli("ngrams", tm, "-n", "1", "-n", "2", "-n", "3", "--top", "10")
    lines = r.stdout.splitlines()
    assert lines[:10] == [
        "the\t2261", "i\t1267", "and\t1245", "of\t1155", "a\t816",
        "to\t695", "was\t552", "in\t541", "that\t443", "my\t440",
    ]  # fmt: skip
    assert lines[10] == "of--the\t309" and lines[20] == "the--time--traveller\t59"
    assert "32,775 tokens" in r.stderr
    d2l = count_ngrams([tm], (1, 2, 3), Settings(Normalizer.make("d2l")), workers=2)
    assert d2l.top(3, 1) == [("the--time--traveller", 59)] and d2l.n_tokens == 32775


def test_stable_descending_mixes_radix_and_merge_sort() -> None:
    from seqtool.stats.ngrams import _stable_descending

    c = np.array([3, 70000, 3, 1, 40000, 70000, 2, 3])
    assert _stable_descending(c).tolist() == [1, 5, 4, 0, 2, 7, 6, 3]
    assert _stable_descending(np.array([1, 2, 1])).tolist() == [1, 0, 2]


def test_trigrams_of_a_million_words_still_pack() -> None:
    assert K.bits_for(1_000_000, 3) == 21 and K.packs(3, 21)
    assert K.bits_for(1_000_000, 1) == 22  # room to grow where it costs nothing
    assert not K.packs(3, K.bits_for(3_000_000, 3))  # beyond 2**21 types: id rows
    assert K.packs(7, K.KeyTable(7).bits)


def test_merge_refuses_files_that_are_not_counts(cli, tmp_path: Path) -> None:
    text = tmp_path / "corpus.txt"
    text.write_text("the cat sat\n", encoding="utf-8")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    for path in (text, broken):
        run = cli("ngrams", "merge", path, path, "--save", tmp_path / "all.npz")
        assert_one_line_error(run, 1)
        assert "not a seqtool counts file" in run.stderr and "pickle" not in run.stderr
    assert not (tmp_path / "all.npz").exists()
