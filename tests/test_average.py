"""`seqtool average` and :func:`seqtool.train.average.average_checkpoints`: the mean of
the weights, float64 sums, buffers from the last, refusals, and models that work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import train_tiny_models

from conftest import assert_one_line_error
from seqtool.errors import CheckpointError, UsageError
from seqtool.tasks.classify import Classifier
from seqtool.tasks.lm import LanguageModel
from seqtool.tasks.mt import Translator
from seqtool.train.average import average_checkpoints
from seqtool.train.checkpoint import load_checkpoint, save_checkpoint


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("models"))


def shifted(src: Path, dst: Path, by: float) -> None:
    """A copy of checkpoint ``src`` with every floating-point weight plus ``by``."""
    ckpt = load_checkpoint(src)
    ckpt["model"] = {k: t + by if t.is_floating_point() else t for k, t in ckpt["model"].items()}
    save_checkpoint(dst, {k: v for k, v in ckpt.items() if k not in ("format", "format_version")})


def weights(path: Path) -> dict[str, torch.Tensor]:
    return dict(load_checkpoint(path)["model"])


def test_two_copies_average_to_the_same_weights(cli, models: dict[str, Path], tmp_path: Path):
    copy = tmp_path / "copy.pt"
    shutil.copy(models["mt"], copy)
    run = cli("average", models["mt"], copy, "-o", tmp_path / "avg.pt")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "averaged 2 gru_attn_mt checkpoints (23 tensors" in run.stderr
    a, avg = weights(models["mt"]), weights(tmp_path / "avg.pt")
    assert a.keys() == avg.keys() and all(torch.equal(a[k], avg[k]) for k in a)


@pytest.mark.parametrize("kind", ["mt", "lm", "clf"])
def test_the_average_is_the_mean_and_the_model_works(
    cli, models: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    b, c = tmp_path / "b.pt", tmp_path / "c.pt"
    shifted(models[kind], b, 1.0)
    shifted(models[kind], c, 3.5)
    out = tmp_path / "avg.pt"
    run = cli("average", models[kind], b, c, "-o", out, "-q")
    assert run.exit_code == 0, run.stderr
    assert run.stderr == ""  # --quiet
    a, wb, wc, avg = weights(models[kind]), weights(b), weights(c), weights(out)
    for k, t in a.items():
        if t.is_floating_point():
            mean = (t.double() + wb[k].double() + wc[k].double()) / 3
            assert torch.equal(avg[k], mean.to(t.dtype)), k
            torch.testing.assert_close(avg[k], t + 1.5)
        else:
            assert torch.equal(avg[k], t), k
    ckpt = load_checkpoint(out)
    assert "train_state" not in ckpt and "metrics" not in ckpt  # not resumable, no stale scores
    assert ckpt["averaged"]["checkpoints"] == [str(models[kind]), str(b), str(c)]
    assert ckpt["argv"][0] == "seqtool"  # the command line (in-process here: pytest's)
    # the averaged file is a model its commands read
    if kind == "mt":
        mt = Translator.load(out, "cpu")
        assert len(mt.translate(["a b c", ""], beam=2)) == 2
        assert cli("translate", out, input="a b\n").stdout.count("\n") == 1
    elif kind == "lm":
        assert LanguageModel.load(out, "cpu").generate(["ab"], max_tokens=5)[0][0].startswith("ab")
        assert cli("generate", out, "--prefix", "ab", "--max-tokens", 5).exit_code == 0
    else:
        assert len(Classifier.load(out, "cpu").predict_top(["good"], 1)) == 1
        assert cli("classify", "predict", out, input="good\nbad\n").stdout.count("\n") == 2


def test_the_last_and_best_checkpoints_of_a_run_average(models: dict[str, Path], tmp_path: Path):
    last = models["lm"].with_name("lm.last.pt")
    summary = average_checkpoints([models["lm"], last], tmp_path / "avg.pt")
    assert summary.kind == "rnn_lm" and summary.checkpoints == 2 and summary.kept == []
    assert summary.values == sum(t.numel() for t in weights(models["lm"]).values())


def test_float64_sums_and_buffers_from_the_last(tmp_path: Path) -> None:
    def ckpt(path: Path, w: torch.Tensor, n: int) -> Path:
        save_checkpoint(path, {"kind": "rnn_lm", "config": {"vocab_size": 5},
                               "model": {"w": w, "steps": torch.tensor(n)}})  # fmt: skip
        return path

    # 2**24 + 1 + 1 in float32 is 2**24 (each +1 rounds away); in float64 it is exact
    ws = [torch.tensor([2.0**24, 1.0]), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 6.0])]
    paths = [ckpt(tmp_path / f"{i}.pt", w, i) for i, w in enumerate(ws)]
    s = average_checkpoints(paths, tmp_path / "avg.pt")
    avg = weights(tmp_path / "avg.pt")
    assert avg["w"].tolist() == [(2.0**24 + 2) / 3, 3.0] == [5592406.0, 3.0]
    assert (ws[0] + ws[1] + ws[2])[0].item() / 3 != avg["w"][0].item()  # float32 would be off
    assert avg["w"].dtype == torch.float32
    assert avg["steps"].item() == 2 and avg["steps"].dtype == torch.int64  # from the last
    assert s.kept == ["steps"] and s.tensors == 1 and s.values == 2
    bf = [ckpt(tmp_path / f"bf{i}.pt", torch.tensor([x], dtype=torch.bfloat16), 0) for i, x in
          enumerate([1.0, 2.0])]  # fmt: skip
    average_checkpoints(bf, tmp_path / "bf.pt")
    assert weights(tmp_path / "bf.pt")["w"].dtype == torch.bfloat16
    assert weights(tmp_path / "bf.pt")["w"].item() == 1.5


def test_the_translation_shortlist_is_the_union(models: dict[str, Path], tmp_path: Path) -> None:
    ckpt = load_checkpoint(models["mt"])
    ids = ckpt["mt"]["output_ids"]
    fewer = tmp_path / "fewer.pt"
    save_checkpoint(fewer, {**{k: v for k, v in ckpt.items() if k != "format"},
                            "mt": {**ckpt["mt"], "output_ids": ids[:-1]}})  # fmt: skip
    average_checkpoints([models["mt"], fewer], tmp_path / "avg.pt")
    assert load_checkpoint(tmp_path / "avg.pt")["mt"]["output_ids"] == sorted(ids)


def _variant(src: Path, dst: Path, **change: Any) -> Path:
    ckpt = load_checkpoint(src)
    ckpt.pop("format")
    for key, value in change.items():
        ckpt[key] = value
    save_checkpoint(dst, ckpt)
    return dst


def test_different_models_are_refused(cli, models: dict[str, Path], tmp_path: Path) -> None:
    ckpt = load_checkpoint(models["mt"])
    wider = _variant(models["mt"], tmp_path / "wide.pt",
                     config={**ckpt["config"], "hidden": 32})  # fmt: skip
    run = cli("average", models["mt"], wider, "-o", tmp_path / "x.pt")
    assert_one_line_error(run, 1)
    assert "wide.pt: cannot be averaged with" in run.stderr and "hidden 32, not 16" in run.stderr
    vocab = {**ckpt["src_vocab"], "fingerprint": "0" * 16}
    other = _variant(models["mt"], tmp_path / "vocab.pt", src_vocab=vocab)
    assert "different src vocabulary" in cli("average", models["mt"], other, "-o",
                                             tmp_path / "x.pt").stderr  # fmt: skip
    run = cli("average", models["mt"], models["lm"], "-o", tmp_path / "x.pt")
    assert_one_line_error(run, 1)
    assert "a 'rnn_lm' model, not 'gru_attn_mt'" in run.stderr
    clf = load_checkpoint(models["clf"])
    labels = list(reversed(clf["classify"]["labels"]))
    relabelled = _variant(models["clf"], tmp_path / "labels.pt",
                          classify={**clf["classify"], "labels": labels})  # fmt: skip
    assert "different labels" in cli("average", models["clf"], relabelled, "-o",
                                     tmp_path / "x.pt").stderr  # fmt: skip
    w = dict(ckpt["model"])
    w.pop(next(iter(w)))
    fewer = _variant(models["mt"], tmp_path / "fewer.pt", model=w)
    assert "different weights" in cli("average", models["mt"], fewer, "-o",
                                      tmp_path / "x.pt").stderr  # fmt: skip
    assert not (tmp_path / "x.pt").exists()  # nothing written when refused
    with pytest.raises(CheckpointError, match="holds no weights|holds only 0 weight tensors"):
        empty = _variant(models["mt"], tmp_path / "empty.pt", model={})
        average_checkpoints([empty, empty], tmp_path / "x.pt")


def test_usage_errors(cli, models: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy.pt"
    shutil.copy(models["mt"], copy)
    before = copy.read_bytes()
    run = cli("average", models["mt"], copy, "-o", copy)  # the output is an input
    assert_one_line_error(run, 2)
    assert "output is also an input" in run.stderr and copy.read_bytes() == before
    assert_one_line_error(cli("average", models["mt"], "-o", tmp_path / "x.pt"), 2)
    assert_one_line_error(cli("average", models["mt"], tmp_path / "none.pt", "-o", copy), 1)
    with pytest.raises(UsageError, match="at least two checkpoints"):
        average_checkpoints([models["mt"]], tmp_path / "x.pt")
