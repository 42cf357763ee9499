"""The shared Trainer: exact resume, interruption, schedules, stopping rules, accumulation,
and the LM batch sources it reads."""

from __future__ import annotations

import math
import signal
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from seqtool.cli.train_options import parse_duration
from seqtool.errors import UsageError
from seqtool.models.rnn_lm import RNNLM, RNNLMConfig
from seqtool.models.transformer_lm import TransformerLM, TransformerLMConfig
from seqtool.tasks.lm import LMLoss
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.data import StreamBatches, WindowBatches
from seqtool.train.trainer import TrainConfig, Trainer, TrainingInterrupted, lr_factor

V = 13


def stream(n: int = 600, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(4, V, (n,), generator=g)


def make_model(kind: str, init_seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(init_seed)
    if kind == "transformer":
        return TransformerLM(
            TransformerLMConfig(V, dim=16, layers=1, heads=2, context=8, dropout=0.2)
        )
    return RNNLM(RNNLMConfig(V, cell="lstm", embed=8, hidden=8, layers=2, dropout=0.2))


def make_trainer(
    kind: str, tmp: Path, init_seed: int = 0, batch: int = 4, **cfg: object
) -> Trainer:
    source_cls = WindowBatches if kind == "transformer" else StreamBatches
    source = source_cls(stream(), batch, 8, seed=3)
    settings: dict[str, object] = dict(
        device="cpu", lr=1e-2, warmup=3, max_steps=12, eval_every=4, log_every=1, seed=7
    )
    settings.update(cfg)
    valid = stream(100, seed=1)

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        logits, _ = m(valid[None, :-1])
        loss = torch.nn.functional.cross_entropy(logits[0], valid[1:])
        return {"valid_loss": float(loss)}

    return Trainer(
        make_model(kind, init_seed),
        TrainConfig(**settings),  # type: ignore[arg-type]
        source,
        LMLoss(),
        evaluate=evaluate,
        output=tmp / "m.pt",
        log_path=tmp / "log.jsonl",
        checkpoint_extra=lambda: {"kind": "test", "config": {}},
    )


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("kind", ["transformer", "lstm"])
def test_resume_after_interruption_equals_straight_run(kind: str, tmp_path: Path) -> None:
    straight = make_trainer(kind, tmp_path / "a")
    (tmp_path / "a").mkdir()
    straight.fit()
    expected = weights(straight.module)

    (tmp_path / "b").mkdir()
    first = make_trainer(kind, tmp_path / "b")

    def stop_at_5(info: object) -> None:
        if first.step == 5:
            first.request_stop(signal.SIGTERM)

    first.on_step = stop_at_5
    with pytest.raises(TrainingInterrupted) as exc:
        first.fit()
    assert exc.value.exit_code == 143 and "SIGTERM" in exc.value.message
    assert "`resume`" in exc.value.message  # the library names parameters
    ckpt = load_checkpoint(tmp_path / "b" / "m.last.pt")
    assert ckpt["train_state"]["step"] == 5

    second = make_trainer(kind, tmp_path / "b", init_seed=99)  # weights must come from ckpt
    second.module.load_state_dict(ckpt["model"])
    result = second.fit(resume=ckpt["train_state"])
    assert result.steps == 12
    for name, value in weights(second.module).items():
        assert_close(value, expected[name], msg=name)


def test_gradient_accumulation_equals_one_large_batch(tmp_path: Path) -> None:
    one = make_trainer("transformer", tmp_path, batch=8, max_steps=3, warmup=0)
    two = make_trainer("transformer", tmp_path, batch=4, max_steps=3, warmup=0, accumulate=2)
    for t in (one, two):
        t.module.apply(lambda m: setattr(m, "p", 0.0) if isinstance(m, torch.nn.Dropout) else None)
        t.fit()
    for name, value in weights(two.module).items():
        assert_close(value, weights(one.module)[name], atol=1e-5, rtol=1e-4, msg=name)


def test_best_and_last_checkpoints_and_log(tmp_path: Path) -> None:
    t = make_trainer("lstm", tmp_path)
    result = t.fit()
    best = load_checkpoint(tmp_path / "m.pt")
    last = load_checkpoint(tmp_path / "m.last.pt")
    assert "train_state" not in best and "train_state" in last
    assert best["metrics"]["best_step"] == result.best_step
    assert set(last["train_state"]) >= {"optimizer", "rng", "data_position", "step", "scheduler"}
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in best["model"])
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 3  # steps 4, 8 and 12
    assert result.stop_reason == "max steps"


def test_early_stopping_and_time_budget(tmp_path: Path) -> None:
    t = make_trainer("lstm", tmp_path, max_steps=100, eval_every=1, patience=2)
    scores = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    t.evaluate_fn = lambda m: {"valid_loss": next(scores)}
    result = t.fit()
    assert result.stop_reason == "early stopping"
    assert result.steps == 4 and result.best == 2.0 and result.best_step == 2

    quick = make_trainer("lstm", tmp_path, max_steps=None, time_budget=0.3, eval_every=None)
    assert quick.fit().stop_reason == "time budget"


def test_epochs_rule_and_epoch_end_evaluation(tmp_path: Path) -> None:
    t = make_trainer("transformer", tmp_path, max_steps=None, epochs=2, eval_every=None)
    result = t.fit()
    n = len(t.train)
    assert result.steps == 2 * n and result.stop_reason == "epochs"
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 2


def test_lr_schedules() -> None:
    cfg = TrainConfig(lr=1.0, warmup=10, max_steps=100, min_lr=0.1)
    assert lr_factor(cfg, 0, 0.0) == pytest.approx(0.1)
    assert lr_factor(cfg, 9, 0.0) == pytest.approx(1.0)
    assert lr_factor(cfg, 100, 1.0) == pytest.approx(0.1)
    assert lr_factor(cfg, 50, 0.5) == pytest.approx(0.55)
    lin = TrainConfig(lr=1.0, schedule="linear", max_steps=10, min_lr=0.0)
    assert lr_factor(lin, 5, 0.5) == pytest.approx(0.5)
    inv = TrainConfig(lr=1.0, schedule="inverse-sqrt", warmup=4, max_steps=10)
    assert lr_factor(inv, 15, 0.0) == pytest.approx(math.sqrt(4 / 16))
    assert lr_factor(TrainConfig(schedule="constant", max_steps=1), 5, 0.9) == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"optimizer": "adam"},
        {"schedule": "step"},
        {"lr": 0},
        {"accumulate": 0},
        {"max_steps": None},
        {"clip": -1.0},
        {"min_lr": 2.0},
    ],
)
def test_impossible_settings_are_usage_errors(bad: dict[str, object]) -> None:
    settings: dict[str, object] = {"max_steps": 10, **bad}
    with pytest.raises(UsageError):
        TrainConfig(**settings).check()  # type: ignore[arg-type]


def test_parse_duration() -> None:
    assert parse_duration("84s") == 84
    assert parse_duration("10m") == 600
    assert parse_duration("1h30m") == 5400
    assert parse_duration("90") == 90
    for bad in ("soon", "0", "10x", "-5m"):
        with pytest.raises(UsageError):
            parse_duration(bad)


@pytest.mark.parametrize("cls", [StreamBatches, WindowBatches])
def test_batch_sources_resume_mid_epoch_and_shard_disjointly(cls: type) -> None:
    ids = torch.arange(1000)
    src = cls(ids, 4, 10, seed=5)
    full = list(src.batches(2))
    assert len(full) == len(src)
    tail = list(src.batches(2, start=3))
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(full[3:], tail))
    assert all(torch.equal(b["y"], b["x"] + 1) for b in full)  # targets are the next tokens
    assert not torch.equal(full[0]["x"], next(iter(src.batches(3)))["x"])  # epochs differ
    ranks = [cls(ids, 4, 10, seed=5, rank=r, world=2) for r in range(2)]
    assert len(ranks[0]) == len(ranks[1])
    seen = [torch.cat([b["x"].flatten() for b in r.batches(0)]) for r in ranks]
    assert not set(seen[0].tolist()) & set(seen[1].tolist())


def test_stream_batches_rows_continue_from_window_to_window() -> None:
    src = StreamBatches(torch.arange(1000), 4, 10, seed=0)
    a, b = list(src.batches(0))[:2]
    assert not a["carry"] and b["carry"]
    assert torch.equal(b["x"][:, 0], a["x"][:, -1] + 1)


def test_corpus_too_short_or_zero_window_is_refused() -> None:
    from seqtool.errors import InputError

    with pytest.raises(InputError, match="too few for one window"):
        WindowBatches(torch.arange(15), 4, 10)
    with pytest.raises(UsageError, match="seq_len"):
        StreamBatches(torch.arange(100), 4, 0)
