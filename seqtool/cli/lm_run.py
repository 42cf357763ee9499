"""The work behind `train-lm`, `generate` and `eval-lm` (flags in :mod:`seqtool.cli.lm`).

Imported only when one of those commands runs: it imports torch.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import torch

from seqtool import __version__
from seqtool.cli import render
from seqtool.cli.train_options import TrainOptions, fit_for_demo, output_path
from seqtool.decode.sampling import SamplingConfig
from seqtool.decode.sampling import generate as sample
from seqtool.errors import CheckpointError, InputError, UsageError
from seqtool.io import (
    check_encoding,
    check_not_input,
    check_output_path,
    display_name,
    read_lines,
)
from seqtool.metrics.perplexity import Perplexity, line_scores, stream_perplexity
from seqtool.models.transformer_lm import count_parameters
from seqtool.text.normalize import Normalizer
from seqtool.text.vocab import BOS, EOS, PAD, UNK, Vocab
from seqtool.train import distributed as du
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.device import describe, resolve_device
from seqtool.train.lm import (
    LM_KINDS,
    MODEL_NAMES,
    TRAIN_DEFAULTS,
    LoadedLM,
    config_from_checkpoint,
    encode_lines,
    lm_spec,
    lm_trainer,
    load_lm,
    prepare_data,
    spec_from_checkpoint,
)
from seqtool.train.trainer import StepInfo

_MODEL_FLAGS = (
    "layers",
    "hidden",
    "embed",
    "dim",
    "heads",
    "ff_dim",
    "dropout",
    "positions",
    "tie",
)


def _k(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def train(a: dict[str, Any]) -> None:
    opts: TrainOptions = a["train"]
    dinfo = du.from_env(os.environ)
    render.set_quiet(opts.quiet or not dinfo.is_main)
    check_encoding(a["encoding"], a["errors"])
    inputs = [*a["files"], *(a["valid"] or ()), a.get("vocab"), opts.resume]
    output = check_output_path(output_path(a["output"], opts.resume, "lm.pt"), inputs[:-1])
    if a["model"] not in MODEL_NAMES:
        raise UsageError(f"unknown --model {a['model']!r}; choose {', '.join(MODEL_NAMES)}")
    if a["seq_len"] is not None and a["seq_len"] < 1:
        raise UsageError(f"--seq-len must be at least 1, not {a['seq_len']}")
    resume = saved = None
    vocab: Any
    if opts.resume is not None:
        resume = load_checkpoint(opts.resume, LM_KINDS)
        if not isinstance(resume.get("train_state"), dict):
            raise CheckpointError(
                f"{opts.resume}: holds a finished model, not a training state",
                hint="resume from the .last.pt file written beside it",
            )
        vocab = Vocab.from_dict(resume.get("vocab"), f"{opts.resume}: vocabulary")
        saved = config_from_checkpoint(resume)
        ranks = resume["train_state"].get("world_size", 1)
        if ranks != dinfo.world_size:
            render.warn(
                f"--resume: the run used {ranks} process(es), this one {dinfo.world_size}; "
                "training continues, but not exactly as an uninterrupted run would"
            )
        if any(a[k] is not None for k in _MODEL_FLAGS):
            render.warn(
                "--resume: the model's settings come from the checkpoint; model flags ignored"
            )
    elif a["vocab_file"] is not None:
        vocab = Vocab.load(a["vocab_file"])
    else:
        norm = Normalizer.make(a["normalize"], a["lower"])
        extra = ("\n",) if a["tokenizer"] == "char" else ()

        def vocab(lines: list[str]) -> Vocab:
            return Vocab.build(
                lines,
                a["tokenizer"],
                norm,
                min_freq=a["min_freq"],
                vocab_size=a["vocab_size"],
                extra_tokens=extra,
            )

    data = prepare_data(
        a["files"], vocab, a["valid"] or (), a["valid_fraction"], a["encoding"], a["errors"]
    )
    if resume is not None:
        spec = spec_from_checkpoint(resume)
    else:
        overrides = {k: a[k] for k in _MODEL_FLAGS}
        spec = lm_spec(a["model"], data.vocab, overrides, a["seq_len"], a["batch_size"])
    defaults = dict(TRAIN_DEFAULTS[spec.name])
    if not saved:
        defaults["epochs"] = 10  # the stopping rule when none is given
    cfg = opts.config(defaults, saved)
    device = du.setup(dinfo, resolve_device(cfg.device))
    log_path = opts.log or output.with_name(output.stem + ".log.jsonl")
    check_not_input(log_path, [*inputs, output], "--log")
    bar = render.Progress("train", total=100)
    char = data.vocab.kind == "char"

    def on_step(s: StepInfo) -> None:
        fields: dict[str, Any] = {
            "step": s.step,
            "loss": round(s.loss, 4),
            "ppl": round(s.ppl, 3),
            "tok/s": _k(s.tokens_per_s),
            "lr": f"{s.lr:.2e}",
        }
        bar.update(100 * s.progress, **fields)

    def on_eval(r: dict[str, Any]) -> None:
        train_part = (
            f"train loss {r['train_loss']:.4f} ppl {r['train_ppl']:.3f}"
            if r.get("train_loss")
            else ""
        )
        valid_part = (
            f" | valid ppl {r['valid_ppl']:.3f} {'bpc' if char else 'bits/char'} {r['valid_bpc']:.3f}"
            if "valid_ppl" in r
            else ""
        )
        tps = r["tokens"] / max(r["elapsed"], 1e-9)
        render.info(
            f"step {r['step']} epoch {r['epoch']:.2f}: {train_part}{valid_part} | "
            f"{_k(tps)} tokens/s | {r['elapsed']:.0f} s"
        )

    trainer = lm_trainer(
        spec,
        data,
        cfg,
        output,
        resume=resume,
        log_path=log_path if dinfo.is_main else None,
        on_step=on_step,
        on_eval=on_eval,
        dist=dinfo,
        device=device,
        meta={"argv": ["seqtool", *sys.argv[1:]]},
    )
    source: Any = trainer.train
    if source.batch_size < spec.batch_size:
        render.warn(f"the corpus is small: batches of {source.batch_size}, not {spec.batch_size}")
    render.info(
        f"train-lm: {spec.name} ({_k(count_parameters(trainer.module))} parameters), "
        f"{data.vocab.kind} vocabulary of {len(data.vocab)}, {_k(len(data.train))} training tokens"
        + (f", {_k(len(data.valid))} validation tokens" if data.valid is not None else "")
        + f"; {describe(device, trainer.amp_dtype)}"
        + (f" x {dinfo.world_size} processes" if dinfo.enabled else "")
        + f"; batch {source.batch_size} x {spec.seq_len}, {len(source)} batches per epoch"
        + (f"; resuming at step {resume['train_state']['step']}" if resume else "")
    )
    try:
        with bar:
            result = trainer.fit(resume=resume["train_state"] if resume else None)
    finally:
        du.teardown()
    best = f"best valid ppl {result.best:.3f} at step {result.best_step}; " if result.best else ""
    render.info(
        f"done ({result.stop_reason}): {result.steps} steps, {result.epochs:.2f} epochs, "
        f"{result.elapsed:.1f} s, {_k(result.tokens / max(result.elapsed, 1e-9))} tokens/s; {best}"
        f"model in {output}, resumable state in {trainer.last_path}, log in {log_path}"
    )


def _decode(vocab: Vocab, ids: list[int], boundary: int) -> str:
    """Text of generated ids, line ends where the model ended a line."""
    lines: list[str] = []
    cur: list[int] = []
    for i in ids:
        if i == boundary:
            lines.append(vocab.decode(cur))
            cur = []
        else:
            cur.append(i)
    lines.append(vocab.decode(cur))
    return "\n".join(lines)


def generate(a: dict[str, Any], prompts: list[str]) -> None:
    lm = load_lm(a["checkpoint"], resolve_device(a["device"]))
    vocab, b = lm.vocab, lm.boundary
    banned = {PAD, BOS} | ({UNK, EOS} - {b} if vocab.kind == "char" else set())
    cfg = SamplingConfig(
        max_tokens=a["max_tokens"],
        temperature=a["temperature"],
        top_k=a["top_k"],
        top_p=a["top_p"],
        greedy=a["greedy"],
        stop=(b,) if a["one_line"] else (),
        banned=tuple(banned),
    )
    cfg.check()
    gen = torch.Generator().manual_seed(a["seed"])
    encoded = [[b, *vocab.encode(p)] for p in prompts]
    results: dict[int, list[list[int]]] = {}
    by_len: dict[int, list[int]] = {}
    for i, ids in enumerate(encoded):
        by_len.setdefault(len(ids), []).append(i)
    per_batch = max(1, 64 // a["num"])
    for _, idx in sorted(by_len.items()):
        for s in range(0, len(idx), per_batch):
            group = idx[s : s + per_batch]
            rows = torch.tensor([encoded[i] for i in group for _ in range(a["num"])])
            out = sample(lm.model, rows.to(lm.device), cfg, gen)
            for j, i in enumerate(group):
                results[i] = out[j * a["num"] : (j + 1) * a["num"]]
    for i, prompt in enumerate(prompts):
        for n, cont in enumerate(results[i]):
            text = _decode(vocab, encoded[i][1:] + cont, b)
            if a["fmt"] == "jsonl":
                record = {"index": i, "sample": n, "prefix": prompt, "text": text}
                sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _signature(lm: LoadedLM) -> str:
    cfg = lm.checkpoint.get("lm", {})
    return (
        f"model:{cfg.get('model', lm.checkpoint['kind'])}|tok:{lm.vocab.kind}|"
        f"vocab:{lm.vocab.fingerprint}|ctx:{getattr(lm.model, 'context', None) or 'all'}|"
        f"eol:yes|version:{__version__}"
    )


def evaluate(a: dict[str, Any], files: list[str], fmt: str) -> None:
    lm = load_lm(a["checkpoint"], resolve_device(a["device"]))
    lines = list(read_lines(files, a["encoding"], a["errors"]))
    names = ", ".join(display_name(f) for f in files)
    if a["per_line"]:
        ids = [lm.vocab.encode(line) for line in lines]
        scores = line_scores(lm.model, ids, lm.boundary, lm.boundary, lm.device, batch_size=64)
        rows = [
            (lp, n, Perplexity(n, -lp).ppl, line)
            if fmt in ("json", "jsonl")
            else (lp, n, Perplexity(n, -lp).ppl)
            for (lp, n), line in zip(scores, lines)
        ]
        columns = ("log_prob", "tokens", "ppl", "text")[: len(rows[0]) if rows else 3]
        render.emit_rows(columns, rows, fmt, title=f"{names} | {_signature(lm)}")
        return
    if not any(line.strip() for line in lines):
        raise InputError(f"{names}: empty input (no text found)")
    stream, chars, oov = encode_lines(lines, lm.vocab)
    stream = torch.cat([torch.tensor([lm.boundary]), stream])  # the first token is predicted too
    p = stream_perplexity(lm.model, stream, lm.device, rows=a["batch_size"], chars=chars, oov=oov)
    record: dict[str, Any] = {"file": names, **p.to_dict(), "signature": _signature(lm)}
    render.emit_record(record, fmt, title="language model evaluation")


def demo(ctx: Any, seconds: float = 20.0) -> None:
    """Train a character Transformer on the demo corpus for ``seconds``, then sample from it."""
    from seqtool.train.trainer import TrainConfig

    def char_vocab(lines: list[str]) -> Vocab:
        return Vocab.build(lines, "char", Normalizer.make("none"), extra_tokens=("\n",))

    data = prepare_data([str(ctx.corpus)], char_vocab, valid_fraction=0.1)
    spec = lm_spec("transformer", data.vocab)
    path = ctx.out / "lm.pt"
    cfg = TrainConfig(
        **{**TRAIN_DEFAULTS[spec.name], "time_budget": seconds, "seed": ctx.seed, "device": "auto"}
    )
    trainer, result = fit_for_demo(
        "  language model", lambda on_step: lm_trainer(spec, data, cfg, path, on_step=on_step)
    )
    render.info(
        f"  char Transformer, {_k(count_parameters(trainer.module))} parameters, "
        f"{result.elapsed:.0f} s on {describe(trainer.device, trainer.amp_dtype)}: "
        f"validation perplexity {result.best:.2f} "
        f"({(result.last_eval or {}).get('valid_bpc', float('nan')):.2f} bits per character)"
    )
    lm = load_lm(path, trainer.device)
    prefix = "The Time Traveller" if "Time Machine" in ctx.corpus_name else "The "
    ids = torch.tensor([[lm.boundary, *lm.vocab.encode(prefix)]], device=lm.device)
    cfg_s = SamplingConfig(max_tokens=160, temperature=0.8, banned=(PAD, BOS, UNK, EOS))
    cont = sample(lm.model, ids, cfg_s, torch.Generator().manual_seed(ctx.seed))[0]
    text = _decode(lm.vocab, ids[0, 1:].tolist() + cont, lm.boundary)
    render.info("  sample: " + text.replace("\n", "\n          "))
    ctx.made.append(("character language model (seqtool generate lm.pt)", path))
