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
from seqtool.train.torchfile import FORMAT, FORMAT_VERSION, checkpoint_header

# version -> function upgrading a checkpoint dict of that version to the next one.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` (kind, config, vocab, model, ...) as a checkpoint, atomically."""
    if "kind" not in payload or "model" not in payload:
        raise ValueError("a checkpoint needs at least 'kind' and 'model'")
    data = {**checkpoint_header(), **payload}
    with atomic_write(path, "wb") as f:
        torch.save(data, f)


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
    return check_checkpoint(data, name, kinds)


def check_checkpoint(data: Any, name: str, kinds: Collection[str] | None = None) -> dict[str, Any]:
    """Validate format, version and kind; upgrade old versions through :data:`MIGRATIONS`."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{name}: not a seqtool checkpoint (format {found!r}, expected {FORMAT!r})"
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
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
    check_weights(ckpt["model"], name)
    try:
        model = build(ckpt["config"]) if build else build_model(ckpt["kind"], ckpt["config"])
        model.load_state_dict(ckpt["model"])
    except (RuntimeError, SeqtoolError, KeyError) as e:
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
