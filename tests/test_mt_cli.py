"""`seqtool train-mt` and `seqtool translate` end to end on small synthetic and bundled data."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from conftest import Run, assert_one_line_error
from seqtool.cli import app
from seqtool.datasets import sample_path
from seqtool.decode.beam import SearchConfig
from seqtool.decode.translate import translate_lines
from seqtool.tasks.mt import Translator
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import Vocab
from seqtool.train.checkpoint import save_checkpoint

LETTERS = "abcdefghijklmnopqrst"
# A gru-attn small enough to learn the reverse task in seconds on one CPU thread;
# calibrated over 8 seeds: best valid BLEU 99.0-100 after 10 epochs (threshold 90).
REVERSE_FLAGS = [
    "--model", "gru-attn", "--embed", "32", "--hidden", "64", "--layers", "1",
    "--dropout", "0", "--max-tokens", "1000", "--lr", "5e-3", "--warmup", "20",
    "--label-smoothing", "0", "--epochs", "10", "--precision", "fp32",
]  # fmt: skip


def reverse_pairs(n: int, seed: int) -> tuple[list[str], list[str]]:
    r = random.Random(seed)
    src, tgt = [], []
    for _ in range(n):
        words = [r.choice(LETTERS) for _ in range(r.randint(3, 8))]
        src.append(" ".join(words))
        tgt.append(" ".join(reversed(words)))
    return src, tgt


def invoke(*args: object, input: str | None = None) -> Run:
    result = CliRunner().invoke(app, [str(a) for a in args], input=input, catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reverse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A gru-attn model trained (once per module) to reverse sequences of letters."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("reverse")
    src, tgt = reverse_pairs(3000, 1)
    vsrc, vtgt = reverse_pairs(200, 2)
    files = {
        "src": write_lines(d / "train.src", src),
        "tgt": write_lines(d / "train.tgt", tgt),
        "vsrc": write_lines(d / "valid.src", vsrc),
        "vtgt": write_lines(d / "valid.tgt", vtgt),
        "vocab": d / "vocab.json",
        "model": d / "rev.pt",
    }
    Vocab.build(src + tgt, kind="word", normalizer=Normalizer.make("none")).save(files["vocab"])
    run = invoke(
        "train-mt", "--src", files["src"], "--tgt", files["tgt"],
        "--valid-src", files["vsrc"], "--valid-tgt", files["vtgt"],
        "--vocab", files["vocab"], "-o", files["model"], "--seed", 0, *REVERSE_FLAGS,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    files["train_stderr"] = d / "stderr.txt"
    files["train_stderr"].write_text(run.stderr, encoding="utf-8")
    return files


def test_learns_the_reverse_task(reverse: dict[str, Path]) -> None:
    log = [json.loads(line) for line in reverse["model"].with_name("rev.log.jsonl").open()]
    assert max(r["valid_bleu"] for r in log) > 90
    assert {"valid_loss", "valid_ppl", "valid_bleu", "valid_chrf", "step"} <= set(log[-1])
    assert "best valid BLEU" in reverse["train_stderr"].read_text(encoding="utf-8")
    ckpt = torch.load(reverse["model"], weights_only=True)
    assert ckpt["kind"] == "gru_attn_mt" and ckpt["metrics"]["best"] > 90
    assert ckpt["src_vocab"]["fingerprint"] == ckpt["tgt_vocab"]["fingerprint"]
    assert reverse["model"].with_name("rev.last.pt").is_file()


def test_translate_scores_bleu_above_90_and_keeps_stdout_clean(
    reverse: dict[str, Path], tmp_path: Path
) -> None:
    metrics = tmp_path / "m.json"
    run = invoke(
        "translate", reverse["model"], reverse["vsrc"], "--beam", 5,
        "--eval-bleu", "--ref", reverse["vtgt"], "--metrics-json", metrics,
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    hyps = run.stdout.splitlines()
    refs = reverse["vtgt"].read_text(encoding="utf-8").splitlines()
    assert len(hyps) == len(refs)
    assert sum(h == r for h, r in zip(hyps, refs)) / len(refs) > 0.9
    assert "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in run.stderr
    assert "chrF2|nrefs:1|" in run.stderr
    record = json.loads(metrics.read_text(encoding="utf-8"))
    assert record["scores"][0]["name"] == "BLEU" and record["scores"][0]["score"] > 90
    assert record["sentences"] == len(refs)


def test_translate_one_line_out_per_line_in(reverse: dict[str, Path]) -> None:
    text = "a b c\n\n   \nd e f g\nq r s t\n"
    run = invoke("translate", reverse["model"], "-", "--beam", 3, input=text)
    assert run.exit_code == 0, run.stderr
    out = run.stdout.split("\n")
    assert out[-1] == "" and len(out) - 1 == 5
    assert out[1] == "" and out[2] == ""
    assert out[0] == "c b a" and out[3] == "g f e d" and out[4] == "t s r q"
    greedy = invoke("translate", reverse["model"], "--beam", 1, input=text)
    assert greedy.stdout.count("\n") == 5


def test_translate_cuts_overlong_sources_and_says_so(reverse: dict[str, Path]) -> None:
    # --max-src-len counts <eos>: 4 keeps three letters of the first line.
    run = invoke("translate", reverse["model"], "--max-src-len", 4, input="a b c d e f\nd e\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == ["c b a", "e d"]
    assert "1 of 2 lines were longer than --max-src-len 4 tokens" in run.stderr
    assert "longer than" not in invoke("translate", reverse["model"], input="d e\n").stderr
    assert_one_line_error(invoke("translate", reverse["model"], "--max-src-len", 1, input="a\n"), 2)


def test_translate_nbest_and_jsonl(reverse: dict[str, Path]) -> None:
    run = invoke("translate", reverse["model"], "--beam", 4, "--nbest", 3, input="a b c\n\nd e\n")
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [(str(i), str(k)) for i in (1, 2, 3) for k in (1, 2, 3)][
        :3
    ] + [
        ("2", "1"),
        ("3", "1"),
        ("3", "2"),
        ("3", "3"),
    ]
    assert rows[0][3] == "c b a" and float(rows[0][2]) >= float(rows[1][2])
    js = invoke("translate", reverse["model"], "-f", "jsonl", input="a b c\n")
    obj = json.loads(js.stdout)
    assert obj["line"] == 1 and obj["translation"] == "c b a" and obj["score"] <= 0


def test_translate_streams_in_blocks_and_keeps_order(reverse: dict[str, Path]) -> None:
    loaded = Translator.load(reverse["model"], torch.device("cpu"))
    lines = ["a b c", "", "d e f g h", "q r s", "t s a", "b b b b b b b", "c d e"] * 3
    consumed = 0

    def source():  # type: ignore[no-untyped-def]
        nonlocal consumed
        for line in lines:
            consumed += 1
            yield line

    search = SearchConfig(beam=2)
    it = translate_lines(
        loaded.model, loaded.src_vocab, loaded.tgt_vocab, source(), search, 2, block_lines=4
    )
    first = next(it)
    assert consumed <= 5  # only the first block (and one look-ahead) has been read
    rest = [first, *it]
    whole = list(
        translate_lines(loaded.model, loaded.src_vocab, loaded.tgt_vocab, lines, search, 64)
    )
    assert [r[0].text for r in rest] == [w[0].text for w in whole]
    assert [r[0].text for r in rest][:4] == ["c b a", "", "h g f e d", "s r q"]


def test_show_attention(
    reverse: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = tmp_path / "att.png"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        run = invoke("translate", reverse["model"], "--show-attention", png, input="a b\n")
        assert_one_line_error(run, 1)
        assert "matplotlib" in run.stderr
        return
    run = invoke("translate", reverse["model"], "--show-attention", png, input="\na b c\n")
    assert run.exit_code == 0, run.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.stdout == "\nc b a\n"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    run = invoke("translate", reverse["model"], "--show-attention", png, input="a b\n")
    assert_one_line_error(run, 1)
    assert "matplotlib" in run.stderr and run.stdout == ""


def test_translate_errors(
    reverse: dict[str, Path], tmp_path: Path, bad_inputs: dict[str, Path]
) -> None:
    model = reverse["model"]
    for path in bad_inputs.values():
        if path.name != "empty.txt":
            assert_one_line_error(invoke("translate", model, path))
    assert invoke("translate", model, bad_inputs["empty"]).stdout == ""
    assert_one_line_error(invoke("translate", tmp_path / "none.pt", input="a\n"), 1)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    assert_one_line_error(invoke("translate", garbage, input="a\n"), 1)
    assert_one_line_error(invoke("translate", model, "--beam", 0, input="a\n"), 2)
    assert_one_line_error(invoke("translate", model, "--beam", 2, "--nbest", 3, input="a\n"), 2)
    assert_one_line_error(invoke("translate", model, "--eval-bleu", input="a\n"), 2)
    assert_one_line_error(invoke("translate", model, "--format", "xml", input="a\n"), 2)
    short_ref = write_lines(tmp_path / "ref.txt", ["x"])
    run = invoke("translate", model, "--eval-bleu", "--ref", short_ref, input="a\nb\n")
    assert_one_line_error(run, 1)
    assert "2 lines" in run.stderr and "has 1" in run.stderr
    two = write_lines(tmp_path / "two.txt", ["a", "b"])
    run = invoke("translate", model, two, "--eval-bleu", "--ref", short_ref)
    assert_one_line_error(run, 1)  # a file is checked before anything is translated
    assert run.stdout == "" and "two.txt has 2 lines" in run.stderr


def test_lm_checkpoint_given_to_translate(tmp_path: Path) -> None:
    lm = tmp_path / "lm.pt"
    save_checkpoint(lm, {"kind": "transformer_lm", "config": {"vocab_size": 5}, "model": {}})
    run = invoke("translate", lm, input="a\n")
    assert_one_line_error(run, 1)
    assert "'transformer_lm' checkpoint" in run.stderr and "transformer_mt" in run.stderr


def test_train_mt_errors(tmp_path: Path, bad_inputs: dict[str, Path]) -> None:
    src = write_lines(tmp_path / "s.txt", ["a b", "c d", "e f"])
    tgt = write_lines(tmp_path / "t.txt", ["b a", "d c"])
    out = tmp_path / "m.pt"
    run = invoke("train-mt", "--src", src, "--tgt", tgt, "-o", out, "--max-steps", 1)
    assert_one_line_error(run, 1)
    assert "s.txt has 3 lines" in run.stderr and "t.txt has 2" in run.stderr
    holes = write_lines(tmp_path / "h.txt", ["b a", "", "f e"])
    run = invoke("train-mt", "--src", src, "--tgt", holes, "-o", out, "--empty-lines", "error")
    assert_one_line_error(run, 1)
    assert "h.txt:2: empty target sentence" in run.stderr
    run = invoke("train-mt", "--src", src, "--tgt", holes, "--model", "lstm-attn", "-o", out)
    assert_one_line_error(run, 2)
    assert "unknown --model 'lstm-attn'" in run.stderr
    for path in bad_inputs.values():
        assert_one_line_error(invoke("train-mt", "--src", path, "--tgt", tgt, "-o", out))
    assert_one_line_error(invoke("train-mt", "--src", src, "-o", out), 2)
    assert_one_line_error(invoke("train-mt", "--pairs", src, "--src", src, "-o", out), 2)
    assert_one_line_error(
        invoke("train-mt", "--src", src, "--tgt", src, "--time-budget", "soon"), 2
    )
    assert_one_line_error(invoke("train-mt", "--src", src, "--tgt", src, "--max-len", "1"), 2)
    assert not out.exists()


def test_transformer_on_the_bundled_sample_joint_bpe_and_resume(tmp_path: Path) -> None:
    pairs = sample_path("en-fr.tsv")
    out = tmp_path / "fr-en.pt"
    common = ["--pairs", pairs, "--src-lang", "fr", "--tgt-lang", "en", "--vocab-size", "600"]
    small = [
        "--layers",
        "1",
        "--dim",
        "32",
        "--heads",
        "2",
        "--ff-dim",
        "64",
        "--max-tokens",
        "2000",
    ]
    run = invoke("train-mt", *common, *small, "--epochs", 1, "-o", out)
    assert run.exit_code == 0, run.stderr
    assert "joint bpe" in run.stderr and "validation pairs" in run.stderr
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["kind"] == "transformer_mt" and ckpt["config"]["shared_embeddings"] is True
    assert (ckpt["mt"]["src_lang"], ckpt["mt"]["tgt_lang"]) == ("fr", "en")
    last = out.with_name("fr-en.last.pt")
    steps = torch.load(last, weights_only=True)["train_state"]["step"]
    run = invoke("train-mt", *common, "--resume", last, "--epochs", 2, "-o", out)
    assert run.exit_code == 0, run.stderr
    assert torch.load(last, weights_only=True)["train_state"]["step"] == 2 * steps
    run = invoke("translate", out, "--beam", 2, input="Je suis content.\n\nBonjour.\n")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.count("\n") == 3 and run.stdout.split("\n")[1] == ""


def test_translate_precisions_agree(reverse: dict[str, Path]) -> None:
    text = reverse["vsrc"].read_text(encoding="utf-8")
    fp32 = invoke("translate", reverse["model"], "--precision", "fp32", "--threads", 1, input=text)
    bf16 = invoke("translate", reverse["model"], "--precision", "bf16", input=text)
    assert fp32.exit_code == bf16.exit_code == 0
    assert "fp32)" in fp32.stderr and "bf16)" in bf16.stderr
    same = sum(a == b for a, b in zip(fp32.stdout.splitlines(), bf16.stdout.splitlines()))
    assert same / len(fp32.stdout.splitlines()) > 0.95
    assert_one_line_error(
        invoke("translate", reverse["model"], "--precision", "fp16", input="a\n"), 2
    )


def test_inference_dtype() -> None:
    from seqtool.train.device import inference_dtype

    cpu = torch.device("cpu")
    assert inference_dtype("fp32", cpu) == torch.float32
    assert inference_dtype("bf16", cpu) == torch.bfloat16
    assert inference_dtype("auto", cpu) in (torch.float32, torch.bfloat16)


def test_checkpoint_carries_the_target_shortlist(reverse: dict[str, Path]) -> None:
    ckpt = torch.load(reverse["model"], weights_only=True)
    ids = ckpt["mt"]["output_ids"]
    assert 3 in ids and 1 in ids and 0 not in ids and 2 not in ids
    text = "a b c\nd e f g\n"
    on = invoke("translate", reverse["model"], input=text)
    off = invoke("translate", reverse["model"], "--no-shortlist", input=text)
    assert on.stdout == off.stdout == "c b a\ng f e d\n"
