"""Benchmark `seqtool ngrams lm` / `ngrams score` against KenLM (lmplz + the kenlm
module) and NLTK's KneserNeyInterpolated on the Penn Treebank.

Train on ptb.train.txt, report on ptb.valid.txt (the test split is never read).
lmplz refuses a literal ``<unk>`` in training text, so both tools also estimate
from a copy with ``<unk>`` renamed to the ordinary word ``UNKWORD`` (valid
likewise); that copy gives the exact comparison (every n-gram's log10 p and
backoff, seqtool's ARPA vs lmplz's).  seqtool also runs on the original text,
where ``<unk>`` is its unknown word.

Per order (3, 4, 5): estimation CPU (user+sys) and wall time and peak memory of
the whole process (``/usr/bin/time -v``), ARPA size and n-gram counts, valid
perplexity, time to load the model and to score valid, and the largest
differences against lmplz.  ``uptime`` load averages are printed next to the
figures: the machine is shared, so only same-run ratios mean much.

    python benchmarks/ngram_lm.py --lmplz /path/to/lmplz [--orders 3 4 5] [--nltk]
    python benchmarks/ngram_lm.py --zipf        # the 100 MB Zipf corpus instead (long)
    python benchmarks/ngram_lm.py --utf8 3 5    # real UTF-8 text instead (Multi30k de,
                                                # the French side of fra-eng)
    python benchmarks/ngram_lm.py --scoring --query /path/to/query --build-binary /path/to/build_binary

Needs: pip install kenlm nltk; lmplz from ../shared/peers/build-kenlm.sh OUT_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("SEQTOOL_SHARED_DATA", ROOT.parents[1] / "shared" / "data"))
PTB = SHARED / "ptb"


def cpu_name() -> str:
    return next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        "?",
    )


def load_avg() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(cmd: list[str], stdin: Path | None = None, stdout: Path | None = None) -> dict:
    """Run under /usr/bin/time -v: CPU (user+sys) s, wall s, peak RSS MB."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        fin = open(stdin, "rb") if stdin else None
        fout = open(stdout, "wb") if stdout else subprocess.DEVNULL
        try:
            run = subprocess.run(
                ["/usr/bin/time", "-v", "-o", tf.name, *cmd],
                stdin=fin,
                stdout=fout,
                stderr=subprocess.PIPE,
            )
        finally:
            if fin:
                fin.close()
            if stdout:
                fout.close()  # type: ignore[union-attr]
        report = Path(tf.name).read_text()
    if run.returncode:
        raise SystemExit(f"{cmd[0]} failed: {run.stderr.decode()[-2000:]}")

    def field(name: str) -> str:
        m = re.search(rf"{re.escape(name)}: (.+)", report)
        return m.group(1).strip() if m else "0"

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(p) for p in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {
        "cpu_s": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "wall_s": seconds,
        "peak_mb": int(field("Maximum resident set size (kbytes)")) / 1024,
    }


def compare(ours_path: Path, theirs_path: Path) -> dict:
    """Largest |log10 p| and |log10 backoff| differences over every n-gram of both ARPAs."""
    from seqtool.stats.ngram_lm import NGramLM

    a, b = NGramLM.load(ours_path), NGramLM.load(theirs_path)
    out = {"same_ngrams": a.counts() == b.counts(), "max_dlogp": 0.0, "max_dbackoff": 0.0}
    amap = np.array([a.index.get(w, -1) for w in b.words])
    for k in range(1, b.order + 1):
        rows = amap[b.ngram_rows(k)]
        idx, ok = rows[:, 0], rows[:, 0] >= 0
        for j in range(1, k):
            want = idx * a.vocab_size + rows[:, j]
            pos = np.minimum(np.searchsorted(a.keys[j], want), len(a.keys[j]) - 1)
            ok &= a.keys[j][pos] == want
            idx = pos
        out["same_ngrams"] &= bool(ok.all())
        dp = np.abs(a.logp[k - 1][idx[ok]] - b.logp[k - 1][ok])
        out["max_dlogp"] = max(out["max_dlogp"], float(dp.max(initial=0)))
        if k < b.order:
            db = np.abs(a.logb[k - 1][idx[ok]] - b.logb[k - 1][ok])
            out["max_dbackoff"] = max(out["max_dbackoff"], float(db.max(initial=0)))
    return out


def seqtool_estimate(train: Path, order: int, arpa: Path, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "seqtool", "ngrams", "lm", str(train), "-n", str(order)]
    r = timed([*cmd, "-o", str(arpa), "-q", *extra])
    r["arpa_mb"] = arpa.stat().st_size / 1e6
    return r


def seqtool_score(arpa: Path, valid: Path, work: Path) -> dict:
    from seqtool.stats.ngram_lm import NGramLM

    t = time.perf_counter()
    lm = NGramLM.load(arpa)
    arpa_load = time.perf_counter() - t
    npz = work / (arpa.stem + ".npz")
    lm.save(npz)
    t = time.perf_counter()
    lm = NGramLM.load(npz)
    npz_load = time.perf_counter() - t
    lines = valid.read_text(encoding="utf-8").splitlines()
    t0, c0 = time.perf_counter(), time.process_time()
    p = lm.perplexity(lines)
    return {
        "ppl": p.perplexity,
        "ppl_no_oov": p.perplexity_without_oovs,
        "oovs": p.oovs,
        "arpa_load_s": arpa_load,
        "binary_load_s": npz_load,
        "binary_mb": npz.stat().st_size / 1e6,
        "score_s": time.perf_counter() - t0,
        "score_cpu_s": time.process_time() - c0,
        "counts": lm.counts(),
    }


def kenlm_score(arpa: Path, valid: Path) -> dict:
    import kenlm

    t = time.perf_counter()
    model = kenlm.Model(str(arpa))
    load = time.perf_counter() - t
    lines = valid.read_text(encoding="utf-8").splitlines()
    t0, c0 = time.perf_counter(), time.process_time()
    total = 0.0
    tokens = 0
    for ln in lines:
        total += model.score(ln, bos=True, eos=True)
        tokens += len(ln.split()) + 1
    return {
        "ppl": 10 ** (-total / tokens),
        "arpa_load_s": load,
        "score_s": time.perf_counter() - t0,
        "score_cpu_s": time.process_time() - c0,
    }


def lmplz_run(lmplz: str, order: int, train: Path, valid: Path, arpa: Path) -> dict:
    """lmplz -S 10% on train (CPU, wall, peak memory, ARPA size), then the kenlm
    module's load and scoring of valid when it is installed."""
    r = timed([lmplz, "-o", str(order), "-S", "10%"], stdin=train, stdout=arpa)
    r["arpa_mb"] = arpa.stat().st_size / 1e6
    try:
        r.update(kenlm_score(arpa, valid))
    except ImportError:
        pass
    return r


def nltk_run(train: Path, valid: Path, sentences: int) -> dict:
    """NLTK KneserNeyInterpolated 3-gram: fit on train, perplexity on the first sentences."""
    code = f"""
import time, json, resource
from nltk.lm import KneserNeyInterpolated
from nltk.lm.preprocessing import padded_everygram_pipeline, pad_both_ends
from nltk.util import ngrams
train = [l.split() for l in open({str(train)!r}, encoding='utf-8')]
c0, t0 = time.process_time(), time.time()
grams, vocab = padded_everygram_pipeline(3, train)
lm = KneserNeyInterpolated(3)
lm.fit(grams, vocab)
fit_cpu, fit_wall = time.process_time() - c0, time.time() - t0
valid = [l.split() for l in open({str(valid)!r}, encoding='utf-8')][:{sentences}]
test = [g for s in valid for g in ngrams(pad_both_ends(s, n=3), 3)]
c0 = time.process_time()
ppl = lm.perplexity(test)
score_cpu = time.process_time() - c0
print(json.dumps(dict(fit_cpu=fit_cpu, fit_wall=fit_wall, ppl=ppl, trigrams=len(test),
                      score_cpu=score_cpu)))
"""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(code)
    out = Path(f.name + ".out")
    r = timed([sys.executable, f.name], stdout=out)
    r.update(json.loads(out.read_text()))
    return r


def zipf(orders: list[int], lmplz: str | None) -> None:
    """seqtool vs lmplz on benchmarks/ngrams.py's 100 MB Zipf corpus (1M word types, lines
    of 15 words): estimation CPU, wall, peak memory and ARPA size."""
    sys.path.insert(0, str(ROOT))
    from ngrams import WORK, build_zipf  # the counting benchmark's corpus

    WORK.mkdir(exist_ok=True)
    corpus = build_zipf(100)
    with tempfile.TemporaryDirectory(prefix="ngram-lm-zipf-") as tmp:
        for order in orders:
            rec: dict = {"corpus": "zipf100", "order": order, "load_before": load_avg()}
            rec["seqtool"] = seqtool_estimate(corpus, order, Path(tmp) / "s.arpa", [])
            (Path(tmp) / "s.arpa").unlink()
            if lmplz:
                out = Path(tmp) / "k.arpa"
                r = timed([lmplz, "-o", str(order), "-S", "10%"], stdin=corpus, stdout=out)
                r["arpa_mb"] = out.stat().st_size / 1e6
                out.unlink()
                rec["lmplz"] = r
            rec["load_after"] = load_avg()
            print(json.dumps(rec), flush=True)


# ---------------------------------------------------------------------- scoring (--scoring)
SCORE_REPEAT = 5  # the valid text scored this many times over (well above timer noise)


def cpu_best(fn, reps: int = 3) -> tuple[float, object]:
    """The least CPU (process) time of ``reps`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(reps):
        c = time.process_time()
        out = fn()
        best = min(best, time.process_time() - c)
    return best, out


def plain(text: str) -> str:
    """Non-ASCII spaces (U+00A0, U+202F: in Multi30k and fra-eng) as ASCII spaces:
    seqtool splits words on every Unicode space (str.split), KenLM on ASCII ones only,
    so without this the two would score different words."""
    return re.sub(r"[^\S\n\t\r\x0b\x0c ]", " ", text)


def scoring_corpora(work: Path) -> list[tuple[str, Path, Path]]:
    """(name, train, valid) for the scoring comparison: PTB as it is (a literal <unk>:
    the unknown word for both tools) and the UTF-8 corpora (French: every 20th line
    held out)."""
    return [("ptb", PTB / "ptb.train.txt", PTB / "ptb.valid.txt"), *utf8_corpora(work, 20)]


def score_both(arpa: Path, npz: Path, valid: Path, kenlm_binary: Path | None) -> dict:
    """In-process: loading and scoring by seqtool and by the kenlm module, the same
    model file (seqtool's ARPA) and the same sentences, interleaved, best of 3 (CPU)."""
    import kenlm

    from seqtool.stats.ngram_lm import NGramLM

    lines = valid.read_text(encoding="utf-8").splitlines() * SCORE_REPEAT
    rec: dict = {"sentences": len(lines) // SCORE_REPEAT, "repeat": SCORE_REPEAT}
    rec["seqtool_arpa_load_s"], _ = cpu_best(lambda: NGramLM.load(arpa), 2)
    rec["kenlm_arpa_load_s"], _ = cpu_best(lambda: kenlm.Model(str(arpa)), 2)
    rec["seqtool_npz_load_s"], lm = cpu_best(lambda: NGramLM.load(npz))
    if kenlm_binary is not None:
        rec["kenlm_binary_load_s"], _ = cpu_best(lambda: kenlm.Model(str(kenlm_binary)))
    model = kenlm.Model(str(kenlm_binary or arpa))

    def theirs() -> tuple[float, int]:
        total, oovs = 0.0, 0
        for ln in lines:
            total += model.score(ln, bos=True, eos=True)
        return total, oovs

    lm.perplexity(lines[:100])  # first use: the word index
    ours_s, ours = [], None
    theirs_s, total = [], 0.0
    for _ in range(5):  # interleaved: both see the same load
        t, ours = cpu_best(lambda: lm.perplexity(lines), 1)
        ours_s.append(t)
        t, (total, _) = cpu_best(theirs, 1)  # type: ignore[misc]
        theirs_s.append(t)
    assert ours is not None
    tokens = ours.tokens  # type: ignore[attr-defined]
    rec["tokens"] = tokens // SCORE_REPEAT
    rec["seqtool_score_s"] = min(ours_s)
    rec["kenlm_score_s"] = min(theirs_s)
    rec["seqtool_ppl"] = ours.perplexity  # type: ignore[attr-defined]
    rec["kenlm_ppl"] = 10 ** (-total / tokens)
    rec["seqtool_ns_per_token"] = 1e9 * rec["seqtool_score_s"] / tokens
    rec["kenlm_ns_per_token"] = 1e9 * rec["kenlm_score_s"] / tokens
    return rec


def whole_commands(
    npz: Path, arpa: Path, valid: Path, query: str | None, binary: Path | None
) -> dict:
    """Whole processes (start, load, score, print the summary): `seqtool ngrams score`
    on the .npz and on the ARPA, KenLM's `query -v summary` on its binary and on the
    ARPA (or, without `query`, a python script of the kenlm module)."""
    rec: dict = {}
    seq = [sys.executable, "-m", "seqtool", "ngrams", "score"]
    rec["seqtool_npz"] = timed([*seq, str(npz), str(valid), "-q", "-f", "json"])
    rec["seqtool_arpa"] = timed([*seq, str(arpa), str(valid), "-q", "-f", "json"])
    if query:
        if binary is not None:
            rec["query_binary"] = timed([query, "-v", "summary", str(binary)], stdin=valid)
        rec["query_arpa"] = timed([query, "-v", "summary", str(arpa)], stdin=valid)
    else:
        code = (
            "import sys, kenlm; m = kenlm.Model(sys.argv[1]); "
            "print(sum(m.score(l) for l in open(sys.argv[2], encoding='utf-8')))"
        )
        rec["kenlm_module_arpa"] = timed([sys.executable, "-c", code, str(arpa), str(valid)])
    return rec


def scoring(orders: list[int], query: str | None, build_binary: str | None) -> list[dict]:
    """--scoring: per corpus and order, seqtool vs KenLM scoring the same sentences
    with the same model (seqtool's ARPA, as read by both; KenLM's own binary of it
    too): load and score CPU in-process, and whole commands."""
    records = []
    with tempfile.TemporaryDirectory(prefix="ngram-score-bench-") as tmp:
        work = Path(tmp)
        for name, train, valid in scoring_corpora(work):
            for order in orders:
                arpa, npz = work / f"{name}{order}.arpa", work / f"{name}{order}.npz"
                cmd = [sys.executable, "-m", "seqtool", "ngrams", "lm", str(train)]
                subprocess.run(
                    [*cmd, "-n", str(order), "-o", str(arpa), "--binary", str(npz), "-q"],
                    check=True,
                )
                binary = None
                if build_binary:
                    binary = work / f"{name}{order}.kenlm"
                    subprocess.run(
                        [build_binary, "probing", str(arpa), str(binary)],
                        check=True,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                rec: dict = {"corpus": name, "order": order, "load_before": load_avg()}
                rec["arpa_mb"] = arpa.stat().st_size / 1e6
                rec["in_process"] = score_both(arpa, npz, valid, binary)
                rec["commands"] = whole_commands(npz, arpa, valid, query, binary)
                rec["load_after"] = load_avg()
                records.append(rec)
                print(json.dumps(rec), flush=True)
    print()
    print(
        "| corpus | order | tokens | seqtool score CPU s | kenlm module CPU s | ratio | "
        "ns/token seqtool / kenlm | ARPA load seqtool / kenlm s | seqtool .npz load s | "
        "kenlm binary load s | load avg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        t = r["in_process"]
        print(
            f"| {r['corpus']} | {r['order']} | {t['tokens'] * t['repeat']:,} "
            f"| {t['seqtool_score_s']:.3f} | {t['kenlm_score_s']:.3f} "
            f"| {t['kenlm_score_s'] / t['seqtool_score_s']:.2f}x "
            f"| {t['seqtool_ns_per_token']:.0f} / {t['kenlm_ns_per_token']:.0f} "
            f"| {t['seqtool_arpa_load_s']:.2f} / {t['kenlm_arpa_load_s']:.2f} "
            f"| {t['seqtool_npz_load_s']:.3f} | {t.get('kenlm_binary_load_s', float('nan')):.3f} "
            f"| {r['load_before']} |"
        )
    print()
    print("| corpus | order | command | CPU s | wall s | peak MB |")
    print("|---|---|---|---|---|---|")
    for r in records:
        for what, c in r["commands"].items():
            print(
                f"| {r['corpus']} | {r['order']} | {what} | {c['cpu_s']:.2f} | {c['wall_s']:.2f} "
                f"| {c['peak_mb']:.0f} |"
            )
    return records


def utf8_corpora(work: Path, every: int = 10) -> list[tuple[str, Path, Path]]:
    """Real UTF-8 text, tokenised on white space, as (name, train, valid) files:

    * ``multi30k-de``: Multi30k German (umlauts, ß), train and val (29,000 / 1,014 lines);
    * ``fra-eng-fr``: the French side of fra-eng.zip (Tatoeba: accents, curly quotes,
      guillemets), every ``every``-th line held out as valid (10: 150,417 / 16,713 lines).

    Both with :func:`plain` spaces (lmplz and KenLM split words on ASCII white space
    only); the words keep every other character.
    """
    import gzip
    import zipfile

    def write(path: Path, lines: list[str]) -> Path:
        path.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")
        return path

    out = []
    m30k = SHARED / "multi30k"
    if (m30k / "train.de.gz").exists():
        train, valid = (
            plain(gzip.decompress((m30k / f"{split}.de.gz").read_bytes()).decode("utf-8"))
            for split in ("train", "val")
        )
        out.append(
            (
                "multi30k-de",
                write(work / "de.train.txt", train.splitlines()),
                write(work / "de.valid.txt", valid.splitlines()),
            )
        )
    if (SHARED / "fra-eng.zip").exists():
        with zipfile.ZipFile(SHARED / "fra-eng.zip") as z:
            pairs = z.read("fra-eng/fra.txt").decode("utf-8").splitlines()
        french = [plain(ln.partition("\t")[2]) for ln in pairs]
        out.append(
            (
                "fra-eng-fr",
                write(work / "fr.train.txt", [t for i, t in enumerate(french) if i % every]),
                write(work / "fr.valid.txt", [t for i, t in enumerate(french) if not i % every]),
            )
        )
    return out


def utf8(orders: list[int], lmplz: str | None) -> list[dict]:
    """seqtool vs lmplz (estimation) and the kenlm module (scoring) on real UTF-8 text:
    the same measurements and exactness check as on PTB."""
    records = []
    with tempfile.TemporaryDirectory(prefix="ngram-lm-utf8-") as tmp:
        work = Path(tmp)
        for corpus, train, valid in utf8_corpora(work):
            for order in orders:
                rec: dict = {"corpus": corpus, "order": order, "load_before": load_avg()}
                ours = work / f"seqtool-{corpus}{order}.arpa"
                rec["seqtool"] = seqtool_estimate(train, order, ours, [])
                rec["seqtool"].update(seqtool_score(ours, valid, work))
                if lmplz:
                    theirs = work / f"lmplz-{corpus}{order}.arpa"
                    rec["lmplz"] = lmplz_run(lmplz, order, train, valid, theirs)
                    rec["vs_lmplz"] = compare(ours, theirs)
                rec["load_after"] = load_avg()
                records.append(rec)
                print(json.dumps(rec), flush=True)
    print()
    print(
        "| corpus | order | tool | est. CPU s | wall s | peak MB | ARPA MB | valid ppl "
        "| score CPU s | max dlog10 p vs lmplz | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in records:
        for tool in ("seqtool", "lmplz"):
            if tool not in r:
                continue
            t = r[tool]
            diff = (
                f"{r['vs_lmplz']['max_dlogp']:.1e}" if tool == "seqtool" and "vs_lmplz" in r else ""
            )
            ppl = f"{t['ppl']:.2f}" if "ppl" in t else ""
            score = f"{t['score_cpu_s']:.3f}" if "score_cpu_s" in t else ""
            name = tool if tool == "seqtool" else "lmplz / kenlm module"
            print(
                f"| {r['corpus']} | {r['order']} | {name} | {t['cpu_s']:.2f} | {t['wall_s']:.2f} "
                f"| {t['peak_mb']:.0f} | {t['arpa_mb']:.1f} | {ppl} | {score} | {diff} "
                f"| {r['load_before']} |"
            )
    return records


def renamed(src: Path, dst: Path) -> Path:
    dst.write_text(src.read_text(encoding="utf-8").replace("<unk>", "UNKWORD"), encoding="utf-8")
    return dst


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--orders", type=int, nargs="+", default=[3, 4, 5])
    ap.add_argument("--lmplz", default=shutil.which("lmplz"))
    ap.add_argument("--nltk", action="store_true", help="also NLTK's 3-gram (slow: ~1 min fit)")
    ap.add_argument("--nltk-sentences", type=int, default=20)
    ap.add_argument("--json", type=Path, help="append result records here")
    ap.add_argument("--zipf", type=int, nargs="*", help="only the 100 MB Zipf corpus, these orders")
    ap.add_argument(
        "--scoring",
        action="store_true",
        help="only scoring: seqtool vs KenLM (module, query) on the same model and sentences, "
        "PTB, Multi30k German and French fra-eng",
    )
    ap.add_argument("--query", default=shutil.which("query"), help="KenLM's query binary")
    ap.add_argument("--build-binary", default=shutil.which("build_binary"))
    ap.add_argument(
        "--utf8", type=int, nargs="*", help="only the UTF-8 corpora (Multi30k de, fra-eng fr)"
    )
    args = ap.parse_args()
    if args.zipf is not None:
        zipf(args.zipf or [3], args.lmplz)
        return
    if args.utf8 is not None:
        print(f"# {load_avg()}")
        utf8(args.utf8 or [3, 5], args.lmplz)
        return
    if args.scoring:
        print(f"# CPU: {cpu_name()}, {os.cpu_count()} cores; {load_avg()}")
        records = scoring(args.orders, args.query, args.build_binary)
        if args.json:
            with open(args.json, "a", encoding="utf-8") as f:
                for r in records:
                    f.write(json.dumps(r) + "\n")
        return
    print(f"# CPU: {cpu_name()}, {os.cpu_count()} cores; {load_avg()}")
    records = []
    with tempfile.TemporaryDirectory(prefix="ngram-lm-bench-") as tmp:
        work = Path(tmp)
        train_u = renamed(PTB / "ptb.train.txt", work / "train.txt")
        valid_u = renamed(PTB / "ptb.valid.txt", work / "valid.txt")
        for order in args.orders:
            rec: dict = {"order": order}
            # seqtool on the original text (<unk> is its unknown word)
            arpa = work / f"seqtool{order}.arpa"
            rec["load_before"] = load_avg()
            rec["seqtool"] = seqtool_estimate(PTB / "ptb.train.txt", order, arpa, [])
            rec["seqtool"].update(seqtool_score(arpa, PTB / "ptb.valid.txt", work))
            # both on the renamed text
            ours_u = work / f"seqtool{order}u.arpa"
            rec["seqtool_renamed"] = seqtool_estimate(train_u, order, ours_u, [])
            rec["seqtool_renamed"].update(seqtool_score(ours_u, valid_u, work))
            if args.lmplz:
                theirs = work / f"lmplz{order}.arpa"
                rec["lmplz"] = lmplz_run(args.lmplz, order, train_u, valid_u, theirs)
                rec["vs_lmplz"] = compare(ours_u, theirs)
            rec["load_after"] = load_avg()
            records.append(rec)
            print(json.dumps(rec), flush=True)
        if args.nltk:
            rec = {"order": 3, "load_before": load_avg()}
            rec["nltk"] = nltk_run(
                PTB / "ptb.train.txt", PTB / "ptb.valid.txt", args.nltk_sentences
            )
            rec["load_after"] = load_avg()
            records.append(rec)
            print(json.dumps(rec), flush=True)
    if args.json:
        with open(args.json, "a", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    print()
    print(
        "| order | tool | est. CPU s | wall s | peak MB | ARPA MB | valid ppl | max dlog10 p vs lmplz | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in records:
        for tool in ("seqtool", "seqtool_renamed", "lmplz"):
            if tool not in r:
                continue
            t = r[tool]
            diff = (
                f"{r['vs_lmplz']['max_dlogp']:.1e}"
                if tool == "seqtool_renamed" and "vs_lmplz" in r
                else ""
            )
            ppl = f"{t['ppl']:.2f}" if "ppl" in t else ""
            print(
                f"| {r['order']} | {tool} | {t['cpu_s']:.2f} | {t['wall_s']:.2f} | {t['peak_mb']:.0f} "
                f"| {t['arpa_mb']:.1f} | {ppl} | {diff} | {r['load_before']} |"
            )
        if "nltk" in r:
            t = r["nltk"]
            print(
                f"| 3 | nltk (fit; ppl on {t['trigrams']} valid trigrams) | {t['fit_cpu']:.1f} | "
                f"{t['fit_wall']:.1f} | {t['peak_mb']:.0f} | | {t['ppl']:.1f} | | {r['load_before']} |"
            )


if __name__ == "__main__":
    main()
