"""Choosing where and how training runs: device, precision, threads, seeds, RNG state.

Everything device-specific in seqtool is decided here, once, at run time; models
and batches are then moved with ``.to(device)`` and nothing else in the code base
names a device.

* ``resolve_device("auto")``: CUDA if present, else Apple's MPS, else the CPU.
* ``resolve_precision("auto", device)``: bf16 autocast on CUDA devices that support
  it, full fp32 elsewhere (CPU bf16 is opt-in: it is only faster on recent CPUs).
* :func:`single_thread_recurrence`: the CPU thread policy of small recurrences.
* :func:`rng_state` / :func:`set_rng_state` capture every random source as plain
  tensors and lists, so they fit in a ``weights_only`` checkpoint.
"""

from __future__ import annotations

import random
import weakref
from typing import Any

import numpy as np
import torch
from torch import nn

from seqtool.errors import ResourceError, UsageError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise ResourceError("`device` mps: Apple's MPS backend is not available here")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ResourceError(
                f"`device` {name}: CUDA is not available (torch {torch.__version__}, "
                f"{'built without CUDA' if torch.version.cuda is None else 'no GPU found'})",
                hint="use `device` cpu, or install a CUDA build of torch",
            )
        if name == "cuda":
            return torch.device("cuda")
        index = name.partition(":")[2]
        if not index.isdigit():
            raise UsageError(f"`device` {name}: expected cuda:N with N a GPU number")
        count = torch.cuda.device_count()
        if int(index) >= count:
            raise ResourceError(f"`device` {name}: only {count} GPU(s) found (0..{count - 1})")
        return torch.device("cuda", int(index))
    raise UsageError(f"unknown `device` {name!r}; choose auto, cpu, cuda, cuda:N or mps")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for plain fp32."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown `precision` {precision!r}; choose {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    if precision == "fp16":
        if device.type == "cpu":
            raise UsageError("`precision` fp16 needs a GPU; on the CPU use bf16 or fp32")
        return torch.float16
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ResourceError(f"`precision` bf16: {torch.cuda.get_device_name(device)} lacks bf16")
    return torch.bfloat16


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AVX512-BF16 or AMX).

    On such CPUs bf16 autocast trains the default Transformer at about twice the
    tokens per CPU-second of float32 (benchmarks/mt.py), so train-mt and translate
    use it there by default.
    """
    cpu = getattr(torch, "cpu", None)
    return any(
        bool(getattr(cpu, probe, lambda: False)())
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    )


def inference_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype to translate in: ``auto`` is bfloat16 where the hardware computes it
    natively (CUDA with bf16, CPUs with AVX512-BF16 or AMX: about 5x the float32
    matrix throughput on such CPUs), else float32."""
    if precision not in ("auto", "fp32", "bf16"):
        raise UsageError(f"`precision` must be auto, fp32 or bf16, not {precision!r}")
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    if device.type == "cpu" and cpu_has_fast_bf16():
        return torch.bfloat16
    return torch.float32


def precision_name(dtype: torch.dtype | None) -> str:
    return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]


def set_threads(threads: int | None) -> int:
    """Use ``threads`` CPU threads for torch (None keeps torch's default); returns the count."""
    if threads is not None:
        if threads < 1:
            raise UsageError(f"`threads` must be at least 1, not {threads}")
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# Recurrent products below this many flops per time step run on one CPU thread.
SINGLE_THREAD_FLOPS = 2e7
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}
_POLICED: weakref.WeakSet[nn.Module] = weakref.WeakSet()


def single_thread_recurrence(model: nn.Module) -> nn.Module:
    """Run each small ``nn.RNN``/``GRU``/``LSTM`` of ``model`` on one CPU thread.

    A recurrence is a chain of small matrix products, one per time step and layer
    (forward and backward).  Spread over several OpenMP threads, each costs a
    wake-up of the sleeping threads (seqtool makes them wait passively), which on
    a 2x200 LSTM with batch 20 takes longer than the product itself.  Hooks on the
    recurrent modules drop to one thread for their forward pass and, in training,
    for their part of the backward pass; the big products elsewhere (the output
    layer) keep every thread.  Decided per call from the batch size; nothing
    changes on a GPU or with one thread.  Returns ``model``.
    """
    for module in model.modules():
        if isinstance(module, nn.RNNBase) and module not in _POLICED:
            _POLICED.add(module)
            saved: list[int] = []
            module.register_forward_pre_hook(_pre_hook(saved))
            module.register_forward_hook(_post_hook(saved), always_call=True)
    return model


def _small(x: Any, module: nn.RNNBase) -> bool:
    if not isinstance(x, torch.Tensor) or x.device.type != "cpu":
        return False
    if torch.get_num_threads() < 2 or torch.compiler.is_compiling():
        return False
    batch = x.shape[0] if module.batch_first or x.dim() < 3 else x.shape[1]
    flops = 2 * batch * module.hidden_size * _GATES.get(module.mode, 4) * module.hidden_size
    return flops < SINGLE_THREAD_FLOPS


def _pre_hook(saved: list[int]) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        assert isinstance(module, nn.RNNBase)
        if args and _small(args[0], module):
            saved.append(torch.get_num_threads())
            torch.set_num_threads(1)

    return hook


def _post_hook(saved: list[int]) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        if not saved:
            return
        n = saved.pop()
        torch.set_num_threads(n)
        x = args[0]
        out = output[0] if isinstance(output, tuple) else None
        if isinstance(out, torch.Tensor) and out.requires_grad and x.requires_grad:
            # The backward pass of the recurrence runs between these two hooks.
            out.register_hook(_set_threads_hook(1))
            x.register_hook(_set_threads_hook(n))

    return hook


def _set_threads_hook(n: int) -> Any:
    def hook(grad: torch.Tensor) -> None:
        torch.set_num_threads(n)

    return hook


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's (CPU and every GPU) random generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def rng_state() -> dict[str, Any]:
    """Every global random state, as tensors, lists and numbers (``weights_only``-safe)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [py_version, list(py_internal), py_gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured."""
    py_version, py_internal, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_internal), py_gauss))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda = [s.cpu() for s in state["cuda"]]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def describe(device: torch.device, dtype: torch.dtype | None) -> str:
    """A short human description: ``cuda:0 (NVIDIA H100, bf16)`` or ``cpu (2 threads, fp32)``."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)}, {precision_name(dtype)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads, {precision_name(dtype)})"
    return f"{device} ({precision_name(dtype)})"
