"""SIGINT/SIGTERM during training: note the signal, let the loop stop cleanly.

While :func:`stop_signals` is active, the first SIGINT or SIGTERM calls
``on_signal(signum)`` (the loop then finishes its step or block, writes a resumable
checkpoint and stops); the previous handlers are back at once, so a second signal
acts immediately. Outside the main thread Python cannot install handlers, so
nothing changes there.  :func:`signals_held` keeps both signals waiting while a
checkpoint is written, so a second Ctrl-C cannot leave the run with nothing saved.
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


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (noted, not lost) until the block ends.

    Around a checkpoint write: a signal arriving meanwhile (the second Ctrl-C of an
    impatient user, a SIGTERM from a scheduler after its grace period) is raised
    again once the file is complete, so it ends the process with the checkpoint
    saved instead of half written.  (Blocking with ``pthread_sigmask`` would not do:
    it holds the signal for this thread only, and torch's worker threads take it.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s in STOP_SIGNALS:
        signal.signal(s, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(caught):
            signal.raise_signal(signum)
