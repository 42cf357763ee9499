"""NaN, infinities and out-of-range numbers (issue 13, item 3 and the option-value cases).

The contract, for every case: one ``seqtool: error:`` line naming the flag (exit 2 for
an option value, 1 for a diverged run or an unusable model), no traceback, no output
or temporary file left behind; training that diverges stops, leaving the last good
files as they were; a NaN validation score is never the best; greedy and beam search
end on any scores within the length cap; a model with NaN, infinite or complex weights
is refused on load.  Searches that used to hang run under a deadline (``SIGALRM``
in-process, a subprocess timeout for the command line).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
from test_hostile import assert_contract, no_temps

from seqtool.cli import app
from seqtool.decode.beam import SearchConfig, beam_search, greedy_search
from seqtool.decode.sampling import SamplingConfig
from seqtool.errors import CheckpointError, UsageError
from seqtool.models.seq2seq import GRUAttn, GRUAttnConfig
from seqtool.tasks.lm import LMLoss
from seqtool.text.vocab import EOS
from seqtool.train.checkpoint import load_checkpoint, save_checkpoint
from seqtool.train.data import StreamBatches
from seqtool.train.mt_data import pad_batch
from seqtool.train.options import TrainOptions
from seqtool.train.trainer import TrainConfig, Trainer, TrainingDiverged

TINY_RNN = ["--embed", "16", "--hidden", "16", "--layers", "1", "--dropout", "0"]
TINY_MT = ["--model", "gru-attn", *TINY_RNN]
HUGE = str(10**23)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny inputs for every command, and a language model and a translation model
    trained for one step (what the decoding commands load)."""
    from typer.testing import CliRunner

    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("nonfinite")
    letters = "abcdefgh"
    src = [" ".join(letters[(i + j) % 8] for j in range(3 + i % 4)) for i in range(60)]
    f = {
        "c": d / "c.txt",
        "s": d / "s.txt",
        "t": d / "t.txt",
        "cls": d / "cls.tsv",
        "fc": d / "fc.csv",
        "lm": d / "lm.pt",
        "mt": d / "mt.pt",
    }
    f["c"].write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20, encoding="utf-8")
    f["s"].write_text("".join(s + "\n" for s in src), encoding="utf-8")
    f["t"].write_text("".join(" ".join(reversed(s.split())) + "\n" for s in src), encoding="utf-8")
    f["cls"].write_text(
        "".join(f"a {'good' if i % 2 else 'bad'} film {i}\t{'pos' if i % 2 else 'neg'}\n"
                for i in range(40)),
        encoding="utf-8",
    )  # fmt: skip
    f["fc"].write_text(
        "".join(f"s{k}," + ",".join(str(10 + (i % 7) + k) for i in range(60)) + "\n"
                for k in range(4)),
        encoding="utf-8",
    )  # fmt: skip
    runner = CliRunner()
    for argv in (
        ["train-lm", f["c"], "--model", "gru", *TINY_RNN, "--max-steps", "1", "-o", f["lm"]],
        ["train-mt", "--src", f["s"], "--tgt", f["t"], *TINY_MT, "--max-steps", "1", "-o", f["mt"]],
    ):
        run = runner.invoke(app, [*map(str, argv), "-q"], catch_exceptions=False)
        assert run.exit_code == 0, run.stderr
    return f


# ---------------------------------------------------------------------- option values
# Each command's arguments up to the option under test ({d}: a fresh, empty folder
# for outputs, which must stay empty).
COMMANDS: dict[str, list[str]] = {
    "train-lm": ["train-lm", "{c}", "--model", "gru", *TINY_RNN, "--max-steps", "1",
                 "-o", "{d}/out.pt"],
    "train-mt": ["train-mt", "--src", "{s}", "--tgt", "{t}", *TINY_MT, "--max-steps", "1",
                 "-o", "{d}/out.pt"],
    "classify train": ["classify", "train", "{cls}", "--max-steps", "1", "-o", "{d}/out.pt"],
    "forecast train": ["forecast", "train", "{fc}", "-H", "3", "--max-steps", "1",
                       "-o", "{d}/out.pt"],
    "word2vec train": ["word2vec", "train", "{c}", "--min-count", "1", "--epochs", "1",
                       "-o", "{d}/out.txt"],
    "generate": ["generate", "{lm}", "--prefix", "the", "--max-tokens", "3"],
    "translate": ["translate", "{mt}", "{s}"],
    "zipf": ["zipf", "{c}"],
    "demo": ["demo", "-o", "{d}/demo"],
    "bleu": ["bleu", "{s}", "-i", "{s}", "--confidence"],
    "summarize": ["summarize", "{c}"],
    "data fetch": ["data", "fetch", "timemachine", "--dir", "{d}/data"],
}  # fmt: skip
TRAINERS = ("train-lm", "train-mt", "classify train", "forecast train")
# (flag, value, what the error line says after the flag) for every training command
SHARED_TRAINING = [
    ("--lr", "inf", "must be a finite number"),
    ("--lr", "nan", "must be a finite number"),
    ("--lr", "0", "must be positive"),
    ("--weight-decay", "nan", "must be a finite number"),
    ("--weight-decay", "inf", "must be a finite number"),
    ("--momentum", "nan", r"must be in \[0, 1\)"),
    ("--momentum", "-1", r"must be in \[0, 1\)"),
    ("--momentum", "1", r"must be in \[0, 1\)"),
    ("--clip", "nan", "must be a finite number"),
    ("--clip", "inf", "must be a finite number"),
    ("--checkpoint-every", "nan", "must be a finite number"),
    ("--checkpoint-every", "-1", "must be at least 0"),
    ("--min-lr", "nan", "must be a finite number"),
    ("--seed", HUGE, "must be from 0 to 4294967295"),
    ("--seed", "-1", "must be from 0 to 4294967295"),
]
OWN = [
    ("train-lm", "--dropout", "nan", r"must be in \[0, 1\)"),
    ("train-lm", "--valid-fraction", "inf", r"must be in \[0, 1\)"),
    ("train-mt", "--dropout", "nan", r"must be in \[0, 1\)"),
    ("train-mt", "--label-smoothing", "nan", r"must be in \[0, 1\)"),
    ("classify train", "--dropout", "nan", r"must be in \[0, 1\)"),
    ("classify train", "--valid-fraction", "nan", r"must be in \[0, 1\)"),
    ("forecast train", "--dropout", "nan", r"must be in \[0, 1\)"),
    ("word2vec train", "--lr", "nan", "must be more than 0"),
    ("word2vec train", "--lr", "inf", "must be more than 0"),
    ("word2vec train", "--sample", "nan", "must be a finite number"),
    ("word2vec train", "--sample", "inf", "must be a finite number"),
    ("word2vec train", "--seed", HUGE, "must be from 0 to 4294967295"),
    ("generate", "--temperature", "inf", "must be a finite number"),
    ("generate", "--temperature", "nan", "must be a finite number"),
    ("generate", "--temperature", "1e-40", "must be from 0.01 to 100"),
    ("generate", "--temperature", "1e6", "must be from 0.01 to 100"),
    ("generate", "--top-p", "nan", r"must be in \(0, 1\]"),
    ("generate", "--seed", HUGE, "must be from 0 to 4294967295"),
    ("generate", "--seed", "-1", "must be from 0 to 4294967295"),
    ("translate", "--lenpen", "nan", "must be a finite number"),
    ("translate", "--lenpen", "inf", "must be a finite number"),
    ("translate", "--lenpen", "-5", "must be from 0 to 5"),
    ("translate", "--max-len-a", "nan", "must be a finite number"),
    ("translate", "--max-len-a", "inf", "must be a finite number"),
    ("translate", "--max-len-b", HUGE, "must be from 0 to 10000"),
    ("translate", "--beam", "100000", "must be from 1 to 256"),
    ("zipf", "--seed", HUGE, "must be from 0 to 4294967295"),
    ("demo", "--seed", HUGE, "must be from 0 to 4294967295"),
    ("demo", "--scale", "nan", "must be above 0 and at most 10"),
    ("bleu", "--seed", HUGE, "must be from 0 to 4294967295"),
    ("bleu", "--seed", "-1", "must be from 0 to 4294967295"),
    ("summarize", "--ratio", "nan", r"must be in \(0, 1\]"),
    ("summarize", "--threshold", "inf", r"must be in \[0, 1\)"),
    ("summarize", "--damping", "nan", r"must be in \[0, 1\)"),
    ("summarize", "--dedup", "nan", r"must be in \(0, 1\]"),
    ("data fetch", "--timeout", "nan", "must be"),
]
# The shared flags go through one check (TrainOptions): every case for train-lm, and
# for the other trainers one non-finite value per flag, to show each is wired up.
WIRED = [case for case in SHARED_TRAINING if case[1] in ("nan", HUGE)]
CASES = [("train-lm", *case) for case in SHARED_TRAINING]
CASES += [(cmd, *case) for cmd in TRAINERS[1:] for case in WIRED] + OWN


@pytest.mark.parametrize(("command", "flag", "value", "says"), CASES)
def test_option_values_are_refused_naming_the_flag(
    cli, files: dict[str, Path], tmp_path: Path, command: str, flag: str, value: str, says: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = [a.format(d=out, **files) for a in COMMANDS[command]]
    run = cli(*args, flag, value)
    assert_contract(run, 2, re.escape(flag) + " " + says)
    assert os.listdir(out) == []  # nothing written, not even a temporary file


def _number_options() -> Iterator[tuple[str, str, str]]:
    """(command, flag, "float" | "seed") for every float option and every seed."""

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, str, str]]:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
            return
        for p in cmd.params:
            if p.param_type_name != "option":
                continue
            kind = str(p.type_descriptor.annotation)
            if "float" in kind:
                yield " ".join(path), p.opts[0], "float"
            elif p.name == "seed":
                yield " ".join(path), p.opts[0], "seed"

    yield from walk(typer.main.get_command(app), [])


def test_every_float_option_and_seed_has_a_case() -> None:
    """A new float flag (or --seed) without a non-finite (or huge) case fails here."""
    covered = {(c, f) for c, f, v, _ in CASES if v in ("nan", "inf")}
    covered |= {(c, f) for c, f, v, _ in CASES if f == "--seed" and v == HUGE}
    missing = [(c, f) for c, f, _ in _number_options() if (c, f) not in covered]
    assert not missing, missing


def test_library_configs_refuse_the_same_values() -> None:
    """The checks live in the typed configs, so Python callers get them too."""
    bad_options: list[dict[str, Any]] = [
        {"lr": math.inf}, {"weight_decay": math.nan}, {"momentum": math.nan},
        {"momentum": -1.0}, {"clip": math.nan}, {"checkpoint_every": math.nan},
        {"checkpoint_every": -1.0}, {"seed": 10**23}, {"time_budget": math.inf},
    ]  # fmt: skip
    for bad in bad_options:
        with pytest.raises(UsageError):
            TrainOptions(**bad)
    for field, value in [("beta1", math.nan), ("seed", -1), ("lr", math.inf)]:
        with pytest.raises(UsageError, match=field):
            TrainConfig(max_steps=1, **{field: value}).check()  # type: ignore[arg-type]
    for search in [dict(lenpen=math.nan), dict(max_len_a=math.inf), dict(beam=10**5)]:
        with pytest.raises(UsageError):
            SearchConfig(**search).check()  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="`temperature` must be from 0.01"):
        SamplingConfig(temperature=1e-40).check()
    SamplingConfig(temperature=0.01).check()  # the bounds themselves are allowed
    SearchConfig(beam=256, nbest=256, lenpen=5.0, max_len_a=100.0, max_len_b=10_000).check()


# ---------------------------------------------------------------------- training
def _trainer(tmp: Path, loss_fn: Any = None, evaluate: Any = None, **cfg: Any) -> Trainer:
    from seqtool.models.rnn_lm import RNNLM, RNNLMConfig

    torch.manual_seed(0)
    ids = torch.randint(4, 13, (600,), generator=torch.Generator().manual_seed(0))
    settings: dict[str, Any] = dict(device="cpu", lr=1e-2, max_steps=12, eval_every=2, log_every=5)
    settings.update(cfg)
    model = RNNLM(RNNLMConfig(13, cell="gru", embed=8, hidden=8, layers=1))

    evals = iter(range(100, 0, -1))

    def valid(m: torch.nn.Module) -> dict[str, float]:
        return {"valid_loss": float(next(evals))}  # better every time

    return Trainer(
        model,
        TrainConfig(**settings),
        StreamBatches(ids, 4, 8, seed=3),
        loss_fn or LMLoss(),
        evaluate=evaluate or valid,
        output=tmp / "m.pt",
        log_path=tmp / "log.jsonl",
        checkpoint_extra=lambda: {"kind": "test", "config": {}},
    )


def _finite(path: Path) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in load_checkpoint(path)["model"].values())


@pytest.mark.parametrize("sync_free", [False, True], ids=["cpu-watch", "accelerator-watch"])
def test_nan_loss_stops_training_and_keeps_the_last_good_files(
    tmp_path: Path, sync_free: bool
) -> None:
    inner = LMLoss()
    calls = {"n": 0}

    def loss(model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, int]:
        calls["n"] += 1
        value, n = inner(model, batch)
        return (value * math.nan if calls["n"] == 7 else value), n  # step 7's loss is NaN

    trainer = _trainer(tmp_path, loss, checkpoint_every_minutes=0.0)  # save after every step
    trainer._sync_free = sync_free  # the accelerators' way of watching, run on the CPU
    with pytest.raises(TrainingDiverged, match="loss became NaN or infinite at step 7") as e:
        trainer.fit()
    assert "m.last.pt the resumable state of step 6" in str(e.value)
    assert "`lr`" in (e.value.hint or "") and "`clip`" in (e.value.hint or "")
    assert e.value.exit_code == 1
    last = load_checkpoint(tmp_path / "m.last.pt")
    assert last["train_state"]["step"] == 6 and _finite(tmp_path / "m.last.pt")
    assert load_checkpoint(tmp_path / "m.pt")["metrics"]["best_step"] == 6
    assert _finite(tmp_path / "m.pt")
    no_temps(tmp_path)


def test_non_finite_weights_are_never_saved(tmp_path: Path) -> None:
    """A finite loss but weights blown up by the update: caught before the save."""
    trainer = _trainer(tmp_path, max_steps=3, eval_every=None, log_every=100)
    trainer.fit()
    with torch.no_grad():
        next(trainer.module.parameters()).fill_(math.inf)
    before = (tmp_path / "m.last.pt").read_bytes()
    with pytest.raises(TrainingDiverged, match="weights became NaN or infinite"):
        trainer._save_last()
    assert (tmp_path / "m.last.pt").read_bytes() == before


def test_nan_validation_score_is_never_the_best(tmp_path: Path) -> None:
    scores = iter([math.nan, 3.0, math.nan, 2.0, math.inf, 2.5])

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        return {"valid_loss": next(scores)}

    trainer = _trainer(tmp_path, evaluate=evaluate)
    result = trainer.fit()
    assert result.best == 2.0 and result.best_step == 8
    # A resumable state whose best is NaN (an older seqtool kept one): a real score wins.
    trainer.best, trainer.best_step = math.nan, 4
    trainer.evaluate_fn = lambda m: {"valid_loss": 9.0}
    trainer._run_eval()
    assert trainer.best == 9.0


def test_diverging_run_on_the_command_line(cli, files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "x.pt"
    run = cli(
        "train-lm", files["c"], "--model", "gru", *TINY_RNN, "--max-steps", "40", "--lr", "1e30",
        "--clip", "0", "--checkpoint-every", "0", "-o", out,
    )  # fmt: skip
    assert_contract(run, 1, r"training diverged: the (loss|weights) became NaN or infinite")
    assert "hint: lower --lr (now 1e+30) or set --clip (now off)" in run.stderr
    for kept in (out, tmp_path / "x.last.pt"):  # what is on disk is from before it diverged
        assert not kept.exists() or _finite(kept)
    no_temps(tmp_path)


# ---------------------------------------------------------------------- decoding
class Scripted(torch.nn.Module):
    """A translation model whose next-token logits are ``logits(step)`` for every row."""

    def __init__(self, logits: Any, vocab: int = 12, output_ids: torch.Tensor | None = None):
        super().__init__()
        self.logits, self.vocab, self.output_ids = logits, vocab, output_ids

    def encode(self, src: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        return torch.zeros(src.shape[0])

    def decode_step(self, tokens: torch.Tensor, state: torch.Tensor, step: int) -> Any:
        width = self.vocab if self.output_ids is None else len(self.output_ids)
        row = torch.as_tensor(self.logits(step, width), dtype=torch.float32)
        return row.expand(tokens.shape[0], width).clone(), state

    def reorder(self, state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return state.index_select(0, index)


def _no_eos(value: float) -> Any:
    def logits(step: int, width: int) -> torch.Tensor:
        row = torch.full((width,), value)
        row[EOS] = -math.inf  # the model never ends a sentence on its own
        return row

    return logits


SCRIPTS = {
    "nan": lambda step, width: torch.full((width,), math.nan),
    "+inf": lambda step, width: torch.full((width,), math.inf),
    "-inf": lambda step, width: torch.full((width,), -math.inf),
    "nan after a step": lambda step, width: torch.full((width,), math.nan if step else 0.0),
    "never eos": _no_eos(0.0),
    "never eos, huge logits": _no_eos(3e38),
}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("beam", [1, 4])
def test_search_ends_within_the_cap_on_any_scores(script: str, beam: int) -> None:
    model = Scripted(SCRIPTS[script])
    src, lens = pad_batch([[5, 6, 7, 3], [8, 3]])
    cfg = SearchConfig(beam=beam, nbest=min(beam, 2), max_len_a=1.0, max_len_b=3)
    with deadline(20):
        greedy = greedy_search(model, src, lens, cfg.max_len_a, cfg.max_len_b)
        nbests = beam_search(model, src, lens, cfg)
    caps = [4 + 3, 2 + 3]
    for g, nbest, cap in zip(greedy, nbests, caps):
        assert len(g.tokens) <= cap
        assert 1 <= len(nbest) <= cfg.nbest  # never an empty result
        assert all(len(h.tokens) <= cap for h in nbest)
        assert all(t not in (0, 2, EOS) for h in nbest for t in h.tokens)


def test_shortlist_of_only_eos_ends() -> None:
    model = Scripted(lambda step, width: torch.zeros(width), output_ids=torch.tensor([EOS]))
    src, lens = pad_batch([[5, 6, 3]])
    with deadline(20):
        out = beam_search(model, src, lens, SearchConfig(beam=5, max_len_b=50))
        greedy = greedy_search(model, src, lens, 1.5, 50)
    assert [h.tokens for h in out[0]] == [[]] and out[0][0].score == 0.0
    assert greedy[0].tokens == []


def test_nan_weights_end_beam_search_in_a_real_model() -> None:
    model = GRUAttn(GRUAttnConfig(src_vocab=20, tgt_vocab=20, embed=8, hidden=8, layers=1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(math.nan)
    src, lens = pad_batch([[5, 6, 7, 3], [9, 3]])
    with deadline(20):
        out = beam_search(model.eval(), src, lens, SearchConfig(beam=3, max_len_b=5))
    assert [len(n) for n in out] == [1, 1]


# ---------------------------------------------------------------------- unusable models
def _poisoned(source: Path, dest: Path, how: str) -> Path:
    ckpt = torch.load(source, weights_only=True)
    for name, t in ckpt["model"].items():
        if t.is_floating_point():
            ckpt["model"][name] = {
                "nan": torch.full_like(t, math.nan),
                "inf": t.masked_fill(torch.ones_like(t, dtype=torch.bool), math.inf),
                "complex": t.to(torch.complex64),
            }[how]
            break  # one tensor is enough
    save_checkpoint(dest, {k: v for k, v in ckpt.items() if k not in ("format", "format_version")})
    return dest


@pytest.mark.parametrize("how", ["nan", "inf", "complex"])
@pytest.mark.parametrize(
    "argv",
    [
        ["eval-lm", "{lm}", "{c}"],
        ["generate", "{lm}", "--prefix", "the"],
        ["translate", "{mt}", "{s}", "--beam", "3"],
        ["train-lm", "{c}", "--resume", "{lm_last}", "--max-steps", "3", "-o", "{d}/r.pt"],
    ],
    ids=["eval-lm", "generate", "translate", "resume"],
)
def test_unusable_weights_are_refused_on_load(
    cli, files: dict[str, Path], tmp_path: Path, how: str, argv: list[str]
) -> None:
    paths = {
        "lm": _poisoned(files["lm"], tmp_path / "lm.pt", how),
        "mt": _poisoned(files["mt"], tmp_path / "mt.pt", how),
        "lm_last": _poisoned(files["lm"].with_name("lm.last.pt"), tmp_path / "lm.last.pt", how),
    }
    args = [a.format(d=tmp_path, c=files["c"], s=files["s"], **paths) for a in argv]
    run = cli(*args)
    says = "complex numbers" if how == "complex" else "NaN or infinite values"
    assert_contract(run, 1, says)
    assert run.stdout == ""  # no `nan` perplexity, no translation from a broken model
    assert not (tmp_path / "r.pt").exists()


def test_refusal_in_the_library() -> None:
    from seqtool.train.checkpoint import check_weights

    check_weights({"w": torch.ones(2), "steps": torch.tensor([3]), "meta": "x"}, "ok.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: the weights hold NaN .* first 'b'"):
        check_weights({"a": torch.ones(2), "b": torch.tensor([1.0, math.inf])}, "bad.pt")
