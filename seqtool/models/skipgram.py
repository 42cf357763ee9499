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

    def __init__(self, n_words: int, dim: int, seed: int = 0, spread: float = 0.5) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        # inputs uniform in ±spread/dim, outputs zero: word2vec.c's spread is 0.5,
        # gensim 4's 1.0
        inp = (rng.random((n_words + 1, dim), dtype=np.float32) - 0.5) / (dim / (2 * spread))
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
        ``row_cap`` hits' worth (module docstring of :mod:`seqtool.train.word2vec`,
        point 4).  This is the general form; training prepares the targets and hit
        index of a whole block of steps at once and runs :meth:`prepared_step`.
        """
        targets = self.skip_noise_on_centre(targets)
        width = contexts.shape[1]
        rows = StepRows(self, contexts.shape[0] * (width + targets.shape[1]), targets.shape[1])
        hit = self.hit_index(contexts, targets)
        self.prepared_step(contexts, targets, hit, width, lr, row_cap, rows)

    def skip_noise_on_centre(self, targets: torch.Tensor) -> torch.Tensor:
        """Targets with noise words equal to their centre word replaced by padding.

        word2vec.c skips such noise words; the padding row's output vector is zero
        and never learns, so it adds nothing to the step.
        """
        clash = torch.zeros_like(targets, dtype=torch.bool)
        clash[:, 1:] = targets[:, 1:] == targets[:, :1]
        return targets.masked_fill(clash, self.pad)

    def hit_index(self, contexts: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Every (row, entry) of a step as one index into a counter of table rows.

        Context ``i`` counts at ``i``, target ``t`` at ``n_rows + t``, and padding of
        either table at the last slot, ``2 * n_rows``: (B, c + 1 + k).
        """
        n_rows = self.pad + 1
        hit = torch.cat([contexts, targets + n_rows], 1)
        pad = (hit == self.pad) | (hit == self.pad + n_rows)
        return hit.masked_fill_(pad, 2 * n_rows)

    @torch.no_grad()
    def prepared_step(
        self,
        contexts: torch.Tensor,
        targets: torch.Tensor,
        hit: torch.Tensor,
        width: int,
        lr: float,
        row_cap: int,
        rows: StepRows,
    ) -> None:
        """:meth:`sgd_step` on prepared input, in as few tensor operations as it takes.

        ``contexts`` (B, c): the first ``c`` columns of a (B, ``width``) context
        matrix whose other columns are padding; ``targets`` (B, 1+k) with noise
        words equal to the centre already replaced by padding
        (:meth:`skip_noise_on_centre`); ``hit`` (B, ``width`` + 1 + k): their
        :meth:`hit_index`; ``rows``: this thread's scratch buffers.  Padding learns
        nothing: its step size is 0 (its hit count is infinite), so the padding rows
        stay zero and add nothing to the scores or the other rows' updates.
        """
        inp, out = self.inp, self.out
        n_ctx = contexts.shape[1]
        flat = hit.reshape(-1)
        share = rows.step_sizes(flat, lr, row_cap).view(hit.shape)
        x = nn.functional.embedding(contexts, inp)  # (B, c, d) context input vectors
        u = nn.functional.embedding(targets, out)  # (B, 1+k, d) centre + noise outputs
        g = torch.bmm(x, u.transpose(1, 2)).sigmoid_()  # (B, c, 1+k) σ(u_t · v_o)
        torch.sub(rows.label, g, out=g)  # label - σ: 1 for the centre word, 0 for noise
        dx = torch.bmm(g * share[:, :n_ctx].unsqueeze(2), u)  # (B, c, d)
        du = torch.bmm(g.mul_(share[:, width:].unsqueeze(1)).transpose(1, 2), x)  # (B, 1+k, d)
        inp.index_add_(0, contexts.reshape(-1), dx.view(-1, inp.shape[1]))
        out.index_add_(0, targets.reshape(-1), du.view(-1, out.shape[1]))


class StepRows:
    """Scratch buffers of one training thread: a hit counter over both tables and
    the label row, so that a step allocates little.

    ``size`` bounds the entries of a step (B x (c + 1 + k)); ``n_targets`` is 1 + k.
    """

    def __init__(self, model: SkipGram, size: int, n_targets: int) -> None:
        device = model.inp.device
        self.counts = torch.zeros(2 * (model.pad + 1) + 1, device=device)
        self.ones = torch.ones(size, device=device)
        self.label = torch.zeros(1, 1, n_targets, device=device)
        self.label[0, 0, 0] = 1.0

    def step_sizes(self, flat: torch.Tensor, lr: float, cap: int) -> torch.Tensor:
        """The learning rate of every entry of ``flat`` (a step's :meth:`SkipGram.hit_index`).

        ``lr``, times ``cap / hits`` for a row hit more than ``cap`` times in the step,
        and 0 for padding.  Hits are counted with a scatter rather than ``bincount``
        (no device sync on a GPU), and only the touched counters are reset, so a step
        costs the same with any vocabulary size.
        """
        counts = self.counts
        counts.index_add_(0, flat, self.ones[: flat.numel()])
        counts[-1] = float("inf")  # padding: step size 0
        share = counts.index_select(0, flat)
        counts.index_fill_(0, flat, 0.0)
        if cap > 0:
            return share.clamp_(min=cap).reciprocal_().mul_(cap * lr)
        return torch.isfinite(share).to(share.dtype).mul_(lr)
