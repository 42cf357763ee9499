"""Language models and translation through the Python API (no typer): train, load,
generate, score, translate; configs validated once, errors naming parameters."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from seqtool.errors import UsageError
from seqtool.tasks.lm import LanguageModel, LMConfig, train_lm
from seqtool.tasks.mt import MTConfig, Translator, score, scores_record, train_mt
from seqtool.train.runner import TrainOptions

OPTS = dict(device="cpu", threads=1, seed=0)


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> LanguageModel:
    d = tmp_path_factory.mktemp("lm")
    text = d / "periodic.txt"
    text.write_text("abcdefgh ijklmnop\n" * 150, encoding="utf-8")
    cfg = LMConfig(files=[str(text)], model="gru", embed=32, hidden=32, layers=1, dropout=0.0,
                   seq_len=16, batch_size=16)  # fmt: skip
    return train_lm(cfg, TrainOptions(max_steps=120, lr=1e-2, warmup=10, **OPTS), d / "lm.pt")


def test_train_lm_returns_the_best_model_and_its_run(lm: LanguageModel) -> None:
    assert lm.run is not None and lm.run.result.steps == 120
    assert lm.run.output.name == "lm.pt" and lm.name == "gru"
    assert lm.run.result.best is not None and lm.run.result.best < 1.5
    assert lm.signature.startswith("model:gru|tok:char|")


def test_generate_prompts_of_different_lengths_in_order(lm: LanguageModel) -> None:
    prompts = ["ab", "", "abcdefgh ijk", "ab"]
    out = lm.generate(prompts, max_tokens=12, num=2, one_line=True, seed=4)
    assert [len(samples) for samples in out] == [2, 2, 2, 2]
    for prompt, samples in zip(prompts, out):
        assert all(s.startswith(prompt) and "\n" not in s for s in samples)
    assert lm.generate(prompts, max_tokens=12, num=2, one_line=True, seed=4) == out  # seeded
    greedy = lm.generate(["abcd"], max_tokens=20, greedy=True)[0][0]
    assert greedy.startswith("abcdefgh ijklmnop\nab")
    with pytest.raises(UsageError, match="`num` must be at least 1"):
        lm.generate(["a"], num=0)


def test_perplexity_and_line_scores(lm: LanguageModel, tmp_path: Path) -> None:
    p = lm.perplexity(["abcdefgh ijklmnop"] * 4)
    assert p.tokens == 4 * 18 and p.ppl < 1.5
    scores = lm.score_lines(["abcdefgh", "", "qqqqqqqq"])
    assert [n for _, n in scores] == [9, 1, 9]  # the line end counted
    assert scores[0][0] > scores[2][0]
    again = LanguageModel.load(lm.run.output if lm.run else tmp_path, "cpu")
    assert again.score_lines(["abcdefgh"]) == lm.score_lines(["abcdefgh"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seq_len": 0}, "seq_len must be at least 1"),
        ({"model": "mamba"}, "unknown `model` 'mamba'"),
        ({"valid_fraction": 1.0}, r"valid_fraction must be in \[0, 1\)"),
        ({"files": []}, "`files`: give at least one training file"),
    ],
)
def test_lm_config_is_validated_with_parameter_names(
    change: dict[str, object], message: str
) -> None:
    cfg = LMConfig(files=["x.txt"])
    for k, v in change.items():
        setattr(cfg, k, v)
    with pytest.raises(UsageError, match=message):
        train_lm(cfg, TrainOptions(max_steps=1))


def test_model_settings_of_another_model_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("some text here\n" * 50, encoding="utf-8")
    with pytest.raises(UsageError, match="`heads`: not a setting of `model` lstm") as e:
        train_lm(LMConfig(files=[str(text)], model="lstm", heads=2), TrainOptions(max_steps=1))
    assert e.value.hint is not None and "`hidden`" in e.value.hint


def test_translator_trains_translates_nbest_and_scores(tmp_path: Path) -> None:
    r = random.Random(0)
    letters = "a b c d e f".split()
    lines = []
    for _ in range(400):
        w = [r.choice(letters) for _ in range(r.randint(2, 5))]
        lines.append(" ".join(w) + "\t" + " ".join(reversed(w)))
    pairs = tmp_path / "rev.tsv"
    pairs.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = MTConfig(pairs=str(pairs), model="gru-attn", embed=32, hidden=64, layers=1,
                   dropout=0.0, label_smoothing=0.0, tokenizer="word", max_tokens=600,
                   valid_size=40)  # fmt: skip
    mt = train_mt(cfg, TrainOptions(epochs=8, lr=5e-3, warmup=20, **OPTS), tmp_path / "mt.pt")
    assert mt.run is not None and mt.run.result.best is not None  # valid BLEU chose the best
    loaded = Translator.load(tmp_path / "mt.pt", "cpu")
    nbest = loaded.translate(["a b c", "", "d e f f"], beam=4, nbest=3)
    assert [len(n) for n in nbest] == [3, 1, 3]  # an empty line gives one empty translation
    assert nbest[1][0].text == ""
    assert nbest[0][0].score >= nbest[0][1].score >= nbest[0][2].score
    hyps = [n[0].text for n in loaded.translate(["a b c", "d e f f"], beam=4)]
    scores = score(hyps, [["c b a", "f f e d"]])
    assert [s.name for s in scores] == ["BLEU", "chrF2"]
    record = scores_record(scores, checkpoint="mt.pt", input="in", references=["ref"],
                           sentences=2, beam=4, lenpen=1.0)  # fmt: skip
    assert record["sentences"] == 2 and record["scores"][0]["name"] == "BLEU"
    stream = loaded.translate_stream(iter(["a b", "c d"]), beam=1)
    assert next(stream)[0].text  # lazily, line by line
    with pytest.raises(UsageError, match="batch_size must be at least 1"):
        loaded.translate(["a"], batch_size=0)


def test_model_weights_do_not_depend_on_what_ran_before(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("the time machine\n" * 60, encoding="utf-8")
    cfg = LMConfig(files=[str(text)], model="lstm", embed=8, hidden=8, layers=1, seq_len=8)
    opts = TrainOptions(max_steps=1, **OPTS)
    torch.manual_seed(123)
    a = train_lm(cfg, opts, tmp_path / "a.pt").model.state_dict()
    torch.rand(1000)  # consume randomness between the runs
    b = train_lm(cfg, opts, tmp_path / "b.pt").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
