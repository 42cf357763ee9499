"""What `seqtool generate` prints: --one-line gives a line of text even after a prefix
the model ends a line after ("ROMEO:"), --num samples are told apart, and each
prefix samples from its own seeded stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from seqtool.decode.sampling import SamplingConfig, generate
from seqtool.tasks.lm import LanguageModel, LMConfig, prompt_seed, train_lm
from seqtool.train.runner import TrainOptions

PLAY = "ROMEO:\nabcdefgh ijklmnop\n"


@pytest.fixture(scope="module")
def play_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A character GRU that learned the two lines of PLAY: after "ROMEO:" it ends the line."""
    d = tmp_path_factory.mktemp("play")
    (d / "play.txt").write_text(PLAY * 150, encoding="utf-8")
    cfg = LMConfig(files=[str(d / "play.txt")], model="gru", embed=32, hidden=32, layers=1,
                   dropout=0.0, seq_len=16, batch_size=16)  # fmt: skip
    opts = TrainOptions(max_steps=120, lr=1e-2, warmup=10, device="cpu", threads=1, seed=0)
    lm = train_lm(cfg, opts, d / "lm.pt")
    assert lm.run is not None and lm.run.result.best is not None and lm.run.result.best < 1.5
    return d / "lm.pt"


def test_one_line_after_a_prefix_ending_a_line_gives_the_next_line(cli, play_lm: Path) -> None:
    # The model's next character after "ROMEO:" is a line end: --one-line used to
    # stop there and print the prefix alone.
    run = cli("generate", play_lm, "--prefix", "ROMEO:", "--one-line", "--greedy",
              "--max-tokens", "40")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "ROMEO: abcdefgh ijklmnop\n"
    # a prefix ending in white space keeps it, and gets no second space
    run = cli("generate", play_lm, "--prefix", "ROMEO: ", "--one-line", "--greedy")
    assert run.stdout.startswith("ROMEO: ") and not run.stdout.startswith("ROMEO:  ")
    # without --one-line the sample is what the model wrote, line end and all
    run = cli("generate", play_lm, "--prefix", "ROMEO:", "--greedy", "--max-tokens", "19")
    assert run.stdout == "ROMEO:\nabcdefgh ijklmnop\n\n"


def test_several_samples_are_separated_by_an_empty_line(cli, play_lm: Path) -> None:
    run = cli("generate", play_lm, "--prefix", "abc", "--num", "3", "--max-tokens", "30",
              "--temperature", "0.5")  # fmt: skip
    assert run.exit_code == 0, run.stderr
    samples = run.stdout[:-1].split("\n\n")  # the model never writes an empty line
    assert len(samples) == 3 and all(s.startswith("abc") and "\n" in s for s in samples)
    js = cli("generate", play_lm, "--prefix", "abc", "--num", "3", "--max-tokens", "30",
             "--temperature", "0.5", "--format", "jsonl")  # fmt: skip
    assert [json.loads(x)["text"] for x in js.stdout.splitlines()] == samples
    # --one-line: one line per sample, no separator needed
    one = cli("generate", play_lm, "--prefix", "abc", "--num", "3", "--one-line")
    assert len(one.stdout.splitlines()) == 3 and "" not in one.stdout.splitlines()
    # prefixes from stdin, one sample each: separated the same way
    many = cli("generate", play_lm, "--max-tokens", "25", "--greedy", input="ab\nROMEO:\n")
    assert len(many.stdout[:-1].split("\n\n")) == 2


def test_a_prefix_samples_the_same_whatever_comes_with_it(play_lm: Path) -> None:
    lm = LanguageModel.load(play_lm, "cpu")
    kw: dict[str, Any] = dict(max_tokens=20, num=2, seed=5)
    alone = lm.generate(["abc"], **kw)[0]
    assert lm.generate(["abc", "xyz", "ROMEO:"], **kw)[0] == alone  # "xyz" in its batch
    # the second prefix of a stream is the second prefix wherever the blocks break
    streamed = [s for block in lm.generate_stream([["xy"], ["abc", "ab"]], **kw) for s in block]
    assert streamed == lm.generate(["xy", "abc", "ab"], **kw)
    assert streamed[1] != alone  # its own stream: not the first prefix's


def test_prompt_seeds() -> None:
    assert prompt_seed(7, 0) == 7  # one prefix samples as it always did
    seeds = {prompt_seed(s, i) for s in range(20) for i in range(1, 50)}
    assert len(seeds) == 20 * 49 and all(0 <= x < 2**63 for x in seeds)


class Scripted(torch.nn.Module):
    """An LM that puts all its probability on ``script[t]`` at step ``t``."""

    context = None
    carries_state = True

    def __init__(self, script: list[int], vocab: int = 12) -> None:
        super().__init__()
        self.script, self.vocab = script, vocab

    def init_state(self, batch_size: int) -> int:
        return 0

    def cached(self, state: int) -> int:
        return 0

    def read(self, ids: torch.Tensor, state: Any = None) -> Any:
        return state or 0  # reading the prompt is not a step of the script

    def forward(self, ids: torch.Tensor, state: Any = None, targets: Any = None) -> Any:
        t = state or 0
        logits = torch.full((ids.shape[0], ids.shape[1], self.vocab), -1e9)
        logits[:, -1, self.script[min(t, len(self.script) - 1)]] = 0.0
        return logits, t + 1


def test_lead_ids_do_not_end_a_sample_before_its_text() -> None:
    lm: Any = Scripted([7, 8, 7, 9, 10, 7, 11])  # line end, space, line end, text, line end
    prompt = torch.full((1, 2), 5)
    cfg = SamplingConfig(max_tokens=10, greedy=True, stop=(7,))
    assert generate(lm, prompt, cfg) == [[]]  # the old --one-line: nothing
    lead = SamplingConfig(max_tokens=10, greedy=True, stop=(7,), lead=(7, 8))
    assert generate(lm, prompt, lead) == [[7, 8, 7, 9, 10]]


def test_one_generator_per_group_of_rows() -> None:
    lm: Any = Scripted([3])
    flat = SamplingConfig(max_tokens=6)  # uniform over the 12 ids: draws are the generator's
    lm.forward = lambda ids, state=None, targets=None: (torch.zeros(ids.shape[0], 1, 12), 0)
    prompt = torch.full((4, 1), 5)
    both = generate(lm, prompt, flat, [torch.Generator().manual_seed(s) for s in (1, 2)])
    one = generate(lm, prompt[:2], flat, torch.Generator().manual_seed(1))
    two = generate(lm, prompt[:2], flat, torch.Generator().manual_seed(2))
    assert both == one + two
    with pytest.raises(ValueError, match="cannot be split"):
        generate(lm, prompt, flat, [torch.Generator()] * 3)
