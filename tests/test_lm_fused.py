"""The fused output layer + cross-entropy and the RNN's single-thread recurrence."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqtool.models.fused_loss import linear_cross_entropy
from seqtool.models.rnn_lm import RNNLM, RNNLMConfig


def _plain_and_fused(bias: bool, autocast: bool, chunk: int) -> list[list[torch.Tensor]]:
    torch.manual_seed(0)
    h0 = torch.randn(37, 16)
    w0 = torch.randn(53, 16) * 0.3
    b0 = torch.randn(53) * 0.1 if bias else None
    y = torch.randint(53, (37,))
    out = []
    for fused in (False, True):
        h = h0.clone().requires_grad_()
        w = w0.clone().requires_grad_()
        b = b0.clone().requires_grad_() if b0 is not None else None
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            if fused:
                loss = linear_cross_entropy(h, w, b, y, chunk)
            else:
                loss = F.cross_entropy(F.linear(h, w, b).float(), y, reduction="sum")
        (loss * 3).backward()  # a non-unit incoming gradient (as under a loss scale)
        grads = [h.grad, w.grad] + ([b.grad] if b is not None else [])
        out.append([loss.detach(), *grads])
    return out


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("chunk", [1, 8, 64])
def test_fused_linear_cross_entropy_matches_the_plain_path_fp32(bias: bool, chunk: int) -> None:
    plain, fused = _plain_and_fused(bias, autocast=False, chunk=chunk)
    assert fused[0].dtype == torch.float32
    for a, b in zip(plain, fused):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


def test_fused_linear_cross_entropy_under_bf16_autocast() -> None:
    plain, fused = _plain_and_fused(bias=True, autocast=True, chunk=8)
    assert fused[0].dtype == torch.float32
    assert all(g.dtype == torch.float32 for g in fused[1:])  # grads of float32 leaves
    for a, b in zip(plain, fused):
        torch.testing.assert_close(b, a, rtol=2e-2, atol=2e-2)


def test_fused_linear_cross_entropy_without_grad_and_bad_shapes() -> None:
    h, w, y = torch.randn(5, 4), torch.randn(7, 4), torch.randint(7, (5,))
    with torch.no_grad():
        loss = linear_cross_entropy(h, w, None, y)
    torch.testing.assert_close(loss, F.cross_entropy(h @ w.t(), y, reduction="sum"))
    with pytest.raises(ValueError):
        linear_cross_entropy(h, w, None, y[:3])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("tie", [True, False])
def test_rnn_lm_targets_path_equals_logits_and_cross_entropy(cell: str, tie: bool) -> None:
    torch.manual_seed(0)
    lm = RNNLM(RNNLMConfig(vocab_size=40, cell=cell, embed=12, hidden=12, layers=2, tie=tie))
    lm.train()
    x, y = torch.randint(40, (3, 7)), torch.randint(40, (3, 7))
    results = []
    for fused in (False, True):
        torch.manual_seed(1)  # the same dropout masks
        lm.zero_grad()
        if fused:
            loss, state = lm(x, targets=y)
        else:
            logits, state = lm(x)
            loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in lm.parameters()], state))
    (l1, g1, s1), (l2, g2, s2) = results
    torch.testing.assert_close(l2, l1)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(s2, s1)


def test_single_thread_recurrence_restores_the_thread_count() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        from seqtool.train.device import single_thread_recurrence

        lm = RNNLM(RNNLMConfig(vocab_size=30, cell="lstm", embed=8, hidden=8, layers=2))
        single_thread_recurrence(lm)
        seen: list[int] = []
        lm.rnn.register_forward_pre_hook(lambda *a: seen.append(torch.get_num_threads()))
        lm.train()
        x = torch.randint(30, (2, 5))
        loss, _ = lm(x, targets=x)
        assert seen == [1]  # the recurrence ran on one thread
        assert torch.get_num_threads() == 2  # after the forward pass
        loss.backward()
        assert torch.get_num_threads() == 2  # after the backward pass
        with torch.no_grad():
            lm(x)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_fused_loss_is_exact_when_the_target_probability_underflows() -> None:
    # The target's logit is 200 below the others: its probability is 0 in float32,
    # but the loss is still log Z - x_t = 200 + log(V - 1).
    w = torch.tensor([[0.0, 0.0], [200.0, 0.0], [0.0, 200.0], [0.0, 0.0]])
    h = torch.tensor([[1.0, 1.0]])  # logits 0 (the target), 200, 200, 0
    y = torch.tensor([0])
    loss = linear_cross_entropy(h, w, None, y)
    torch.testing.assert_close(loss, F.cross_entropy(h @ w.t(), y, reduction="sum"))
    assert 200 < float(loss) < 201


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_fused_stream_perplexity_equals_the_logits_path(cell: str) -> None:
    from seqtool.metrics.perplexity import stream_perplexity

    torch.manual_seed(0)
    lm = RNNLM(RNNLMConfig(vocab_size=25, cell=cell, embed=10, hidden=10, layers=2)).eval()
    ids = torch.randint(25, (203,))  # 202 predictions: the last row is padded
    cpu = torch.device("cpu")
    a = stream_perplexity(lm, ids, cpu, rows=4, chunk=16, chars=300, oov=2, fused=False)
    b = stream_perplexity(lm, ids, cpu, rows=4, chunk=16, chars=300, oov=2)  # fused
    assert (b.tokens, b.chars, b.oov) == (a.tokens, a.chars, a.oov) == (202, 300, 2)
    assert b.nll == pytest.approx(a.nll, rel=1e-5)
    assert stream_perplexity(lm, ids[:1], cpu).tokens == 0
