"""Language models, attention layers, sampling and checkpoints: unit tests on tiny models."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from seqtool.decode.sampling import SamplingConfig, filter_logits, generate
from seqtool.errors import CheckpointError, InputError
from seqtool.metrics.perplexity import line_scores, score_rows, stream_perplexity
from seqtool.models import MODELS
from seqtool.models.layers import Block, BlockCache, MultiHeadAttention, SinusoidalPositions
from seqtool.models.rnn_lm import RNNLM, RNNLMConfig
from seqtool.models.transformer_lm import TransformerLM, TransformerLMConfig
from seqtool.train.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint

V = 23


def tiny_transformer(positions: str = "sinusoidal", context: int = 16) -> TransformerLM:
    torch.manual_seed(0)
    cfg = TransformerLMConfig(V, dim=16, layers=2, heads=2, context=context, positions=positions)
    return TransformerLM(cfg).eval()


def tiny_rnn(cell: str) -> RNNLM:
    torch.manual_seed(0)
    return RNNLM(RNNLMConfig(V, cell=cell, embed=12, hidden=12, layers=2)).eval()


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_causal_attention_never_looks_ahead(positions: str) -> None:
    lm = tiny_transformer(positions)
    ids = torch.randint(4, V, (3, 12))
    changed = ids.clone()
    changed[:, 7] = (changed[:, 7] + 1 - 4) % (V - 4) + 4  # a different token at position 7
    a, _ = lm(ids)
    b, _ = lm(changed)
    assert_close(a[:, :7], b[:, :7])  # earlier positions: untouched
    assert not torch.allclose(a[:, 7:], b[:, 7:])  # position 7 on: they do see it


def test_attention_weights_explicit_path_matches_sdpa_and_masks() -> None:
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4).eval().requires_grad_(False)
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    fast, none = mha(x, mem, key_padding_mask=pad)
    slow, w = mha(x, mem, key_padding_mask=pad, need_weights=True)
    assert none is None and w is not None
    assert_close(fast, slow)
    assert w.shape == (2, 4, 5, 6)
    assert float(w[1, :, :, 4:].abs().max()) == 0.0  # padding gets no attention
    assert_close(w.sum(-1), torch.ones(2, 4, 5))
    _, causal = mha(x, causal=True, need_weights=True)
    assert causal is not None and float(causal.triu(1).abs().max()) == 0.0


def test_block_cache_step_by_step_equals_full_pass() -> None:
    torch.manual_seed(0)
    block = Block(16, 2, 32, cross_attention=True).eval()
    x, mem = torch.randn(2, 6, 16), torch.randn(2, 4, 16)
    full = block(x, mem, causal=True)
    cache = BlockCache()
    steps = [block(x[:, t : t + 1], mem, causal=True, cache=cache) for t in range(6)]
    assert_close(torch.cat(steps, 1), full)
    cache = BlockCache()
    two = [
        block(x[:, :4], mem, causal=True, cache=cache),
        block(x[:, 4:], mem, causal=True, cache=cache),
    ]
    assert_close(torch.cat(two, 1), full)


def test_sinusoidal_positions_are_d2l_and_grow() -> None:
    pe = SinusoidalPositions(8, max_len=4)
    out = pe(torch.zeros(1, 10, 8))  # longer than the table it started with
    assert out.shape == (1, 10, 8)
    assert_close(out[0, 3, 0], torch.sin(torch.tensor(3.0)))
    assert_close(out[0, 3, 1], torch.cos(torch.tensor(3.0)))
    assert_close(out[0, 5, 2], torch.sin(torch.tensor(5.0 / 10000 ** (2 / 8))))


@pytest.mark.parametrize("model", ["transformer", "rnn", "gru", "lstm"])
def test_incremental_state_matches_one_pass(model: str) -> None:
    lm = tiny_transformer() if model == "transformer" else tiny_rnn(model)
    ids = torch.randint(4, V, (2, 9))
    full, _ = lm(ids)
    state = lm.init_state(2)
    first, state = lm(ids[:, :5], state)
    rest, _ = lm(ids[:, 5:], state)
    assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=1e-4)


def test_tied_embeddings_share_one_tensor() -> None:
    tied = RNNLM(RNNLMConfig(V, embed=8, hidden=8))
    untied = RNNLM(RNNLMConfig(V, embed=8, hidden=12))
    assert tied.head.weight is tied.embedding.weight
    assert untied.head.weight is not untied.embedding.weight
    lm = tiny_transformer()
    assert lm.head.weight is lm.embedding.weight
    assert set(MODELS) >= {"rnn_lm", "transformer_lm"}


def test_score_rows_carries_rnn_state_across_chunks() -> None:
    lm = tiny_rnn("lstm")
    ids = torch.randint(4, V, (3, 20))
    y = torch.randint(4, V, (3, 20))
    whole, n1 = score_rows(lm, ids, y, chunk=20)
    pieces, n2 = score_rows(lm, ids, y, chunk=6)
    assert_close(whole, pieces)
    assert n1.tolist() == n2.tolist() == [20, 20, 20]


def test_stream_perplexity_of_uniform_model_is_vocab_size() -> None:
    class Uniform(torch.nn.Module):
        carries_state = False
        context = 8

        def forward(self, ids: torch.Tensor, state: object = None) -> tuple[torch.Tensor, None]:
            return torch.zeros(*ids.shape, V), None

    p = stream_perplexity(Uniform(), torch.randint(0, V, (101,)), torch.device("cpu"), rows=3)
    assert p.tokens == 100
    assert p.ppl == pytest.approx(V)


def test_line_scores_keep_input_order_and_count_the_line_end() -> None:
    lm = tiny_rnn("gru")
    lines = [[5, 6, 7], [], [8], [9, 10, 11, 12, 13]]
    scores = line_scores(lm, lines, start=3, end=3, device=torch.device("cpu"), batch_size=2)
    assert [n for _, n in scores] == [4, 1, 2, 6]
    alone = line_scores(lm, [lines[3]], 3, 3, torch.device("cpu"))
    assert scores[3][0] == pytest.approx(alone[0][0], rel=1e-5)


def test_top_k_and_top_p_filtering() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k2 = filter_logits(logits, 1.0, 2, 1.0)
    assert torch.isinf(k2[0, 2:]).all() and not torch.isinf(k2[0, :2]).any()
    p = filter_logits(logits, 1.0, 0, 0.7)  # 0.5 + 0.3 reach 0.7: keep two
    assert torch.isfinite(p[0, :2]).all() and torch.isinf(p[0, 2:]).all()
    p1 = filter_logits(logits, 1.0, 0, 0.4)  # the top token alone already holds 0.5
    assert torch.isfinite(p1[0, 0]) and torch.isinf(p1[0, 1:]).all()


@pytest.mark.parametrize("model", ["transformer", "lstm"])
def test_generate_is_seeded_greedy_is_deterministic_and_context_is_bounded(model: str) -> None:
    lm = tiny_transformer(context=8) if model == "transformer" else tiny_rnn(model)
    prompt = torch.randint(4, V, (2, 3))
    cfg = SamplingConfig(max_tokens=30, top_k=5)
    a = generate(lm, prompt, cfg, torch.Generator().manual_seed(1))
    b = generate(lm, prompt, cfg, torch.Generator().manual_seed(1))
    assert a == b and all(len(r) == 30 for r in a)
    g1 = generate(lm, prompt, SamplingConfig(max_tokens=20, greedy=True))
    # Greedy by hand, without any cache, from the last `context` tokens.
    seq = prompt.clone()
    for _ in range(20):
        window = seq[:, -8:] if model == "transformer" else seq
        logits, _ = lm(window)
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], 1)
    if model == "lstm":
        assert g1 == seq[:, 3:].tolist()
    assert all(len(r) == 20 for r in g1)


def test_generate_stops_at_stop_token_and_never_emits_banned() -> None:
    lm = tiny_rnn("gru")
    out = generate(
        lm,
        torch.full((4, 2), 5),
        SamplingConfig(max_tokens=50, stop=(7,), banned=(0, 2)),
        torch.Generator().manual_seed(0),
    )
    for row in out:
        assert 7 not in row and 0 not in row and 2 not in row


# ---------------------------------------------------------------------- checkpoints


def _save_tiny(path: Path, kind: str = "rnn_lm") -> None:
    save_checkpoint(
        path, {"kind": kind, "config": {"vocab_size": V}, "model": {"w": torch.zeros(2)}}
    )


def test_checkpoint_round_trip_and_kind_check(tmp_path: Path) -> None:
    p = tmp_path / "m.pt"
    _save_tiny(p)
    data = load_checkpoint(p, kinds=("rnn_lm",))
    assert data["format"] == "seqtool" and data["format_version"] == FORMAT_VERSION
    with pytest.raises(CheckpointError, match="'rnn_lm' checkpoint, but this command needs"):
        load_checkpoint(p, kinds=("seq2seq",))
    assert [f.name for f in tmp_path.iterdir()] == ["m.pt"]  # no temporary files left


class _Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned-by-checkpoint",))


def test_malicious_pickle_is_refused_without_running(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "evil.pt"
    torch.save({"format": "seqtool", "payload": _Evil()}, p)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(p)
    assert not (tmp_path / "pwned-by-checkpoint").exists()
    raw = tmp_path / "raw.pt"  # a bare pickle, not even a torch zip file
    raw.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_truncated_wrong_and_future_checkpoints(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    _save_tiny(good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(cut)
    other = tmp_path / "other.pt"
    torch.save({"format": "fairseq", "model": {}}, other)
    with pytest.raises(CheckpointError, match="not a seqtool checkpoint.*'fairseq'"):
        load_checkpoint(other)
    future = tmp_path / "future.pt"
    torch.save({"format": "seqtool", "format_version": 99, "kind": "rnn_lm"}, future)
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(future)
    text = tmp_path / "vocab.json"
    text.write_text("{}", encoding="utf-8")
    with pytest.raises(CheckpointError):
        load_checkpoint(text)
    with pytest.raises(InputError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x/data.pkl", b"garbage")
    (tmp_path / "zip.pt").write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "zip.pt")


def test_library_modules_import_neither_typer_nor_rich() -> None:
    import subprocess
    import sys

    modules = "seqtool.train.trainer, seqtool.tasks.lm, seqtool.tasks.mt, seqtool.train.runner, seqtool.train.distributed, seqtool.models, seqtool.decode.sampling, seqtool.metrics.perplexity"
    code = f"import sys, {modules}; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    names = set(loaded.stdout.split())
    assert not names & {"typer", "rich", "seqtool.cli"}
