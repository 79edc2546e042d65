"""Statuses of the C ABI and the errors this package raises (docs/design.md §2.6)."""

from __future__ import annotations

import enum
from typing import Optional


class Status(enum.IntEnum):
    """`FlagwireStatus` of include/flagwire.h: stable numbers, only ever appended.

    tests/test_native.py checks this table against the header's `FLAGWIRE_STATUS_*` lines.
    """

    OK = 0
    SKIPPED = 1
    NULL_ARGUMENT = 2
    INVALID_UTF8 = 3
    INVALID_JSON = 4
    INVALID_CONFIG = 5
    QUEUE_FULL = 6
    TOO_LARGE = 7
    CLOSED = 8
    TIMEOUT = 9
    PANIC = 10
    NOT_FOUND = 11
    UNAVAILABLE = 12
    INVALID_ARGUMENT = 13


class Error(Exception):
    """Base of every flagwire error. `status` is the core's Status, when there is one."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status: Optional[Status] = _status_or_none(status)


class LibraryError(Error):
    """The native library is missing, cannot be loaded, or has another ABI version."""


class ConfigError(Error):
    """The core refused the config (the message names the key; never the write key)."""


class ClosedError(Error):
    """The client is closed."""


class InvalidInputError(Error):
    """The core refused an input: invalid JSON, UTF-8, datafile, message or identifier."""


class InternalError(Error):
    """Anything else the core reported (e.g. PANIC: a bug caught at the boundary)."""


class AlreadyAttachedError(Error):
    """attach() was refused: two DECISION listeners would send every exposure twice."""


def _status_or_none(status: Optional[int]) -> Optional[Status]:
    if status is None:
        return None
    try:
        return Status(status)
    except ValueError:  # a newer library's status: keep the number visible in the message
        return None


_ERROR_CLASSES = {
    Status.INVALID_CONFIG: ConfigError,
    Status.CLOSED: ClosedError,
    Status.NULL_ARGUMENT: InvalidInputError,
    Status.INVALID_UTF8: InvalidInputError,
    Status.INVALID_JSON: InvalidInputError,
    Status.INVALID_ARGUMENT: InvalidInputError,
}


def error_for(status: int, what: str, detail: Optional[str]) -> Error:
    """The exception for a status the caller did not accept, with the core's message."""
    known = _status_or_none(status)
    name = known.name if known is not None else f"status {status}"
    message = f"flagwire: {what}: {name}"
    if detail:
        message += f": {detail}"
    cls = _ERROR_CLASSES.get(known, InternalError) if known is not None else InternalError
    return cls(message, status)
