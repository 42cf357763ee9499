"""Write a checkpoint in ``torch.save``'s file format without importing torch.

Importing torch costs one to two seconds of CPU, more than fastText needs to
train on SST-2; a command that trains with numpy (``classify train -m bow``)
writes its checkpoint here, and everything else reads it with the usual
``torch.load(weights_only=True)`` (:func:`seqtool.train.checkpoint.load_checkpoint`).

The format (torch >= 1.6): an uncompressed zip whose folder holds ``data.pkl``, a
protocol-2 pickle of the object in which every tensor is the call
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
OrderedDict())`` and every storage a persistent id ``("storage", torch.XStorage,
key, "cpu", numel)``; ``data/<key>``, the storage's raw little-endian bytes (at
64-byte aligned offsets, so ``torch.load(mmap=True)`` works too); ``byteorder``
and ``version``.  Only what a seqtool checkpoint holds is written: dicts, lists,
tuples, str, int, float, bool, None and numpy arrays; anything else is a
``TypeError``.  The parts without arrays are pickled by the pickle module; the
tensors are emitted opcode by opcode (the pickle module would import torch to
check the two global names).
"""

from __future__ import annotations

import datetime as _dt
import io
import pickle
import struct
import zipfile
from typing import IO, Any

import numpy as np

from seqtool import __version__

FORMAT = "seqtool"  # what every seqtool checkpoint says it is
FORMAT_VERSION = 1

# numpy dtype -> the legacy storage class torch's loader maps back to that dtype
_STORAGES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}
ALIGN = 64


class _Pickle:
    """The protocol-2 opcodes of one object tree; arrays become storage records."""

    def __init__(self) -> None:
        self.out = bytearray(b"\x80\x02")  # PROTO 2
        self.arrays: list[np.ndarray] = []

    def global_(self, module: str, name: str) -> None:
        self.out += b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    def str_(self, s: str) -> None:
        data = s.encode("utf-8", "surrogatepass")
        self.out += b"X" + struct.pack("<I", len(data)) + data

    def int_(self, n: int) -> None:
        if 0 <= n < 256:
            self.out += b"K" + bytes([n])
        elif 0 <= n < 65536:
            self.out += b"M" + struct.pack("<H", n)
        elif -(2**31) <= n < 2**31:
            self.out += b"J" + struct.pack("<i", n)
        else:
            raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
            self.out += b"\x8a" + bytes([len(raw)]) + raw  # LONG1

    def tuple_(self, items: tuple[Any, ...] | list[Any]) -> None:
        self.out += b"("  # MARK
        for item in items:
            self.save(item)
        self.out += b"t"  # TUPLE

    def array(self, a: np.ndarray) -> None:
        if a.dtype not in _STORAGES:
            raise TypeError(f"cannot write a {a.dtype} array as a torch tensor")
        a = np.require(a, requirements="C")  # (ascontiguousarray makes 0-d arrays 1-d)
        key = len(self.arrays)
        self.arrays.append(a)
        self.global_("torch._utils", "_rebuild_tensor_v2")
        self.out += b"("  # the arguments
        self.out += b"("
        self.str_("storage")
        self.global_("torch", _STORAGES[a.dtype])
        self.str_(str(key))
        self.str_("cpu")
        self.int_(a.size)
        self.out += b"t"
        self.out += b"Q"  # BINPERSID
        self.int_(0)  # storage offset
        self.tuple_([int(n) for n in a.shape])
        self.tuple_([s // a.itemsize for s in a.strides] if a.ndim else [])
        self.out += b"\x89"  # requires_grad False
        self.global_("collections", "OrderedDict")
        self.out += b")R"  # OrderedDict() (backward hooks)
        self.out += b"tR"  # the call

    def save(self, obj: Any) -> None:
        plain = _plain_pickle(obj) if type(obj) in (list, tuple, dict) else None
        if plain is not None:  # no arrays inside: the pickle module writes it, faster
            self.out += plain
        elif obj is None:
            self.out += b"N"
        elif obj is True or obj is False:
            self.out += b"\x88" if obj else b"\x89"
        elif isinstance(obj, (int, np.integer)):
            self.int_(int(obj))
        elif isinstance(obj, (float, np.floating)):
            self.out += b"G" + struct.pack(">d", float(obj))
        elif isinstance(obj, str):
            self.str_(obj)
        elif isinstance(obj, np.ndarray):
            self.array(obj)
        elif isinstance(obj, dict):
            self.out += b"}("
            for k, v in obj.items():
                self.save(k)
                self.save(v)
            self.out += b"u"  # SETITEMS
        elif isinstance(obj, list):
            self.out += b"]("
            for item in obj:
                self.save(item)
            self.out += b"e"  # APPENDS
        elif isinstance(obj, tuple):
            self.tuple_(obj)
        else:
            raise TypeError(f"cannot write a {type(obj).__name__} into a torch file")


class _NotPlain(Exception):
    pass


class _PlainPickler(pickle.Pickler):
    """Pickles dicts, lists, tuples and scalars; anything else stops it."""

    def reducer_override(self, obj: Any) -> Any:  # called for every other kind of object
        raise _NotPlain


def _plain_pickle(obj: Any) -> bytes | None:
    """The protocol-2 opcodes of ``obj`` (without PROTO and STOP, no memo) if it holds
    only dicts, lists, tuples and plain scalars, else None."""
    buf = io.BytesIO()
    pickler = _PlainPickler(buf, protocol=2)
    pickler.fast = True  # no memo (BINPUT) opcodes: the fragment stands alone
    try:
        pickler.dump(obj)
    except _NotPlain:
        return None
    return buf.getvalue()[2:-1]


def write_torch_file(f: IO[bytes], obj: Any, folder: str = "archive") -> None:
    """Write ``obj`` to the binary file ``f`` as ``torch.save(obj, f)`` would (with
    numpy arrays for tensors); ``torch.load(f, weights_only=True)`` reads it."""
    pickled = _Pickle()
    pickled.save(obj)
    pickled.out += b"."  # STOP
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as z:

        def add(name: str, data: bytes | memoryview, align: bool = False) -> None:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            if align:  # pad the local header's extra field so the data starts aligned
                start = z.fp.tell() + 30 + len(info.filename.encode()) + 4  # type: ignore[union-attr]
                info.extra = b"FB" + struct.pack("<H", pad := -start % ALIGN) + b"Z" * pad
            z.writestr(info, data)

        add("data.pkl", bytes(pickled.out))
        add("byteorder", b"little")
        for key, a in enumerate(pickled.arrays):
            little = a if a.dtype.byteorder in "<=|" else a.astype(a.dtype.newbyteorder("<"))
            add(f"data/{key}", little.reshape(-1).view(np.uint8).data, align=True)
        add("version", b"3\n")


def checkpoint_header() -> dict[str, Any]:
    """The fields that open every seqtool checkpoint (format, version, when)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "seqtool_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
