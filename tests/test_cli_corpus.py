"""`seqtool preprocess` and `seqtool vocab ...` through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TINY, assert_one_line_error


def test_version_and_help(cli) -> None:
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.startswith("seqtool ")
    r = cli("--help")
    assert r.exit_code == 0 and "preprocess" in r.stdout and "vocab" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["preprocess"],
        ["vocab"],
        ["vocab", "build"],
        ["vocab", "show"],
        ["vocab", "encode"],
        ["vocab", "decode"],
        ["data", "list"],
        ["data", "fetch"],
        ["demo"],
    ],
)
def test_every_command_has_help_with_an_example(cli, args: list[str]) -> None:
    r = cli(*args, "--help")
    assert r.exit_code == 0
    assert "Example:" in r.stdout or args == ["vocab"]


def test_preprocess_normalisers_file_and_stdin(cli, tiny: Path) -> None:
    r = cli("preprocess", tiny, "--normalize", "d2l")
    assert r.exit_code == 0
    assert r.stdout == "the cat sat on the mat\nthe dog sat on the log\n\na cat a dog the end\n"
    r = cli("preprocess", "-", "--normalize", "none", "--tokenize", "word", input=TINY)
    assert r.stdout.splitlines()[0] == "The cat sat on the mat."
    r = cli("preprocess", "--tokenize", "char", "--normalize", "d2l", input="Ab, c\n")
    assert r.stdout == "a b   c\n"


def test_preprocess_one_output_line_per_input_line(cli) -> None:
    text = "x\n\n!!!\ny z\n"
    r = cli("preprocess", input=text)
    assert r.stdout == "x\n\n\ny z\n"


def test_vocab_build_show_encode_decode_round_trip(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    r = cli("vocab", "build", tiny, "-o", v, "--tokenizer", "word", "--normalize", "d2l")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""  # the summary goes to stderr
    data = json.loads(v.read_text())
    assert data["format"] == "seqtool-vocab" and data["tokens"][4] == ["the", 5]
    r = cli("vocab", "show", v, "--format", "json", "--corpus", tiny)
    shown = json.loads(r.stdout)
    assert shown["size"] == len(data["tokens"]) and shown["coverage"] == 1.0
    assert shown["top"][0] == {"id": 4, "token": "the", "count": 5}
    enc = cli("vocab", "encode", v, tiny)
    assert len(enc.stdout.splitlines()) == 4
    dec = cli("vocab", "decode", v, input=enc.stdout)
    assert dec.stdout == cli("preprocess", tiny, "--normalize", "d2l").stdout


def test_vocab_show_tsv_is_headerless(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    cli("vocab", "build", tiny, "-o", v)
    lines = cli("vocab", "show", v, "--format", "tsv", "--top", "2").stdout.splitlines()
    assert lines[0] == f"file\t{v}"
    assert lines[-2:] == ["4\tthe\t5", "5\ta\t2"]


def test_coverage_counts_unknown_tokens(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    cli("vocab", "build", tiny, "-o", v)
    other = tmp_path / "other.txt"
    other.write_text("the cat and the zebra\n")
    shown = json.loads(cli("vocab", "show", v, "--corpus", other, "--format", "json").stdout)
    assert (shown["corpus_tokens"], shown["oov_tokens"], shown["oov_types"]) == (5, 2, 2)
    assert shown["coverage"] == 0.6


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_subword_encode_decode_gives_back_the_original(cli, tmp_path: Path, kind: str) -> None:
    corpus = tmp_path / "c.txt"
    text = "".join(f"Line {i}: The cat sat, the dog ran; É{i % 7}!\n" for i in range(200))
    corpus.write_text(text)
    v = tmp_path / "v.json"
    assert cli("vocab", "build", corpus, "-o", v, "-t", kind, "--vocab-size", "60").exit_code == 0
    ids = cli("vocab", "encode", v, corpus).stdout
    assert cli("vocab", "decode", v, "-", input=ids).stdout == text


def test_encode_with_bos_eos_and_decode_keeping_specials(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    cli("vocab", "build", tiny, "-o", v)
    ids = cli("vocab", "encode", v, "--bos", "--eos", input="the cat\n").stdout
    assert ids.split()[0] == "2" and ids.split()[-1] == "3"
    assert cli("vocab", "decode", v, "--keep-specials", input=ids).stdout == "<bos> the cat <eos>\n"


BAD_COMMANDS = {
    "preprocess": lambda f, v, o: ["preprocess", f],
    "vocab build": lambda f, v, o: ["vocab", "build", f, "-o", o],
    "vocab build bpe": lambda f, v, o: ["vocab", "build", f, "-o", o, "-t", "bpe"],
    "vocab show --corpus": lambda f, v, o: ["vocab", "show", v, "--corpus", f],
    "vocab encode": lambda f, v, o: ["vocab", "encode", v, f],
    "vocab decode": lambda f, v, o: ["vocab", "decode", v, f],
}


@pytest.mark.parametrize("command", sorted(BAD_COMMANDS))
@pytest.mark.parametrize("case", ["missing", "empty", "binary", "invalid-utf8"])
def test_bad_inputs_give_one_line_errors_and_no_output_file(
    cli, tiny: Path, tmp_path: Path, bad_inputs, command: str, case: str
) -> None:
    v = tmp_path / "good.json"
    assert cli("vocab", "build", tiny, "-o", v).exit_code == 0
    out = tmp_path / "out.json"
    r = cli(*BAD_COMMANDS[command](bad_inputs[case], v, out))
    assert_one_line_error(r, 1)
    assert not out.exists()


@pytest.mark.parametrize("command", ["show", "encode", "decode"])
def test_wrong_vocabulary_file_is_refused(cli, tiny: Path, tmp_path: Path, command: str) -> None:
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "fairseq-dict", "tokens": []}))
    r = cli("vocab", command, wrong, *(["--corpus", tiny] if command == "show" else [tiny]))
    assert_one_line_error(r, 1)
    assert "not a seqtool vocabulary" in r.stderr
    r = cli("preprocess", tiny, "--tokenize", wrong)
    assert_one_line_error(r, 1)


def test_usage_errors_exit_2(cli, tiny: Path, tmp_path: Path) -> None:
    assert_one_line_error(cli("preprocess", tiny, "--normalize", "stem"), 2)
    assert_one_line_error(
        cli("vocab", "build", tiny, "-o", tmp_path / "v.json", "--tokenizer", "sentence"), 2
    )
    assert_one_line_error(
        cli("vocab", "build", tiny, "-o", tmp_path / "v.json", "--min-freq", "0"), 2
    )
    assert_one_line_error(cli("vocab", "build", tiny, "-o", tmp_path / "no" / "v.json"), 2)
    assert_one_line_error(cli("vocab", "build", tiny, "--bogus-flag"), 2)
    assert_one_line_error(cli("preprocess", tiny, "--encoding", "klingon"), 2)
    assert_one_line_error(cli("no-such-command"), 2)


def test_errors_replace_and_encoding_options(cli, bad_inputs) -> None:
    r = cli("preprocess", bad_inputs["invalid-utf8"], "--errors", "replace")
    assert r.exit_code == 0 and r.stdout == "caf au lait\n"
    r = cli("preprocess", bad_inputs["invalid-utf8"], "--encoding", "latin-1")
    assert r.stdout == "café au lait\n"


def test_decode_rejects_non_integer_ids(cli, tiny: Path, tmp_path: Path) -> None:
    v = tmp_path / "v.json"
    cli("vocab", "build", tiny, "-o", v)
    r = cli("vocab", "decode", v, input="4 5\n4 x\n")
    assert_one_line_error(r, 1)
    assert ":2: expected integer ids" in r.stderr


def test_debug_shows_traceback(cli, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        cli("--debug", "preprocess", tmp_path / "missing.txt")


@pytest.mark.slow
def test_time_machine_vocabularies_match_the_d2l_book(
    cli, shared_data: Path, tmp_path: Path
) -> None:
    tm = shared_data / "timemachine.txt"
    v = tmp_path / "v.json"
    assert (
        cli("vocab", "build", tm, "--tokenizer", "char", "--normalize", "d2l", "-o", v).exit_code
        == 0
    )
    tokens = [t for t, _ in json.loads(v.read_text())["tokens"]]
    assert len(tokens) == 27 + 4
    assert tokens[4:8] == [" ", "e", "t", "a"]
    assert (
        cli("vocab", "build", tm, "--tokenizer", "word", "--normalize", "d2l", "-o", v).exit_code
        == 0
    )
    data = json.loads(v.read_text())
    assert len(data["tokens"]) - 4 == 4579
    assert sum(c for _, c in data["tokens"]) == 32775


def test_too_small_subword_vocabulary_says_how_large(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcdefghij klmnopqrst\nuvwxyz ABCDEF\n" * 20, encoding="utf-8")
    run = cli(
        "vocab",
        "build",
        corpus,
        "--tokenizer",
        "bpe",
        "--vocab-size",
        "8",
        "-o",
        tmp_path / "v.json",
    )
    assert_one_line_error(run, 2)
    assert "--vocab-size 8 is too small" in run.stderr and "character_coverage" not in run.stderr
    assert not (tmp_path / "v.json").exists()
