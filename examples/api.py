"""seqtool as a library: the whole tour, without the command line.

Run it from a checkout: ``python examples/api.py`` (it uses only the small samples
bundled with seqtool; about 30 s of CPU). The language model and the translator
train for a few dozen steps only: enough to show every call, not to be good. Every step is one
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


def language_model(book: Path, out: Path) -> None:
    config = seqtool.LMConfig(files=[str(book)], model="lstm", hidden=64, embed=32, seq_len=32)
    first = seqtool.TrainOptions(max_steps=30, eval_every=30, seed=0, device="cpu", threads=1)
    seqtool.train_lm(config, first, out / "lm.pt")  # also writes the resumable lm.last.pt
    more = seqtool.TrainOptions(resume=out / "lm.last.pt", max_steps=60, device="cpu", threads=1)
    lm = seqtool.train_lm(config, more, out / "lm.pt")  # continues from step 30
    assert lm.run is not None and lm.run.result.steps == 60
    again = seqtool.LanguageModel.load(out / "lm.pt")
    sample = again.generate(["The "], max_tokens=40, seed=0)[0][0]
    print(f"char LSTM after 60 steps: valid ppl {again.perplexity(['the time machine']).ppl:.1f}")
    print(f"  sample: {sample!r}")
    scores = again.score_lines(["the cat sat on the mat", "tam eht no tas tac eht"])
    print(f"  log-prob, a sentence vs its mirror image: {scores[0][0]:.1f} vs {scores[1][0]:.1f}")


def translator(pairs: Path, out: Path) -> None:
    config = seqtool.MTConfig(
        pairs=str(pairs), model="gru-attn", tokenizer="word", embed=32, hidden=32,
        bidirectional=False, valid_size=10, max_tokens=400,
    )  # fmt: skip
    options = seqtool.TrainOptions(max_steps=40, eval_every=40, seed=0, device="cpu", threads=1)
    mt = seqtool.train_mt(config, options, out / "mt.pt")
    rows = [line.split("\t") for line in pairs.read_text(encoding="utf-8").splitlines()[:10]]
    hyps = [nbest[0].text for nbest in mt.translate([en for en, _ in rows], beam=4)]
    print(f"translator: {hyps[0]!r} for {rows[0][0]!r}")
    print("  training-set BLEU (beam 4):", seqtool.bleu(hyps, [fr for _, fr in rows]).text())


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
        language_model(book, out)
        translator(pairs, out)


if __name__ == "__main__":
    main()
