"""Property-based checks: text-reading commands never crash on arbitrary input.

Each command is fed random bytes, random Unicode, empty input, one enormous line,
CRLF and BOM files.  It must either succeed or fail with one `seqtool: error:`
line and a non-zero exit, without a traceback, and must never leave a partial
output file behind.  Commands from other feature areas add themselves to
COMMANDS as they land.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import Run
from seqtool.cli import app

# Each entry: name -> (argv builder taking (input file, output path, work dir), output path or None)
Builder = Callable[[Path, Path, Path], list[object]]
COMMANDS: dict[str, Builder] = {
    "preprocess": lambda f, o, d: ["preprocess", f],
    "preprocess --tokenize char": lambda f, o, d: [
        "preprocess",
        f,
        "--tokenize",
        "char",
        "--normalize",
        "none",
    ],
    "vocab build word": lambda f, o, d: ["vocab", "build", f, "-o", o],
    "vocab build char": lambda f, o, d: [
        "vocab",
        "build",
        f,
        "-o",
        o,
        "-t",
        "char",
        "--normalize",
        "none",
    ],
    "vocab encode": lambda f, o, d: ["vocab", "encode", d / "vocab.json", f],
    "vocab decode": lambda f, o, d: ["vocab", "decode", d / "vocab.json", f],
    "vocab show --corpus": lambda f, o, d: [
        "vocab",
        "show",
        d / "vocab.json",
        "--corpus",
        f,
        "--format",
        "json",
    ],
}

TINY_RNN = ["--embed", "16", "--hidden", "16", "--layers", "1", "--dropout", "0"]
ONE_STEP = ["--max-steps", "1", "--precision", "fp32", "-q"]

# The statistics, training and scoring commands of the later feature areas; the
# scoring ones use the tiny models of the `models` fixture (in the work folder).
COMMANDS.update(
    {
        "ngrams": lambda f, o, d: ["ngrams", f, "-n", "1", "-n", "2"],
        "ngrams --save": lambda f, o, d: ["ngrams", f, "-n", "3", "--save", o, "-q"],
        "ngrams char --per-line": lambda f, o, d: [
            "ngrams", f, "--tokenizer", "char", "--per-line", "-n", "2", "--format", "json",
        ],
        "zipf": lambda f, o, d: ["zipf", f],
        "zipf --counts": lambda f, o, d: ["zipf", "--counts", f],
        "bleu (hypothesis)": lambda f, o, d: ["bleu", f, d / "seed.txt"],
        "bleu (reference) --d2l-k": lambda f, o, d: ["bleu", d / "seed.txt", f, "--d2l-k", "2"],
        "train-lm char": lambda f, o, d: [
            "train-lm", f, "--tokenizer", "char", "--model", "gru", *TINY_RNN,
            "--seq-len", "4", "--batch-size", "2", "-o", o, *ONE_STEP,
        ],
        "eval-lm --per-line": lambda f, o, d: ["eval-lm", d / "lm.pt", f, "--per-line"],
        "train-mt --pairs": lambda f, o, d: [
            "train-mt", "--pairs", f, "--model", "gru-attn", *TINY_RNN, "--vocab-size", "40",
            "-o", o, *ONE_STEP,
        ],
        "translate": lambda f, o, d: ["translate", d / "mt.pt", f, "--beam", "2"],
        "ngrams lm": lambda f, o, d: ["ngrams", "lm", f, "-n", "3", "-o", o, "--discount-fallback"],
        "ngrams score --per-line": lambda f, o, d: ["ngrams", "score", d / "seed.arpa", f, "--per-line"],
        "ngrams score": lambda f, o, d: ["ngrams", "score", d / "seed.arpa", f, "-f", "json"],
    }
)  # fmt: skip

SPECIAL_INPUTS = {
    "empty": b"",
    "crlf": b"one line\r\nanother line\r\n",
    "bom": "\ufeffbom first\nsecond\n".encode(),
    "huge line": b"word " * 200_000,
    "only newlines": b"\n\n\n",
    "nul": b"a\x00b\n",
    "invalid utf8": b"ok\n\xff\xfe broken\n",
    "gzip magic but truncated": b"\x1f\x8b\x08\x00broken",
    "xz magic but garbage": b"\xfd7zXZ\x00garbage",
}


def check(run: Run, out: Path) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    if run.exit_code != 0:
        errors = [ln for ln in run.stderr.splitlines() if ln.startswith("seqtool: error: ")]
        assert len(errors) == 1, run.stderr
        assert "unexpected" not in errors[0], run.stderr  # an unexpected exception is a bug
        assert not out.exists()
    leftovers = [p for p in os.listdir(out.parent) if p.endswith(".tmp") or p.endswith(".part")]
    assert not leftovers


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny character LM and a tiny translation model, trained once for the module."""
    d = tmp_path_factory.mktemp("models")
    text = d / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20, encoding="utf-8")
    pairs = d / "pairs.tsv"
    pairs.write_text("the cat\tle chat\na dog\tun chien\n" * 20, encoding="utf-8")
    runner = CliRunner()
    made = {"lm.pt": d / "lm.pt", "mt.pt": d / "mt.pt"}
    for argv in (
        COMMANDS["train-lm char"](text, made["lm.pt"], d),
        COMMANDS["train-mt --pairs"](pairs, made["mt.pt"], d),
    ):
        result = runner.invoke(app, [str(a) for a in argv], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    return made


@pytest.fixture
def workdir(tmp_path: Path, cli, models: dict[str, Path]) -> Path:
    (tmp_path / "seed.txt").write_text("the cat sat on the mat\n")
    assert (
        cli("vocab", "build", tmp_path / "seed.txt", "-o", tmp_path / "vocab.json").exit_code == 0
    )
    seed_lm = cli("ngrams", "lm", tmp_path / "seed.txt", "-n", "2", "-o", tmp_path / "seed.arpa",
                  "--discount-fallback", "-q")  # fmt: skip
    assert seed_lm.exit_code == 0, seed_lm.stderr
    for name, path in models.items():
        (tmp_path / name).symlink_to(path)
    return tmp_path


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(SPECIAL_INPUTS))
def test_special_inputs(cli, workdir: Path, command: str, case: str) -> None:
    f = workdir / "input.txt"
    f.write_bytes(SPECIAL_INPUTS[case])
    out = workdir / "out.file"
    check(cli(*COMMANDS[command](f, out, workdir)), out)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass")),
    )
)
def test_random_input(cli, workdir: Path, command: str, data: bytes) -> None:
    f = workdir / "input.txt"
    f.write_bytes(data)
    out = workdir / "out.file"
    if out.exists():
        out.unlink()
    check(cli(*COMMANDS[command](f, out, workdir)), out)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_stdin_input(cli, workdir: Path, command: str) -> None:
    out = workdir / "out.file"
    argv = [
        a if not (isinstance(a, Path) and a.name == "input.txt") else "-"
        for a in COMMANDS[command](workdir / "input.txt", out, workdir)
    ]
    check(cli(*argv, input="some text\nmore text\n"), out)


# ---------------------------------------------------------------------- structured inputs
# Issue 13: vocabulary JSON, word vectors and .npz counts, mutated at random.  Loading
# either refuses with a SeqtoolError (one line at the CLI) or gives a usable object.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _base_vocab(kind: str) -> dict:
    from seqtool.text.vocab import Vocab

    return Vocab.build(["the cat sat on the mat", "a dog"], kind=kind).to_dict()


VOCAB_KEYS = ["format", "format_version", "kind", "normalizer", "tokens", "spm_model", "extra"]


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["word", "char"]),
    key=st.sampled_from([*VOCAB_KEYS, "token", "count", "entry"]),
    value=JSON_VALUES,
    index=st.integers(0, 8),
)
def test_vocabulary_json_mutations(kind: str, key: str, value: object, index: int) -> None:
    from seqtool.errors import SeqtoolError
    from seqtool.text.vocab import Vocab

    d = _base_vocab(kind)
    entry = d["tokens"][index % len(d["tokens"])]
    if key == "token":
        entry[0] = value
    elif key == "count":
        entry[1] = value
    elif key == "entry":
        d["tokens"][index % len(d["tokens"])] = value
    else:
        d[key] = value
    try:
        v = Vocab.from_dict(json.loads(json.dumps(d)), "fuzz")
    except SeqtoolError:
        return
    # accepted: it must work, and survive a save/load round trip unchanged
    assert len(set(v.tokens)) == len(v.tokens)
    assert v.decode(v.encode("the cat")) is not None
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict())), "again") == v


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200), cut=st.integers(0, 400))
def test_vocabulary_file_garbage_at_the_cli(cli, tmp_path: Path, text: str, cut: int) -> None:
    """A valid vocabulary file cut short or spliced with random text: one-line errors."""
    raw = json.dumps(_base_vocab("word"))
    f = tmp_path / "v.json"
    f.write_text(raw[:cut] + text + raw[cut:], encoding="utf-8", errors="surrogatepass")
    run = cli("vocab", "show", f)
    check(run, tmp_path / "never-written")


VECTOR_WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=6)
VECTOR_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.sampled_from(["nan", "inf", "-inf", "1e39", "0x10", "", "1,5", "\u00b2", "١"]),
)


@settings(max_examples=200, deadline=None)
@given(
    header=st.one_of(
        st.tuples(st.integers(-1, 4), st.integers(-1, 4)).map(lambda t: f"{t[0]} {t[1]}"),
        st.text(max_size=12),
    ),
    rows=st.lists(st.tuples(VECTOR_WORDS, st.lists(VECTOR_VALUES, max_size=4)), max_size=4),
)
def test_text_vector_files(header: str, rows: list[tuple[str, list[str]]]) -> None:
    import tempfile

    from seqtool.errors import InputError
    from seqtool.wordvectors import WordVectors

    body = header + "\n" + "".join(f"{w} {' '.join(v)}\n" for w, v in rows)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "v.txt"
        f.write_text(body, encoding="utf-8")
        try:
            wv = WordVectors.load(f)
        except InputError:
            return
    count, dim = (int(x) for x in header.split())
    assert wv.vectors.shape == (count, dim) and len(wv.words) == count
    assert np.isfinite(wv.vectors).all()


@settings(max_examples=200, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4)
)
def test_binary_vector_files_with_flipped_bytes(flips: list[tuple[int, int]]) -> None:
    import tempfile

    from seqtool.errors import InputError
    from seqtool.wordvectors import WordVectors

    words = ["cat", "dog", "mat"]
    wv = WordVectors(words, np.arange(12, dtype=np.float32).reshape(3, 4) / 7)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "v.bin"
        wv.save(f, binary=True)
        data = bytearray(f.read_bytes())
        for pos, x in flips:
            data[pos % len(data)] ^= x
        f.write_bytes(bytes(data))
        try:
            got = WordVectors.load(f)
        except InputError:
            return
    assert np.isfinite(got.vectors).all() and got.vectors.shape[0] == len(got.words)


@pytest.fixture(scope="module")
def counts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("npz")
    corpus = d / "c.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat\n", encoding="utf-8")
    out = d / "c.npz"
    run = CliRunner().invoke(app, ["ngrams", str(corpus), "-n", "1", "-n", "2", "--save", str(out)])
    assert run.exit_code == 0, run.stderr
    return out


NPZ_ARRAYS = st.one_of(
    st.lists(st.integers(-(2**40), 2**40), max_size=8).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.integers(-3, 300), max_size=12).map(
        lambda v: np.array(v[: len(v) // 2 * 2], dtype=np.int32).reshape(-1, 2)
    ),
    st.lists(st.floats(allow_nan=True), max_size=6).map(lambda v: np.array(v, dtype=np.float64)),
    st.binary(max_size=60).map(lambda b: np.frombuffer(b, dtype=np.uint8)),
    JSON_VALUES.map(lambda v: np.frombuffer(json.dumps(v).encode(), dtype=np.uint8)),
)


@settings(max_examples=200, deadline=None)
@given(
    member=st.sampled_from(
        ["meta", "tokens", "token_ends", "rows_1", "counts_1", "rows_2", "counts_2", "heaps"]
    ),
    value=NPZ_ARRAYS,
)
def test_counts_npz_mutations(counts_file: Path, member: str, value: np.ndarray) -> None:
    import tempfile

    from seqtool.errors import InputError
    from seqtool.stats.ngrams import NgramCounts

    with np.load(counts_file) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[member] = value
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.npz"
        np.savez(f, **arrays)
        try:
            counts = NgramCounts.load(f)
        except InputError:
            return
    for n, table in counts.tables.items():
        assert (np.asarray(table.counts) >= 1).all(), n


@settings(max_examples=150, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=3)
)
def test_counts_npz_flipped_bytes(counts_file: Path, flips: list[tuple[int, int]]) -> None:
    import tempfile

    from seqtool.errors import InputError
    from seqtool.stats.ngrams import NgramCounts

    data = bytearray(counts_file.read_bytes())
    for pos, x in flips:
        data[pos % len(data)] ^= x
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "x.npz"
        f.write_bytes(bytes(data))
        try:
            NgramCounts.load(f)
        except InputError:
            pass
