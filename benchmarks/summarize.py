"""Summarization benchmark: seqtool summarize against summa and sumy.

Part ``opinosis``: the 26 Opinosis topics in ``DATA/opinosis`` (review sentences,
one per line; 4-5 gold summaries per topic), a 2-sentence extractive summary per
topic from each tool.  Scores are Google's ``rouge-score`` with stemming: each
summary is scored against every gold summary of its topic, the reference with
the best F1 counts (per ROUGE type; its recall is reported with it), and the
figures are the means over the 26 topics.  Wall time covers summarising all
topics (in this process, after imports; ROUGE excluded).  Tools:

* seqtool TextRank with each similarity, and LexRank;
* summa 1.2 (``summarizer.summarize(text, ratio=1, scores=True)``, the 2 best
  sentences by its scores, in document order; it splits the text itself);
* sumy 0.13 TextRank and LexRank with English stop words and the Snowball
  stemmer, on the same one-sentence-per-line split.  sumy's own tokenizer needs
  NLTK's punkt data, which is not installed here, so it gets sentences as given
  and NLTK's Treebank word tokenizer (what ``word_tokenize`` runs after punkt)
  with sumy's own word filter;
* first 2 sentences; 2 random sentences (the mean over ``--seeds`` seeds).

Part ``scale``: The Time Machine repeated with variation (each copy has 1-3 word
edits per sentence: a replaced, swapped or deleted word) into books of about
2,000, 8,000 and 30,000 sentences; each tool makes a 10-sentence summary as a
whole process (``seqtool summarize BOOK -n 10``; the peers in a Python process
that imports, reads and summarises), capped at ``--cap`` seconds and, for the
peers, 4 GiB of address space (to protect the shared machine; sumy's TextRank
asks for a dense n x n float64 matrix).  Peak memory is the process's max RSS.
A capped peer reports how many of the sentence pairs it had compared.

Part ``splitter``: the sentence splitter's accuracy on text with known
boundaries: (a) Tatoeba English sentences (``DATA/fra-eng.zip``) that are one
sentence each (no inner ``.!?`` followed by a space, except after Mr/Mrs/Ms/Dr),
joined into paragraphs of 5; (b) the Opinosis review sentences of each topic
joined with spaces (their lines are the gold boundaries).

    python benchmarks/summarize.py --data ../shared/data --out benchmarks/results/summarize.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqtool.metrics.rouge import rouge_scores  # noqa: E402
from seqtool.rank.summarize import SummaryConfig, summarize  # noqa: E402
from seqtool.text.sentences import split_accuracy, split_sentences  # noqa: E402

ISSUE = {  # the figures the issue measured (2 cores)
    "summa TextRank": (0.380, 0.153, 43),
    "sumy LexRank": (0.347, 0.131, 40),
    "sumy TextRank": (0.265, 0.068, 71),
    "first 2": (0.283, 0.072, None),
    "random 2": (0.283, 0.079, None),
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def read_any(path: Path) -> str:
    """UTF-8, else CP1252 (half the Opinosis files), line ends normalised."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------------- opinosis
def opinosis(data: Path) -> tuple[list[str], dict[str, list[str]], dict[str, list[str]]]:
    root = data / "opinosis"
    topics = sorted(p.name[: -len(".txt.data")] for p in (root / "topics").glob("*.txt.data"))
    docs = {
        t: split_sentences(read_any(root / "topics" / f"{t}.txt.data"), per_line=True)
        for t in topics
    }
    golds = {
        t: [read_any(g).strip() for g in sorted((root / "summaries-gold" / t).glob("*.gold"))]
        for t in topics
    }
    return topics, docs, golds


def score(topics: list[str], hyps: dict[str, str], golds: dict[str, list[str]]) -> dict[str, float]:
    width = max(len(golds[t]) for t in topics)
    refs = [[golds[t][k] if k < len(golds[t]) else "" for t in topics] for k in range(width)]
    r1, r2 = rouge_scores([hyps[t] for t in topics], refs, ("rouge1", "rouge2"), stem=True)
    return {"r1_f": r1.f1, "r2_f": r2.f1, "r1_r": r1.recall, "r2_r": r2.recall}


def ours(config: SummaryConfig):
    def run(sents: list[str], text: str) -> str:
        return " ".join(s.text for s in summarize(sents, config).selected)

    return run


def summa_run(sents: list[str], text: str) -> str:
    from summa import summarizer

    scored = summarizer.summarize(text, ratio=1.0, scores=True)
    best = sorted(range(len(scored)), key=lambda i: -scored[i][1])[:2]
    return " ".join(scored[i][0] for i in sorted(best))


class TreebankWords:
    """sumy's tokenizer interface without punkt: the text is one sentence already."""

    def __init__(self) -> None:
        from nltk.tokenize import TreebankWordTokenizer
        from sumy.nlp.tokenizers import Tokenizer

        self._words = TreebankWordTokenizer()
        self._is_word = Tokenizer._is_word

    def to_sentences(self, paragraph: str) -> tuple[str, ...]:
        return tuple(s for s in paragraph.split("\n") if s.strip())

    def to_words(self, sentence: str) -> tuple[str, ...]:
        return tuple(w for w in self._words.tokenize(sentence) if self._is_word(w))


def sumy_document(sents: list[str]) -> Any:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence

    tok = TreebankWords()
    return ObjectDocumentModel([Paragraph([Sentence(s, tok) for s in sents])])


def sumy_summarizer(kind: str) -> Any:
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    s = (TextRankSummarizer if kind == "textrank" else LexRankSummarizer)(Stemmer("english"))
    s.stop_words = get_stop_words("english")
    return s


def sumy_run(kind: str, k: int = 2):
    def run(sents: list[str], text: str) -> str:
        return " ".join(str(s) for s in sumy_summarizer(kind)(sumy_document(sents), k))

    return run


def part_opinosis(data: Path, seeds: int) -> dict[str, Any]:
    topics, docs, golds = opinosis(data)
    tools: dict[str, Any] = {
        "seqtool TextRank overlap (default)": ours(SummaryConfig(sentences=2)),
        "seqtool TextRank cosine": ours(SummaryConfig(similarity="cosine", sentences=2)),
        "seqtool TextRank bm25": ours(SummaryConfig(similarity="bm25", sentences=2)),
        "seqtool LexRank": ours(SummaryConfig("lexrank", "cosine", sentences=2)),
        "summa TextRank": summa_run,
        "sumy TextRank": sumy_run("textrank"),
        "sumy LexRank": sumy_run("lexrank"),
        "first 2": lambda sents, text: " ".join(sents[:2]),
    }
    rows: dict[str, Any] = {"load_before": load()}
    for name, run in tools.items():
        start, cpu0 = time.perf_counter(), time.process_time()
        hyps = {t: run(docs[t], "\n".join(docs[t])) for t in topics}
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu0
        rows[name] = score(topics, hyps, golds) | {
            "seconds": seconds,
            "cpu_s": cpu_s,
            "load": load(),
        }
        print(name, rows[name], file=sys.stderr, flush=True)
    runs = []
    for seed in range(seeds):
        rng = random.Random(seed)
        hyps = {}
        for t in topics:
            pick = sorted(rng.sample(range(len(docs[t])), 2))
            hyps[t] = " ".join(docs[t][i] for i in pick)
        runs.append(score(topics, hyps, golds))
    rows[f"random 2 (mean of {seeds} seeds)"] = {
        k: sum(r[k] for r in runs) / len(runs) for k in runs[0]
    } | {"seconds": None, "cpu_s": None, "load": load()}
    rows["load_after"] = load()
    return rows


def table_opinosis(rows: dict[str, Any]) -> str:
    out = [
        f"Opinosis, 26 topics, 2-sentence summaries (load before {rows['load_before']}, "
        f"after {rows['load_after']}):",
        "",
        "| tool | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-1 R | ROUGE-2 R | wall (s) | CPU (s) | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in rows.items():
        if not isinstance(r, dict):
            continue
        secs = "" if r["seconds"] is None else f"{r['seconds']:.2f} | {r['cpu_s']:.2f}"
        secs = secs or " | "
        out.append(
            f"| {name} | {r['r1_f']:.3f} | {r['r2_f']:.3f} | {r['r1_r']:.3f} | {r['r2_r']:.3f} "
            f"| {secs} | {r['load']} |"
        )
    return "\n".join(out)


# ---------------------------------------------------------------------- scale
def make_book(text: str, n: int, seed: int = 0) -> str:
    """The Time Machine's sentences, then copies with 1-3 word edits each, to ~n sentences.

    Only sentences that end with ``.!?`` and start with a capital or a quote are
    used, so that joining them into paragraphs keeps their boundaries.
    """
    base = [
        s
        for s in split_sentences(text)
        if re.search(r"[.!?]['\"]?$", s) and (s[0].isupper() or s[0] in "'\"")
    ]
    vocab = sorted({w for s in base for w in s.split() if w.isalpha() and w.islower()})
    rng = random.Random(seed)
    out = list(base)
    while len(out) < n:
        for s in base:
            toks = s.split()
            for _ in range(rng.randint(1, 3)):
                cand = _editable(toks)
                if not cand:
                    break
                i = rng.choice(cand)
                op = rng.random()
                if op < 0.4:
                    toks[i] = rng.choice(vocab)
                elif op < 0.7 and i + 1 in cand:
                    toks[i], toks[i + 1] = toks[i + 1], toks[i]
                else:
                    del toks[i]
            out.append(" ".join(toks))
            if len(out) >= n:
                break
    return "\n\n".join(" ".join(out[i : i + 6]) for i in range(0, n, 6)) + "\n"


def _editable(toks: list[str]) -> list[int]:
    """Positions of inner lower-case words (edits there cannot move a sentence boundary)."""
    return [i for i in range(1, len(toks) - 1) if toks[i].isalpha() and toks[i].islower()]


PEER = r"""
import sys, time, threading
kind, path, sents_path = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, {bench!r})
import summarize as bench
counter = [0]
def count(f):
    def g(*a, **k):
        counter[0] += 1
        return f(*a, **k)
    return g
def report():
    while True:
        time.sleep(2)
        print("PAIRS", counter[0], flush=True, file=sys.stderr)
threading.Thread(target=report, daemon=True).start()
text = open(path, encoding="utf-8").read()
sents = [l for l in open(sents_path, encoding="utf-8").read().split("\n") if l.strip()]
if kind == "summa":
    from summa import summarizer
    summarizer._get_similarity = count(summarizer._get_similarity)
    out = summarizer.summarize(text, ratio=1.0, scores=True)
    best = sorted(range(len(out)), key=lambda i: -out[i][1])[:10]
    print("\n".join(out[i][0] for i in sorted(best)))
else:
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    TextRankSummarizer._rate_sentences_edge = staticmethod(count(TextRankSummarizer._rate_sentences_edge))
    LexRankSummarizer.cosine_similarity = staticmethod(count(LexRankSummarizer.cosine_similarity))
    s = bench.sumy_summarizer(kind)
    print("\n".join(str(x) for x in s(bench.sumy_document(sents), 10)))
print("PAIRS", counter[0], file=sys.stderr)
"""


def loop_size(kind: str, n: int) -> int:
    """Similarity calls a peer's all-pairs loop makes for n sentences (summa: at most)."""
    return {"summa": n * (n - 1), "textrank": n * (n + 1) // 2, "lexrank": n * n}[kind]


def run_measured(cmd: list[str], cap: float, limit_as: int | None) -> dict[str, Any]:
    """Run ``cmd``; wall time, peak RSS (MiB), exit status, the last PAIRS line of stderr."""

    def limits() -> None:
        if limit_as:
            resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as))

    err = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=err,
        preexec_fn=limits,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=cap)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        timed_out = True
    wall = time.perf_counter() - start
    # communicate() reaped the child: its usage is in RUSAGE_CHILDREN (max over children so far)
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    pairs = re.findall(r"PAIRS (\d+)", text)
    last_err = [line for line in text.splitlines() if line.strip() and not line.startswith("PAIRS")]
    return {
        "seconds": wall,
        "rc": proc.returncode,
        "timed_out": timed_out,
        "pairs": int(pairs[-1]) if pairs else None,
        "error": last_err[-1][:160] if proc.returncode and last_err else "",
        "lines": len(out.decode("utf-8", "replace").splitlines()),
    }


def measured(cmd: list[str], cap: float, limit_as: int | None = None) -> dict[str, Any]:
    """:func:`run_measured` in a fresh helper process, so that max RSS is this command's own."""
    code = (
        f"import json, resource, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import summarize as b; "
        "r = b.run_measured(json.loads(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])); "
        "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "r['max_rss_mib'] = u.ru_maxrss / 1024; r['cpu_s'] = u.ru_utime + u.ru_stime; "
        "print(json.dumps(r))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cmd), str(cap), json.dumps(limit_as)],
        capture_output=True,
        text=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def part_scale(
    data: Path, sizes: list[int], cap: float, peers_at: list[int], tmp: Path
) -> dict[str, Any]:
    text = (data / "timemachine.txt").read_text(encoding="utf-8")
    seqtool = [sys.executable, "-m", "seqtool", "summarize"]
    peer_code = PEER.format(bench=str(Path(__file__).parent))
    rows: dict[str, Any] = {"load_before": load()}
    for n in sizes:
        book = tmp / f"book{n}.txt"
        book.write_text(make_book(text, n), encoding="utf-8")
        sents = split_sentences(book.read_text(encoding="utf-8"))
        lines = tmp / f"book{n}.lines.txt"
        lines.write_text("\n".join(sents) + "\n", encoding="utf-8")
        entry: dict[str, Any] = {"sentences": len(sents)}
        for sim in ("overlap", "cosine", "bm25"):
            entry[f"seqtool {sim}"] = measured(
                seqtool + [str(book), "-n", "10", "-q", "-s", sim], cap
            ) | {"load": load()}
            print(n, sim, entry[f"seqtool {sim}"], file=sys.stderr, flush=True)
        entry["seqtool lexrank"] = measured(
            seqtool + [str(book), "-n", "10", "-q", "-m", "lexrank", "-s", "cosine"], cap
        ) | {"load": load()}
        if n in peers_at:
            for kind, name in (
                ("summa", "summa TextRank"),
                ("textrank", "sumy TextRank"),
                ("lexrank", "sumy LexRank"),
            ):
                r = measured(
                    [sys.executable, "-c", peer_code, kind, str(book), str(lines)], cap, 4 << 30
                )
                entry[name] = r | {
                    "load": load(),
                    "pairs_total": loop_size(kind, len(sents)),
                }
                print(n, name, entry[name], file=sys.stderr, flush=True)
        rows[str(n)] = entry
    rows["load_after"] = load()
    return rows


def table_scale(rows: dict[str, Any], cap: float) -> str:
    out = [
        f"Scale: 10-sentence summaries of The Time Machine repeated with variation, whole process; "
        f"cap {cap:.0f} s (load before {rows['load_before']}, after {rows['load_after']}):",
        "",
        "| sentences | tool | wall (s) | CPU (s) | max RSS (MiB) | note | load |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for entry in rows.values():
        if not isinstance(entry, dict):
            continue
        for name, r in entry.items():
            if name == "sentences":
                continue
            note = "ok"
            if r["timed_out"]:
                done = r.get("pairs")
                total = r.get("pairs_total")
                frac = (
                    f"{100 * done / total:.1f}% of its {total:,} similarity calls made"
                    if done and total
                    else "no pairs compared"
                )
                note = f"stopped at the cap: {frac}"
            elif r["rc"]:
                note = f"failed (exit {r['rc']}): {r['error']}"
            out.append(
                f"| {entry['sentences']:,} | {name} | {r['seconds']:.2f} | {r['cpu_s']:.2f} | {r['max_rss_mib']:.0f} | {note} | {r['load']} |"
            )
    return "\n".join(out)


# ---------------------------------------------------------------------- splitter
def tatoeba_single(data: Path) -> list[str]:
    """Tatoeba English items that are one sentence: no inner ``.!?`` + space but after a title."""
    inner = re.compile(r"[.!?\u2026]+[\"')\]]*\s")
    title = re.compile(r"\b(?:Mr|Mrs|Ms|Dr)\.\s$")
    with zipfile.ZipFile(data / "fra-eng.zip") as z:
        name = next(n for n in z.namelist() if n.endswith("fra.txt"))
        lines = z.read(name).decode("utf-8").splitlines()
    single = []
    for line in lines:
        en = line.split("\t")[0].strip()
        if en and re.search(r"[.!?]['\")]*$", en):
            if all(title.search(en[: m.end()]) for m in inner.finditer(en)):
                single.append(en)
    return single


def part_splitter(data: Path) -> dict[str, Any]:
    sample = random.Random(0).sample(tatoeba_single(data), 20000)
    _, docs, _ = opinosis(data)
    out = {}
    for name, groups in (
        ("tatoeba", [sample[i : i + 5] for i in range(0, len(sample), 5)]),
        ("opinosis", list(docs.values())),
    ):
        r = split_accuracy(groups)
        out[name] = {
            "boundaries": r.boundaries,
            "precision": r.precision,
            "recall": r.recall,
            "f1": r.f1,
            "sentences_exact": r.exact,
            "sentences": r.sentences,
        }
    out["tatoeba"]["with_titles"] = sum(bool(re.search(r"\b(?:Mr|Mrs|Ms|Dr)\.", s)) for s in sample)
    return out


def table_splitter(r: dict[str, Any]) -> str:
    out = [
        "Sentence splitter on text with known boundaries:",
        "",
        "| text | gold boundaries | precision | recall | F1 | sentences recovered exactly |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    n_titles = r["tatoeba"]["with_titles"]
    for name, label in (
        (
            "tatoeba",
            f"Tatoeba English, 20,000 one-sentence items ({n_titles} with Mr./Mrs./Ms./Dr.) in paragraphs of 5",
        ),
        ("opinosis", "Opinosis reviews (26 topics, lines joined)"),
    ):
        x = r[name]
        out.append(
            f"| {label} | {x['boundaries']:,} | {x['precision']:.4f} | {x['recall']:.4f} | {x['f1']:.4f} "
            f"| {x['sentences_exact']:.4f} of {x['sentences']:,} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SEQTOOL_DATA", ROOT.parent / "shared" / "data")),
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--parts", default="opinosis,scale,splitter")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--cap", type=float, default=150.0, help="seconds per run in the scale part")
    ap.add_argument("--sizes", default="2000,8000,30000")
    ap.add_argument("--peers-at", default="2000,30000")
    args = ap.parse_args()
    parts = args.parts.split(",")
    report = [
        f"CPU: {cpu()}, {os.cpu_count()} cores; python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    raw: dict[str, Any] = {}
    if "opinosis" in parts:
        raw["opinosis"] = part_opinosis(args.data, args.seeds)
        report += [table_opinosis(raw["opinosis"]), ""]
    if "splitter" in parts:
        raw["splitter"] = part_splitter(args.data)
        report += [table_splitter(raw["splitter"]), ""]
    if "scale" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            sizes = [int(x) for x in args.sizes.split(",")]
            peers = [int(x) for x in args.peers_at.split(",") if x]
            raw["scale"] = part_scale(args.data, sizes, args.cap, peers, Path(tmp))
        report += [table_scale(raw["scale"], args.cap), ""]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps(raw, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
