"""Routes the core's log lines to Python's logging (docs/design.md §2.4).

The callback runs on flagwire's threads (the sender) and sometimes on the thread of the call that
logs, possibly concurrently; ctypes takes the GIL for it. It must never raise into C: anything it
raises is swallowed.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

from ._native import LogCallback

LOGGER_NAME = "flagwire"

# FlagwireLogLevel -> logging level.
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}


def make_callback(logger: logging.Logger) -> Any:
    """A C callback delivering each line to `logger`. Keep it referenced while it is registered."""

    def on_line(_user_data: Any, level: int, message: int, length: int) -> None:
        try:
            py_level = _LEVELS.get(level, logging.WARNING)
            if logger.isEnabledFor(py_level):
                logger.log(py_level, ctypes.string_at(message, length).decode("utf-8", "replace"))
        except BaseException:  # noqa: B036 - nothing may propagate into C
            pass

    return LogCallback(on_line)


def core_log_level(logger: logging.Logger) -> str:
    """The config's `log_level` matching the logger's effective level, so the core does not
    build lines the logger would drop, and `logging.DEBUG` shows each event as sent."""
    level = logger.getEffectiveLevel()
    if level <= logging.DEBUG:
        return "debug"
    if level <= logging.INFO:
        return "info"
    if level <= logging.WARNING:
        return "warn"
    if level <= logging.CRITICAL:
        return "error"
    return "off"
