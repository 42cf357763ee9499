"""One self-describing checkpoint file: save atomically, load without running code.

A checkpoint is ``torch.save`` of a dict holding only primitives, lists, dicts,
bytes and tensors (layout in ``STYLE.md``)::

    {"format": "seqtool", "format_version": 1, "seqtool_version": "0.1.0",
     "kind": "transformer_lm", "config": {...}, "vocab": {...}, "model": state_dict,
     "train_state": {...} (only in resumable files), "metrics": {...},
     "created": "2025-...", "argv": [...]}

so :func:`load_checkpoint` reads it with ``torch.load(weights_only=True)``: a file
carrying any other pickled object (which could run code when unpickled) is refused
with a one-line :class:`~seqtool.errors.CheckpointError`, as are files of another
format, version or kind.  Old versions are upgraded by explicit functions in
:data:`MIGRATIONS`, never by probing for attributes.

Integrity: ``torch.save`` writes a zip whose every record carries a CRC-32, but
``torch.load`` never checks them, so a flipped bit in a weight would load as a
wrong number.  :func:`load_checkpoint` verifies every record's CRC first (about
0.14 s per 100 MB, the cost of reading the file once more from the page cache);
any mismatch is "checkpoint is corrupt (checksum mismatch)".  Every checkpoint
torch ever wrote has these CRCs, so old files are verified too; a file saved
with torch's CRCs switched off (``torch.serialization.set_crc32_options``: all
zero) loads unverified.

A checkpoint's config is checked before anything is built from it: settings
that repeat modules (``layers``, ``blocks``) cannot outnumber the stored
tensors, no size setting may exceed :data:`MAX_SETTING`, and
:func:`check_shapes` builds the model on torch's ``meta`` device (shapes only,
no memory) and compares every stored tensor's shape with what the config asks
for, so an edited ``hidden`` or ``vocab_size`` is one line, not an allocation of
terabytes.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import torch

from seqtool import __version__
from seqtool.errors import CheckpointError, InputError, SeqtoolError
from seqtool.io import atomic_write
from seqtool.models import build_model
from seqtool.train.signals import signals_held
from seqtool.train.torchfile import FORMAT, FORMAT_VERSION, checkpoint_header

# The largest integer any config setting may hold (the index range of int32); a
# stored tensor dimension is always far smaller.
MAX_SETTING = 2**31 - 1
# Settings that repeat a module: each repeat holds at least one stored tensor.
REPEATS = ("layers", "blocks")
# Sections that, when present, are dicts (their readers call ``.get`` on them).
SECTIONS = ("lm", "mt", "classify", "forecast", "train_state", "train_config", "metrics")
# Tables a model computes rather than stores (sinusoidal positions): at most this
# many values beyond the stored weights' count (256 MB of float32).
MAX_DERIVED = 2**26

# version -> function upgrading a checkpoint dict of that version to the next one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` (kind, config, vocab, model, ...) as a checkpoint, atomically."""
    if "kind" not in payload or "model" not in payload:
        raise ValueError("a checkpoint needs at least 'kind' and 'model'")
    data = {**checkpoint_header(), **payload}
    from torch.serialization import get_crc32_options, set_crc32_options

    crc = get_crc32_options()
    set_crc32_options(True)  # the CRCs are what load_checkpoint verifies
    try:
        with signals_held(), atomic_write(path, "wb") as f:
            torch.save(data, f)
    finally:
        set_crc32_options(crc)


def load_checkpoint(
    path: str | os.PathLike[str],
    kinds: Collection[str] | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Read and validate a checkpoint; ``kinds`` lists the kinds the caller accepts."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{name}: no such file")
    if p.is_dir():
        raise InputError(f"{name}: is a directory, not a checkpoint")
    if not zipfile.is_zipfile(p):
        raise CheckpointError(
            f"{name}: not a readable checkpoint (truncated, or not a torch checkpoint file)"
        )
    verify_records(p, name)
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        detail = str(e).strip().splitlines()
        what = next((ln for ln in detail if "GLOBAL" in ln or "Unsupported" in ln), "")
        raise CheckpointError(
            f"{name}: refusing to load: the file holds pickled Python objects other than "
            f"tensors, which could run code (not a seqtool checkpoint)"
            + (f" [{what.strip()[:120]}]" if what else "")
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{name}: not a readable checkpoint (truncated or not a torch file: {first[:120]})"
        ) from None
    data = check_checkpoint(data, name, kinds)
    check_settings(data, name)
    return data


def verify_records(path: Path, name: str) -> None:
    """Check every record of the checkpoint's zip against its stored CRC-32.

    Records must be stored uncompressed (torch writes them so; a compressed one
    could inflate without bound) and fit in the file.  All-zero CRCs mean the
    file was written with torch's CRCs off: it is not verified.
    """
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
                raise CheckpointError(f"{name}: not a torch checkpoint (compressed records)")
            if sum(i.file_size for i in infos) > path.stat().st_size:
                raise CheckpointError(
                    f"{name}: checkpoint is corrupt (record sizes exceed the file)"
                )
            if all(i.CRC == 0 for i in infos if i.file_size):
                return
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{name}: checkpoint is corrupt ({first[:120]})") from None
    if bad is not None:
        raise CheckpointError(
            f"{name}: checkpoint is corrupt (checksum mismatch in record {bad[:80]!r})",
            hint="the file was damaged after it was written; use another copy",
        )


def _tensors(data: dict[str, Any]) -> list[torch.Tensor]:
    return [v for v in data["model"].values() if isinstance(v, torch.Tensor)]


def check_settings(data: dict[str, Any], name: str) -> None:
    """Refuse config settings no stored weights can back, before anything is built:
    integers beyond :data:`MAX_SETTING`, and repeat counts (:data:`REPEATS`) above
    the number of stored tensors."""
    tensors = _tensors(data)
    for key, value in data["config"].items():
        if isinstance(value, bool) or not isinstance(value, int) or key == "seed":
            continue
        if not -MAX_SETTING <= value <= MAX_SETTING:
            raise CheckpointError(
                f"{name}: config setting {key} = {value} is out of range (edited or corrupt config)"
            )
        if key in REPEATS and value > len(tensors):
            raise CheckpointError(
                f"{name}: config setting {key} = {value:,}, but the file holds only "
                f"{len(tensors)} weight tensors (edited or corrupt config)"
            )


def check_shapes(
    data: dict[str, Any], name: str, build: Callable[[dict[str, Any]], torch.nn.Module]
) -> None:
    """Compare the stored weights with the model ``build(config)`` describes, built on
    the ``meta`` device (no memory): the same names, shapes and kinds of number,
    and no computed table far larger than the weights.  One-line
    :class:`CheckpointError` otherwise."""
    check_settings(data, name)
    try:
        with torch.device("meta"):
            model = build(data["config"])
    except (SeqtoolError, TypeError, ValueError, RuntimeError, KeyError, OverflowError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{name}: impossible model config ({first[:160]})") from None
    want = model.state_dict()
    have = data["model"]
    for key in want:
        if key not in have:
            raise CheckpointError(
                f"{name}: weights do not match the model config (no {key[:80]!r} in the file)"
            )
    for key, value in have.items():
        if key not in want:
            raise CheckpointError(
                f"{name}: weights do not match the model config "
                f"({str(key)[:80]!r} is not a weight of this model)"
            )
        w = want[key]
        if tuple(value.shape) != tuple(w.shape):
            raise CheckpointError(
                f"{name}: weights do not match the model config ({key} is "
                f"{'x'.join(map(str, value.shape)) or 'a scalar'} in the file, the config "
                f"makes it {'x'.join(map(str, w.shape)) or 'a scalar'})"
            )
        if value.dtype.is_complex or value.dtype.is_floating_point != w.dtype.is_floating_point:
            raise CheckpointError(
                f"{name}: weight {key} holds {str(value.dtype).replace('torch.', '')} "
                f"numbers, not {str(w.dtype).replace('torch.', '')}"
            )
    stored = sum(t.numel() for t in _tensors(data))
    derived = sum(b.numel() for k, b in model.named_buffers() if k not in want)
    if derived > MAX_DERIVED + stored:
        raise CheckpointError(
            f"{name}: the config asks for {derived:,} computed values (position tables) "
            f"beside {stored:,} stored weights (edited or corrupt config)"
        )


def check_checkpoint(data: Any, name: str, kinds: Collection[str] | None = None) -> dict[str, Any]:
    """Validate format, version and kind; upgrade old versions through :data:`MIGRATIONS`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{name}: not a seqtool checkpoint (format {found!r}, expected {FORMAT!r})"
        )
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(
            f"{name}: malformed checkpoint (format_version must be a whole number, "
            f"not {type(version).__name__} {str(version)[:40]!r})"
        )
    if version > FORMAT_VERSION or version < 1:
        raise CheckpointError(
            f"{name}: checkpoint format version {version!r} is not supported "
            f"(this seqtool {__version__} reads versions 1..{FORMAT_VERSION})",
            hint="upgrade seqtool"
            if isinstance(version, int) and version > FORMAT_VERSION
            else None,
        )
    while version < FORMAT_VERSION:
        data = MIGRATIONS[version](data)
        version = data["format_version"]
    kind = data.get("kind")
    if kinds is not None and kind not in kinds:
        raise CheckpointError(
            f"{name}: a {kind!r} checkpoint, but this command needs {' or '.join(map(repr, sorted(kinds)))}"
        )
    for key in ("config", "model"):
        if not isinstance(data.get(key), dict):
            raise CheckpointError(f"{name}: malformed checkpoint (no {key!r} section)")
    for key in SECTIONS:
        if key in data and not isinstance(data[key], dict):
            raise CheckpointError(
                f"{name}: malformed checkpoint (its {key!r} section is a "
                f"{type(data[key]).__name__}, not a mapping)"
            )
    for key, value in data["model"].items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{name}: malformed checkpoint (weight {str(key)[:80]!r} is not a tensor)"
            )
    return data


def restore_model(
    ckpt: dict[str, Any],
    name: str,
    build: Callable[[dict[str, Any]], torch.nn.Module] | None = None,
) -> torch.nn.Module:
    """The model a checkpoint describes holding its weights: ``build(config)``, by
    default the :data:`seqtool.models.MODELS` entry of its ``kind``; a mismatch
    between weights and config is a one-line :class:`CheckpointError` naming
    ``name`` (the file)."""
    make = build or (lambda config: build_model(ckpt["kind"], config))
    check_weights(ckpt["model"], name)
    check_shapes(ckpt, name, make)
    try:
        model = make(ckpt["config"])
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, SeqtoolError, KeyError, TypeError, ValueError) as e:
        text = str(e).strip()
        first = text.splitlines()[0] if text else type(e).__name__
        raise CheckpointError(
            f"{name}: weights do not match the model config ({first[:160]})"
        ) from None
    return model


def check_weights(state: dict[str, Any], name: str) -> None:
    """Refuse weights no model can use: complex numbers, and NaN or infinite values
    (what a diverged training run leaves; decoding with them gives NaN scores and
    garbage).  Cheap next to loading: one pass over the tensors."""
    bad: list[str] = []
    for key, t in state.items():
        if not isinstance(t, torch.Tensor):
            continue  # load_state_dict says what is wrong with it
        if t.is_complex():
            raise CheckpointError(
                f"{name}: weight {key!r} holds complex numbers ({str(t.dtype).removeprefix('torch.')}); "
                "seqtool models are real-valued"
            )
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            bad.append(key)
    if bad:
        raise CheckpointError(
            f"{name}: the weights hold NaN or infinite values ({len(bad)} tensor(s), first "
            f"{bad[0]!r}): the model diverged in training and cannot be used",
            hint="train it again with a lower learning rate or gradient clipping",
        )
