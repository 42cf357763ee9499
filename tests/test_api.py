"""The public API, feature by feature, and the CLI giving the same answers (sqlite-utils way)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import seqtool
from conftest import TINY, assert_one_line_error


@pytest.fixture
def book(tmp_path: Path) -> Path:
    p = tmp_path / "book.txt"
    p.write_text(seqtool.sample_path("english.txt").read_text(encoding="utf-8"), "utf-8")
    return p


def test_every_public_name_resolves() -> None:
    for name in seqtool.__all__:
        assert getattr(seqtool, name) is not None, name
    with pytest.raises(AttributeError):
        seqtool.no_such_thing  # noqa: B018


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_import_lets_idle_openmp_threads_sleep(given: str | None, expected: str) -> None:
    """Importing seqtool before torch picks the passive OpenMP policy (training on a
    loaded machine is 10x faster with it); a policy the user set is kept."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, seqtool; print(os.environ['OMP_WAIT_POLICY'])"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.stdout.strip() == expected, run.stderr


# ---------------------------------------------------------------------- n-grams
def test_count_ngrams_api(tiny: Path) -> None:
    counts = seqtool.count_ngrams(tiny, seqtool.NgramConfig(orders=(1, 2)))
    assert counts.top(1, 2) == [("the", 5), ("a", 2)]  # equal counts: code-point order
    assert counts.top(2, 1) == [("on--the", 2)]
    assert counts.n_tokens == 18


def test_count_ngrams_api_and_cli_agree(cli, tiny: Path) -> None:
    counts = seqtool.count_ngrams([tiny], seqtool.NgramConfig(orders=(2,), per_line=True))
    run = cli("ngrams", tiny, "-n", "2", "--per-line", "--top", "0", "-f", "tsv")
    assert run.exit_code == 0, run.stderr
    rows = [line.split("\t") for line in run.stdout.splitlines()]
    assert [(g, int(c)) for g, c in rows] == counts.top(2, counts.distinct(2))


@pytest.mark.parametrize(
    ("config", "api_message", "cli_args", "cli_message"),
    [
        (
            seqtool.NgramConfig(orders=(7,), per_line=True),
            "`orders` 7: no line of tiny.txt has 7 tokens (`per_line`)",
            ["-n", "7", "--per-line"],
            "-n 7: no line of tiny.txt has 7 tokens (--per-line)",
        ),
        (
            seqtool.NgramConfig(workers=-1),
            "`workers` must be 0 (automatic) or more, not -1",
            ["--workers", "-1"],
            "--workers must be 0 (automatic) or more, not -1",
        ),
    ],
)
def test_count_ngrams_errors_name_parameters_and_the_cli_names_flags(
    cli, tiny: Path, config, api_message: str, cli_args: list[str], cli_message: str
) -> None:
    with pytest.raises(seqtool.UsageError) as e:
        seqtool.count_ngrams(tiny, config)
    message = e.value.message.replace(str(tiny), "tiny.txt")
    assert api_message in message
    run = cli("ngrams", tiny, *cli_args)
    assert_one_line_error(run, 2)
    assert f"seqtool: error: {cli_message}" in run.stderr.replace(str(tiny), "tiny.txt")


def test_merge_saved_api(tmp_path: Path, tiny: Path) -> None:
    counts = seqtool.count_ngrams(tiny)
    counts.save(tmp_path / "a.npz")
    counts.save(tmp_path / "b.npz")
    merged = seqtool.merge_saved([tmp_path / "a.npz", tmp_path / "b.npz"])
    assert merged.top(1, 1) == [("the", 10)]
    with pytest.raises(seqtool.UsageError, match="`orders` 2: not in the saved counts"):
        seqtool.merge_saved([tmp_path / "a.npz"], orders=[2])


# ---------------------------------------------------------------------- Zipf
def test_zipf_report_is_a_typed_record(book: Path) -> None:
    analysis = seqtool.analyze_zipf([book], seqtool.ZipfConfig(orders=(1, 2)))
    assert [r.data for r in analysis.reports] == ["1-grams", "2-grams"]
    first = analysis.reports[0]
    assert isinstance(first.zipf, seqtool.ZipfFit)
    assert isinstance(first.power_law, seqtool.PowerLawFit)
    assert first.types == len(analysis.series[0][1]) and first.heaps is not None
    assert first.zipf.ls_ranks[0] == 1 and first.zipf.ls_ranks[1] <= first.types
    assert first.signature.startswith("data:1-grams|fit:discrete-mle|xmin:auto|boot:0|seed:0")


def test_zipf_api_and_cli_agree(cli, book: Path) -> None:
    report = seqtool.analyze_zipf([book], seqtool.ZipfConfig(xmin=3)).reports[0]
    run = cli("zipf", book, "--xmin", "3", "-f", "json")
    assert run.exit_code == 0, run.stderr
    printed = json.loads(run.stdout)
    printed = printed[0] if isinstance(printed, list) else printed
    assert printed == json.loads(json.dumps(report.record()))


def test_zipf_of_a_frequency_list_and_of_counts(tmp_path: Path) -> None:
    freqs = tmp_path / "f.txt"
    freqs.write_text("\n".join(str(c) for c in [40, 20, 13, 10, 8, 6, 5, 5, 4, 3, 2, 1]) + "\n")
    analysis = seqtool.analyze_zipf(counts=freqs)
    assert analysis.reports[0].tokens == 117 and analysis.reports[0].heaps is None
    direct = seqtool.zipf_report(np.array([40, 20, 13, 10, 8, 6, 5, 5, 4, 3, 2, 1]), "counts")
    assert direct.record() == analysis.reports[0].record()
    with pytest.raises(seqtool.UsageError, match="`orders` need text input"):
        seqtool.analyze_zipf(counts=freqs, config=seqtool.ZipfConfig(orders=(2,)))


def test_zipf_plot_draws_from_the_record(cli, book: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "z.png"
    run = cli("zipf", book, "-n", "1", "-n", "2", "--plot", png, "-q")
    assert run.exit_code == 0, run.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- vocabulary
@pytest.mark.parametrize("split", ["none", "char", "word"])
def test_preprocessor_api_and_cli_agree(cli, tiny: Path, split: str) -> None:
    clean = seqtool.preprocessor(seqtool.Normalizer.make("d2l"), split)
    run = cli("preprocess", tiny, "--normalize", "d2l", "--tokenize", split)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [clean(line) for line in TINY.splitlines()]
    with pytest.raises(seqtool.UsageError, match="`tokenize` must be none, char, word"):
        seqtool.preprocessor(seqtool.Normalizer.make("d2l"), "bpe")


def test_vocabulary_coverage_api_and_cli_agree(cli, tiny: Path, tmp_path: Path) -> None:
    vocab = seqtool.Vocab.build(["the cat sat", "the dog"], kind="word")
    vocab.save(tmp_path / "v.json")
    cov = vocab.coverage(TINY.splitlines())
    assert (cov.tokens, cov.oov_tokens, cov.oov_types) == (18, 7, 5)  # on mat log a end
    assert vocab.most_frequent(1) == [(4, "the", 2)]
    run = cli("vocab", "show", tmp_path / "v.json", "--corpus", tiny, "-f", "json")
    shown = json.loads(run.stdout)
    assert shown["corpus_tokens"] == cov.tokens and shown["oov_types"] == cov.oov_types
    assert shown["coverage"] == round(cov.coverage, 6)


def test_vocabulary_errors_name_parameters_and_the_cli_names_flags(cli, tiny: Path) -> None:
    with pytest.raises(seqtool.UsageError, match=r"^`top` must be 0 or more, not -1$"):
        seqtool.Vocab.build(["a"], kind="word").most_frequent(-1)
    with pytest.raises(seqtool.UsageError, match="^vocab_size must be more than 4, not 3$"):
        seqtool.Vocab.build(["a b"], kind="bpe", vocab_size=3)
    run = cli(
        "vocab", "build", tiny, "-t", "bpe", "--vocab-size", "3", "-o", tiny.with_suffix(".v")
    )
    assert_one_line_error(run, 2)
    assert "seqtool: error: --vocab-size must be more than 4, not 3" in run.stderr


# ---------------------------------------------------------------------- word2vec
def test_word2vec_api_and_cli_give_the_same_vectors(cli, book: Path, tmp_path: Path) -> None:
    cfg = seqtool.Word2VecConfig(dim=8, epochs=1, threads=1, min_count=3, seed=4)
    lines = book.read_text(encoding="utf-8").splitlines()
    result = seqtool.train_word2vec(lines, cfg)
    run = cli(
        "word2vec", "train", book, "-o", tmp_path / "v.txt", "--dim", "8", "--epochs", "1",
        "--threads", "1", "--min-count", "3", "--seed", "4", "-q",
    )  # fmt: skip
    assert run.exit_code == 0, run.stderr
    loaded = seqtool.WordVectors.load(tmp_path / "v.txt")
    assert loaded.words == result.vectors.words
    np.testing.assert_allclose(loaded.vectors, result.vectors.vectors, rtol=1e-5, atol=1e-6)
    word = result.vectors.words[0]
    api = [w for w, _ in result.vectors.most_similar([word], top=3)]
    run = cli("word2vec", "similar", tmp_path / "v.txt", word, "-k", "3", "-f", "tsv")
    assert [line.split("\t")[2] for line in run.stdout.splitlines()] == api


def test_word2vec_errors_name_parameters_and_the_cli_names_flags(cli, tiny: Path) -> None:
    with pytest.raises(seqtool.UsageError, match=r"^`lr` must be more than 0, not -1.0$"):
        seqtool.train_word2vec(["a b"], seqtool.Word2VecConfig(lr=-1.0))
    with pytest.raises(seqtool.UsageError, match="^min_count must be at least 1, not 0$"):
        seqtool.train_word2vec(["a b"], seqtool.Word2VecConfig(min_count=0))
    for args, message in [
        (["--lr", "-1"], "--lr must be more than 0, not -1.0"),
        (["--min-count", "0"], "--min-count must be at least 1, not 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
    ]:
        run = cli("word2vec", "train", tiny, "-o", tiny.with_suffix(".vec"), *args)
        assert_one_line_error(run, 2)
        assert f"seqtool: error: {message}" in run.stderr


# ---------------------------------------------------------------------- BLEU
def test_bleu_objects_match_the_cli(cli, tmp_path: Path) -> None:
    hyps = ["the cat sat on the mat today", "a dog barked at the moon"]
    refs = ["the cat sat on the mat", "the dog barked at the moon"]
    (tmp_path / "h.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (tmp_path / "r.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    score = seqtool.bleu(hyps, refs)
    assert score == seqtool.bleu(hyps, [refs])  # one stream or a list of streams
    assert score.signature.startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp")
    run = cli("bleu", tmp_path / "h.txt", tmp_path / "r.txt")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == f"BLEU\t{score.score:.1f}\t{score.signature}\t{score.verbose}\n"
    run = cli("bleu", tmp_path / "h.txt", tmp_path / "r.txt", "--metric", "chrf", "-f", "json")
    assert json.loads(run.stdout) == seqtool.chrf(hyps, refs).as_dict()
    assert 0 < seqtool.ter(hyps, refs).score < 100
    with pytest.raises(seqtool.InputError, match="hypotheses has 2 lines but reference 1 has 1"):
        seqtool.bleu(hyps, refs[:1])
