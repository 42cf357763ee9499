"""seqtool as a library: the whole tour, without the command line.

Run it from a checkout: ``python examples/api.py`` (it uses only the small samples
bundled with seqtool, and takes a few seconds on a laptop CPU). Every step is one
call into the library; nothing here imports typer or rich.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import seqtool


def ngrams_and_zipf(book: Path) -> None:
    counts = seqtool.count_ngrams(book, seqtool.NgramConfig(orders=(1, 2)))
    print("most frequent words:", counts.top(1, 5))
    print("most frequent bigrams:", counts.top(2, 3))
    analysis = seqtool.analyze_zipf([book], seqtool.ZipfConfig(orders=(1,)))
    report = analysis.reports[0]
    print(
        f"Zipf exponent s = {report.zipf.s:.3f} over {report.types:,} word types; "
        f"power law alpha = {report.power_law.alpha:.2f} from x_min = {report.power_law.xmin}"
    )


def vocabulary(book: Path) -> seqtool.Vocab:
    lines = book.read_text(encoding="utf-8").splitlines()
    vocab = seqtool.Vocab.build(lines[:300], kind="word", min_freq=2)
    cover = vocab.coverage(lines[300:])  # how much of the rest of the book it knows
    print(f"vocabulary: {len(vocab):,} entries; covers {cover.coverage:.1%} of held-out text")
    return vocab


def word_vectors(book: Path, out: Path) -> None:
    lines = book.read_text(encoding="utf-8").splitlines()
    config = seqtool.Word2VecConfig(
        dim=50, epochs=30, sample=1e-4, batch_size=64, min_count=3, threads=1, seed=0
    )
    result = seqtool.train_word2vec(
        lines, config, normalizer=seqtool.Normalizer.make("d2l"), checkpoint=out / "w2v.last.pt"
    )
    vectors = result.vectors
    vectors.save(out / "vectors.txt")
    word = "time" if "time" in vectors else vectors.words[0]
    near = ", ".join(w for w, _ in vectors.most_similar([word], top=5))
    print(f"word2vec: {len(vectors):,} words, {result.train.seconds:.1f} s; near {word!r}: {near}")
    again = seqtool.WordVectors.load(out / "vectors.txt")  # word2vec text format, gensim reads it
    assert again.words == vectors.words


def bleu_of_a_baseline(pairs: Path) -> None:
    rows = [line.split("\t") for line in pairs.read_text(encoding="utf-8").splitlines()]
    refs = [fr for _, fr in rows[:100]]
    hyps = [" ".join(fr.split()[:-1]) for fr in refs]  # each reference, last word dropped
    print("BLEU of a truncated copy:", seqtool.bleu(hyps, refs).text())
    print("chrF of the same:", seqtool.chrf(hyps, refs).text())


def main() -> None:
    book = seqtool.sample_path("english.txt")
    pairs = seqtool.sample_path("en-fr.tsv")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        ngrams_and_zipf(book)
        vocabulary(book)
        word_vectors(book, out)
        bleu_of_a_baseline(pairs)


if __name__ == "__main__":
    main()
