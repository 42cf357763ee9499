"""Property tests over checkpoints' config sections (issue 13: the fuzz suites reach
checkpoints too).

A small LM (a GRU and a Transformer) and a small translator are trained once; each
example replaces one value in one section (`config`, `lm`/`mt`, `preprocess`,
`metrics`, `train_config`, the header) by a generated one and saves the checkpoint
again, CRCs included, as an edited file would be.  Loading it must either give a
model that still works (it generates, scores or translates a line) or raise a
:class:`SeqtoolError`, never another exception.  The integers generated stay below
10**4 or are one of a few giants: the giants are refused by the shape check before
anything is allocated; a missed small one costs at most a few hundred MB.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqtool
from seqtool.errors import SeqtoolError

SECTIONS = ("config", "preprocess", "metrics", "train_config", "header")
HEADER_KEYS = ("format", "format_version", "kind", "seqtool_version")
GIANTS = (2**31, 10**9, 10**12, -(2**63))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**4),
    st.sampled_from(GIANTS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(0, 5), max_size=2),
)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each tiny model's checkpoint dictionary, trained once for the module."""
    torch.set_num_threads(1)
    d = tmp_path_factory.mktemp("ckpts")
    text = d / "text.txt"
    text.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20, encoding="utf-8")
    pairs = d / "pairs.tsv"
    pairs.write_text("the cat\tle chat\na dog\tun chien\n" * 20, encoding="utf-8")
    options = seqtool.TrainOptions(max_steps=2, seed=0)
    small = {"files": [str(text)], "seq_len": 8}
    seqtool.train_lm(seqtool.LMConfig(**small, model="gru", hidden=16, embed=8), options, d / "gru.pt")  # fmt: skip
    seqtool.train_lm(
        seqtool.LMConfig(**small, model="transformer", dim=16, heads=2, layers=1, ff_dim=32),
        options,
        d / "tf.pt",
    )
    seqtool.train_mt(
        seqtool.MTConfig(pairs=str(pairs), model="gru-attn", tokenizer="word", embed=8, hidden=16),
        options,
        d / "mt.pt",
    )
    return {name: torch.load(d / f"{name}.pt", weights_only=True) for name in ("gru", "tf", "mt")}


def _use(name: str, path: Path) -> None:
    """Load the checkpoint the way the commands do and run the model on one line."""
    if name == "mt":
        out = seqtool.Translator.load(path).translate(["the cat"], beam=2)
        assert isinstance(out[0][0].text, str)
    else:
        lm = seqtool.LanguageModel.load(path)
        assert isinstance(lm.generate(["the "], max_tokens=5, seed=0)[0][0], str)
        assert len(lm.score_lines(["the cat"])) == 1


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(["gru", "tf", "mt"]),
    section=st.sampled_from([*SECTIONS, "task"]),
    pick=st.integers(0, 50),
    new_key=st.booleans(),
    value=VALUES,
)
def test_edited_sections_load_or_fail_with_one_error(
    checkpoints: dict[str, dict[str, Any]],
    tmp_path: Path,
    name: str,
    section: str,
    pick: int,
    new_key: bool,
    value: object,
) -> None:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in checkpoints[name].items()}
    if section == "header":
        target, keys = data, list(HEADER_KEYS)
    else:
        sec = {"task": "mt" if name == "mt" else "lm"}.get(section, section)
        target = data.get(sec)
        if not isinstance(target, dict):
            return
        keys = sorted(target)
    key = "fuzz" if new_key or not keys else keys[pick % len(keys)]
    target[key] = value
    path = tmp_path / f"{name}.pt"
    torch.save(data, path)
    try:
        _use(name, path)
    except SeqtoolError as e:
        assert str(e).strip() and "\n" not in str(e).strip(), repr(e)


@pytest.mark.parametrize(
    ("name", "section", "key", "value", "says"),
    [
        ("mt", "config", "bidirectional", 1, "`bidirectional` = 1 is not a valid bool"),
        ("mt", "config", "layers", True, "`layers` = True is not a valid int"),
        ("mt", "config", "dropout", float("nan"), "`dropout` = nan is not a valid float"),
        ("gru", "config", "dropout", 1.5, "`dropout` = 1.5 is not a valid float"),
        ("mt", "mt", "output_ids", 1, "malformed output shortlist"),
    ],
)
def test_what_the_fuzzing_found(
    checkpoints: dict[str, dict[str, Any]],
    tmp_path: Path,
    name: str,
    section: str,
    key: str,
    value: object,
    says: str,
) -> None:
    """Each was a TypeError or RuntimeError from torch before (found by the test above)."""
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in checkpoints[name].items()}
    data[section][key] = value
    torch.save(data, tmp_path / "x.pt")
    with pytest.raises(SeqtoolError, match=re.escape(says)):
        _use(name, tmp_path / "x.pt")
