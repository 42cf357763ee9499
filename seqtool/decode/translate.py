"""Translating a stream of lines: one result per input line, in input order.

Lines are read in blocks (a few thousand at a time, so a long file is never
held in memory, or what has arrived on a pipe: :func:`translate_blocks`); within
a block sources are sorted by length and translated in batches of similar
length, then the results are handed back in input order.
An empty (or all-blank) input line gives an empty translation without touching
the model.

Example::

    mt = Translator.load("mt.pt")          # seqtool.tasks.mt
    for nbest in translate_lines(mt.model, mt.src_vocab, mt.tgt_vocab,
                                 ["Ein Hund läuft."], SearchConfig(beam=5)):
        print(nbest[0].text)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

import torch
from torch import nn

from seqtool.decode.beam import SearchConfig, beam_search, greedy_search
from seqtool.errors import UsageError
from seqtool.io import atomic_write
from seqtool.models.protocols import as_seq2seq
from seqtool.text.vocab import BOS, EOS, Vocab
from seqtool.train.mt_data import pad_batch

BLOCK_LINES = 4000
MAX_SOURCE_TOKENS = 1024
MAX_BEAM_ROWS = 4096  # hypotheses decoded together (batch_size x beam), to bound memory


@dataclass
class TranslateStats:
    """What translating a stream met on the way (filled in as the lines go by)."""

    lines: int = 0
    truncated: int = 0  # sources cut to ``max_src_len`` tokens


@dataclass
class Translation:
    text: str
    score: float  # length-normalised log-probability (greedy: total log-probability)
    tokens: list[int]


def translate_batch(
    model: nn.Module,
    sources: list[list[int]],
    search: SearchConfig,
    device: torch.device,
) -> list[list[tuple[list[int], float]]]:
    """n-best (token ids, score) lists for already encoded sources (each ending in ``<eos>``)."""
    src, lens = pad_batch(sources)
    src, lens = src.to(device), lens.to(device)
    if search.beam == 1:
        hyps = greedy_search(as_seq2seq(model), src, lens, search.max_len_a, search.max_len_b)
        return [[(h.tokens, h.score)] for h in hyps]
    return [
        [(h.tokens, h.score) for h in nbest]
        for nbest in beam_search(as_seq2seq(model), src, lens, search)
    ]


def translate_lines(
    model: nn.Module,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    lines: Iterable[str],
    search: SearchConfig,
    batch_size: int = 128,
    device: torch.device | None = None,
    block_lines: int = BLOCK_LINES,
    max_src_len: int = MAX_SOURCE_TOKENS,
    stats: TranslateStats | None = None,
) -> Iterator[list[Translation]]:
    """The n-best translations of every line, yielded in input order, block by block
    (``block_lines`` lines read at a time; :func:`translate_blocks`)."""
    for block in translate_blocks(
        model, src_vocab, tgt_vocab, line_blocks(lines, block_lines), search, batch_size,
        device, max_src_len, stats,
    ):  # fmt: skip
        yield from block


def line_blocks(lines: Iterable[str], block_lines: int = BLOCK_LINES) -> Iterator[list[str]]:
    """``lines`` in lists of ``block_lines`` (the last one shorter), read as needed."""
    it = iter(lines)
    return iter(lambda: list(islice(it, block_lines)), [])


def translate_blocks(
    model: nn.Module,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    blocks: Iterable[Sequence[str]],
    search: SearchConfig,
    batch_size: int = 128,
    device: torch.device | None = None,
    max_src_len: int = MAX_SOURCE_TOKENS,
    stats: TranslateStats | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[list[list[Translation]]]:
    """The n-best translations of each block of lines, one list per block, in input
    order; a block is translated as soon as it is read, without looking further, so
    that blocks of what has arrived (:func:`seqtool.io.read_line_batches`) stream.

    Within a block sources are sorted by length and translated ``batch_size`` at a
    time.  A source longer than ``max_src_len`` tokens (``<eos>`` included) is cut to
    that length: one runaway line (a whole book without line breaks) would otherwise
    hold the batch for minutes and yield a translation of no use; ``stats`` counts them.
    ``on_progress(lines)`` is told after each batch how many lines are done in all.
    """
    search.check()
    if max_src_len < 2:
        raise UsageError(f"--max-src-len must be at least 2, not {max_src_len}")
    stats = stats if stats is not None else TranslateStats()
    device = device or next(model.parameters()).device
    model.eval()
    for block in blocks:
        results: list[list[Translation]] = [[Translation("", 0.0, [])] for _ in block]
        todo = [i for i, line in enumerate(block) if line.strip()]
        encoded = src_vocab.encode_batch([block[i] for i in todo])
        ids = {i: [*e[: max_src_len - 1], EOS] for i, e in zip(todo, encoded)}
        done = stats.lines + len(block) - len(todo)  # empty lines need no model
        stats.lines += len(block)
        stats.truncated += sum(len(e) >= max_src_len for e in encoded)
        todo.sort(key=lambda i: len(ids[i]))
        # A batch holds batch_size * beam hypotheses: a wide beam takes fewer sentences.
        step = max(1, min(batch_size, MAX_BEAM_ROWS // search.beam))
        for start in range(0, len(todo), step):
            chunk = todo[start : start + step]
            nbests = translate_batch(model, [ids[i] for i in chunk], search, device)
            for i, nbest in zip(chunk, nbests):
                results[i] = [Translation(tgt_vocab.decode(t), s, t) for t, s in nbest]
            if on_progress is not None:
                on_progress(done + start + len(chunk))
        yield results


@torch.inference_mode()
def attention_matrix(model: nn.Module, src_ids: list[int], tgt_ids: list[int]) -> torch.Tensor:
    """Attention ``(T + 1, S)`` of the decoder over the source while producing ``tgt_ids``
    then ``<eos>`` (teacher-forced; for the Transformer, the last layer's heads averaged)."""
    device = next(model.parameters()).device
    src = torch.tensor([src_ids], device=device)
    lens = torch.tensor([len(src_ids)], device=device)
    tgt_in = torch.tensor([[BOS, *tgt_ids]], device=device)
    _, weights = model(src, lens, tgt_in, need_weights=True)
    if weights is None:
        raise ValueError("this model does not return attention weights")
    return weights[0].float().cpu()  # (T + 1, S)


def plot_attention(
    model: nn.Module,
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    line: str,
    search: SearchConfig,
    path: str | os.PathLike[str],
) -> None:
    """Translate ``line`` and draw the attention heat map (d2l's ``show_heatmaps``) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    device = next(model.parameters()).device
    src_ids = [*src_vocab.encode(line), EOS]
    tokens = translate_batch(model, [src_ids], search, device)[0][0][0]
    att = attention_matrix(model, src_ids, tokens).numpy()

    def pieces(vocab: Vocab, ids: list[int]) -> list[str]:
        return [vocab.tokens[i] if 0 <= i < len(vocab) else "?" for i in ids]

    xs, ys = pieces(src_vocab, src_ids), [*pieces(tgt_vocab, tokens), "<eos>"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.4 * len(xs) + 2), max(3.0, 0.35 * len(ys) + 1.5)))
    im = ax.imshow(att, cmap="Reds", aspect="auto", vmin=0.0)
    ax.set_xticks(range(len(xs)), xs, rotation=90, fontsize=8)
    ax.set_yticks(range(len(ys)), ys, fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=120)
    plt.close(fig)
