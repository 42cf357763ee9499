"""Hostile checkpoints and lost work (issue 13, items 2, 8 and 11, and the long RNN
prefix of the error list): each case asserts the contract of ``test_hostile.py``.

Small checkpoints of every kind are trained once per module (one step each); the
cases edit copies of them.  Edits that would allocate without bound run in a
subprocess with an address-space limit and a timeout.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from test_hostile import Proc, assert_contract, no_temps, seqtool
from typer.testing import CliRunner

from seqtool.cli import app
from seqtool.errors import CheckpointError
from seqtool.train import trainer as trainer_mod
from seqtool.train.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 8


def cpu_seconds() -> float:
    """CPU time used by finished child processes (robust on a loaded machine)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def train(*args: object) -> None:
    run = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert run.exit_code == 0, run.stderr


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny trained checkpoint of each kind (and the files to use them on)."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("models")
    corpus = d / "c.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    src, tgt = d / "s.txt", d / "t.txt"
    src.write_text("a b c\nb c d\nc d a\n" * 10, encoding="utf-8")
    tgt.write_text("c b a\nd c b\na d c\n" * 10, encoding="utf-8")
    labelled = d / "l.tsv"
    labelled.write_text(
        "".join(f"{w} good day\tpos\n{w} bad day\tneg\n" for w in "abcdefghij"), encoding="utf-8"
    )
    series = d / "h.csv"
    t = np.arange(60)
    series.write_text(
        "".join(f"s{i}," + ",".join(f"{3 + np.sin(t_ / 6 + i):.4f}" for t_ in t) + "\n"
                for i in range(3)),
        encoding="utf-8",
    )  # fmt: skip
    one = ("--max-steps", "1", "-q")
    train("train-lm", corpus, "--model", "lstm", "--layers", "1", "--hidden", "16",
          "--embed", "16", *one, "-o", d / "rnn.pt")  # fmt: skip
    train("train-lm", corpus, "--model", "transformer", "--layers", "1", "--dim", "16",
          "--heads", "2", "--ff-dim", "32", *one, "-o", d / "tf.pt")  # fmt: skip
    train("train-mt", "--src", src, "--tgt", tgt, "--model", "gru-attn", "--layers", "1",
          "--embed", "8", "--hidden", "8", *one, "-o", d / "mt.pt")  # fmt: skip
    train("classify", "train", labelled, "-m", "bow", "--dim", "8", "--buckets", "50",
          *one, "-o", d / "clf.pt")  # fmt: skip
    train("word2vec", "train", corpus, "-o", d / "v.txt", "--dim", "8", "--epochs", "1",
          "--min-count", "1", "--threads", "1", "-q")  # fmt: skip
    train("forecast", "train", series, "-H", "3", "--context", "6", "--hidden", "8",
          "--blocks", "1", "--layers", "1", *one, "-o", d / "fc.pt")  # fmt: skip
    return {"corpus": corpus, "src": src, "labelled": labelled, "series": series,
            "rnn": d / "rnn.pt", "tf": d / "tf.pt", "mt": d / "mt.pt", "clf": d / "clf.pt",
            "fc": d / "fc.pt", "w2v": d / "v.txt.last.pt"}  # fmt: skip


def edited(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of checkpoint ``src`` changed by ``edit`` (torch.save: valid CRCs)."""
    data = torch.load(src, weights_only=True)
    edit(data)
    torch.save(data, dst)
    return dst


def set_config(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["config"].update(changes)


def use(models: dict[str, Path], kind: str, ckpt: Path) -> list[object]:
    """The command line that loads ``ckpt`` of ``kind`` to use it."""
    return {
        "rnn": ["generate", ckpt, "--prefix", "the", "--max-tokens", "5"],
        "tf": ["eval-lm", ckpt, models["corpus"]],
        "mt": ["translate", ckpt, models["src"]],
        "clf": ["classify", "predict", ckpt, models["labelled"]],
        "fc": ["forecast", "predict", ckpt, models["series"]],
    }[kind]


# ---------------------------------------------------------------------- 13.2 config vs tensors
# Each edit changes a setting that decides a tensor's shape: one line naming the
# mismatch, before the model is built (in-process: these edits are small enough
# that a missing check would not exhaust memory, only give another message).
SHAPE_EDITS = [
    ("rnn", {"hidden": 17}, "weights do not match the model config"),
    ("rnn", {"embed": 15, "tie": False}, "weights do not match the model config"),
    ("rnn", {"layers": 2}, "weights do not match the model config"),
    ("rnn", {"layers": 10**4}, r"layers = 10,000, but the file holds only \d+ weight tensors"),
    ("rnn", {"vocab_size": 1000}, "weights do not match the model config"),
    ("tf", {"dim": 32, "heads": 2}, "weights do not match the model config"),
    ("tf", {"heads": 3}, "impossible model config"),
    ("tf", {"ff_dim": 64}, "weights do not match the model config"),
    ("tf", {"positions": "learned"}, "weights do not match the model config"),
    ("tf", {"context": 10**9}, "computed values"),
    ("tf", {"vocab_size": 2**40}, "out of range"),
    ("mt", {"hidden": 9}, "weights do not match the model config"),
    ("mt", {"bidirectional": False}, "weights do not match the model config"),
    ("mt", {"layers": 10**6}, "weight tensors"),
    ("clf", {"dim": 9}, "weights do not match the model config"),
    ("clf", {"classes": 3}, "weights do not match the model config"),
    ("clf", {"buckets": 51}, "weights do not match the model config"),
    ("clf", {"vocab_size": "many"}, "impossible model config"),
    ("fc", {"hidden": 7}, "weights do not match the model config"),
    ("fc", {"context": 7}, "weights do not match the model config"),
    ("fc", {"blocks": 10**5}, "weight tensors"),
]


@pytest.mark.parametrize(("kind", "changes", "match"), SHAPE_EDITS)
def test_config_is_checked_against_the_weights(
    cli, models: dict[str, Path], tmp_path: Path, kind: str, changes: dict[str, Any], match: str
) -> None:
    bad = edited(models[kind], tmp_path / "bad.pt", set_config(**changes))
    assert_contract(cli(*use(models, kind, bad)), 1, match)


def test_untouched_checkpoints_still_load(cli, models: dict[str, Path]) -> None:
    for kind in ("rnn", "tf", "mt", "clf", "fc"):
        run = cli(*use(models, kind, models[kind]))
        assert run.exit_code == 0, (kind, run.stderr)


# Run in one subprocess (one torch import) with an address-space limit: each case
# goes through the command line in-process there, and reports its exit code, its
# stderr and its CPU seconds (wall time means little on a shared machine).
BATCH = """
import json, sys, time
from typer.testing import CliRunner
from seqtool.cli import app
out = []
for argv in json.load(sys.stdin):
    t = time.process_time()
    r = CliRunner().invoke(app, argv)
    out.append([r.exit_code, r.stderr, time.process_time() - t])
print(json.dumps(out))
"""


def bounded(cmds: list[list[object]], cwd: Path, mem_gb: float = 1.5) -> list[Proc]:
    def limit() -> None:
        cap = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    p = subprocess.run(
        [sys.executable, "-c", BATCH],
        input=json.dumps([[str(a) for a in cmd] for cmd in cmds]).encode(),
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr.decode()
    results = json.loads(p.stdout)
    for _code, err, seconds in results:
        assert seconds < 10, (seconds, err)
    return [Proc(code, "", err) for code, err, _ in results]


GIANT = [
    ("rnn", {"layers": 10**9}, "weight tensors"),
    ("rnn", {"hidden": 10**12}, "out of range"),
    ("rnn", {"hidden": 10**9}, "impossible model config .*overflow"),
    ("rnn", {"vocab_size": 10**9}, "weights do not match"),
    ("tf", {"context": 10**12}, "out of range"),
    ("tf", {"context": 10**9}, "computed values"),
    ("tf", {"vocab_size": 10**9}, "weights do not match"),
    ("mt", {"layers": 10**9}, "weight tensors"),
    ("mt", {"src_vocab": 10**9}, "vocabulary sizes do not match"),
    ("clf", {"buckets": 10**9}, "weights do not match"),
    ("fc", {"hidden": 10**9}, "weights do not match"),
]


def test_giant_configs_are_one_line_in_bounded_memory(
    models: dict[str, Path], tmp_path: Path
) -> None:
    """Editing a size to 10^9 or 10^12 in a small checkpoint: one line, fast, within
    1.5 GB of address space, for using it and for resuming from it (LM, MT, word2vec)."""
    cmds, matches = [], []
    for i, (kind, changes, match) in enumerate(GIANT):
        bad = edited(models[kind], tmp_path / f"bad{i}.pt", set_config(**changes))
        cmds.append(use(models, kind, bad))
        matches.append(match)
    for i, changes in enumerate([{"layers": 10**9}, {"hidden": 10**9}]):
        last = edited(models["rnn"].with_name("rnn.last.pt"), tmp_path / f"r{i}.last.pt",
                      set_config(**changes))  # fmt: skip
        cmds.append(["train-lm", models["corpus"], "--resume", last, "--max-steps", "2"])
        matches.append("weight tensors|impossible model config")
    last = edited(models["mt"].with_name("mt.last.pt"), tmp_path / "mt.last.pt",
                  set_config(layers=10**9))  # fmt: skip
    cmds.append(["train-mt", "--src", models["src"], "--tgt", models["src"], "--resume", last])
    matches.append("weight tensors")
    for i, (changes, match) in enumerate(
        [
            ({"dim": 10**9}, "weights do not match the word2vec config"),
            ({"dim": 10**12}, "out of range"),
        ]  # fmt: skip
    ):
        bad = edited(models["w2v"], tmp_path / f"w{i}.last.pt", set_config(**changes))
        cmds.append(["word2vec", "train", models["corpus"], "-o", tmp_path / f"w{i}.txt",
                     "--resume", bad])  # fmt: skip
        matches.append(match)
    for run, match in zip(bounded(cmds, tmp_path), matches):
        assert_contract(run, 1, match)
    assert not [p for p in tmp_path.iterdir() if p.suffix in (".txt", ".jsonl")]
    assert not (tmp_path / "r0.pt").exists()


def test_mt_section_that_is_a_list(cli, models: dict[str, Path], tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["mt"] = ["gru-attn"]

    bad = edited(models["mt"], tmp_path / "bad.pt", edit)
    assert_contract(cli(*use(models, "mt", bad)), 1, "'mt' section is a list, not a mapping")
    last = edited(models["mt"].with_name("mt.last.pt"), tmp_path / "m.last.pt", edit)
    run = cli("train-mt", "--src", models["src"], "--tgt", models["src"], "--resume", last)
    assert_contract(run, 1, "'mt' section is a list")


@pytest.mark.parametrize(
    ("section", "value", "match"),
    [
        ("lm", {"seq_len": "long"}, "malformed language model settings"),
        ("lm", {"model": "lstm", "split": [1]}, "malformed language model settings"),
        ("train_state", [], "'train_state' section is a list"),
    ],
)
def test_malformed_lm_sections(
    cli, models: dict[str, Path], tmp_path: Path, section: str, value: Any, match: str
) -> None:
    def edit(d: dict[str, Any]) -> None:
        d[section] = value

    bad = edited(models["rnn"].with_name("rnn.last.pt"), tmp_path / "m.last.pt", edit)
    run = cli("train-lm", models["corpus"], "--resume", bad, "--max-steps", "2")
    assert_contract(run, 1, match)


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s.__setitem__("rng", {"python": "x"}),
        lambda s: s["rng"].__setitem__("torch", torch.zeros(3)),
        lambda s: s["rng"].__setitem__("numpy", [1, 2]),
        lambda s: s.__setitem__("optimizer", {"state": {}, "param_groups": "x"}),
        lambda s: s.__setitem__("optimizer", {"state": {}, "param_groups": []}),
        lambda s: s["optimizer"]["state"][0].__setitem__("exp_avg", torch.zeros(2, 2)),
        lambda s: s["data_position"].__setitem__("index", float("inf")),
        lambda s: s.pop("step"),
    ],
    ids=[
        "rng-python",
        "rng-torch",
        "rng-numpy",
        "groups-str",
        "groups-empty",
        "optimizer-shape",
        "position-inf",
        "no-step",
    ],  # fmt: skip
)
def test_malformed_training_state(
    cli, models: dict[str, Path], tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    bad = edited(
        models["rnn"].with_name("rnn.last.pt"),
        tmp_path / "m.last.pt",
        lambda d: edit(d["train_state"]),
    )
    before = bad.read_bytes()
    run = cli("train-lm", models["corpus"], "--resume", bad, "--max-steps", "2")
    assert_contract(run, 1, "malformed training state")
    assert bad.read_bytes() == before and not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize(
    ("version", "match"),
    [
        ("1", "format_version must be a whole number, not str '1'"),
        (1.0, "format_version must be a whole number, not float"),
        (True, "format_version must be a whole number, not bool"),
        (None, "format_version must be a whole number, not NoneType"),
        (99, "format version 99 is not supported"),
    ],
)
def test_format_version_of_the_wrong_type(
    cli, models: dict[str, Path], tmp_path: Path, version: Any, match: str
) -> None:
    bad = edited(models["rnn"], tmp_path / "bad.pt", lambda d: d.update(format_version=version))
    assert_contract(cli(*use(models, "rnn", bad)), 1, match)


def test_weights_that_are_not_float_tensors(cli, models: dict[str, Path], tmp_path: Path) -> None:
    def complex_weight(d: dict[str, Any]) -> None:
        k = next(iter(d["model"]))
        d["model"][k] = d["model"][k].to(torch.complex64)

    bad = edited(models["rnn"], tmp_path / "bad.pt", complex_weight)
    assert_contract(cli(*use(models, "rnn", bad)), 1, r"holds complex numbers \(complex64\)")
    bad = edited(models["rnn"], tmp_path / "bad.pt", lambda d: d["model"].update(x=[1.0]))
    assert_contract(cli(*use(models, "rnn", bad)), 1, "weight 'x' is not a tensor")


# ---------------------------------------------------------------------- word2vec resume
@pytest.mark.parametrize("dim", [9, 7])
def test_word2vec_resume_dim_is_checked(
    cli, models: dict[str, Path], tmp_path: Path, dim: int
) -> None:
    bad = edited(models["w2v"], tmp_path / "v.txt.last.pt", set_config(dim=dim))
    run = cli("word2vec", "train", models["corpus"], "-o", tmp_path / "v.txt", "--resume", bad)
    assert_contract(run, 1, "weights do not match the word2vec config")
    assert not (tmp_path / "v.txt").exists()


# ---------------------------------------------------------------------- 13.11 bit flips
def flip_in_weight(path: Path, dst: Path, bit: int = 3) -> Path:
    """``path`` with one bit flipped inside the bytes of its first weight."""
    data = torch.load(path, weights_only=True)
    raw = next(iter(data["model"].values())).numpy().tobytes()
    blob = bytearray(path.read_bytes())
    at = bytes(blob).find(raw[:32])
    assert at > 0
    blob[at + len(raw) // 2] ^= 1 << bit
    dst.write_bytes(bytes(blob))
    return dst


@pytest.mark.parametrize("kind", ["rnn", "mt", "clf", "fc"])
def test_bit_flip_in_a_weight_is_detected(
    cli, models: dict[str, Path], tmp_path: Path, kind: str
) -> None:
    bad = flip_in_weight(models[kind], tmp_path / "bad.pt")
    assert_contract(cli(*use(models, kind, bad)), 1, r"checkpoint is corrupt \(checksum mismatch")
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(bad)


def test_bit_flip_in_a_resume_file_is_detected(
    cli, models: dict[str, Path], tmp_path: Path
) -> None:
    bad = flip_in_weight(models["rnn"].with_name("rnn.last.pt"), tmp_path / "m.last.pt", bit=7)
    run = cli("train-lm", models["corpus"], "--resume", bad, "--max-steps", "2")
    assert_contract(run, 1, "checksum mismatch")


def test_bit_flip_in_the_metadata_is_detected(cli, models: dict[str, Path], tmp_path: Path) -> None:
    blob = bytearray(models["rnn"].read_bytes())
    at = bytes(blob).find(b"seqtool_version")
    blob[at + 2] ^= 0x01
    (tmp_path / "bad.pt").write_bytes(bytes(blob))
    assert_contract(cli(*use(models, "rnn", tmp_path / "bad.pt")), 1, "checksum mismatch")


def test_checkpoint_without_crcs_still_loads(models: dict[str, Path], tmp_path: Path) -> None:
    """torch can write zeros instead of CRCs (set_crc32_options(False)): such a
    file cannot be verified and loads as before; seqtool's own saves always have them."""
    from torch.serialization import get_crc32_options, set_crc32_options

    data = torch.load(models["rnn"], weights_only=True)
    set_crc32_options(False)
    try:
        torch.save(data, tmp_path / "nocrc.pt")
        save_checkpoint(tmp_path / "ours.pt", {"kind": data["kind"], "model": data["model"],
                                               "config": data["config"]})  # fmt: skip
        assert get_crc32_options() is False
    finally:
        set_crc32_options(True)
    assert load_checkpoint(tmp_path / "nocrc.pt")["config"] == data["config"]
    flip_in_weight(tmp_path / "ours.pt", tmp_path / "ours-bad.pt")
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "ours-bad.pt")


def test_compressed_records_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    import zipfile

    bad = tmp_path / "deflated.pt"
    with zipfile.ZipFile(models["rnn"]) as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info), zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="compressed records"):
        load_checkpoint(bad)


# ---------------------------------------------------------------------- 13.8 outputs and logs
def read_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``path`` read-only; as root (which writes anyway) also deny it in ``os.access``."""
    path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:
        real = os.access

        def access(p: Any, mode: int, *a: Any, **kw: Any) -> bool:
            if mode & os.W_OK and Path(p).resolve() == path.resolve():
                return False
            return real(p, mode, *a, **kw)

        monkeypatch.setattr(os, "access", access)


def test_read_only_folder_is_refused_before_training(
    cli, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro, monkeypatch)
    try:
        t = time.process_time()
        run = cli("train-lm", models["corpus"], "--model", "gru", "--max-steps", "1000",
                  "-o", ro / "m.pt")  # fmt: skip
        assert_contract(run, 1, "is not writable")
        assert time.process_time() - t < 10
        out = tmp_path / "m.pt"
        run = cli("train-lm", models["corpus"], "--model", "gru", "--max-steps", "1000",
                  "-o", out, "--log", ro / "log.jsonl")  # fmt: skip
        assert_contract(run, 1, "is not writable")
        assert not out.exists() and not list(ro.iterdir())
    finally:
        ro.chmod(0o755)


@pytest.mark.parametrize("where", ["log", "last", "output"])
def test_directory_where_a_file_belongs_is_refused(
    cli, models: dict[str, Path], tmp_path: Path, where: str
) -> None:
    out = tmp_path / "m.pt"
    args: list[object] = ["train-lm", models["corpus"], "--model", "gru", "--max-steps", "1000",
                          "-o", out]  # fmt: skip
    if where == "log":
        (tmp_path / "logs").mkdir()
        args += ["--log", tmp_path / "logs"]
    elif where == "last":
        (tmp_path / "m.last.pt").mkdir()
    else:
        out.mkdir()
    t = time.process_time()
    assert_contract(cli(*args), 2, "is a directory")
    assert time.process_time() - t < 10
    assert not (out.is_file() or (tmp_path / "m.last.pt").is_file())


def test_word2vec_checkpoint_that_is_a_directory(
    cli, models: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "v.txt.last.pt").mkdir()
    run = cli("word2vec", "train", models["corpus"], "-o", tmp_path / "v.txt", "--epochs", "50")
    assert_contract(run, 2, "is a directory")
    assert not (tmp_path / "v.txt").exists()


def test_missing_log_folder_is_refused(cli, models: dict[str, Path], tmp_path: Path) -> None:
    run = cli("train-lm", models["corpus"], "--model", "gru", "--max-steps", "5",
              "-o", tmp_path / "m.pt", "--log", tmp_path / "nope" / "log.jsonl")  # fmt: skip
    assert_contract(run, 2, "folder .*nope does not exist")
    assert not (tmp_path / "m.pt").exists()


def test_read_only_log_file_is_refused(
    cli, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("")
    read_only(log, monkeypatch)
    run = cli("train-lm", models["corpus"], "--model", "gru", "--max-steps", "5",
              "-o", tmp_path / "m.pt", "--log", log)  # fmt: skip
    assert_contract(run, 1, "`?log`? is not writable")


def test_log_failure_mid_run_keeps_training_and_checkpoints(
    cli, models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's disk fills up at the second evaluation: one warning, training goes
    on, and the model and the resumable state are still written."""
    real_open = open
    writes = {"n": 0}
    log = tmp_path / "m.log.jsonl"

    def full_disk_open(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
        if str(file) == str(log) and "a" in mode:
            writes["n"] += 1
            if writes["n"] >= 2:
                raise OSError(28, "No space left on device")
        return real_open(file, mode, *a, **kw)

    monkeypatch.setattr(trainer_mod, "open", full_disk_open, raising=False)
    run = cli("train-lm", models["corpus"], "--model", "gru", "--layers", "1", "--hidden", "8",
              "--embed", "8", "--max-steps", "8", "--eval-every", "2", "-o", tmp_path / "m.pt")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    warnings = [ln for ln in run.stderr.splitlines() if "cannot write the log" in ln]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], run.stderr
    assert writes["n"] == 2  # warned once, not retried at every evaluation
    assert len(log.read_text().splitlines()) == 1
    last = load_checkpoint(tmp_path / "m.last.pt")
    assert last["train_state"]["step"] == 8
    assert load_checkpoint(tmp_path / "m.pt")["kind"] == "rnn_lm"
    no_temps(tmp_path)


def test_log_folder_removed_mid_run(
    models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log's folder disappears during the run (library level): a warning, and
    the run finishes with its checkpoints."""
    from seqtool.tasks.lm import LMConfig, train_lm
    from seqtool.train.runner import TrainOptions

    logs = tmp_path / "logs"
    logs.mkdir()
    messages: list[tuple[str, str]] = []

    class Reporter:
        def on_step(self, info: Any) -> None:
            pass

        def on_eval(self, record: dict[str, Any]) -> None:
            if record["step"] == 2:
                shutil.rmtree(logs)

        def on_message(self, level: str, text: str) -> None:
            messages.append((level, text))

    cfg = LMConfig(files=[str(models["corpus"])], model="gru", layers=1, hidden=8, embed=8)
    opts = TrainOptions(max_steps=6, eval_every=2, log=str(logs / "log.jsonl"), seed=1)
    lm = train_lm(cfg, opts, tmp_path / "m.pt", Reporter())
    assert lm.run is not None and lm.run.result.steps == 6
    warned = [t for level, t in messages if level == "warning" and "cannot write the log" in t]
    assert len(warned) == 1, messages
    assert (tmp_path / "m.last.pt").is_file()


# ---------------------------------------------------------------------- long RNN prefix
def test_rnn_generate_with_a_long_prefix_is_bounded(tmp_path: Path) -> None:
    """A long prefix through an RNN: read whole, its logits alone are prefix x
    vocabulary (here 30k x 30k floats, 3.6 GB; the reported 1.2 MB char prefix took
    1.8 GB); read in chunks with the state carried, it fits in 1.5 GB of address
    space and the output holds the whole prefix.  (A 1-unit GRU keeps it fast.)"""
    from seqtool.tasks.lm import LMConfig, train_lm
    from seqtool.train.runner import TrainOptions

    corpus = tmp_path / "c.txt"
    n = 30_000
    corpus.write_text(" ".join(f"w{i}" for i in range(n)) + "\n", encoding="utf-8")
    cfg = LMConfig(files=[str(corpus)], model="gru", layers=1, hidden=1, embed=1, tie=False,
                   tokenizer="word", vocab_size=n + 10, valid_fraction=0.0)  # fmt: skip
    lm = train_lm(cfg, TrainOptions(max_steps=1, seed=1), tmp_path / "m.pt")
    assert len(lm.vocab) > n
    prefix = tmp_path / "prefix.txt"
    words = " ".join(f"w{i}" for i in range(n))
    prefix.write_text(words + "\n", encoding="utf-8")
    before = cpu_seconds()
    run = seqtool("generate", tmp_path / "m.pt", "--max-tokens", "5", "--seed", "1",
                  stdin=prefix.open("rb"), cwd=tmp_path, mem_gb=1.5, timeout=300)  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout.startswith(words)
    assert cpu_seconds() - before < 30  # about 7 s, torch's import and the load included


def test_chunked_prompt_gives_the_unchunked_result() -> None:
    """Reading the prompt in chunks with the state carried is the same computation."""
    from seqtool.decode import sampling
    from seqtool.models.rnn_lm import RNNLM, RNNLMConfig

    torch.manual_seed(0)
    lm = RNNLM(RNNLMConfig(vocab_size=20, cell="gru", embed=8, hidden=8, layers=2)).eval()
    prompt = torch.randint(4, 20, (2, 50))
    cfg = sampling.SamplingConfig(max_tokens=15, greedy=True)
    whole = sampling.generate(lm, prompt, cfg)
    old = sampling.PROMPT_CHUNK
    sampling.PROMPT_CHUNK = 7
    try:
        chunked = sampling.generate(lm, prompt, cfg)
    finally:
        sampling.PROMPT_CHUNK = old
    assert chunked == whole
