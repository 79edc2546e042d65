"""Loads libflagwire through ctypes and declares the C ABI 2 (include/flagwire.h, docs/design.md §2).

The library is the one bundled in the package, `flagwire/<sys.platform>-<machine>/libflagwire.so`
(the wasmtime-py layout), or the file named by the environment variable FLAGWIRE_LIB. Loading
checks `flagwire_abi_version()` and refuses any other version than ABI_VERSION.

Two handles on the same library, chosen by what a function does (measured, see README
"Why ctypes"):
- `quick`: ctypes.PyDLL, which keeps the GIL across the call. For the calls that never block
  (decision records, notification JSON, enqueue, stats): a few hundred ns of core work, and
  keeping the GIL spares every call a release and re-acquire, and other threads a GIL hand-off.
- `waiting`: ctypes.CDLL, which releases the GIL. For the calls that may wait (init, flush,
  shutdown, the datafile, the Profile API, the log callback's registration): other threads run
  meanwhile, and flagwire's threads can take the GIL to deliver log lines.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
from ctypes import POINTER, c_char_p, c_int, c_size_t, c_uint32, c_void_p
from typing import Any, List, Optional

from .errors import LibraryError

#: The C ABI version this package was written for (FLAGWIRE_ABI_VERSION in include/flagwire.h).
ABI_VERSION = 2

_LIBRARY_FILE = {"linux": "libflagwire.so", "darwin": "libflagwire.dylib", "win32": "flagwire.dll"}
# platform.machine() spellings of the same CPU, as wasmtime-py normalises them.
_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


def platform_dir() -> str:
    """The bundled library's directory name for this interpreter, e.g. "linux-x86_64"."""
    machine = platform.machine().lower()
    return f"{sys.platform}-{_MACHINE_ALIASES.get(machine, machine)}"


def bundled_library_path() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, platform_dir(), _LIBRARY_FILE.get(sys.platform, "libflagwire.so"))


def library_path() -> str:
    """FLAGWIRE_LIB when set (then nothing else is tried), else the bundled library."""
    return os.environ.get("FLAGWIRE_LIB") or bundled_library_path()


def check_abi(found: int, path: str) -> None:
    """Raises LibraryError unless the library speaks ABI_VERSION."""
    if found != ABI_VERSION:
        raise LibraryError(
            f"flagwire: {path} implements C ABI version {found}, but this package (flagwire "
            f"for Python) needs version {ABI_VERSION}; install the flagwire wheel built with "
            f"its library, or point FLAGWIRE_LIB at a libflagwire of ABI {ABI_VERSION}"
        )


# Signature of the log callback (FlagwireLogCallback): user_data, level, message, message_len.
# The message is declared as a plain pointer: it is read with ctypes.string_at(message, len).
LogCallback = ctypes.CFUNCTYPE(None, c_void_p, c_int, c_void_p, c_size_t)

_OUT = POINTER(c_void_p)  # char **out_error / out_value / FlagwireClient **out_client


class Library:
    """The loaded library: `quick` and `waiting` function handles, declared once."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            quick = ctypes.PyDLL(path)
            waiting = ctypes.CDLL(path)
        except OSError as e:
            raise LibraryError(
                f"flagwire: cannot load the native library {path}: {e} (the wheel carries it "
                f"under flagwire/{platform_dir()}/; FLAGWIRE_LIB overrides the path)"
            ) from e

        def declare(lib: ctypes.CDLL, name: str, argtypes: Optional[List[Any]], restype: Any) -> Any:
            try:
                fn = lib[name]  # a new function object each time: argtypes are per object
            except AttributeError as e:
                raise LibraryError(f"flagwire: {path} has no function {name}: {e}") from e
            if argtypes is not None:
                fn.argtypes = argtypes
            fn.restype = restype
            return fn

        self.abi_version = declare(quick, "flagwire_abi_version", [], c_uint32)
        check_abi(self.abi_version(), path)
        self.version = declare(quick, "flagwire_version", [], c_char_p)
        # The hot path. No argtypes, on purpose: ctypes' per-argument from_param conversions
        # cost ~200 ns of a ~400 ns call (README "Why ctypes"). The caller passes exactly
        # (c_void_p client, bytes record, int length, byref(c_void_p) out_error); a Python int
        # goes as a C int, which libffi widens to the 64-bit size_t register, and a record
        # over 2 GiB raises ctypes.ArgumentError instead of passing a wrong length.
        self.on_decision_record = declare(quick, "flagwire_on_decision_record", None, c_int)
        json_in = [c_void_p, c_char_p, c_size_t, _OUT]
        self.on_notification_json = declare(quick, "flagwire_on_notification_json", json_in, c_int)
        self.enqueue_json = declare(quick, "flagwire_enqueue_json", json_in, c_int)
        self.stats = declare(quick, "flagwire_stats", [c_void_p], c_void_p)
        self.string_free = declare(quick, "flagwire_string_free", [c_void_p], None)

        self.init = declare(waiting, "flagwire_init", [c_char_p, _OUT, _OUT], c_int)
        self.set_log_callback = declare(
            waiting, "flagwire_set_log_callback", [c_void_p, LogCallback, c_void_p], c_int
        )
        self.set_datafile_json = declare(waiting, "flagwire_set_datafile_json", json_in, c_int)
        self.flush = declare(waiting, "flagwire_flush", [c_void_p, c_uint32], c_int)
        self.shutdown = declare(waiting, "flagwire_shutdown", [c_void_p, c_uint32], c_int)
        self.profile_lookup = declare(
            waiting, "flagwire_profile_lookup", [c_void_p, c_int, c_char_p, c_size_t, _OUT, _OUT], c_int
        )
        # Setting the callback back to NULL (at exit, for a client that could not be closed).
        self.clear_log_callback = declare(
            waiting, "flagwire_set_log_callback", [c_void_p, c_void_p, c_void_p], c_int
        )

    def take_string(self, ptr: Optional[int]) -> Optional[str]:
        """Reads a string the library returned and frees it with flagwire_string_free."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            self.string_free(ptr)


_library: Optional[Library] = None


def load() -> Library:
    """The library, loaded once per process (at `import flagwire`)."""
    global _library
    if _library is None:
        _library = Library(library_path())
    return _library
