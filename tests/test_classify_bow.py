"""The numpy bow engine: the same model as BagOfWords, exact SGD, torch-free CLI runs,
engine choice, stopping rules and its checkpoints."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqtool.errors import UsageError
from seqtool.models.classifier import build_classifier, collate
from seqtool.tasks.classify import Classifier, ClassifyConfig, train_classify
from seqtool.tasks.classify_bow import _tokens, numpy_refusal, train_bow_numpy, use_numpy
from seqtool.text.normalize import Normalizer
from seqtool.train.bow_numpy import (
    Batches,
    BowWeights,
    Features,
    fixed_output_probs,
    fixed_output_step,
    fixed_output_weights,
    probs,
    sgd_step,
)
from seqtool.train.options import TrainOptions
from tests.conftest import assert_one_line_error
from tests.test_classify_task import labelled_lines


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    train.write_text("\n".join(labelled_lines(300, 1)) + "\n", encoding="utf-8")
    dev.write_text("\n".join(labelled_lines(60, 2)), encoding="utf-8")
    return train, dev


def config(train: Path, dev: Path | None = None, **kw: object) -> ClassifyConfig:
    base: dict[str, object] = {"model": "bow", "dim": 16, "buckets": 1000}
    base.update(kw)
    return ClassifyConfig(files=[train], valid=[dev] if dev else None, **base)  # type: ignore[arg-type]


LINES = [[4, 5, 6, 7], [], [5], [8, 8, 9, 8, 8], [4, 9]]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_features_hash_the_ngrams_as_bagofwords(n: int) -> None:
    words, buckets = 10, 7
    feats = Features.build(LINES, n, buckets, words)
    model = build_classifier("bow", vocab_size=words, dim=4, word_ngrams=n, buckets=buckets)
    x, lengths = collate(LINES)
    torch_ids = model.ngram_ids(x, lengths)  # type: ignore[operator]
    for i, line in enumerate(LINES):
        mine = sorted(feats.rows[feats.offsets[i] : feats.offsets[i + 1]].tolist())
        grams = [int(h) + words for h in torch_ids[i].tolist() if h > 0] if n > 1 else []
        assert mine == sorted(line + grams)


def test_numpy_weights_give_bagofwords_probabilities() -> None:
    words, buckets, dim = 10, 7, 6
    w = BowWeights.init(words, 3, dim, buckets + 1, np.random.default_rng(0))
    w.out_w[:] = np.random.default_rng(1).normal(size=w.out_w.shape)
    w.out_b[:] = [0.1, -0.2, 0.3]
    model = build_classifier(
        "bow", vocab_size=words, classes=3, dim=dim, word_ngrams=2, buckets=buckets
    )
    model.load_state_dict({k: torch.from_numpy(v) for k, v in w.state_dict().items()})
    x, lengths = collate(LINES)
    logits, _ = model(x, lengths)
    expected = torch.softmax(logits, -1).detach().numpy()
    assert np.allclose(probs(w, Features.build(LINES, 2, buckets, words)), expected, atol=1e-6)


def test_one_sgd_step_is_torch_sgd_on_the_mean_cross_entropy() -> None:
    words, buckets, dim, lr = 10, 7, 5, 0.7
    w = BowWeights.init(words, 2, dim, buckets + 1, np.random.default_rng(0))
    w.out_w[:] = np.random.default_rng(2).normal(size=w.out_w.shape)
    model = build_classifier("bow", vocab_size=words, dim=dim, word_ngrams=2, buckets=buckets)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in w.state_dict().items()})
    labels = np.array([0, 1, 1, 0, 1])
    feats = Features.build(LINES, 2, buckets, words)
    loss = sgd_step(w, feats.rows, feats.offsets[:-1], feats.counts, labels, lr)
    x, lengths = collate(LINES)
    logits, _ = model(x, lengths)
    torch_loss = F.cross_entropy(logits, torch.from_numpy(labels))
    torch_loss.backward()
    assert loss == pytest.approx(float(torch_loss.detach()) * len(LINES), rel=1e-5)
    with torch.no_grad():
        for name, p in model.named_parameters():
            stepped = p - lr * (p.grad.to_dense() if p.grad.is_sparse else p.grad)
            if name.startswith("embedding"):
                stepped[0] = 0.0  # <pad>
            assert np.allclose(w.state_dict()[name], stepped.numpy(), atol=1e-6), name


@pytest.mark.parametrize("n", [1, 2, 3])
def test_features_from_flat_ids_are_those_of_the_lines(n: int) -> None:
    flat = np.array([i for line in LINES for i in line])
    built = Features.build(LINES, n, 7, 10)
    flat_built = Features.from_flat(flat, [len(line) for line in LINES], n, 7, 10)
    assert np.array_equal(built.rows, flat_built.rows)
    assert np.array_equal(built.offsets, flat_built.offsets)


TEXTS = [
    "It's a GOOD film, 10/10!",
    "",
    "  \t ",
    "n't -- dull_plot ; (bad)",
    "x",
]


@pytest.mark.parametrize(
    "texts",
    [TEXTS, [*TEXTS, "déjà vu: naïve"], [*TEXTS, "two\nlines"], ["a b"], []],
    ids=["ascii", "accents", "line-break", "one", "none"],
)
@pytest.mark.parametrize(
    "rule", [("letters", None), ("letters", False), ("d2l", None), ("nfkc", None), ("none", None)]
)
def test_tokens_are_those_of_each_normalised_line(
    texts: list[str], rule: tuple[str, bool | None]
) -> None:
    norm = Normalizer.make(*rule)
    words, lengths = _tokens(texts, norm)
    per_line = [norm.line(t).split() for t in texts]
    assert words == [w for line in per_line for w in line]
    assert lengths.tolist() == [len(line) for line in per_line]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 9])
def test_batches_hold_every_line_once_with_its_rows(size: int) -> None:
    feats = Features.build(LINES, 2, 7, 10)
    order = np.array([3, 1, 4, 0, 2])
    batches = Batches.plan(feats, np.arange(5), size, order)
    assert len(batches) == -(-5 // size) and batches.labels.tolist() == order.tolist()
    for b in range(len(batches)):
        a, z = batches.at[b], batches.at[b + 1]
        assert batches.rows[z - 1] == 0  # the <pad> row closing the batch
        lines = order[b * size : (b + 1) * size]
        for j, line in enumerate(lines):
            start = a + batches.local[b * size + j]
            mine = batches.rows[start : start + feats.counts[line]]
            theirs = feats.rows[feats.offsets[line] : feats.offsets[line + 1]]
            assert sorted(mine.tolist()) == sorted(theirs.tolist())
            assert (batches.member[start : start + feats.counts[line]] == j).all()


def fixed_model(words: int, buckets: int, dim: int, v: np.ndarray) -> torch.nn.Module:
    model = build_classifier(
        "bow", vocab_size=words, classes=len(v), dim=dim, word_ngrams=2, buckets=buckets
    )
    w = fixed_output_weights(v, dim, words)
    model.load_state_dict({k: torch.from_numpy(a.copy()) for k, a in w.state_dict().items()})
    return model


def test_fixed_output_probabilities_are_bagofwords_ones() -> None:
    words, buckets, dim = 10, 7, 6
    v = np.random.default_rng(3).normal(size=(3, words + buckets + 1)).astype(np.float32)
    v[:, 0] = v[:, words] = 0.0  # <pad>, "no n-gram"
    x, lengths = collate(LINES)
    logits, _ = fixed_model(words, buckets, dim, v)(x, lengths)
    expected = torch.softmax(logits, -1).detach().numpy()
    feats = Features.build(LINES, 2, buckets, words)
    assert np.allclose(fixed_output_probs(v, feats), expected, atol=1e-6)
    assert np.allclose(probs(fixed_output_weights(v, dim, words), feats), expected, atol=1e-6)


def test_fixed_output_step_is_torch_sgd_with_the_output_layer_frozen() -> None:
    words, buckets, dim, lr = 10, 7, 4, 0.3
    v = np.random.default_rng(4).normal(size=(2, words + buckets + 1)).astype(np.float32)
    v[:, 0] = v[:, words] = 0.0
    model = fixed_model(words, buckets, dim, v)
    labels = np.array([0, 1, 1, 0, 1])
    feats = Features.build(LINES, 2, buckets, words)
    batches = Batches.plan(feats, labels, len(LINES), np.arange(len(LINES)))
    loss = fixed_output_step(v, batches, 0, lr)
    x, lengths = collate(LINES)
    logits, _ = model(x, lengths)
    torch_loss = F.cross_entropy(logits, torch.from_numpy(labels))
    torch_loss.backward()
    assert loss == pytest.approx(float(torch_loss.detach()) * len(LINES), rel=1e-5)
    stepped = fixed_output_weights(v, dim, words).state_dict()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("out."):  # held: the step leaves it as it was
                assert np.allclose(stepped[name], p.numpy()), name
                continue
            expected = p - lr * (p.grad.to_dense() if p.grad.is_sparse else p.grad)
            assert np.allclose(stepped[name], expected.numpy(), atol=1e-6), name


def test_more_classes_than_dimensions_train_every_weight(tmp_path: Path) -> None:
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    train.write_text("\n".join(labelled_lines(300, 1, classes=3)) + "\n", encoding="utf-8")
    dev.write_text("\n".join(labelled_lines(60, 2, classes=3)), encoding="utf-8")
    out = tmp_path / "three.pt"
    cfg = config(train, dev, dim=2)  # 3 classes in 2 dimensions: the full SGD
    run = train_bow_numpy(cfg, TrainOptions(epochs=30, seed=1), out)
    assert run.result.best is not None and run.result.best > 0.9
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["train_config"]["output_layer"] == "trained"
    assert ckpt["model"]["out.weight"].shape == (3, 2)
    clf = Classifier.load(out, "cpu")
    assert clf.predict(["a superb film", "the plot was dull"]) == ["pos", "neg"]


def test_trains_keywords_and_the_checkpoint_predicts_the_same(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    train, dev = data
    out = tmp_path / "bow.pt"
    run = train_bow_numpy(config(train, dev), TrainOptions(epochs=12, seed=1), out)
    assert run.result.best is not None and run.result.best > 0.95
    assert run.result.stop_reason == "epochs" and run.result.epochs == 12
    assert not (tmp_path / "bow.last.pt").exists()  # nothing to resume
    records = [json.loads(line) for line in run.log_path.read_text().splitlines()]
    assert len(records) == 12 and records[-1]["best"] == run.result.best
    clf = Classifier.load(out, "cpu")
    assert clf.model_name == "bow" and clf.checkpoint["train_config"]["engine"] == "numpy"
    assert clf.checkpoint["train_config"]["output_layer"] == "fixed at 16 x identity"
    assert clf.predict(["a superb film", "the plot was dull"]) == ["pos", "neg"]
    from seqtool.text.labels import read_labelled

    assert clf.evaluate(read_labelled([dev])).scores.accuracy == run.result.best


def test_same_seed_same_model_other_seed_other_model(
    tmp_path: Path, data: tuple[Path, Path]
) -> None:
    train, dev = data

    def weights(seed: int, name: str) -> dict[str, torch.Tensor]:
        train_bow_numpy(config(train, dev), TrainOptions(epochs=2, seed=seed), tmp_path / name)
        return torch.load(tmp_path / name, weights_only=True)["model"]

    a, b, c = weights(4, "a.pt"), weights(4, "b.pt"), weights(5, "c.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["embedding.weight"], c["embedding.weight"])


def test_stopping_rules(tmp_path: Path, data: tuple[Path, Path]) -> None:
    train, dev = data
    cfg = config(train, dev, batch_size=10)
    run = train_bow_numpy(cfg, TrainOptions(max_steps=7), tmp_path / "s.pt")
    assert (run.result.steps, run.result.stop_reason) == (7, "max_steps")
    run = train_bow_numpy(cfg, TrainOptions(epochs=50, patience=2, lr=1e-6), tmp_path / "p.pt")
    assert run.result.stop_reason == "early stopping" and run.result.epochs < 50
    run = train_bow_numpy(cfg, TrainOptions(time_budget=0.5), tmp_path / "t.pt")
    assert run.result.stop_reason == "time_budget" and run.result.elapsed < 2.0
    run = train_bow_numpy(cfg, TrainOptions(epochs=1, eval_every=9), tmp_path / "e.pt")
    assert [r["step"] for r in run.records] == [9, 18, 27, 30]  # and the epoch's end
    # no validation: the final weights are the model
    run = train_bow_numpy(
        config(train, valid_fraction=0.0), TrainOptions(epochs=1), tmp_path / "n.pt"
    )
    assert run.result.best is None and run.records[-1]["step"] == run.result.steps


def test_engine_choice() -> None:
    cfg = ClassifyConfig(files=["x.tsv"], model="bow")
    assert use_numpy(cfg, TrainOptions(threads=1, seed=3, time_budget=9.0))
    for opts in (
        TrainOptions(resume="x.last.pt"),
        TrainOptions(device="cuda"),
        TrainOptions(optimizer="adamw"),
        TrainOptions(momentum=0.9),
        TrainOptions(schedule="inverse-sqrt"),
        TrainOptions(compile=True),
    ):
        assert numpy_refusal(cfg, opts) is not None and not use_numpy(cfg, opts)
    assert not use_numpy(ClassifyConfig(files=["x"], model="bow", dropout=0.2), TrainOptions())
    assert not use_numpy(ClassifyConfig(files=["x"], model="bow", engine="torch"), TrainOptions())
    assert not use_numpy(ClassifyConfig(files=["x"], model="cnn"), TrainOptions())
    with pytest.raises(UsageError, match="`engine` numpy: `momentum` 0.9 needs the torch engine"):
        use_numpy(
            ClassifyConfig(files=["x"], model="bow", engine="numpy"), TrainOptions(momentum=0.9)
        )
    with pytest.raises(UsageError, match="`engine` numpy trains the bow model only"):
        ClassifyConfig(files=["x"], model="cnn", engine="numpy").check()
    with pytest.raises(UsageError, match="engine"):
        ClassifyConfig(files=["x"], model="bow", engine="jax").check()


def test_torch_engine_still_trains_bow(tmp_path: Path, data: tuple[Path, Path]) -> None:
    train, dev = data
    clf = train_classify(
        config(train, dev, engine="torch"),
        TrainOptions(epochs=12, seed=1, threads=1, device="cpu"),
        tmp_path / "t.pt",
    )
    assert (tmp_path / "t.last.pt").exists()  # the runner's resumable state
    assert clf.run.result.best > 0.95


def test_settings_table_matches_the_model_configs() -> None:
    from seqtool.models.classifier import config_fields
    from seqtool.tasks.classify_config import MODEL_SETTINGS, SETTINGS_OF

    for name, taken in SETTINGS_OF.items():
        assert taken == config_fields(name) & set(MODEL_SETTINGS), name


def test_cli_bow_trains_without_importing_torch(tmp_path: Path, data: tuple[Path, Path]) -> None:
    train, dev = data
    out = tmp_path / "c.pt"
    # nor pydantic, which typer 0.2x imports to convert flag values (seqtool.cli.coerce)
    pydantic = "pydantic" if importlib.util.find_spec("typer._adapters") else "no such module"
    code = (
        "import sys\n"
        "from seqtool.cli import main\n"
        f"sys.argv = ['seqtool', 'classify', 'train', {str(train)!r}, '--valid', {str(dev)!r},"
        f" '-m', 'bow', '--dim', '16', '--epochs', '3', '-o', {str(out)!r}, '-q']\n"
        "code = main()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        f"assert {pydantic!r} not in sys.modules, 'pydantic was imported'\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert Classifier.load(out, "cpu").model_name == "bow"


def test_cli_engine_flag(tmp_path: Path, data: tuple[Path, Path], cli) -> None:
    train, dev = data
    common = [train, "--valid", dev, "-m", "bow", "--dim", "16", "--epochs", "2", "-q"]
    run = cli("classify", "train", *common, "--engine", "torch", "--threads", "1",
              "-o", tmp_path / "t.pt")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "t.last.pt").exists()
    run = cli("classify", "train", *common, "--engine", "numpy", "--momentum", "0.9",
              "-o", tmp_path / "n.pt")  # fmt: skip
    assert run.exit_code == 2
    assert_one_line_error(run)
    assert "--engine numpy: --momentum 0.9 needs the torch engine" in run.stderr
    assert not (tmp_path / "n.pt").exists()
