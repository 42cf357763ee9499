"""word2vec's numba engine: the compiled loop against a plain reference, engine choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import seqtool.train.word2vec as w2v
from conftest import assert_one_line_error
from seqtool.errors import UsageError
from seqtool.text import Normalizer, Vocab
from seqtool.train.word2vec_kernel import MAX_EXP, sigmoid_table, train_windows


def reference(inp, out, words, lines, reach, noise, lr_from, lr_to, table):
    """word2vec.c's skip-gram loop, written plainly: what train_windows must compute."""
    inp, out = inp.copy(), out.copy()
    n = len(words)
    for i in range(n):
        lr = np.float32(lr_from + (lr_to - lr_from) * i / n)
        centre = words[i]
        targets = [centre] + [w for w in noise[i] if w != centre]
        labels = [1.0] + [0.0] * (len(targets) - 1)
        r = int(reach[i])
        for j in range(i - r, i + r + 1):
            if j == i or not 0 <= j < n or lines[j] != lines[i]:
                continue
            v = inp[words[j]]
            scores = [float(v @ out[t]) for t in targets]  # all scores before any update
            grad = np.zeros_like(v)
            for t, label, f in zip(targets, labels, scores):
                if f >= MAX_EXP:
                    p = 1.0
                elif f <= -MAX_EXP:
                    p = 0.0
                else:
                    p = table[int((f + MAX_EXP) * len(table) / (2 * MAX_EXP))]
                g = np.float32((label - p) * lr)
                grad += g * out[t]
                out[t] += g * v
            v += grad
    return inp, out


def block(rng: np.random.Generator, n: int, vocab: int, dim: int, negative: int):
    inp = ((rng.random((vocab + 1, dim), dtype=np.float32) - 0.5) * 2).astype(np.float32)
    out = (rng.standard_normal((vocab + 1, dim)) * 0.5).astype(np.float32)
    inp[vocab] = out[vocab] = 0.0  # the padding row, never touched
    words = rng.integers(0, vocab, n).astype(np.int32)
    lines = np.sort(rng.integers(0, n // 4, n)).astype(np.int32)
    reach = rng.integers(1, 4, n).astype(np.int8)
    noise = rng.integers(0, vocab, (n, negative)).astype(np.int32)
    return inp, out, words, lines, reach, noise


def test_the_table_is_word2vecs_sigmoid() -> None:
    table = sigmoid_table()
    assert table.shape == (1000,) and table.dtype == np.float32
    x = (np.arange(1000) / 1000 * 2 - 1) * 6
    np.testing.assert_allclose(table, 1 / (1 + np.exp(-x)), rtol=1e-6)
    assert table[0] == pytest.approx(0.00247, abs=1e-5) and table[500] == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_compiled_loop_equals_the_plain_reference(seed: int) -> None:
    # large random weights: scores fall inside and outside +-6 (both sigmoid branches),
    # noise words repeat and hit their centre word, windows meet line ends.  A fine
    # table, so that a score summed in another order cannot land in a cell whose
    # value differs by more than rounding
    rng = np.random.default_rng(seed)
    inp, out, words, lines, reach, noise = block(rng, 200, 12, 8, 4)
    table = sigmoid_table(size=1 << 20)
    want_inp, want_out = reference(inp, out, words, lines, reach, noise, 0.2, 0.05, table)
    train_windows(inp, out, words, lines, reach, noise, 0.2, 0.05, table)
    np.testing.assert_allclose(inp, want_inp, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out, want_out, rtol=1e-4, atol=1e-5)
    assert not np.array_equal(want_inp, block(np.random.default_rng(seed), 200, 12, 8, 4)[0])
    assert np.all(inp[12] == 0) and np.all(out[12] == 0)  # padding row untouched


def test_a_window_lowers_the_loss_of_its_pairs() -> None:
    # one centre word, its context words and noise: a step must make the centre more
    # likely and the noise words less likely for every context word
    rng = np.random.default_rng(5)
    inp = (rng.standard_normal((7, 16)) * 0.1).astype(np.float32)
    out = (rng.standard_normal((7, 16)) * 0.1).astype(np.float32)
    words = np.array([1, 2, 0, 3, 4], dtype=np.int32)
    lines = np.zeros(5, dtype=np.int32)
    reach = np.array([0, 0, 2, 0, 0], dtype=np.int8)  # only the middle word has contexts
    noise = np.array([[5, 6]] * 5, dtype=np.int32)
    ctx = [1, 2, 3, 4]
    before = inp[ctx] @ out[[0, 5, 6]].T
    train_windows(inp, out, words, lines, reach, noise, 0.1, 0.1, sigmoid_table())
    after = inp[ctx] @ out[[0, 5, 6]].T
    assert np.all(after[:, 0] > before[:, 0]) and np.all(after[:, 1:] < before[:, 1:])


def test_one_thread_gives_the_same_bits_and_the_engines_share_the_draws() -> None:
    lines = [
        " ".join(f"w{j}" for j in np.random.default_rng(i).integers(0, 30, 10)) for i in range(300)
    ]
    corpus = w2v.encode_corpus(lines, Vocab.build(lines, "word", Normalizer.make("none")), 1)
    cfg = w2v.Word2VecConfig(dim=8, window=3, epochs=2, threads=1, seed=3)
    a, b = w2v.train(corpus, cfg), w2v.train(corpus, cfg)
    assert a.engine == "numba"
    np.testing.assert_array_equal(a.vectors, b.vectors)
    cfg.engine = "torch"
    c = w2v.train(corpus, cfg)
    assert c.engine == "torch" and (c.raw_words, c.effective_words) == (
        a.raw_words,
        a.effective_words,
    )


def test_auto_is_numba_on_the_cpu_and_torch_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")  # resolve_engine never uses the GPU
    assert w2v.resolve_engine("auto", cpu) == "numba"
    assert w2v.resolve_engine("auto", gpu) == "torch"
    assert w2v.resolve_engine("torch", cpu) == "torch"
    with pytest.raises(UsageError, match="`engine` numba runs on the CPU only"):
        w2v.resolve_engine("numba", gpu)
    with pytest.raises(UsageError, match="unknown `engine` 'fast'"):
        w2v.Word2VecConfig(engine="fast").check()
    real = w2v.importlib.util.find_spec
    monkeypatch.setattr(
        w2v.importlib.util, "find_spec", lambda name: None if name == "numba" else real(name)
    )
    assert w2v.resolve_engine("auto", cpu) == "torch"  # numba missing: the torch engine
    with pytest.raises(UsageError, match="needs the numba package"):
        w2v.resolve_engine("numba", cpu)


def test_checkpoints_from_before_the_engine_field_resume_with_torch(tmp_path: Path) -> None:
    lines = ["a b c d e f"] * 40
    cfg = w2v.Word2VecConfig(dim=4, epochs=2, threads=1, min_count=1, engine="torch")
    last = tmp_path / "v.last.pt"
    straight = w2v.train_word2vec(lines, cfg).vectors.vectors
    cfg.epochs = 1
    w2v.train_word2vec(lines, cfg, checkpoint=last)
    data = torch.load(last, weights_only=True)
    del data["config"]["engine"]
    data["config"]["epochs"] = 2
    torch.save(data, last)
    resumed = w2v.train_word2vec(lines, resume=last)
    assert resumed.train.engine == "torch"
    np.testing.assert_array_equal(resumed.vectors.vectors, straight)


def test_cli_engine_flag(cli, tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\n" * 50, encoding="utf-8")
    args = ("--dim", "4", "--epochs", "1", "--min-count", "1", "--threads", "1", "-q")
    for engine in ("numba", "torch"):
        run = cli(
            "word2vec", "train", corpus, "-o", tmp_path / f"{engine}.vec", *args, "--engine", engine
        )
        assert run.exit_code == 0, run.stderr
    run = cli("word2vec", "train", corpus, "-o", tmp_path / "x.vec", *args, "--engine", "fast")
    assert_one_line_error(run, 2)
    assert "--engine" in run.stderr
    assert not (tmp_path / "x.vec").exists()
