"""User-facing errors.

The library raises these; ``seqtool.cli`` is the only place that catches them,
prints ``seqtool: error: <message>`` (and an optional ``hint:`` line) and turns
them into exit codes.  Every message is one line that a user can act on.
"""

from __future__ import annotations


class SeqtoolError(Exception):
    """A mistake or problem the user can fix; never shown with a traceback."""

    exit_code = 1

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
