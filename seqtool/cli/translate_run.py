"""The work behind `train-mt` and `translate` (flags in :mod:`seqtool.cli.translate`).

Imported only when one of those commands runs: it imports torch.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import torch
import typer

from seqtool.cli import render
from seqtool.cli.train_options import TrainOptions, fit_for_demo, output_path
from seqtool.decode.beam import SearchConfig
from seqtool.decode.translate import TranslateStats, plot_attention, translate_lines
from seqtool.errors import CheckpointError, InputError, ResourceError, UsageError
from seqtool.io import atomic_write, check_encoding, check_output_path, display_name, read_lines
from seqtool.metrics.bleu import corpus_scores
from seqtool.models.transformer_lm import count_parameters
from seqtool.text.vocab import Vocab
from seqtool.train import distributed as du
from seqtool.train import mt
from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.device import describe, resolve_device, set_threads
from seqtool.train.mt_data import read_parallel
from seqtool.train.trainer import StepInfo

_MODEL_FLAGS = ("layers", "dim", "heads", "ff_dim", "embed", "hidden", "bidirectional", "dropout")


def _k(n: float) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}k" if n >= 1e3 else f"{n:.0f}"


def _vocabs(a: dict[str, Any], resume: dict[str, Any] | None) -> dict[str, Vocab | None]:
    if resume is not None:  # the vocabularies of the run being continued
        return {
            "vocab": None,
            "src_vocab": Vocab.from_dict(resume.get("src_vocab"), "--resume: source vocabulary"),
            "tgt_vocab": Vocab.from_dict(resume.get("tgt_vocab"), "--resume: target vocabulary"),
        }
    return {
        "vocab": Vocab.load(a["vocab_file"]) if a["vocab_file"] else None,
        "src_vocab": Vocab.load(a["src_vocab"]) if a["src_vocab"] else None,
        "tgt_vocab": Vocab.load(a["tgt_vocab"]) if a["tgt_vocab"] else None,
    }


def train(a: dict[str, Any]) -> None:
    opts: TrainOptions = a["train"]
    dinfo = du.from_env(os.environ)
    render.set_quiet(opts.quiet or not dinfo.is_main)
    check_encoding(a["encoding"], a["errors"])
    output = check_output_path(output_path(a["output"], opts.resume, "mt.pt"))
    if a["model"] not in mt.MODEL_NAMES:
        raise UsageError(f"unknown --model {a['model']!r}; choose {', '.join(mt.MODEL_NAMES)}")
    if (a["valid_src"] is None) != (a["valid_tgt"] is None):
        raise UsageError("give both --valid-src and --valid-tgt, or neither")
    if a["tokenizer"] not in ("bpe", "unigram", "word", "char"):
        raise UsageError(f"--tokenizer must be bpe, unigram, word or char, not {a['tokenizer']!r}")
    resume = saved = None
    if opts.resume is not None:
        resume = load_checkpoint(opts.resume, mt.MT_KINDS)
        if not isinstance(resume.get("train_state"), dict):
            raise CheckpointError(
                f"{opts.resume}: holds a finished model, not a training state",
                hint="resume from the .last.pt file written beside it",
            )
        saved = mt.config_from_checkpoint(resume)
        if any(a[k] is not None for k in _MODEL_FLAGS):
            render.warn("--resume: the model's settings come from the checkpoint; flags ignored")
    seed = opts.seed if opts.seed is not None else (saved or {}).get("seed", 0)
    t0 = time.perf_counter()
    read = dict(empty=a["empty_lines"], encoding=a["encoding"], errors=a["errors"])
    train_text = read_parallel(a["src"], a["tgt"], a["pairs"], a["src_lang"], a["tgt_lang"], **read)
    valid_text = None
    if a["valid_pairs"] is not None or a["valid_src"] is not None:
        valid_text = read_parallel(
            a["valid_src"], a["valid_tgt"], a["valid_pairs"], a["src_lang"], a["tgt_lang"], **read
        )
    data = mt.prepare_data(
        train_text,
        valid_text,
        **_vocabs(a, resume),
        vocab_size=a["vocab_size"],
        tokenizer=a["tokenizer"],
        max_len=a["max_len"],
        valid_size=a["valid_size"],
        seed=seed,
    )
    if resume is not None:
        info = resume.get("mt", {})
        spec = mt.MTSpec(
            info.get("model", a["model"]),
            resume["kind"],
            dict(resume["config"]),
            int(info.get("max_tokens", mt.MAX_TOKENS)),
        )
    else:
        overrides = {k: a[k] for k in _MODEL_FLAGS}
        spec = mt.mt_spec(a["model"], data.src_vocab, data.tgt_vocab, overrides, a["max_tokens"])
    defaults = dict(mt.TRAIN_DEFAULTS[spec.name])
    if not saved:
        defaults["epochs"] = 10  # the stopping rule when none is given
    on_cpu = resolve_device(opts.device or (saved or {}).get("device") or "auto").type == "cpu"
    if on_cpu and mt.cpu_has_fast_bf16():
        defaults["precision"] = "bf16"  # twice the float32 speed on such CPUs
    cfg = opts.config(defaults, saved)
    device = du.setup(dinfo, resolve_device(cfg.device))
    log_path = opts.log or output.with_name(output.stem + ".log.jsonl")
    st = data.stats
    render.info(
        f"{train_text.name}: {st['train_pairs']:,} training pairs ({_k(st['train_tokens'])} tokens)"
        + (
            f", {st['valid_pairs']:,} validation pairs"
            + (" (held out)" if valid_text is None else "")
            if data.valid is not None
            else ", no validation"
        )
        + f"; dropped {st['dropped_empty']:,} with an empty side, "
        f"{st['dropped_long']:,} longer than --max-len {a['max_len']}"
        f" ({time.perf_counter() - t0:.1f} s)"
    )
    bar = render.Progress("train-mt", total=100)

    def on_step(s: StepInfo) -> None:
        fields: dict[str, Any] = {
            "step": s.step,
            "loss": round(s.loss, 4),
            "tok/s": _k(s.tokens_per_s),
            "lr": f"{s.lr:.2e}",
        }
        bar.update(100 * s.progress, **fields)

    def on_eval(r: dict[str, Any]) -> None:
        parts = [f"step {r['step']} epoch {r['epoch']:.2f}:"]
        if r.get("train_loss") is not None:
            parts.append(f"train loss {r['train_loss']:.4f} |")
        if "valid_loss" in r:
            parts.append(
                f"valid loss {r['valid_loss']:.4f} ppl {r['valid_ppl']:.3f} "
                f"BLEU {r['valid_bleu']:.2f} chrF {r['valid_chrf']:.2f} |"
            )
        tps = r["tokens"] / max(r["elapsed"], 1e-9)
        parts.append(f"{_k(tps)} tokens/s | {r['elapsed']:.0f} s")
        render.info(" ".join(parts))

    trainer = mt.mt_trainer(
        spec,
        data,
        cfg,
        output,
        label_smoothing=a["label_smoothing"],
        resume=resume,
        log_path=log_path if dinfo.is_main else None,
        on_step=on_step,
        on_eval=on_eval,
        dist=dinfo,
        device=device,
        meta={"argv": ["seqtool", *sys.argv[1:]]},
    )
    source: Any = trainer.train
    vocab_note = (
        f"joint {data.src_vocab.kind} vocabulary of {len(data.src_vocab)}"
        if data.joint
        else f"{data.src_vocab.kind} vocabularies of {len(data.src_vocab)} / {len(data.tgt_vocab)}"
    )
    render.info(
        f"train-mt: {spec.name} ({_k(count_parameters(trainer.module))} parameters), {vocab_note}; "
        f"{describe(device, trainer.amp_dtype)}"
        + (f" x {dinfo.world_size} processes" if dinfo.enabled else "")
        + f"; {len(source)} batches of <= {spec.max_tokens} tokens per epoch"
        + (f"; resuming at step {resume['train_state']['step']}" if resume else "")
    )
    try:
        with bar:
            result = trainer.fit(resume=resume["train_state"] if resume else None)
    finally:
        du.teardown()
    best = (
        f"best valid BLEU {result.best:.2f} at step {result.best_step}; "
        if result.best is not None
        else ""
    )
    render.info(
        f"done ({result.stop_reason}): {result.steps} steps, {result.epochs:.2f} epochs, "
        f"{result.elapsed:.1f} s, {_k(result.tokens / max(result.elapsed, 1e-9))} target tokens/s; "
        f"{best}model in {output}, resumable state in {trainer.last_path}, log in {log_path}"
    )


# ---------------------------------------------------------------------- translate
def _check_translate(a: dict[str, Any]) -> tuple[SearchConfig, str]:
    search = SearchConfig(a["beam"], a["lenpen"], a["nbest"], a["max_len_a"], a["max_len_b"])
    search.check()
    if a["batch_size"] < 1:
        raise UsageError(f"--batch-size must be at least 1, not {a['batch_size']}")
    if a["max_src_len"] < 2:
        raise UsageError(f"--max-src-len must be at least 2, not {a['max_src_len']}")
    fmt = a["fmt"]
    if fmt not in ("text", "tsv", "jsonl"):
        raise UsageError(f"--format must be text, tsv or jsonl, not {fmt!r}")
    if a["nbest"] > 1 and fmt == "text":
        fmt = "tsv"  # n-best lists need the line and rank columns
    if a["eval_bleu"] and not a["ref"]:
        raise UsageError("--eval-bleu needs the reference translations: --ref FILE")
    if (a["ref"] or a["metrics_json"]) and not a["eval_bleu"]:
        raise UsageError("--ref and --metrics-json go with --eval-bleu")
    if a["ref"] and "-" in a["ref"]:
        raise UsageError("the references cannot be read from stdin; give them as files")
    if a["metrics_json"] is not None:
        check_output_path(a["metrics_json"])
    if a["show_attention"] is not None:
        check_output_path(a["show_attention"])
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ResourceError(
                "--show-attention needs matplotlib, which is not installed",
                hint="pip install 'seqtool[plot]' (or pip install matplotlib)",
            ) from None
    return search, fmt


def describe_inference(loaded: mt.LoadedMT) -> str:
    """``cpu (2 threads, bf16)`` or ``cuda:0 (fp32)``."""
    dtype = "bf16" if next(loaded.model.parameters()).dtype == torch.bfloat16 else "fp32"
    threads = f"{torch.get_num_threads()} threads, " if loaded.device.type == "cpu" else ""
    return f"{loaded.device} ({threads}{dtype})"


def translate(a: dict[str, Any]) -> None:
    search, fmt = _check_translate(a)
    refs = [
        [line.rstrip() for line in read_lines(r, a["encoding"], a["errors"])]
        for r in a["ref"] or []
    ]
    if refs and a["file"] != "-":
        # A file can be counted up front: a mismatch fails now, not after translating it.
        n_in = sum(1 for _ in read_lines(a["file"], a["encoding"], a["errors"]))
        _check_reference_lengths(a, n_in, refs)
    set_threads(a["threads"])
    device = resolve_device(a["device"])
    dtype = mt.inference_dtype(a["precision"], device)
    loaded = mt.load_mt(a["checkpoint"], device, dtype, a["shortlist"])
    first: list[str] = []  # the first non-empty line, for --show-attention

    def remember(lines: Iterator[str]) -> Iterator[str]:
        for line in lines:
            if a["show_attention"] is not None and not first and line.strip():
                first.append(line)
            yield line

    hyps: list[str] = []
    out = sys.stdout
    t0 = time.perf_counter()
    n = 0
    lines = remember(read_lines(a["file"], a["encoding"], a["errors"]))
    stats = TranslateStats()
    results = translate_lines(
        loaded.model, loaded.src_vocab, loaded.tgt_vocab, lines, search, a["batch_size"],
        max_src_len=a["max_src_len"], stats=stats,
    )  # fmt: skip
    for n, nbest in enumerate(results, 1):
        if fmt == "text":
            out.write(nbest[0].text + "\n")
        else:
            for rank, t in enumerate(nbest, 1):
                if fmt == "tsv":
                    out.write(f"{n}\t{rank}\t{t.score:.4f}\t{render.tsv_field(t.text)}\n")
                else:
                    record = {
                        "line": n,
                        "rank": rank,
                        "score": round(t.score, 4),
                        "translation": t.text,
                    }
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if a["eval_bleu"]:
            hyps.append(nbest[0].text)
    out.flush()
    elapsed = time.perf_counter() - t0
    render.info(
        f"translated {n:,} lines in {elapsed:.2f} s ({n / max(elapsed, 1e-9):,.1f} lines/s, "
        f"beam {search.beam}, {loaded.name} on {describe_inference(loaded)})"
    )
    if stats.truncated:
        render.warn(
            f"{stats.truncated:,} of {stats.lines:,} lines were longer than --max-src-len "
            f"{a['max_src_len']} tokens and were cut to it"
        )
    if a["show_attention"] is not None:
        if not first:
            render.warn("--show-attention: there was no non-empty line to draw")
        else:
            plot_attention(
                loaded.model,
                loaded.src_vocab,
                loaded.tgt_vocab,
                first[0],
                search,
                a["show_attention"],
            )
            render.info(f"attention of the first sentence drawn in {a['show_attention']}")
    if a["eval_bleu"]:
        _score(a, hyps, refs, search)


def _check_reference_lengths(a: dict[str, Any], n_lines: int, refs: list[list[str]]) -> None:
    for r, lines in zip(a["ref"], refs):
        if len(lines) != n_lines:
            raise InputError(
                f"{display_name(a['file'])} has {n_lines} lines but the reference "
                f"{display_name(r)} has {len(lines)}"
            )


def _score(a: dict[str, Any], hyps: list[str], refs: list[list[str]], search: SearchConfig) -> None:
    _check_reference_lengths(a, len(hyps), refs)
    scores = corpus_scores(hyps, refs, ["bleu", "chrf"])
    for s in scores:  # results the user asked for: shown even with --quiet
        typer.echo(s.text(), err=True)
    if a["metrics_json"] is not None:
        record = {
            "checkpoint": str(a["checkpoint"]),
            "input": display_name(a["file"]),
            "references": [display_name(r) for r in a["ref"]],
            "sentences": len(hyps),
            "beam": search.beam,
            "lenpen": search.lenpen,
            "scores": [s.as_dict() for s in scores],
        }
        with atomic_write(a["metrics_json"]) as f:
            f.write(json.dumps(record, ensure_ascii=False, indent=1) + "\n")


# ---------------------------------------------------------------------- demo
DEMO_PAIRS = 3000  # fra-eng is sorted by length: its first pairs are the short ones


def demo(ctx: Any, seconds: float = 20.0) -> None:
    """Train a small gru-attn English->French model on the demo's parallel text for
    ``seconds``, then translate a few sentences and score the held-out pairs."""
    from seqtool.metrics.bleu import d2l_sentence_scores
    from seqtool.train.trainer import TrainConfig

    text = read_parallel(pairs=ctx.parallel)
    text.src, text.tgt = text.src[:DEMO_PAIRS], text.tgt[:DEMO_PAIRS]
    data = mt.prepare_data(text, None, vocab_size=1000, valid_size=max(20, len(text) // 12))
    # A small gru-attn: on a few hundred pairs its additive attention finds the
    # alignment within seconds (a Transformer of this size needs minutes); no dropout
    # or label smoothing, to fit fast.
    overrides = {"embed": 64, "hidden": 128, "layers": 1, "dropout": 0.0}
    spec = mt.mt_spec("gru-attn", data.src_vocab, data.tgt_vocab, overrides, max_tokens=400)
    path = ctx.out / "mt.pt"
    cfg = TrainConfig(
        **{**mt.TRAIN_DEFAULTS["gru-attn"], "lr": 5e-3, "warmup": 30},
        time_budget=seconds,
        seed=ctx.seed,
    )
    # Train on all 20 seconds; the held-out pairs are scored once, afterwards.
    unvalidated = dataclasses.replace(data, valid=None)
    trainer, result = fit_for_demo(
        "  translation model",
        lambda on_step: mt.mt_trainer(
            spec, unvalidated, cfg, path, label_smoothing=0.0, on_step=on_step
        ),
    )
    render.info(
        f"  gru-attn {text.src_lang or 'src'}->{text.tgt_lang or 'tgt'}, "
        f"{_k(count_parameters(trainer.module))} parameters, {len(data.train):,} pairs, "
        f"{result.epochs:.0f} epochs in {result.elapsed:.0f} s on "
        f"{describe(trainer.device, trainer.amp_dtype)}"
    )
    loaded = mt.load_mt(path, trainer.device)
    search = SearchConfig(beam=3)
    train_src = [text.src[i] for i in data.train.index[:: max(1, len(data.train) // 5)][:5]]
    train_ref = [text.tgt[i] for i in data.train.index[:: max(1, len(data.train) // 5)][:5]]
    hyps = [
        r[0].text
        for r in translate_lines(
            loaded.model, loaded.src_vocab, loaded.tgt_vocab, train_src, search
        )
    ]
    for s, h, r, b in zip(train_src, hyps, train_ref, d2l_sentence_scores(hyps, train_ref, 2)):
        render.info(f"  {s} => {h}  (reference: {r}; d2l BLEU {b:.3f})")
    valid = data.valid
    if valid is not None:
        srcs = [loaded.src_vocab.decode(s) for s in valid.src]
        out = [
            r[0].text
            for r in translate_lines(loaded.model, loaded.src_vocab, loaded.tgt_vocab, srcs, search)
        ]
        for score in corpus_scores(out, [data.valid_refs], ["bleu", "chrf"]):
            render.info(f"  held-out ({len(out)} pairs, beam 3): {score.text()}")
    ctx.made.append(("translation model (seqtool translate mt.pt)", path))
