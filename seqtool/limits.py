"""How much of the machine seqtool may ask for: CPU threads, worker processes, line length.

Each bound turns a request that would exhaust the machine (``--threads 100000``
crashes torch; ``--workers 300`` forks 300 processes of tens of MB each; a 200 MB
"line" is read into one string) into a one-line error that names the limit.
The line-length cap is a process-wide setting (like numpy's print options): the
CLI sets it from ``--max-line-bytes``; library users call
:func:`set_max_line_bytes`.
"""

from __future__ import annotations

import os

from seqtool.errors import UsageError

DEFAULT_MAX_LINE_BYTES = 64 << 20  # 64 MiB: far above any real line, far below memory
THREADS_PER_CPU = 4  # oversubscribing a little is harmless; thousands of threads are not
WORKERS_PER_CPU = 2  # a worker process costs tens of MB; more than the cores never helps

_settings = {"max_line_bytes": DEFAULT_MAX_LINE_BYTES}


def usable_cpus() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def max_threads() -> int:
    return max(8, THREADS_PER_CPU * usable_cpus())


def max_workers() -> int:
    return max(4, WORKERS_PER_CPU * usable_cpus())


def check_threads(threads: int, name: str = "`threads`") -> int:
    """``threads`` if the machine can take it; a UsageError naming the limit otherwise."""
    return _within(threads, max_threads(), THREADS_PER_CPU, name)


def check_workers(workers: int, name: str = "`workers`") -> int:
    """``workers`` processes if the machine can take them; a UsageError otherwise."""
    return _within(workers, max_workers(), WORKERS_PER_CPU, name)


def _within(value: int, cap: int, per_cpu: int, name: str) -> int:
    if value > cap:
        raise UsageError(
            f"{name} must be at most {cap} ({per_cpu} per usable CPU core, "
            f"{usable_cpus()} here), not {value}"
        )
    return value


def max_line_bytes() -> int:
    """The longest input line (in bytes, line break excluded) seqtool reads."""
    return _settings["max_line_bytes"]


def set_max_line_bytes(limit: int, name: str = "max_line_bytes") -> None:
    if limit < 1:
        raise UsageError(f"{name} must be at least 1, not {limit}")
    _settings["max_line_bytes"] = int(limit)


def parse_size(text: str, name: str = "size") -> int:
    """``65536``, ``64K``, ``64M``, ``1G`` (binary multiples) -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = s[-1:] if s[-1:] in ("K", "M", "G") else ""
    number = s[: len(s) - len(unit)]
    if not number.isdigit() or len(number) > 18:  # isdigit: ASCII digits only below
        raise UsageError(f"{name} must be a whole number of bytes such as 64M or 1G, not {text!r}")
    if not number.isascii():
        raise UsageError(f"{name} must be a whole number of bytes such as 64M or 1G, not {text!r}")
    return int(number) * units[unit]
