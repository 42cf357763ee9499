"""The output layer and its cross-entropy in one step: ``linear_cross_entropy``, and
:class:`OutputLayer`, a projection that owns it.

A language model's last layer maps each hidden vector to a score per vocabulary
word, and training needs only the summed cross-entropy of those scores.  Done
the plain way (``F.cross_entropy(head(h).float(), y)``) that materialises the
``(N, V)`` logits several times over: the logits, a float32 copy, the
log-probabilities, a zero-filled gradient, the softmax gradient and its cast
back, each a full pass over memory (for PTB's 10k words and 700 tokens a batch,
28 MB apiece), and on a CPU those passes cost more than the matrix products.

:func:`linear_cross_entropy` computes the same sum with one logits buffer: the
forward pass works through it a block of rows at a time (log-softmax in float32,
the loss, then the softmax-minus-one-hot gradient written back over the logits
in place), and the backward pass only multiplies that gradient by the weight and
the hidden states.  The arithmetic is that of the plain path under autocast
(matrix products in the autocast dtype, softmax in float32), so results agree up
to summation order.  It is pure torch and runs on any device.

Example::

    >>> import torch.nn.functional as F
    >>> h = torch.randn(6, 4, requires_grad=True)
    >>> w, b = torch.randn(9, 4), torch.zeros(9)
    >>> y = torch.tensor([0, 1, 2, 3, 4, 5])
    >>> torch.allclose(linear_cross_entropy(h, w, b, y),
    ...                F.cross_entropy(F.linear(h, w, b), y, reduction="sum"))
    True
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

# Rows of logits turned into gradients at a time: 64 x 10k float32 is 2.5 MB, so a
# block stays in cache between the log-softmax, the loss and the gradient.
CHUNK = 64


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, h: Tensor, weight: Tensor, targets: Tensor, chunk: int
    ) -> Tensor:
        # h (N, D), weight (V, D) of one dtype, targets (N,).
        logits = h @ weight.t()  # (N, V)
        need_grad = any(ctx.needs_input_grad[:2])
        loss = torch.zeros((), dtype=torch.float32, device=h.device)
        for s in range(0, logits.shape[0], chunk):
            part = logits[s : s + chunk]  # (C, V), a view
            t = targets[s : s + chunk, None]  # (C, 1)
            keep = t >= 0  # negative targets (padding) are not scored
            t = t.clamp(min=0)
            p = torch.softmax(part, dim=-1, dtype=torch.float32)  # (C, V)
            # log Z from the row's largest logit, whose probability 1/Z never underflows
            # (a target's can): one exp per logit instead of log-softmax's and exp's two.
            log_z = part.amax(1, keepdim=True).float() - p.amax(1, keepdim=True).log()
            loss += ((log_z - part.gather(1, t).float()) * keep).sum()
            if need_grad:
                p.scatter_add_(1, t, -keep.to(p.dtype))  # minus one-hot
                torch.mul(p, keep, out=part)  # the logits become d loss / d logits
        if need_grad:
            ctx.save_for_backward(logits, h, weight)
        return loss

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        dlogits, h, weight = ctx.saved_tensors  # (N, V), (N, D), (V, D)
        # The incoming gradient is a float32 scalar (1, or a loss scale): multiplying the
        # small products by it (computed in float32, kept in their dtype) is cheaper
        # than scaling the (N, V) gradient first.
        need_h, need_w = ctx.needs_input_grad[:2]
        grad_h = (dlogits @ weight).mul_(grad) if need_h else None
        grad_w = (dlogits.t() @ h).mul_(grad) if need_w else None
        return grad_h, grad_w, None, None


def linear_cross_entropy(
    h: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, chunk: int = CHUNK
) -> Tensor:
    """``F.cross_entropy(F.linear(h, weight, bias), targets, reduction="sum")`` in float32,
    without the memory traffic (see the module docstring).

    ``h`` is ``(N, D)`` and ``targets`` ``(N,)``; negative targets (padding, such as
    ``-100``) are not scored and get no gradient.  Under autocast the products run in
    the autocast dtype, as ``F.linear`` would; otherwise in ``h``'s dtype.
    """
    if h.dim() != 2 or targets.shape != h.shape[:1]:
        raise ValueError(f"expected h (N, D) and targets (N,), got {h.shape} and {targets.shape}")
    kind = h.device.type
    dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else h.dtype
    h, weight = h.to(dtype), weight.to(dtype)
    if bias is not None:
        # The bias as one more input feature (constant 1), padded to an even width:
        # no broadcast copy of the bias into the logits, and its gradient comes out
        # of the weight's product instead of a column sum over the (N, V) gradient.
        ones = h.new_ones(h.shape[0], 1)
        h = torch.cat([h, ones, torch.zeros_like(ones)], 1)  # (N, D + 2)
        b = bias.to(dtype)[:, None]
        weight = torch.cat([weight, b, torch.zeros_like(b)], 1)  # (V, D + 2)
    with torch.autocast(kind, enabled=False):
        loss: Tensor = _LinearCrossEntropy.apply(h, weight, targets, chunk)
    return loss


class OutputLayer(nn.Linear):
    """A model's output projection that also computes its own summed cross-entropy.

    ``layer(h)`` gives logits as :class:`torch.nn.Linear` does (the parameters keep
    their names, ``weight`` and ``bias``, so checkpoints are unchanged);
    ``layer.loss(h, targets)`` gives ``F.cross_entropy(layer(h), targets,
    reduction="sum")`` through :func:`linear_cross_entropy`, never holding the
    float32 logits.  ``h`` may have any leading shape matching ``targets``.
    """

    def loss(self, h: Tensor, targets: Tensor) -> Tensor:
        return linear_cross_entropy(
            h.reshape(-1, h.shape[-1]), self.weight, self.bias, targets.reshape(-1)
        )
