"""Benchmark `seqtool word2vec train` against gensim's Word2Vec: speed and quality.

Both train skip-gram with negative sampling with the same settings (sg=1,
negative=5, window=5, vector_size=100, min_count=5, sample=1e-3, epochs=5,
2 threads) on

  ptb    the Penn Treebank training text (../shared/data/ptb/ptb.train.txt);
  wiki   gensim's Wikipedia sample (gensim/test/test_data/head500.noblanks.cor),
         stemmed and stop-word-free, so it is timed but its scores mean little.

Every run is a fresh process that reads the corpus into memory first (untimed) and
then times what a user waits for: building the vocabulary and training (gensim:
``Word2Vec(sentences, ...)``, which calls build_vocab and train; seqtool: Vocab.build,
encode_corpus and train).  Runs are interleaved (seed 1: seqtool then gensim or the
other way round, chosen at random; then seed 2, ...), because timings on a shared
2-core machine swing by 25% from run to run; the table gives the median and the
range of wall time, and mean ± standard deviation of the scores over the seeds.
Both models are scored by seqtool.metrics.wordvec, which gives the same numbers as
gensim's evaluate_word_analogies / evaluate_word_pairs (tests/test_word2vec.py).

Words/s is gensim's "effective words" (after subsampling) per second of training,
for both tools.  seqtool's shared Vocab treats PTB's literal ``<unk>`` as its
unknown-word special, so seqtool trains on 842,080 of PTB's 887,521 words; gensim
keeps ``<unk>`` as a word.  So on PTB gensim runs twice per seed: on the text as it
is (the issue's reference) and without ``<unk>`` ("gensim-nounk"), on exactly the
words seqtool trains on.

    python benchmarks/word2vec.py                  # 3 seeds, both corpora
    python benchmarks/word2vec.py --seeds 1 --corpora ptb --json out.json
    python benchmarks/word2vec.py --one seqtool ptb 1   # one run (used internally)

Needs: pip install gensim (it also ships the evaluation files).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SEQTOOL_SHARED_DATA", ROOT.parents[1] / "shared" / "data"))
SETTINGS = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3, "epochs": 5}


def gensim_data(name: str) -> Path:
    from gensim.test.utils import datapath

    return Path(datapath(name))


def corpus_path(name: str) -> Path:
    if name == "ptb":
        return SHARED / "ptb" / "ptb.train.txt"
    return gensim_data("head500.noblanks.cor")


# ---------------------------------------------------------------- one run
def run_seqtool(lines: list[str], seed: int, threads: int) -> tuple[dict, list[str], object]:
    from seqtool.text import Normalizer, Vocab
    from seqtool.train.word2vec import Word2VecConfig, encode_corpus, train

    start, cpu = time.perf_counter(), time.process_time()
    vocab = Vocab.build(lines, "word", Normalizer.make("none"), min_freq=SETTINGS["min_count"])
    corpus = encode_corpus(lines, vocab, SETTINGS["min_count"])
    prep = time.perf_counter() - start
    cfg = Word2VecConfig(
        dim=SETTINGS["dim"],
        window=SETTINGS["window"],
        negative=SETTINGS["negative"],
        sample=SETTINGS["sample"],
        epochs=SETTINGS["epochs"],
        threads=threads,
        seed=seed,
        device="cpu",
    )
    result = train(corpus, cfg)
    wall = time.perf_counter() - start
    stats = {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "prep": prep,
        "train": result.seconds,
        "raw_words": result.raw_words,
        "effective_words": result.effective_words,
        "vocab": len(corpus.words),
    }
    return stats, corpus.words, result.vectors


def run_gensim(
    lines: list[str], seed: int, threads: int, drop: str | None = None
) -> tuple[dict, list[str], object]:
    from gensim.models import Word2Vec

    # tokenised before timing, as gensim expects
    sentences = [[w for w in line.split() if w != drop] for line in lines]
    start, cpu = time.perf_counter(), time.process_time()
    model = Word2Vec(
        sg=1,
        negative=SETTINGS["negative"],
        window=SETTINGS["window"],
        vector_size=SETTINGS["dim"],
        min_count=SETTINGS["min_count"],
        sample=SETTINGS["sample"],
        epochs=SETTINGS["epochs"],
        workers=threads,
        seed=seed,
    )
    model.build_vocab(sentences)
    prep = time.perf_counter() - start
    t = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    train_s = time.perf_counter() - t
    wall = time.perf_counter() - start
    stats = {
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "prep": prep,
        "train": train_s,
        "raw_words": raw,
        "effective_words": effective,
        "vocab": len(model.wv),
    }
    return stats, list(model.wv.index_to_key), model.wv.vectors


def one(tool: str, corpus: str, seed: int, threads: int) -> dict:
    import numpy as np

    from seqtool.io import read_lines
    from seqtool.metrics.wordvec import evaluate_analogies, evaluate_pairs
    from seqtool.wordvectors import WordVectors

    lines = list(read_lines(corpus_path(corpus)))
    if tool == "seqtool":
        stats, words, vectors = run_seqtool(lines, seed, threads)
    else:
        stats, words, vectors = run_gensim(
            lines, seed, threads, "<unk>" if tool == "gensim-nounk" else None
        )
    wv = WordVectors(words, np.asarray(vectors))
    analogies = evaluate_analogies(wv, read_lines(gensim_data("questions-words.txt")))
    stats["analogy"] = analogies.accuracy
    stats["analogy_n"] = analogies.answered
    for name in ("wordsim353.tsv", "simlex999.txt"):
        stats[name] = evaluate_pairs(wv, read_lines(gensim_data(name))).spearman
    stats.update(tool=tool, corpus=corpus, seed=seed, threads=threads)
    return stats


# ---------------------------------------------------------------- driver
def spawn(tool: str, corpus: str, seed: int, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", tool, corpus, str(seed), "--threads", str(threads)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def summarise(runs: list[dict]) -> str:
    def med(key: str, rs: list[dict]) -> str:
        xs = [r[key] for r in rs]
        return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"

    def mean(key: str, rs: list[dict], scale: float = 1.0, digits: int = 3) -> str:
        xs = [r[key] * scale for r in rs]
        sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
        return f"{statistics.mean(xs):.{digits}f} ± {sd:.{digits}f}"

    lines = [
        "| corpus | tool | wall s, median (range) | of which training s | CPU s, median (range) "
        "| effective words/s | analogy % (n) | WordSim353 ρ | SimLex-999 ρ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus in dict.fromkeys(r["corpus"] for r in runs):
        for tool in ("seqtool", "gensim", "gensim-nounk"):
            rs = [r for r in runs if r["corpus"] == corpus and r["tool"] == tool]
            if not rs:
                continue
            rate = statistics.median(r["effective_words"] / r["train"] for r in rs)
            lines.append(
                f"| {corpus} | {tool} | {med('wall', rs)} | {med('train', rs)} | {med('cpu', rs)} "
                f"| {rate:,.0f} "
                f"| {mean('analogy', rs, 100, 2)} ({rs[0]['analogy_n']:,}) "
                f"| {mean('wordsim353.tsv', rs)} | {mean('simlex999.txt', rs)} |"
            )
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpora", nargs="+", default=["ptb", "wiki"], choices=["ptb", "wiki"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write every run's numbers here")
    ap.add_argument("--one", nargs=3, metavar=("TOOL", "CORPUS", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        tool, corpus, seed = args.one
        print(json.dumps(one(tool, corpus, int(seed), args.threads)))
        return
    import gensim
    import torch

    from seqtool import __version__

    order = random.Random(0)
    load_before = os.getloadavg()
    runs: list[dict] = []
    for corpus in args.corpora:
        for seed in range(1, args.seeds + 1):
            tools = ["seqtool", "gensim"] + (["gensim-nounk"] if corpus == "ptb" else [])
            order.shuffle(tools)
            for tool in tools:
                r = spawn(tool, corpus, seed, args.threads)
                runs.append(r)
                print(
                    f"{corpus} seed {seed} {tool}: wall {r['wall']:.2f} s (train {r['train']:.2f} s, "
                    f"CPU {r['cpu']:.2f} s), load {os.getloadavg()[0]:.1f}, "
                    f"analogy {r['analogy']:.4f}, ws {r['wordsim353.tsv']:.3f}, "
                    f"simlex {r['simlex999.txt']:.3f}",
                    file=sys.stderr,
                    flush=True,
                )
    print(
        f"seqtool {__version__} (torch {torch.__version__}) vs gensim {gensim.__version__}; "
        f"{args.threads} threads; {machine()}; {time.strftime('%Y-%m-%d')}; load average "
        f"{' '.join(f'{x:.1f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} after\n"
    )
    print(summarise(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
