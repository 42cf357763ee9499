"""Translation models and search: masking, no look-ahead, padding invariance, beam 1 == greedy."""

from __future__ import annotations

import pytest
import torch

from seqtool.decode.beam import SearchConfig, beam_search, greedy_search, max_lengths
from seqtool.errors import UsageError
from seqtool.models.seq2seq import (
    AdditiveAttention,
    GRUAttn,
    GRUAttnConfig,
    masked_softmax,
    translation_loss,
)
from seqtool.models.transformer_mt import TransformerMT, TransformerMTConfig
from seqtool.train.mt_data import pad_batch

V = 30


def gru(**kw: object) -> GRUAttn:
    cfg = dict(src_vocab=V, tgt_vocab=V, embed=16, hidden=24, layers=2, dropout=0.0)
    cfg.update(kw)
    return GRUAttn(GRUAttnConfig(**cfg)).eval()  # type: ignore[arg-type]


def transformer(**kw: object) -> TransformerMT:
    cfg = dict(src_vocab=V, tgt_vocab=V, layers=2, dim=32, heads=4, ff_dim=64, dropout=0.0)
    cfg.update(kw)
    return TransformerMT(TransformerMTConfig(**cfg)).eval()  # type: ignore[arg-type]


MODELS = {
    "gru-attn-bi": lambda: gru(),
    "gru-attn-uni": lambda: gru(bidirectional=False, layers=1),
    "gru-attn-separate-embeddings": lambda: gru(tgt_vocab=V + 5),
    "transformer": lambda: transformer(),
    "transformer-untied": lambda: transformer(shared_embeddings=False, tgt_vocab=V + 5),
}


def sources() -> tuple[torch.Tensor, torch.Tensor]:
    src, lens = pad_batch([[5, 6, 7, 8, 3], [9, 10, 3], [11, 12, 13, 3]])
    return src, lens


# ---------------------------------------------------------------------- masked softmax
def test_masked_softmax_zeroes_padding_exactly() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 2, 4)
    out = masked_softmax(x, torch.tensor([2, 3]))
    assert torch.equal(out[0, :, 2:], torch.zeros(2, 2))
    assert torch.equal(out[1, :, 3:], torch.zeros(2, 1))
    torch.testing.assert_close(out[0, :, :2], torch.softmax(x[0, :, :2], -1), rtol=0, atol=0)
    torch.testing.assert_close(out[1, :, :3], torch.softmax(x[1, :, :3], -1), rtol=0, atol=0)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 2))


def test_masked_softmax_ignores_the_values_at_padded_positions() -> None:
    x = torch.rand(2, 3, 5)
    y = x.clone()
    y[0, :, 2:] = 1e4  # huge scores in the padding change nothing
    y[1, :, 4:] = -7.0
    lens = torch.tensor([2, 4])
    assert torch.equal(masked_softmax(x, lens), masked_softmax(y, lens))


def test_masked_softmax_per_query_lengths_as_d2l() -> None:
    x = torch.rand(2, 2, 4)
    out = masked_softmax(x, torch.tensor([[1, 3], [2, 4]]))
    assert torch.equal(out[0, 0, 1:], torch.zeros(3))
    assert torch.equal(out[0, 1, 3:], torch.zeros(1))
    assert torch.equal(out[1, 0, 2:], torch.zeros(2))
    assert (out[1, 1] > 0).all()


def test_masked_softmax_without_lengths_is_softmax() -> None:
    x = torch.rand(2, 3, 4)
    assert torch.equal(masked_softmax(x, None), torch.softmax(x, -1))


def test_additive_attention_shapes_and_masking() -> None:
    att = AdditiveAttention(key_size=2, query_size=20, hidden=8, dropout=0.0).eval()
    q, k = torch.normal(0, 1, (2, 1, 20)), torch.ones(2, 10, 2)
    v = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    out, w = att(q, k, v, torch.tensor([2, 6]))
    assert out.shape == (2, 1, 4) and w.shape == (2, 1, 10)
    # Equal keys: uniform weights over the valid ones (d2l's worked example).
    torch.testing.assert_close(w[0, 0, :2], torch.full((2,), 0.5))
    torch.testing.assert_close(w[1, 0, :6], torch.full((6,), 1 / 6))
    assert torch.equal(w[0, 0, 2:], torch.zeros(8))


# ---------------------------------------------------------------------- the models
@pytest.mark.parametrize("name", MODELS)
def test_decoder_never_looks_ahead(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS[name]()
    src, lens = sources()
    tgt = torch.randint(4, V, (3, 7))
    tgt[:, 0] = 2
    logits, _ = model(src, lens, tgt)
    for t in range(6):
        changed = tgt.clone()
        changed[:, t + 1 :] = torch.randint(4, V, (3, 6 - t))
        again, _ = model(src, lens, changed)
        torch.testing.assert_close(again[:, : t + 1], logits[:, : t + 1])


@pytest.mark.parametrize("name", MODELS)
def test_padding_never_changes_a_sentence(name: str) -> None:
    """A sentence translated in a padded batch gets exactly the logits it gets alone."""
    torch.manual_seed(0)
    model = MODELS[name]()
    src, lens = sources()
    tgt = torch.randint(4, V, (3, 5))
    batch_logits, _ = model(src, lens, tgt)
    for i in range(3):
        n = int(lens[i])
        alone, _ = model(src[i : i + 1, :n], lens[i : i + 1], tgt[i : i + 1])
        torch.testing.assert_close(alone[0], batch_logits[i], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_step_by_step_decoding_matches_teacher_forcing(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS[name]()
    src, lens = sources()
    tgt = torch.randint(4, V, (3, 6))
    tgt[:, 0] = 2
    full, _ = model(src, lens, tgt)
    state = model.encode(src, lens)
    for t in range(6):
        step, state = model.decode_step(tgt[:, t], state, t)
        torch.testing.assert_close(step, full[:, t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_attention_weights_are_returned_and_ignore_padding(name: str) -> None:
    model = MODELS[name]()
    src, lens = sources()
    tgt = torch.randint(4, V, (3, 4))
    _, att = model(src, lens, tgt, need_weights=True)
    assert att is not None and att.shape == (3, 4, src.shape[1])
    torch.testing.assert_close(att.sum(-1), torch.ones(3, 4))
    assert torch.equal(att[1, :, 3:], torch.zeros(4, 2))  # sentence 1 has 3 tokens


def test_shared_embeddings_are_one_matrix() -> None:
    model = transformer()
    assert model.src_embed.weight is model.tgt_embed.weight is model.out.weight
    untied = transformer(shared_embeddings=False)
    assert untied.src_embed.weight is not untied.tgt_embed.weight
    with pytest.raises(ValueError):
        transformer(tgt_vocab=V + 1)  # shared embeddings need a joint vocabulary


def test_loss_ignores_padding() -> None:
    logits = torch.randn(2, 3, V)
    tgt = torch.tensor([[5, 6, 3], [7, 3, 0]])
    ref = torch.nn.functional.cross_entropy(
        torch.cat([logits[0], logits[1, :2]]), torch.tensor([5, 6, 3, 7, 3])
    )
    torch.testing.assert_close(translation_loss(logits, tgt), ref)


# ---------------------------------------------------------------------- search
@pytest.mark.parametrize("name", ["gru-attn-bi", "transformer"])
def test_beam_one_equals_greedy(name: str) -> None:
    torch.manual_seed(1)
    model = MODELS[name]()
    src, lens = pad_batch([[5 + i, *range(6, 6 + i % 5), 3] for i in range(12)])
    greedy = greedy_search(model, src, lens, 1.0, 4)
    beam = beam_search(model, src, lens, SearchConfig(beam=1, max_len_a=1.0, max_len_b=4))
    assert [b[0].tokens for b in beam] == [g.tokens for g in greedy]
    for b, g in zip(beam, greedy):
        assert b[0].logprob == pytest.approx(g.logprob, abs=1e-4)


@pytest.mark.parametrize("name", ["gru-attn-bi", "transformer"])
def test_beam_search_nbest_is_sorted_and_capped(name: str) -> None:
    torch.manual_seed(2)
    model = MODELS[name]()
    src, lens = sources()
    cfg = SearchConfig(beam=4, nbest=3, lenpen=0.6, max_len_a=0.0, max_len_b=6)
    out = beam_search(model, src, lens, cfg)
    assert len(out) == 3
    for nbest in out:
        assert len(nbest) == 3
        scores = [h.score for h in nbest]
        assert scores == sorted(scores, reverse=True)
        assert all(len(h.tokens) <= 6 for h in nbest)
        assert all(3 not in h.tokens and 2 not in h.tokens for h in nbest)
        assert len({tuple(h.tokens) for h in nbest}) == 3  # distinct hypotheses


def test_beam_finds_a_better_sequence_than_greedy_when_one_exists() -> None:
    """A hand-made model where the greedy first step leads to a worse whole sentence."""

    class Toy(torch.nn.Module):
        # step 0: token 5 (p .6) or 6 (p .4); after 5 everything is uniform over 10
        # tokens, after 6 <eos> is certain: greedy gets .6 * .1, beam 2 finds .4 * 1.
        output_ids = None  # scores every token (the Seq2SeqModule contract)

        def encode(self, src: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
            return torch.zeros(src.shape[0])

        def decode_step(self, tokens: torch.Tensor, state: torch.Tensor, step: int):  # type: ignore[no-untyped-def]
            logits = torch.full((tokens.shape[0], 12), -1e9)
            if step == 0:
                logits[:, 5], logits[:, 6] = (
                    torch.log(torch.tensor(0.6)),
                    torch.log(torch.tensor(0.4)),
                )
            else:
                after_six = tokens == 6
                logits[:, 2:12] = 0.0
                logits[after_six] = -1e9
                logits[after_six, 3] = 0.0
            return logits, state

        def reorder(self, state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return state.index_select(0, index)

    src, lens = pad_batch([[7, 3]])
    greedy = greedy_search(Toy(), src, lens, 0.0, 2)
    assert greedy[0].tokens[0] == 5
    beam = beam_search(Toy(), src, lens, SearchConfig(beam=2, lenpen=0.0, max_len_a=0, max_len_b=2))
    assert beam[0][0].tokens == [6]


def test_max_lengths_and_config_checks() -> None:
    assert max_lengths(torch.tensor([4, 10]), 1.5, 2).tolist() == [8, 17]
    assert max_lengths(torch.tensor([4]), 0.0, 0).tolist() == [1]
    for bad in (dict(beam=0), dict(beam=2, nbest=3), dict(max_len_a=-1.0)):
        with pytest.raises(UsageError):
            SearchConfig(**bad).check()  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["gru-attn-bi", "transformer"])
def test_output_shortlist(name: str) -> None:
    """Restricted decoding scores exactly the shortlisted columns and produces only them."""
    torch.manual_seed(3)
    model = MODELS[name]()
    src, lens = sources()
    tokens = torch.tensor([2, 2, 2])
    full, _ = model.decode_step(tokens, model.encode(src, lens), 0)
    ids = torch.tensor([1, 3, 7, 8, 9, 20, 21])
    model.restrict_output(ids)
    short, _ = model.decode_step(tokens, model.encode(src, lens), 0)
    torch.testing.assert_close(short, full[:, ids])
    greedy = greedy_search(model, src, lens, 1.0, 5)
    beam = beam_search(model, src, lens, SearchConfig(beam=1, max_len_a=1.0, max_len_b=5))
    assert [b[0].tokens for b in beam] == [g.tokens for g in greedy]
    wide = beam_search(model, src, lens, SearchConfig(beam=3, nbest=2, max_len_a=1.0, max_len_b=5))
    produced = {t for g in greedy for t in g.tokens} | {
        t for n in wide for h in n for t in h.tokens
    }
    assert produced <= {1, 7, 8, 9, 20, 21}
    model.restrict_output(None)
    again, _ = model.decode_step(tokens, model.encode(src, lens), 0)
    torch.testing.assert_close(again, full)
