"""SIGINT/SIGTERM during training: note the signal, let the loop stop cleanly.

While :func:`stop_signals` is active, the first SIGINT or SIGTERM calls
``on_signal(signum)`` (the loop then finishes its step or block, writes a resumable
checkpoint and stops); the previous handlers are back at once, so a second signal
acts immediately. Outside the main thread Python cannot install handlers, so
nothing changes there.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals(on_signal: Callable[[int], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

    def handler(signum: int, frame: Any) -> None:
        on_signal(signum)
        for s, h in previous.items():
            signal.signal(s, h)

    for s in previous:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
