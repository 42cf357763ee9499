"""Freed memory back to the operating system between the phases of a large job.

numpy takes arrays below glibc's mmap threshold (which grows to 32 MB as large
blocks are freed) from the heap, and a heap fragmented by many such temporaries
keeps its freed pages: the process's resident memory stays at its high-water mark
although the arrays are gone.  :func:`release` asks glibc to hand every free page
back (``malloc_trim``); it takes milliseconds, and does nothing where the C
library has no such call.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked = False


WORTH = 256 << 20  # below this much data the page faults after a trim cost more


def release(data_bytes: int = WORTH) -> None:
    """Return the heap's free pages to the operating system (glibc only), when the job
    holds ``data_bytes`` >= :data:`WORTH` (a small one gains little and pays for the
    pages it takes back)."""
    global _trim, _looked
    if data_bytes < WORTH:
        return
    if not _looked:
        _looked = True
        try:
            _trim = ctypes.CDLL(None).malloc_trim
        except (OSError, AttributeError, TypeError):
            _trim = None
    if _trim is not None:
        _trim(0)
