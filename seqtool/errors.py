"""User-facing errors.

The library raises these; ``seqtool.cli`` is the only place that catches them,
prints ``seqtool: error: <message>`` (and an optional ``hint:`` line) and turns
them into exit codes.  Every message is one line that a user can act on.
"""

from __future__ import annotations

import math
from collections.abc import Collection


class SeqtoolError(Exception):
    """A mistake or problem the user can fix; never shown with a traceback."""

    exit_code = 1
    label: str | None = "error"  # printed as `seqtool: error: ...`; None: `seqtool: ...`

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(SeqtoolError):
    """Bad command-line usage: an impossible option value or combination."""

    exit_code = 2


class InputError(SeqtoolError):
    """A missing, empty, binary, undecodable or malformed input file."""


class CheckpointError(SeqtoolError):
    """A checkpoint or vocabulary of the wrong kind, format or version."""


class ResourceError(SeqtoolError):
    """Something the machine cannot provide: a device, memory, the network."""


class Interrupted(SeqtoolError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143) stopped a command; temporary files are gone."""

    exit_code = 130

    def __init__(self, message: str = "interrupted", exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Terminate(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``finally`` and cleanup runs.

    A KeyboardInterrupt (not an Exception) so that no ``except Exception`` swallows it.
    """


# Checks every config's ``check()`` makes, worded once.  ``name`` is the parameter as
# the user passed it; :func:`param` writes it the way the command line rewrites into
# a flag (snake_case bare, a single word in backticks).
def param(name: str) -> str:
    """A parameter as errors name it: snake_case bare, a single word in backticks."""
    return name if "_" in name else f"`{name}`"


def check_choice(name: str, value: object, choices: Collection[object]) -> None:
    """Refuse ``value`` unless it is one of ``choices``."""
    if value not in choices:
        raise UsageError(
            f"unknown {param(name)} {value!r}; choose {', '.join(str(c) for c in choices)}"
        )


def check_finite(name: str, value: float | None) -> None:
    """Refuse a set ``value`` that is NaN or infinite (``float('nan')`` compares false
    with everything, so a range check alone lets it through)."""
    if value is not None and not isinstance(value, int) and not math.isfinite(value):
        raise UsageError(f"{param(name)} must be a finite number, not {value}")


def check_at_least(name: str, value: float | None, minimum: float = 1) -> None:
    """Refuse a set ``value`` below ``minimum``, or not a finite number (``None`` means
    "not set")."""
    check_finite(name, value)
    if value is not None and value < minimum:
        raise UsageError(f"{param(name)} must be at least {minimum}, not {value}")


def check_positive(name: str, value: float | None) -> None:
    """Refuse a set ``value`` that is not a finite number above 0."""
    check_finite(name, value)
    if value is not None and not value > 0:
        raise UsageError(f"{param(name)} must be positive, not {value}")


def check_between(name: str, value: float | None, low: float, high: float) -> None:
    """Refuse a set ``value`` outside ``[low, high]`` (NaN included)."""
    check_finite(name, value)
    if value is not None and not low <= value <= high:
        raise UsageError(f"{param(name)} must be from {_num(low)} to {_num(high)}, not {value}")


def _num(x: float) -> str:
    """A bound as people write it: ``5``, ``0.01``, ``4294967295``."""
    return f"{x:g}" if isinstance(x, float) else str(x)


def check_fraction(name: str, value: float | None) -> None:
    """Refuse a set ``value`` outside ``[0, 1)`` (NaN included)."""
    if value is not None and not 0 <= value < 1:
        raise UsageError(f"{param(name)} must be in [0, 1), not {value}")


# Seeds go to Python's, numpy's and torch's generators, and (times 1,000,003 plus the
# epoch) to per-epoch torch generators: numpy's legacy seeding takes 32 bits, and the
# product must stay inside torch's 64 bits.
SEED_MAX = 2**32 - 1


def check_seed(name: str, value: int | None) -> None:
    """Refuse a seed outside ``0 .. SEED_MAX`` (what every generator seqtool seeds takes)."""
    if value is not None and not 0 <= value <= SEED_MAX:
        raise UsageError(f"{param(name)} must be from 0 to {SEED_MAX}, not {value}")
