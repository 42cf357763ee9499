"""Benchmark `seqtool ngrams` against NLTK, a collections.Counter script and
`LC_ALL=C tr | sort | uniq -c` (and IRSTLM's `ngt` when installed).

Every tool counts the n-grams (n = 1, 2, 3) of the same normalised word stream
(the whole text is one sequence) and writes *all* counts to a file: seqtool's
default ``letters`` rule (runs of non-letters -> one space, lowercase), which on
ASCII text is the d2l rule the peers implement.  On the UTF-8 corpora the Python
peers implement ``letters`` independently (NFC, runs of Unicode letters,
lowercase); ``LC_ALL=C tr | sort | uniq -c`` works on bytes (every byte >= 0x80
counts as a letter, so curly quotes stick to words and É is not lowercased): it
is timed but its counts are not compared there.  Runs are interleaved (each
repetition runs every tool once, in a shuffled order) and the table reports
medians of wall time and of peak memory, the resident set size summed over the
whole process tree (pipelines, worker processes), sampled every 20 ms.  The
first repetition checks that every tool produced the same counts.

Corpora (built under benchmarks/work/, which git ignores):
  tm10, tm100   The Time Machine repeated to 10 MB / 100 MB: distinct n-grams stay fixed;
  zipf100       100 MB sampled from a Zipf(1) distribution over 1,000,000 words,
                where distinct n-grams grow with size as in real corpora;
  fr10          real UTF-8 text: the French side of fra-eng.zip (Tatoeba; accents,
                curly quotes, guillemets, narrow no-break spaces), repeated to 10 MB;
  de10          the German side of Multi30k train (umlauts, ß), repeated to 10 MB;
  novel10       prose as a UTF-8 novel is set (War and Peace in Project Gutenberg's
                UTF-8 edition): The Time Machine with curly quotes and apostrophes and
                em dashes, and after every other paragraph a few French sentences of
                fra-eng as dialogue (War and Peace has its French passages), repeated
                to 10 MB: 29% of its lines hold a non-ASCII character, 1% of its words;
  fr10a, de10a, novel10a  the same texts transliterated to ASCII (accents dropped,
                quotes straightened): the UTF-8 cost is the time of fr10 over fr10a.

``--normalize none`` counts whitespace-separated tokens as they are instead of
the ``letters`` rule: seqtool ``--normalize none``, ``str.split`` in the Python
peers, and ``tr -s`` of ASCII white space to line breaks in the ``sort`` pipeline
(``ngt`` is skipped).

    python benchmarks/ngrams.py                       # everything (long)
    python benchmarks/ngrams.py --corpora tm10 --reps 5
    python benchmarks/ngrams.py --corpora fr10,fr10a --tools seqtool,sort --base /work/main
    python benchmarks/ngrams.py --corpora novel10,novel10a --tools seqtool,sort --normalize none
    python benchmarks/ngrams.py --peer counter FILE N OUT   # one peer run (used internally)

The tool ``seqtool-cpu`` is the library call behind ``seqtool ngrams`` in a
process of its own, reporting the CPU seconds of counting alone (``counting``
column): on a machine shared with other jobs the fairest figure for the cost of
UTF-8 text (the ``UTF-8 / ASCII`` table below the main one).

``--base DIR`` adds the tools ``seqtool@base`` (and ``seqtool-cpu@base``): the same
commands with another checkout of seqtool on PYTHONPATH, interleaved with the others
(before/after).  Compile both checkouts first (``python -m compileall -q DIR/seqtool``)
where ``PYTHONDONTWRITEBYTECODE`` is set: an installed package has its bytecode, and
compiling seqtool's modules at every start adds 0.05-0.1 s to every run.

Needs: pip install nltk; optional: apt-get install irstlm (ngt).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
SHARED = Path(
    os.environ.get("SEQTOOL_SHARED_DATA")
    or os.environ.get("SEQTOOL_DATA")
    or ROOT.parents[1] / "shared" / "data"
)
NGT = shutil.which("ngt") or "/usr/lib/irstlm/bin/ngt"
MB = 1 << 20


# ---------------------------------------------------------------- corpora
def build_repeated(size_mb: int) -> Path:
    out = WORK / f"tm{size_mb}.txt"
    if not out.exists():
        text = (SHARED / "timemachine.txt").read_bytes()
        reps = size_mb * 1_000_000 // len(text) + 1
        out.write_bytes(text * reps)
    return out


def _word(i: int) -> str:
    """The i-th word of the synthetic vocabulary: base-26 letters, shorter for frequent ranks."""
    letters = []
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        letters.append(chr(97 + r))
    return "".join(reversed(letters))


def build_zipf(size_mb: int, vocab: int = 1_000_000, s: float = 1.0, seed: int = 0) -> Path:
    import numpy as np

    out = WORK / f"zipf{size_mb}.txt"
    if out.exists():
        return out
    rng = np.random.default_rng(seed)
    words = np.array([_word(i) for i in range(vocab)], dtype=object)
    cdf = np.cumsum(np.arange(1, vocab + 1, dtype=float) ** -s)
    cdf /= cdf[-1]
    target = size_mb * 1_000_000
    written = 0
    with open(out, "w", encoding="ascii") as f:
        while written < target:
            ranks = np.searchsorted(cdf, rng.random(1_000_000))
            toks = words[ranks]
            lines = [" ".join(toks[i : i + 15]) for i in range(0, len(toks), 15)]
            block = "\n".join(lines) + "\n"
            f.write(block)
            written += len(block)
    return out


def _french() -> str:
    import zipfile

    with zipfile.ZipFile(SHARED / "fra-eng.zip") as z:
        pairs = z.read("fra-eng/fra.txt").decode("utf-8")
    return "".join(ln.partition("\t")[2] + "\n" for ln in pairs.splitlines())


def _german() -> str:
    import gzip

    return gzip.decompress((SHARED / "multi30k" / "train.de.gz").read_bytes()).decode("utf-8")


def _typographic(text: str) -> str:
    """Straight quotes and double hyphens as a typeset UTF-8 book has them."""
    text = text.replace("--", "\u2014")
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)  # apostrophes
    text = re.sub(r"(^|[\s(\u2014])['\"]", "\\1\u201c", text)  # opening quotes
    return text.replace("'", "\u201d").replace('"', "\u201d")  # the rest close


def _novel() -> str:
    """The Time Machine set as a UTF-8 novel, with French dialogue from fra-eng."""
    import textwrap
    import zipfile

    book = (SHARED / "timemachine.txt").read_text(encoding="utf-8")
    with zipfile.ZipFile(SHARED / "fra-eng.zip") as z:
        pairs = z.read("fra-eng/fra.txt").decode("utf-8").splitlines()
    french = [s for s in (ln.partition("\t")[2] for ln in pairs) if len(s) > 40]
    out: list[str] = []
    for i, para in enumerate(p for p in re.split(r"\n\s*\n", _typographic(book)) if p.strip()):
        out.append(para.strip())
        if i % 2:
            said = " ".join(french[3 * (i // 2) : 3 * (i // 2) + 3])
            out.append("\n".join(textwrap.wrap(f"\u201c{said}\u201d said he in French.", 70)))
    return "\n\n".join(out) + "\n"


_ASCII = {"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "—": "-", "–": "-",
          "…": "...", "œ": "oe", "Œ": "OE", "æ": "ae", "ß": "ss", "ẞ": "SS"}  # fmt: skip


def transliterate(text: str) -> str:
    """ASCII with the same words: accents dropped, quotes and spaces made ASCII."""
    import unicodedata

    text = "".join(_ASCII.get(c, " " if unicodedata.category(c) == "Zs" else c) for c in text)
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii())


def build_utf8(name: str, size_mb: int, ascii_copy: bool) -> Path:
    out = WORK / f"{name}{size_mb}{'a' if ascii_copy else ''}.txt"
    if not out.exists():
        text = {"fr": _french, "de": _german, "novel": _novel}[name]()
        text = transliterate(text) if ascii_copy else text
        reps = size_mb * 1_000_000 // len(text.encode("utf-8")) + 1
        out.write_text(text * reps, encoding="utf-8")
    return out


CORPORA = {
    "tm10": lambda: build_repeated(10),
    "tm100": lambda: build_repeated(100),
    "zipf100": lambda: build_zipf(100),
    "fr10": lambda: build_utf8("fr", 10, False),
    "fr10a": lambda: build_utf8("fr", 10, True),
    "de10": lambda: build_utf8("de", 10, False),
    "de10a": lambda: build_utf8("de", 10, True),
    "novel10": lambda: build_utf8("novel", 10, False),
    "novel10a": lambda: build_utf8("novel", 10, True),
}
UTF8 = {"fr10", "de10", "novel10"}


# ---------------------------------------------------------------- peers
def _d2l_tokens(path: str, normalize: str = "letters") -> list[str]:
    import re

    with open(path, encoding="utf-8") as f:
        text = f.read()
    if normalize == "none":
        return text.split()
    if text.isascii():
        return re.sub("[^A-Za-z]+", " ", text).lower().split()
    import unicodedata

    # letters: NFC, runs of Unicode letters (not digits or _), lowercase
    return re.findall(r"[^\W\d_]+", unicodedata.normalize("NFC", text).lower())


def peer_counter(path: str, n: int, out: str, normalize: str = "letters") -> None:
    from collections import Counter

    toks = _d2l_tokens(path, normalize)
    counts = Counter(toks) if n == 1 else Counter(zip(*(toks[i:] for i in range(n))))
    with open(out, "w", encoding="utf-8") as f:
        for k, v in counts.most_common():
            f.write(f"{k if n == 1 else '--'.join(k)}\t{v}\n")


def peer_nltk(path: str, n: int, out: str, normalize: str = "letters") -> None:
    from nltk import FreqDist, ngrams

    toks = _d2l_tokens(path, normalize)
    fd = FreqDist(ngrams(toks, n))
    with open(out, "w", encoding="utf-8") as f:
        for k, v in fd.most_common():
            f.write(f"{'--'.join(k)}\t{v}\n")


def command(
    tool: str, corpus: Path, n: int, out: Path, base: str = "", normalize: str = "letters"
) -> list[str] | None:
    py = sys.executable
    if tool in ("seqtool", "seqtool@base"):
        exe = shutil.which("seqtool") or f"{Path(py).parent}/seqtool"
        env = f"PYTHONPATH={base} " if tool == "seqtool@base" else ""
        norm = f" --normalize {normalize}" if normalize != "letters" else ""
        return ["bash", "-c", f"{env}{exe} ngrams {corpus} -n {n} --top 0{norm} > {out}"]
    if tool in ("counter", "nltk"):
        return [py, __file__, "--peer", tool, str(corpus), str(n), str(out), normalize]
    if tool in ("seqtool-cpu", "seqtool-cpu@base"):
        env = ["env", f"PYTHONPATH={base}"] if tool == "seqtool-cpu@base" else []
        return [*env, py, __file__, "--count-cpu", str(corpus), str(n), str(out), normalize]
    if tool == "sort":
        words = f"{out}.words"
        letters = "A-Za-z\\200-\\377" if corpus.stem in UTF8 else "A-Za-z"
        tok = f"tr -cs '{letters}' '\\n' < {corpus} | tr 'A-Z' 'a-z'"
        if normalize == "none":  # white space (ASCII only: bytes) to line breaks
            tok = f"tr -s '[:space:]' '\\n' < {corpus}"
        if n == 1:
            script = f"{tok} | sort | uniq -c > {out}"
        else:
            cols = " ".join(f"<(tail -n +{k + 1} {words})" for k in range(1, n))
            script = (
                f"{tok} > {words}; paste -d ' ' {words} {cols} | head -n -{n - 1} "
                f"| sort | uniq -c > {out}; rm -f {words}"
            )
        return ["bash", "-c", f"export LC_ALL=C; {script}"]
    if tool == "ngt":
        if not Path(NGT).exists() or normalize == "none":
            return None
        words = WORK / f"{corpus.stem}.d2l.txt"  # tokenised beforehand: ngt counts only
        if not words.exists():
            subprocess.run(
                ["bash", "-c", f"LC_ALL=C tr -cs 'A-Za-z\\n' ' ' < {corpus} | tr 'A-Z' 'a-z' > {words}"],
                check=True,
            )  # fmt: skip
        return [NGT, f"-i={words}", f"-n={n}", f"-o={out}", "-gooout=yes"]
    raise ValueError(tool)


def count_cpu(path: str, n: int, out: str, normalize: str) -> None:
    """The tool ``seqtool-cpu``: the library call behind ``seqtool ngrams`` (counting
    only), timed in CPU seconds of this process, which other jobs on a busy machine
    inflate far less than wall time; reported as seqtool reports its counting time."""
    from seqtool.stats.counting import NgramConfig, count_ngrams

    start = time.process_time()
    counts = count_ngrams(path, NgramConfig(orders=(n,), normalize=normalize))
    seconds = time.process_time() - start
    with open(out, "wb") as f:
        for block in counts.tsv_blocks(n):
            f.write(block)
    print(f"counted in {seconds:.3f} s", file=sys.stderr)


# ---------------------------------------------------------------- measuring
def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def measure(cmd: list[str]) -> tuple[float, float, int, float, float]:
    """(wall seconds, peak tree RSS in MB, exit code, counting seconds, CPU seconds) of
    one run.  The counting time is the one seqtool's summary line reports (nan for the
    peers); CPU is user + system time of the whole process tree, which a loaded machine
    inflates far less than wall time (and which does not favour pipelines of several
    processes, which get more of a busy machine's time slices)."""
    peak = 0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.02)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    done.set()
    t.join()
    if proc.returncode:
        print(f"  ! {' '.join(cmd)[:120]} failed: {err.decode()[-300:]}", file=sys.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    found = re.search(rb" in (\d+\.\d+) s\n", err)
    counting = float(found[1]) if found else float("nan")
    return wall, peak / MB, proc.returncode, counting, cpu


# ---------------------------------------------------------------- agreement
def read_counts(tool: str, path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if tool == "sort":
                count, _, gram = line.strip().partition(" ")
                out[gram.replace(" ", "--")] = int(count)
            else:
                gram, _, count = line.rstrip("\n").rpartition("\t")
                out[gram] = int(count)
    return out


def summary(tool: str, path: Path) -> tuple[int, int, int]:
    """(distinct, total, largest count) without holding the counts."""
    distinct = total = largest = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            c = int(line.split()[0] if tool == "sort" else line.rpartition("\t")[2])
            distinct += 1
            total += c
            largest = max(largest, c)
    return distinct, total, largest


def agree(outputs: dict[str, Path], utf8: bool = False) -> str:
    skip = {"ngt", "sort"} if utf8 else {"ngt"}  # sort: byte tokens on UTF-8 text
    comparable = {t: p for t, p in outputs.items() if t not in skip and p.exists()}
    if not comparable:
        return "n/a"
    if max(p.stat().st_size for p in comparable.values()) < 64 * MB:
        got = {t: read_counts(t, p) for t, p in comparable.items()}
        ref = got.get("seqtool")
        same = all(g == ref for g in got.values())
        return (
            "all counts equal"
            if same
            else "DIFFER: " + ", ".join(t for t, g in got.items() if g != ref)
        )
    sums = {t: summary(t, p) for t, p in comparable.items()}
    ref = sums.get("seqtool")
    same = all(s == ref for s in sums.values())
    return "distinct/total/max equal" if same else f"DIFFER: {sums}"


# ---------------------------------------------------------------- main
def run(
    corpora: list[str],
    orders: list[int],
    tools: list[str],
    reps: int,
    base: str = "",
    normalize: str = "letters",
) -> list[dict]:
    WORK.mkdir(exist_ok=True)
    outdir = WORK / "out"
    outdir.mkdir(exist_ok=True)
    paths = {c: CORPORA[c]() for c in corpora}
    results: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    checks: dict[tuple[str, int], str] = {}
    rng = random.Random(0)
    for rep in range(reps):
        for c in corpora:
            for n in orders:
                order = tools[:]
                rng.shuffle(order)
                outputs = {}
                for tool in order:
                    out = outdir / f"{tool}.{c}.{n}.txt"
                    cmd = command(tool, paths[c], n, out, base, normalize)
                    if cmd is None:
                        continue
                    wall, peak, code, counting, cpu = measure(cmd)
                    load = os.getloadavg()[0]
                    if code == 0:
                        results.setdefault((c, n, tool), []).append(
                            (wall, peak, load, counting, cpu)
                        )
                        outputs[tool] = out
                    print(f"rep {rep + 1} {c} n={n} {tool:12s} {wall:7.2f} s {peak:8.0f} MB "
                          f"load {load:.2f}", file=sys.stderr, flush=True)  # fmt: skip
                if rep == 0:
                    checks[(c, n)] = agree(outputs, c in UTF8)
                    print(f"  check {c} n={n}: {checks[(c, n)]}", file=sys.stderr, flush=True)
                for p in outputs.values():
                    p.unlink(missing_ok=True)
    rows = []
    for (c, n, tool), runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        peak = statistics.median(r[1] for r in runs)
        load = statistics.mean(r[2] for r in runs)
        counting = statistics.median(r[3] for r in runs)
        cpu = statistics.median(r[4] for r in runs)
        rows.append({"corpus": c, "n": n, "tool": tool, "wall_s": wall, "peak_mb": peak,
                     "runs": len(runs), "load": load, "counting_s": counting, "cpu_s": cpu, "check": "byte tokens: not compared" if tool == "sort" and c in UTF8
                     else checks.get((c, n), "")})  # fmt: skip
    return rows


def table(rows: list[dict]) -> str:
    base = {(r["corpus"], r["n"]): r for r in rows if r["tool"] == "seqtool"}
    lines = [
        "| corpus | n | tool | wall (s) | CPU (s) | counting (s) | peak memory (MB) "
        "| wall / seqtool | CPU / seqtool | load | counts |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["corpus"], r["n"], r["wall_s"])):
        b = base.get((r["corpus"], r["n"]))
        ratio = f"{r['wall_s'] / b['wall_s']:.1f}x" if b else ""
        cpu_ratio = f"{r['cpu_s'] / b['cpu_s']:.1f}x" if b and b["cpu_s"] else ""
        lines.append(
            f"| {r['corpus']} | {r['n']} | {r['tool']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
            f"{_secs(r['counting_s'])} | {r['peak_mb']:.0f} | {ratio} | {cpu_ratio} | "
            f"{r['load']:.1f} | {r['check']} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--peer":
        tool, path, n, out = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
        {"counter": peer_counter, "nltk": peer_nltk}[tool](path, n, out, *sys.argv[6:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--count-cpu":
        count_cpu(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="tm10,tm100,zipf100")
    ap.add_argument("--orders", default="1,2,3")
    ap.add_argument("--tools", default="seqtool,sort,counter,nltk,ngt")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    ap.add_argument("--base", default="", help="Also time seqtool from this checkout.")
    ap.add_argument("--normalize", default="letters", choices=("letters", "none"))
    a = ap.parse_args()
    at_base = [f"{t}@base" for t in ("seqtool", "seqtool-cpu") if t in a.tools.split(",")]
    tools = a.tools.split(",") + (at_base if a.base else [])
    orders = [int(x) for x in a.orders.split(",")]
    rows = run(a.corpora.split(","), orders, tools, a.reps, a.base, a.normalize)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    print(f"CPU: {_cpu()}; load average (1 min) at the end: {os.getloadavg()[0]:.2f}; "
          f"normaliser: {a.normalize}")  # fmt: skip
    print(table(rows))
    pairs = utf8_cost(rows)
    if pairs:
        print()
        print(pairs)


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def _secs(x: float) -> str:
    return "" if x != x else f"{x:.2f}"  # nan: not reported


def utf8_cost(rows: list[dict]) -> str:
    """Time on each UTF-8 corpus over time on its ASCII transliteration, per tool and n:
    CPU seconds, and for seqtool also the counting time its summary line reports."""
    by = {(r["corpus"], r["n"], r["tool"]): r for r in rows}
    lines = [
        "| corpus | n | tool | CPU UTF-8 / ASCII (s) | ratio | counting UTF-8 / ASCII (s) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    found = False
    for (c, n, tool), r in sorted(by.items()):
        a = by.get((c + "a", n, tool))
        if c not in UTF8 or a is None:
            continue
        found = True
        counting = ""
        if r["counting_s"] == r["counting_s"]:  # not nan
            counting = (f"{r['counting_s']:.2f} / {a['counting_s']:.2f} | "
                        f"{r['counting_s'] / a['counting_s']:.2f}x")  # fmt: skip
        lines.append(f"| {c} | {n} | {tool} | {r['cpu_s']:.2f} / {a['cpu_s']:.2f} | "
                     f"{r['cpu_s'] / a['cpu_s']:.2f}x | {counting or ' | '} |")  # fmt: skip
    return "\n".join(lines) if found else ""


if __name__ == "__main__":
    main()
