"""How freed memory is kept: reused within a job, and given back to the operating
system between the phases of a large one (glibc's allocator; others are left alone).

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

import numpy as np

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


KEEP_BYTES = 24 << 20
_kept = False


def keep_freed_blocks() -> None:
    """Make the C allocator keep freed blocks of up to 24 MB for reuse (once a process).

    Counting a chunk allocates and frees a few dozen arrays of about its size.  glibc
    serves blocks above its mmap threshold (128 KB at first) with fresh pages and
    returns them when freed, so every chunk's arrays fault their pages in again:
    measured, a quarter to a third of the counting time.  The threshold follows the
    largest block freed (mallopt(3), up to 32 MB), so one 24 MB block allocated and
    freed makes later blocks come from the heap and be reused (the heap then keeps up
    to twice that much free memory); other allocators just allocate and free it.
    """
    global _kept
    if not _kept:
        _kept = True
        np.empty(KEEP_BYTES, dtype=np.uint8)  # mapped and unmapped, never touched
