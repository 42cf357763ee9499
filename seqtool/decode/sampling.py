"""Sampling text from a language model: greedy, temperature, top-k and top-p (nucleus).

:func:`generate` works with any model whose ``forward(ids, state)`` returns
``(logits, state)`` and that offers ``init_state(batch)`` and ``context`` (the
longest context it was trained on, or None): the prompt is read once, then one
token per step is fed with the carried state (an RNN's hidden state or a
Transformer's KV caches).  When a Transformer's cache reaches its context, the
last half of the context is re-read and generation continues from there.  A
Transformer reads only the last ``context`` tokens of a long prompt; a model
without a context limit (an RNN) reads all of it, :data:`PROMPT_CHUNK` tokens at
a time with its state carried over and no logits but the last position's, so
memory stays bounded by the chunk (a 1.2 MB prompt no longer needs its whole
sequence of activations and logits at once); the time stays linear in it.

All rows of a batch share one prompt length; callers group prompts by length.

Example::

    >>> from seqtool.models.transformer_lm import TransformerLM, TransformerLMConfig
    >>> lm = TransformerLM(TransformerLMConfig(vocab_size=30, dim=32, layers=1, heads=4))
    >>> out = generate(lm, torch.tensor([[5, 6, 7]]), SamplingConfig(max_tokens=20, top_k=10))
    >>> len(out[0]) <= 20
    True
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from seqtool.errors import UsageError, check_at_least, check_finite
from seqtool.models.protocols import LMModule

# Below this the distribution is the argmax in all but name (and under about 1e-37
# logits / temperature overflow float32, which turns the probabilities into NaN);
# above MAX_TEMPERATURE it is uniform noise.
MIN_TEMPERATURE = 0.01
MAX_TEMPERATURE = 100.0
PROMPT_CHUNK = 1024  # prompt tokens per forward call for models that carry a state


@dataclass
class SamplingConfig:
    max_tokens: int = 200
    temperature: float = 1.0
    top_k: int = 0  # 0: no limit
    top_p: float = 1.0  # 1: no limit
    greedy: bool = False
    stop: Collection[int] = field(default_factory=tuple)  # ids that end a sample (not kept)
    banned: Collection[int] = field(default_factory=tuple)  # ids never produced
    # ids that may open a sample before its text (line ends, spaces): while a sample
    # holds only these, a stop id is kept and does not end it (--one-line after "A:")
    lead: Collection[int] = field(default_factory=tuple)

    def check(self) -> None:
        check_at_least("max_tokens", self.max_tokens, 0)
        check_finite("temperature", self.temperature)
        if not MIN_TEMPERATURE <= self.temperature <= MAX_TEMPERATURE:
            raise UsageError(
                f"`temperature` must be from {MIN_TEMPERATURE} to {MAX_TEMPERATURE:g}, "
                f"not {self.temperature}",
                hint="`greedy` always takes the likeliest token",
            )
        if self.top_k < 0:
            raise UsageError(f"top_k must be 0 (off) or more, not {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise UsageError(f"top_p must be in (0, 1], not {self.top_p}")


def filter_logits(logits: Tensor, temperature: float, top_k: int, top_p: float) -> Tensor:
    """Temperature-scaled logits with everything outside top-k / the top-p nucleus at -inf."""
    logits = logits / temperature  # (B, V)
    if top_k and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, idx = torch.sort(logits, dim=-1, descending=True)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        # Drop a token when the tokens before it already hold top_p of the mass.
        drop = (cum - torch.softmax(sorted_logits, dim=-1)) >= top_p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, idx, drop), float("-inf"))
    return logits


Generators = torch.Generator | Sequence[torch.Generator] | None


def next_tokens(logits: Tensor, cfg: SamplingConfig, generator: Generators) -> Tensor:
    """One token id per row from the last-position logits ``(B, V)``.

    ``generator``: one for all rows, or a list of G generators, one per group of
    ``B // G`` consecutive rows, so that each group's draws do not depend on the
    other rows of the batch (a prompt's samples are the same in any batch).
    """
    logits = logits.float()
    if cfg.banned:
        logits[:, list(cfg.banned)] = float("-inf")
    if cfg.greedy:
        return logits.argmax(-1)
    probs = torch.softmax(filter_logits(logits, cfg.temperature, cfg.top_k, cfg.top_p), -1)
    if generator is None or isinstance(generator, torch.Generator):
        return _draw(probs, generator)
    if not generator or probs.shape[0] % len(generator):
        raise ValueError(f"{probs.shape[0]} rows cannot be split among {len(generator)} generators")
    rows = probs.shape[0] // len(generator)
    return torch.cat([_draw(probs[i * rows : (i + 1) * rows], g) for i, g in enumerate(generator)])


def _draw(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


@torch.no_grad()
def generate(
    model: LMModule,
    prompt: Tensor,
    cfg: SamplingConfig,
    generator: Generators = None,
) -> list[list[int]]:
    """Continue each row of ``prompt`` ``(B, T0)``, ``T0 >= 1``; returns the new ids per row
    (``generator``: as :func:`next_tokens`)."""
    cfg.check()
    b = prompt.shape[0]
    context = model.context
    state = model.init_state(b)
    if context:
        tokens = prompt[:, -context:]  # (B, <= context): all the model can look at
        logits, state = model(tokens, state)
    else:  # read in chunks, the state carried: the same result, bounded memory
        body = prompt[:, :-1]  # (B, T0 - 1): read without logits
        for start in range(0, body.shape[1], PROMPT_CHUNK):
            state = model.read(body[:, start : start + PROMPT_CHUNK], state)
        logits, state = model(prompt[:, -1:], state)  # (B, 1, V)
    out: list[list[int]] = [[] for _ in range(b)]
    done = torch.zeros(b, dtype=torch.bool)
    started = [not cfg.lead] * b  # has the row produced a token outside cfg.lead?
    for _ in range(cfg.max_tokens):
        nxt = next_tokens(logits[:, -1], cfg, generator)  # (B,)
        for r, t in enumerate(nxt.tolist()):
            if done[r]:
                continue
            if t in cfg.stop and started[r]:
                done[r] = True
            else:
                out[r].append(t)
                started[r] = started[r] or t not in cfg.lead
        if bool(done.all()):
            break
        if context:
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)[:, -context:]  # (B, <= context)
        if context and model.cached(state) >= context:
            # The cache is full: re-read the last half of the context and go on from there.
            state = model.init_state(b)
            logits, state = model(tokens[:, -(context // 2 or 1) :], state)
        else:
            logits, state = model(nxt[:, None], state)
    return out
