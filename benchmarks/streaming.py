"""Peak memory of `seqtool ngrams` as the corpus grows to 1 GB.

seqtool streams its input in chunks and keeps only the table of distinct
n-grams, so its peak memory should follow the number of distinct n-grams, not
the size of the corpus.  This script shows it on two generated corpora, each
measured at 125, 250, 500 and 1,000 MB (prefixes of one file, cut at a line end):

  text   The Penn Treebank training text and The Time Machine, repeated: the
         distinct n-grams stop growing after the first 5 MB, so memory must stay flat.
  zipf   Words sampled from a Zipf(1) distribution over 1,000,000 word types
         (as benchmarks/ngrams.py builds it): distinct unigrams are capped by the
         vocabulary, distinct bigrams keep growing with the corpus.

Every run writes all counts (`--top 0`) to /dev/null; peak memory is the
resident set size of the whole process tree, sampled every 20 ms.

    python benchmarks/streaming.py                         # everything (~15 minutes, 4 GB of disk)
    python benchmarks/streaming.py --corpora text --orders 1,2,3 --sizes 1000
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ngrams import MB, SHARED, WORK, build_zipf, measure  # noqa: E402

SIZES = (125, 250, 500, 1000)


def build_text(size_mb: int) -> Path:
    """PTB train + The Time Machine, repeated to ``size_mb`` MB."""
    out = WORK / f"text{size_mb}.txt"
    if not out.exists():
        unit = (SHARED / "ptb" / "ptb.train.txt").read_bytes() + (
            SHARED / "timemachine.txt"
        ).read_bytes()
        reps = size_mb * 1_000_000 // len(unit) + 1
        with open(out, "wb") as f:
            for _ in range(reps):
                f.write(unit)
    return out


def prefix(source: Path, name: str, size_mb: int) -> Path:
    """The first ``size_mb`` MB of ``source`` cut after a line end (the whole file when smaller)."""
    out = WORK / f"{name}-{size_mb}mb.txt"
    if out.exists():
        return out
    limit = size_mb * 1_000_000
    with open(source, "rb") as src, open(out, "wb") as dst:
        left = limit
        while left > 0:
            block = src.read(min(left, 16 * MB))
            if not block:
                break
            left -= len(block)
            if left <= 0:
                block = block[: block.rfind(b"\n") + 1]
            dst.write(block)
    return out


BUILDERS = {"text": build_text, "zipf": build_zipf}
SUMMARY = re.compile(r"([\d,]+) tokens.*?(\d)-grams ([\d,]+) distinct")


def run(corpora: list[str], sizes: list[int], orders: list[int]) -> list[dict]:
    WORK.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("seqtool") or str(Path(sys.executable).parent / "seqtool")
    rows = []
    for name in corpora:
        print(f"building the {max(sizes)} MB {name} corpus ...", file=sys.stderr)
        full = BUILDERS[name](max(sizes))
        for size in sizes:
            path = full if size == max(sizes) else prefix(full, name, size)
            for n in orders:
                err = WORK / "streaming.stderr"
                cmd = ["bash", "-c", f"{exe} ngrams {path} -n {n} --top 0 > /dev/null 2> {err}"]
                wall, peak, rc = measure(cmd)
                m = SUMMARY.search(err.read_text(encoding="utf-8"))
                if rc or not m:
                    print(f"  ! {name} {size} MB n={n} failed: {err.read_text()[-300:]}")
                    continue
                row = {
                    "corpus": name,
                    "mb": round(path.stat().st_size / 1e6),
                    "n": n,
                    "tokens": int(m.group(1).replace(",", "")),
                    "distinct": int(m.group(3).replace(",", "")),
                    "wall_s": round(wall, 1),
                    "peak_mb": round(peak),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    out = [
        "| corpus | size (MB) | n | tokens | distinct n-grams | wall (s) | MB/s | peak memory (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["corpus"], r["n"], r["mb"])):
        out.append(
            f"| {r['corpus']} | {r['mb']:,} | {r['n']} | {r['tokens']:,} | {r['distinct']:,} "
            f"| {r['wall_s']} | {r['mb'] / max(r['wall_s'], 1e-9):.0f} | {r['peak_mb']:,} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="text,zipf")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="MB, comma-separated")
    ap.add_argument("--orders", default="1,2")
    ap.add_argument("--json", type=Path, help="Also write the rows as JSON here.")
    a = ap.parse_args()
    sizes = sorted(int(s) for s in a.sizes.split(","))
    started = time.strftime("%Y-%m-%d %H:%M")
    rows = run(a.corpora.split(","), sizes, [int(n) for n in a.orders.split(",")])
    print(f"\nseqtool ngrams, all counts written; {started}\n")
    print(table(rows))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
