"""Perplexity of a language model over a corpus or line by line.

Definitions (the ones KenLM and SRILM print): the model predicts every token of
the evaluated text given what precedes it, line ends included (``"\\n"`` for
character models, ``<eos>`` for word and subword models); ``ppl = exp(nll /
tokens)``, bits per token ``= nll / tokens / ln 2`` and bits per character ``=
nll / ln 2 / characters`` (characters of the text, line ends counted), which
compares models whatever their tokenizer.  Out-of-vocabulary tokens are scored
as ``<unk>`` like any other token and their rate is reported beside.

Recurrent models read each of ``rows`` long slices of the corpus in windows,
carrying the state across (every token sees all earlier text of its slice);
Transformers score independent windows of their training length, the way they
were trained (and the way nanoGPT estimates its validation loss).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seqtool.models.protocols import LMModule

IGNORE = -100


@dataclass
class Perplexity:
    tokens: int
    nll: float  # total negative log-likelihood, nats
    chars: int = 0
    oov: int = 0

    @property
    def loss(self) -> float:
        return self.nll / max(self.tokens, 1)

    @property
    def ppl(self) -> float:
        return math.exp(min(self.loss, 700.0))

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)

    @property
    def bits_per_char(self) -> float:
        return self.nll / math.log(2) / max(self.chars, 1)

    @property
    def oov_rate(self) -> float:
        return self.oov / max(self.tokens, 1)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "tokens": self.tokens,
            "loss": self.loss,
            "ppl": self.ppl,
            "bits_per_token": self.bits_per_token,
            "bits_per_char": self.bits_per_char,
            "oov_rate": self.oov_rate,
        }


def _chunk(model: LMModule, default: int) -> int:
    return int(model.context or default)


@torch.no_grad()
def score_rows(model: LMModule, x: Tensor, y: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Summed negative log-likelihood and token count of each row.

    ``x``/``y``: ``(B, L)`` inputs and targets, ``y`` holding :data:`IGNORE` where
    nothing is to be scored (padding at the end of a row).  The rows are read in
    windows of ``chunk`` tokens; a model with ``carries_state`` keeps its state
    across windows, others start each window afresh.
    """
    carry = model.carries_state
    acc = torch.float32 if x.device.type == "mps" else torch.float64  # MPS lacks float64
    nll = torch.zeros(x.shape[0], dtype=acc, device=x.device)
    count = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
    state = None
    for i in range(0, x.shape[1], chunk):
        xs, ys = x[:, i : i + chunk], y[:, i : i + chunk]  # (B, t)
        logits, new_state = model(xs, state if carry else None)  # (B, t, V)
        state = new_state
        lp = F.cross_entropy(
            logits.float().transpose(1, 2), ys, ignore_index=IGNORE, reduction="none"
        )  # (B, t)
        nll += lp.to(acc).sum(1)
        count += (ys != IGNORE).sum(1)
    return nll, count


@torch.no_grad()
def _fused_nll(model: LMModule, x: Tensor, y: Tensor, chunk: int) -> float:
    """The summed negative log-likelihood of (B, L) rows read by a recurrent model
    through its own loss (``model(x, state, targets=y)``): no float32 logits at all."""
    acc = torch.float32 if x.device.type == "mps" else torch.float64
    nll = torch.zeros((), dtype=acc, device=x.device)
    state = None
    for i in range(0, x.shape[1], chunk):
        loss, state = model(x[:, i : i + chunk], state, targets=y[:, i : i + chunk])
        nll += loss.to(acc)
    return float(nll)


def stream_perplexity(
    model: LMModule,
    ids: Tensor,
    device: torch.device,
    rows: int = 16,
    chunk: int = 256,
    chars: int = 0,
    oov: int = 0,
    fused: bool | None = None,
) -> Perplexity:
    """Perplexity of a whole token stream: every token after the first is predicted.

    The stream is cut into ``rows`` parallel rows read ``chunk`` tokens at a time.
    A recurrent model is scored through its own summed loss (``targets=``), several
    times faster on a CPU than through logits; ``fused=False`` forces the logits path.
    """
    n = len(ids) - 1
    if n < 1:
        return Perplexity(0, 0.0, chars, oov)
    chunk = _chunk(model, chunk)
    rows = max(1, min(rows, n // max(chunk, 1) or 1))
    length = -(-n // rows)  # ceil
    x = torch.zeros(rows * length, dtype=torch.long)
    y = torch.full((rows * length,), IGNORE, dtype=torch.long)  # pads the last row
    x[:n], y[:n] = ids[:-1], ids[1:]
    xs, ys = x.view(rows, length).to(device), y.view(rows, length).to(device)
    if fused is None:
        fused = model.carries_state
    if fused:
        return Perplexity(n, _fused_nll(model, xs, ys, chunk), chars, oov)
    nll, count = score_rows(model, xs, ys, chunk)
    return Perplexity(int(count.sum()), float(nll.sum()), chars, oov)


def line_scores(
    model: LMModule,
    lines: Sequence[Sequence[int]],
    start: int,
    end: int,
    device: torch.device,
    batch_size: int = 64,
    chunk: int = 256,
) -> list[tuple[float, int]]:
    """``(log-probability in nats, tokens)`` of each line, given a line start.

    Each line is read after the ``start`` token and scored up to and including
    the ``end`` token (a complete sentence, as KenLM scores ``</s>``).  Lines are
    batched by length; results come back in input order.
    """
    order = sorted(range(len(lines)), key=lambda i: len(lines[i]))
    out: list[tuple[float, int]] = [(0.0, 0)] * len(lines)
    for b in range(0, len(order), batch_size):
        group = order[b : b + batch_size]
        width = max(len(lines[i]) for i in group) + 1
        x = torch.zeros(len(group), width, dtype=torch.long)
        y = torch.full((len(group), width), IGNORE, dtype=torch.long)
        for r, i in enumerate(group):
            seq = [start, *lines[i], end]
            x[r, : len(seq) - 1] = torch.tensor(seq[:-1])
            y[r, : len(seq) - 1] = torch.tensor(seq[1:])
        nll, count = score_rows(model, x.to(device), y.to(device), _chunk(model, chunk))
        for r, i in enumerate(group):
            out[i] = (-float(nll[r]), int(count[r]))
    return out
