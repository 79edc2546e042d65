"""One `FlagwireClient *` and the one call helper every export goes through (docs/design.md §8).

The helper has uniffi's callWithHandle shape: take the handle (closed check), call, check the
status, turn `out_error` into a Python error and free it with flagwire_string_free, release.

Lifetime: the library frees the client in flagwire_shutdown, so no call may be running on it
then. Calls that never block run under the handle's lock, with the pointer read inside it.
Calls that wait (flush, the datafile, the Profile API) do not hold the lock while they run,
so decisions on other threads go on; they are counted instead, and close waits for them
(bounded) before it frees the client.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from ctypes import byref, c_void_p
from typing import Any, Callable, FrozenSet, List, Optional, Tuple

from ._native import Library
from .errors import ClosedError, Status, error_for

OK = int(Status.OK)
SKIPPED = int(Status.SKIPPED)


def allowing(*statuses: int) -> FrozenSet[int]:
    """The statuses a call accepts, as plain ints (an int is found in a set of ints faster than
    among IntEnum members)."""
    return frozenset(int(s) for s in statuses)


ONLY_OK = allowing(Status.OK)

#: Seconds close waits for running flush / datafile / profile calls beyond its own timeout.
CLOSE_GRACE = 1.0

# Handles not freed yet, for the fork hook below.
_live: "weakref.WeakSet[NativeHandle]" = weakref.WeakSet()
# Handles close had to leave open (a waiting call outlived close): never freed, kept alive here.
_leaked: List[Tuple["NativeHandle", c_void_p]] = []


def milliseconds(seconds: float) -> int:
    """Seconds (int or float) -> the uint32 milliseconds of the C ABI."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"flagwire: a timeout is a non-negative number of seconds, got {seconds!r}")
    return min(int(round(seconds * 1000)), 0xFFFFFFFF)


class NativeHandle:
    """Owns one client pointer. Internal: use flagwire.Client."""

    def __init__(self, lib: Library, pointer: int, log_callback: Any, logger: logging.Logger) -> None:
        self._lib = lib
        self._ptr: Optional[c_void_p] = c_void_p(pointer)
        self._log_callback = log_callback  # the C callback must outlive its registration
        self._logger = logger
        self._new_locks()
        # out_error of the calls made under the lock: one per handle is enough (the lock).
        self._err = c_void_p()
        self._err_ref = byref(self._err)
        self._close_lock = threading.Lock()
        _live.add(self)

    def _new_locks(self) -> None:
        # RLock: a log line is delivered on the calling thread too, and a logging handler that
        # calls back into this client must not deadlock on it.
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._waiting = 0

    @property
    def closed(self) -> bool:
        return self._ptr is None

    # -- the call helper -------------------------------------------------------------------

    def call(self, fn: Callable[..., int], data: bytes, what: str, allow: FrozenSet[int]) -> int:
        """fn(client, data, len(data), out_error) for an input that never blocks (decision
        records, notification JSON, enqueue). Returns the status when it is in `allow`, else
        raises the matching flagwire.Error with the core's message. (Positional, no tuple of
        arguments: this is the listener's path, and every ~50 ns shows.)"""
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(f"flagwire: {what}: the client is closed", Status.CLOSED)
            status = fn(ptr, data, len(data), self._err_ref)
            detail = None
            if status > SKIPPED:  # out_error is written for every status but OK and SKIPPED
                detail = self._lib.take_string(self._err.value)
                self._err.value = None
        if status in allow:
            return status
        raise error_for(status, what, detail)

    def call_string(self, fn: Callable[..., Optional[int]], what: str) -> Optional[str]:
        """fn(client) for a function that returns a string the library allocated (stats)."""
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(f"flagwire: {what}: the client is closed", Status.CLOSED)
            return self._lib.take_string(fn(ptr))

    def call_waiting(
        self,
        fn: Callable[..., int],
        args: Tuple[Any, ...],
        what: str,
        allow: FrozenSet[int],
        out_error: bool = True,
    ) -> int:
        """As `call`, for a function that may wait (the GIL is released): the lock is not held
        while it runs; close waits for it."""
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                raise ClosedError(f"flagwire: {what}: the client is closed", Status.CLOSED)
            self._waiting += 1
        err = c_void_p()
        try:
            status = fn(ptr, *args, byref(err)) if out_error else fn(ptr, *args)
            detail = self._lib.take_string(err.value) if status > SKIPPED else None
        finally:
            with self._lock:
                self._waiting -= 1
                if self._waiting == 0:
                    self._idle.notify_all()
        if status in allow:
            return status
        raise error_for(status, what, detail)

    # -- lifetime -------------------------------------------------------------------------

    def close(self, timeout: float) -> Optional[bool]:
        """Flushes (up to `timeout` seconds), stops the sender and frees the client.
        True: all delivered (or failed for good); False: the deadline passed; None: already
        closed (or left open because a waiting call outlived the grace period)."""
        ms = milliseconds(timeout)
        with self._close_lock:
            ptr = self._take_pointer(timeout)
            if ptr is None:
                return None
            status = self._lib.shutdown(ptr, ms)
            # flagwire_shutdown returned: the log callback is never called again.
            self._log_callback = None
        if status == OK:
            return True
        if status == Status.TIMEOUT:
            return False
        raise error_for(status, "close", None)

    def _take_pointer(self, timeout: float) -> Optional[c_void_p]:
        with self._lock:
            ptr = self._ptr
            if ptr is None:
                return None
            self._ptr = None  # from here on every call raises ClosedError
            deadline = time.monotonic() + timeout + CLOSE_GRACE
            while self._waiting > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._idle.wait(remaining)
            if self._waiting > 0:
                # Freeing it now would free it under the waiting call: leave it open instead.
                self._logger.warning(
                    "flagwire: close: a flush, datafile or profile call is still running after "
                    "%.1f s; the client is left open rather than freed under it",
                    timeout + CLOSE_GRACE,
                )
                _leaked.append((self, ptr))
                # Its later lines go to stderr: nothing may call into Python after it exits.
                self._lib.clear_log_callback(ptr, None, None)
                return None
            _live.discard(self)
            return ptr


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time stays held in the child, where that thread does
    # not exist: fresh locks, and no waiting call (those threads are gone too). The core itself
    # needs no call (docs/design.md §5).
    for handle in list(_live):
        handle._new_locks()
        handle._close_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
