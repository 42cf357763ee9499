"""The word2vec skip-gram model with negative sampling: two embedding tables.

The model (Mikolov et al. 2013; d2l.ai, "Word Embedding (word2vec)"): every word has
an input vector ``v`` and an output vector ``u``.  For each context word ``o`` within
the window of a centre word ``c``, training raises ``σ(u_c · v_o)`` and lowers
``σ(u_n · v_o)`` for ``negative`` noise words ``n``.  As in word2vec.c and gensim,
the context word's input vector predicts the centre word; the input vectors are the
word vectors people use.

:meth:`SkipGram.forward` is the loss; :meth:`SkipGram.sgd_step` applies its
hand-written gradients to the touched rows only (no autograd graph), which is what
training (:mod:`seqtool.train.word2vec`) runs.

Example::

    >>> import torch
    >>> model = SkipGram(n_words=5, dim=4)
    >>> contexts = torch.tensor([[1, 2]])  # (B, c): the context words of one centre word
    >>> targets = torch.tensor([[0, 3, 4]])  # (B, 1+k): the centre word, then noise words
    >>> loss = model(contexts, targets)  # the output vectors start at zero: σ(0) = 0.5
    >>> round(loss.item() / (2 * 3), 4)  # -log 0.5 for each of the 2 x 3 scores
    0.6931
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class SkipGram(nn.Module):
    """Input and output embeddings of the skip-gram model, plus one padding row each.

    :meth:`forward` is the d2l loss, used to check the hand-written gradients of
    :meth:`sgd_step`, which is what training runs.
    """

    def __init__(self, n_words: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        # word2vec.c's initialisation: inputs uniform in ±0.5/dim, outputs zero
        inp = (rng.random((n_words + 1, dim), dtype=np.float32) - 0.5) / dim
        inp[n_words] = 0.0
        self.pad = n_words
        self.inp = nn.Parameter(torch.from_numpy(inp), requires_grad=False)
        self.out = nn.Parameter(torch.zeros(n_words + 1, dim), requires_grad=False)

    @staticmethod
    def step_masks(contexts: torch.Tensor, targets: torch.Tensor, pad: int) -> torch.Tensor:
        """Which (context, target) scores count: real contexts, noise unequal to the centre."""
        ctx_ok = (contexts != pad).unsqueeze(2)  # (B, c, 1)
        tgt_ok = torch.ones_like(targets, dtype=torch.bool)
        tgt_ok[:, 1:] = targets[:, 1:] != targets[:, :1]  # word2vec.c skips noise == centre
        return ctx_ok & tgt_ok.unsqueeze(1)  # (B, c, 1+k)

    def forward(self, contexts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Summed loss ``-log σ(u_c·v_o) - Σ log σ(-u_n·v_o)`` of a step's examples.

        ``contexts`` (B, c): context words (or the padding row); ``targets`` (B, 1+k):
        each centre word followed by its noise words.
        """
        x = self.inp[contexts]  # (B, c, d)
        u = self.out[targets]  # (B, 1+k, d)
        scores = torch.bmm(x, u.transpose(1, 2))  # (B, c, 1+k)
        sign = torch.full_like(scores[:1, :1], -1.0).expand_as(scores).clone()
        sign[:, :, 0] = 1.0
        mask = self.step_masks(contexts, targets, self.pad)
        return -(nn.functional.logsigmoid(sign * scores) * mask).sum()

    @torch.no_grad()
    def sgd_step(
        self, contexts: torch.Tensor, targets: torch.Tensor, lr: float, row_cap: int = 0
    ) -> None:
        """One SGD step on :meth:`forward`'s loss with hand-written gradients.

        Only the rows in ``contexts`` and ``targets`` change.  With ``row_cap`` > 0 a
        row hit more than ``row_cap`` times has its summed update scaled down to
        ``row_cap`` hits' worth (module docstring, point 4).
        """
        inp, out = self.inp, self.out
        x = nn.functional.embedding(contexts, inp)  # (B, c, d) context input vectors
        u = nn.functional.embedding(targets, out)  # (B, 1+k, d) centre + noise outputs
        g = torch.bmm(x, u.transpose(1, 2))  # (B, c, 1+k) scores u_t · v_o
        g.sigmoid_().neg_()
        g[:, :, 0].add_(1.0)  # label - σ(score): 1 for the centre word, 0 for noise
        g[:, :, 1:].mul_((targets[:, 1:] != targets[:, :1]).unsqueeze(1))  # noise == centre
        lr_x, lr_u = _step_sizes(contexts, targets, len(inp), lr, row_cap, self.pad)
        dx = torch.bmm(g * lr_x.unsqueeze(2), u)  # (B, c, d)
        du = torch.bmm((g * lr_u.unsqueeze(1)).transpose(1, 2), x)  # (B, 1+k, d)
        inp.index_add_(0, contexts.reshape(-1), dx.reshape(-1, inp.shape[1]))
        out.index_add_(0, targets.reshape(-1), du.reshape(-1, out.shape[1]))


def _step_sizes(
    contexts: torch.Tensor, targets: torch.Tensor, n_rows: int, lr: float, cap: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The learning rate of every context (B, c) and target (B, 1+k) entry of a step.

    ``lr``, times ``cap / hits`` for a row hit more than ``cap`` times in the step, and
    0 for padding contexts (so the padding row stays zero and adds nothing to the
    output gradients).  Hits are counted with a scatter rather than ``bincount``: no
    device sync on a GPU, one pass for both tables (targets offset by ``n_rows``).
    """
    if cap > 0:
        flat = torch.cat([contexts.reshape(-1), targets.reshape(-1) + n_rows])
        ones = torch.ones(flat.shape, device=flat.device)
        hits = torch.zeros(2 * n_rows, device=flat.device).index_add_(0, flat, ones)
        share = hits.index_select(0, flat).clamp_(min=cap).reciprocal_().mul_(cap * lr)
        lr_x, lr_u = share.split([contexts.numel(), targets.numel()])
        lr_x, lr_u = lr_x.view(contexts.shape), lr_u.view(targets.shape)
    else:
        lr_x = torch.full(contexts.shape, lr, device=contexts.device)
        lr_u = torch.full(targets.shape, lr, device=targets.device)
    return lr_x * (contexts != pad), lr_u
