"""Batched greedy and beam search for the translation models.

Both work on a whole batch of sources at once and on any model with the
``encode / decode_step / reorder`` interface (see :mod:`seqtool.models.seq2seq`).
Sentences that are finished leave the batch, so a long sentence does not keep
the short ones' rows busy.

Output lengths are capped per sentence at ``max_len_a * src_len + max_len_b``
tokens (``src_len`` counts the source's ``<eos>``, as fairseq does); at the cap
``<eos>`` is forced.

Beam search follows fairseq's: every step each sentence's ``K`` hypotheses
propose their ``2K`` best extensions; those ending in ``<eos>`` among the best
``K`` are finished with the score ``sum(log p) / length ** lenpen`` (length
counting the ``<eos>``; ``lenpen`` > 1 favours longer output), the best ``K``
others continue, and a sentence is done once it holds ``K`` finished
hypotheses.  With ``K = 1`` this is exactly greedy search, which the tests check.

Both end on any scores: a NaN log-probability counts as impossible (``-inf``), a
sentence whose hypotheses can no longer reach a finite score is done (it keeps its
best one, even with an infinite score), so the length cap always holds; the search
settings are bounded (:data:`MAX_BEAM`, ...) so that no value asks for unbounded work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqtool.errors import UsageError, check_between
from seqtool.models.protocols import Seq2SeqModule
from seqtool.text.vocab import BOS, EOS, PAD

MAX_BEAM = 256  # wider beams cost time and memory and no longer find better output
MAX_LENPEN = 5.0  # 0 (sum of log-probabilities) .. 1 (per token) .. a strong push to length
MAX_LEN_A = 100.0  # output tokens per source token
MAX_LEN_B = 10_000  # output tokens added to that


@dataclass(frozen=True)
class SearchConfig:
    beam: int = 5
    lenpen: float = 1.0
    nbest: int = 1
    max_len_a: float = 1.5
    max_len_b: int = 10

    def check(self) -> SearchConfig:
        check_between("beam", self.beam, 1, MAX_BEAM)
        if not 1 <= self.nbest <= self.beam:
            raise UsageError(
                f"`nbest` must be between 1 and `beam` ({self.beam}), not {self.nbest}"
            )
        check_between("lenpen", self.lenpen, 0, MAX_LENPEN)
        check_between("max_len_a", self.max_len_a, 0, MAX_LEN_A)
        check_between("max_len_b", self.max_len_b, 0, MAX_LEN_B)
        if self.max_len_a == 0 and self.max_len_b < 1:
            raise UsageError("max_len_a and max_len_b must allow at least one output token")
        return self


@dataclass
class Hypothesis:
    tokens: list[int]  # without <bos> and <eos>
    score: float  # log-probability / length ** lenpen (greedy: the log-probability)
    logprob: float  # total log-probability, <eos> included


def max_lengths(src_lens: Tensor, a: float, b: int) -> Tensor:
    """Per-sentence cap on output tokens (``<eos>`` excluded), at least 1."""
    return (src_lens.double() * a + b).floor().long().clamp(min=1)


@dataclass
class OutputSpace:
    """Which token each logit column stands for.

    A model restricted to a shortlist (``model.output_ids``: the tokens seen on the
    target side in training) returns logits over those tokens only; the search
    works on columns and maps the chosen ones back to token ids.
    """

    ids: Tensor | None  # (V',) token id of each column; None: column = token id
    eos: int  # the column of <eos>
    banned: list[int]  # columns never produced: <pad> and <bos>

    @classmethod
    def of(cls, model: Seq2SeqModule, device: torch.device) -> OutputSpace:
        ids = model.output_ids
        if ids is None:
            return cls(None, EOS, [PAD, BOS])
        cols = {int(t): c for c, t in enumerate(ids.tolist())}
        return cls(ids.to(device), cols[EOS], [cols[t] for t in (PAD, BOS) if t in cols])

    def tokens(self, columns: Tensor) -> Tensor:
        return columns if self.ids is None else self.ids[columns]


def _log_probs(logits: Tensor, forced: Tensor, space: OutputSpace) -> Tensor:
    """Log-probabilities of the next token; ``<pad>`` and ``<bos>`` are never produced,
    and rows in ``forced`` can only end (``<eos>``)."""
    for col in space.banned:  # in place: the logits are this step's own tensor
        logits[:, col] = float("-inf")
    lp = torch.log_softmax(logits, dim=-1, dtype=torch.float32)  # (N, V), float even in bf16
    lp = lp.masked_fill(torch.isnan(lp), float("-inf"))  # a NaN score is no score
    if bool(forced.any()):
        eos_only = torch.full_like(lp[0], float("-inf"))
        eos_only[space.eos] = 0.0
        lp = torch.where(forced[:, None], eos_only, lp)
    return lp


@torch.inference_mode()
def greedy_search(
    model: Seq2SeqModule, src: Tensor, src_lens: Tensor, max_len_a: float = 1.5, max_len_b: int = 10
) -> list[Hypothesis]:
    """The most probable token at every step, for every sentence of the batch."""
    b = src.shape[0]
    caps = max_lengths(src_lens, max_len_a, max_len_b).to(src.device)  # (B,)
    state = model.encode(src, src_lens)
    space = OutputSpace.of(model, src.device)
    alive = torch.arange(b, device=src.device)  # batch row -> sentence
    tokens = torch.full((b,), BOS, dtype=torch.long, device=src.device)
    out: list[list[int]] = [[] for _ in range(b)]
    logprob = [0.0] * b
    step = 0
    while alive.numel():
        logits, state = model.decode_step(tokens, state, step)
        lp = _log_probs(logits, caps[alive] <= step, space)  # (N, V)
        best, col = lp.max(dim=-1)  # (N,)
        nxt = space.tokens(col)
        done = (nxt == EOS) | ~torch.isfinite(best)  # no possible token left: ends too
        for s, t, p, d in zip(alive.tolist(), nxt.tolist(), best.tolist(), done.tolist()):
            logprob[s] += p
            if not d:
                out[s].append(t)
        step += 1
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            alive, nxt = alive[keep], nxt[keep]
            state = model.reorder(state, keep)
        tokens = nxt
    return [Hypothesis(out[s], logprob[s], logprob[s]) for s in range(b)]


@torch.inference_mode()
def beam_search(
    model: Seq2SeqModule, src: Tensor, src_lens: Tensor, cfg: SearchConfig
) -> list[list[Hypothesis]]:
    """The ``cfg.nbest`` best hypotheses of every sentence, best first."""
    cfg.check()
    k = cfg.beam
    b, dev = src.shape[0], src.device
    caps = max_lengths(src_lens, cfg.max_len_a, cfg.max_len_b).to(dev)  # (B,)
    state = model.encode(src, src_lens)
    space = OutputSpace.of(model, dev)
    state = model.reorder(state, torch.arange(b, device=dev).repeat_interleave(k))  # B*K rows
    alive = torch.arange(b, device=dev)  # active row group -> sentence
    scores = torch.zeros(b, k, device=dev)  # (A, K) summed log-probs
    scores[:, 1:] = float("-inf")  # all beams start equal: expand only the first
    history = torch.zeros(b * k, 0, dtype=torch.long, device=dev)  # (A*K, t)
    tokens = torch.full((b * k,), BOS, dtype=torch.long, device=dev)
    finished: list[list[Hypothesis]] = [[] for _ in range(b)]
    step = 0
    while alive.numel():
        a = alive.numel()
        logits, state = model.decode_step(tokens, state, step)  # (A*K, V)
        forced = (caps[alive] <= step).repeat_interleave(k)  # (A*K,)
        lp = _log_probs(logits, forced, space)
        v = lp.shape[-1]
        scores_before = scores  # (A, K), best first
        cand = (scores.view(-1, 1) + lp).view(a, k * v)  # (A, K*V)
        top, idx = cand.topk(min(2 * k, k * v), dim=-1)  # (A, 2K)
        beam, tok = idx // v, space.tokens(idx % v)
        is_eos = (tok == EOS) & torch.isfinite(top)
        # Finish the <eos> extensions that rank among the best K.
        ended = is_eos[:, :k].nonzero().tolist()
        if ended:
            top_l, beam_l = top.tolist(), beam.tolist()
            norm = (step + 1) ** cfg.lenpen
            for r, j in ended:
                s = int(alive[r])
                if len(finished[s]) < k:
                    seq = history[r * k + beam_l[r][j]].tolist()
                    finished[s].append(Hypothesis(seq, top_l[r][j] / norm, top_l[r][j]))
        # The best K extensions that do not end continue.
        cont_scores, sel = top.masked_fill(is_eos, float("-inf")).topk(k, dim=-1)  # (A, K)
        rows = (torch.arange(a, device=dev)[:, None] * k + beam.gather(1, sel)).view(-1)
        new_tok = tok.gather(1, sel).view(-1)  # (A*K,)
        before = history
        history = torch.cat([history[rows], new_tok[:, None]], dim=1)
        scores = cont_scores
        step += 1
        # Done: K hypotheses finished, or none left that can reach a finite score (at the
        # length cap only <eos> is possible, so every sentence ends there).
        live = torch.isfinite(cont_scores).any(dim=1).tolist()
        done_l = [len(finished[int(s)]) >= k or not ok for s, ok in zip(alive.tolist(), live)]
        for r, (s, d) in enumerate(zip(alive.tolist(), done_l)):
            if d and not finished[s]:  # nothing finite finished: keep the best beam as it was
                best = float(scores_before[r, 0])
                finished[s].append(Hypothesis(before[r * k].tolist(), best, best))
        done = torch.tensor(done_l, device=dev)
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)  # (A',)
            alive, scores = alive[keep], scores[keep]
            keep_rows = (keep[:, None] * k + torch.arange(k, device=dev)).view(-1)
            rows, history, new_tok = rows[keep_rows], history[keep_rows], new_tok[keep_rows]
        state = model.reorder(state, rows)
        tokens = new_tok
    out = []
    for hyps in finished:
        hyps.sort(key=lambda h: -h.score)
        out.append(hyps[: cfg.nbest])
    return out
