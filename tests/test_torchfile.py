"""The torch-free checkpoint writer: what it writes, torch.load(weights_only=True) reads back."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from seqtool.train.checkpoint import load_checkpoint
from seqtool.train.torchfile import ALIGN, checkpoint_header, write_torch_file


def round_trip(obj: object, **load: object) -> object:
    buf = io.BytesIO()
    write_torch_file(buf, obj)
    buf.seek(0)
    return torch.load(buf, weights_only=True, **load)  # type: ignore[arg-type]


def test_plain_values_come_back_as_written() -> None:
    obj = {
        "small": 7, "word": 300, "int32": -70_000, "big": 2**40, "huge": -(2**70),
        "f": 0.1, "inf": float("inf"), "s": "héllo \u2603", "none": None, "yes": True,
        "no": False, "list": [1, [2, "x"], (3, 4.5), {}], "tuple": (), "one": ("a",),
        "nested": {"a": {"b": [None, 1.5]}},
    }  # fmt: skip
    assert round_trip(obj) == obj


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.array([1, -2, 3], dtype=np.int64),
        np.array(2.5, dtype=np.float32),  # 0-d stays 0-d
        np.zeros((0, 3), dtype=np.float32),
        np.arange(6, dtype=np.float64).reshape(2, 3).T,  # not contiguous
        np.array([True, False]),
        np.arange(5, dtype=np.int32)[::2],
    ],
)
def test_arrays_come_back_as_tensors(array: np.ndarray) -> None:
    back = round_trip({"t": array, "after": 1})
    assert isinstance(back, dict) and back["after"] == 1
    tensor = back["t"]
    assert isinstance(tensor, torch.Tensor)
    assert tuple(tensor.shape) == array.shape
    assert np.array_equal(tensor.numpy(), array) and tensor.numpy().dtype == array.dtype


def test_mixed_tree_and_mmap_loading(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    state = {"a.weight": rng.normal(size=(5, 7)).astype(np.float32), "a.bias": np.ones(5, "f4")}
    path = tmp_path / "m.pt"
    with open(path, "wb") as f:
        write_torch_file(f, {"model": state, "vocab": {"tokens": ["<pad>", "x"], "counts": [0, 3]}})
    back = torch.load(path, weights_only=True, mmap=True)
    assert back["vocab"] == {"tokens": ["<pad>", "x"], "counts": [0, 3]}
    for k, v in state.items():
        assert np.array_equal(back["model"][k].numpy(), v)
    import zipfile

    with zipfile.ZipFile(path) as z:  # storages start on aligned offsets (for mmap)
        for info in z.infolist():
            if "/data/" in info.filename:
                start = info.header_offset + 30 + len(info.filename) + len(info.extra)
                assert start % ALIGN == 0


def test_same_object_same_bytes() -> None:
    obj = {"w": np.arange(4, dtype=np.float32), "s": "x"}
    a, b = io.BytesIO(), io.BytesIO()
    write_torch_file(a, obj)
    write_torch_file(b, obj)
    assert a.getvalue() == b.getvalue()


@pytest.mark.parametrize(
    "bad",
    [{"x": object()}, {1: [np.zeros(1, "f4"), object()]}, {"x": np.array(["s"])}, {"x": b"b"}],
)
def test_unsupported_values_are_refused(bad: object) -> None:
    with pytest.raises(TypeError):
        write_torch_file(io.BytesIO(), bad)


def test_a_checkpoint_written_without_torch_loads_as_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    with open(path, "wb") as f:
        payload = {**checkpoint_header(), "kind": "x", "config": {"d": 2}, "model": {}}
        write_torch_file(f, payload)
    ckpt = load_checkpoint(path, kinds=("x",))
    assert ckpt["config"] == {"d": 2} and ckpt["format_version"] == 1


def test_the_writer_does_not_import_torch() -> None:
    code = (
        "import io, sys, numpy as np\n"
        "from seqtool.train.torchfile import write_torch_file\n"
        "write_torch_file(io.BytesIO(), {'w': np.zeros(3, 'f4')})\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
