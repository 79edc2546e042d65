"""flagwire: Optimizely Feature Experimentation decisions to Segment "Experiment Viewed" events,
through the flagwire native core (libflagwire, C ABI 2, loaded with ctypes).

    import flagwire
    client = flagwire.Client(write_key=os.environ["SEGMENT_WRITE_KEY"])
    client.attach(optimizely_client)

See README.md. Importing loads the bundled library and checks its ABI version (LibraryError).
"""

from __future__ import annotations

from . import _native
from ._native import ABI_VERSION
from ._attach import Attachment
from .client import Client
from .errors import (
    AlreadyAttachedError,
    ClosedError,
    ConfigError,
    Error,
    InternalError,
    InvalidInputError,
    LibraryError,
    Status,
)

#: Version of this package (the Python binding); the library reports its own, version().
__version__ = "0.2.0"

_lib = _native.load()


def version() -> str:
    """The native library's version, e.g. "0.2.0"."""
    return str(_lib.version().decode())


def abi_version() -> int:
    """The native library's C ABI version (checked against ABI_VERSION at import)."""
    return int(_lib.abi_version())


def library_path() -> str:
    """The path the native library was loaded from."""
    return _lib.path


__all__ = [
    "ABI_VERSION",
    "AlreadyAttachedError",
    "Attachment",
    "Client",
    "ClosedError",
    "ConfigError",
    "Error",
    "InternalError",
    "InvalidInputError",
    "LibraryError",
    "Status",
    "abi_version",
    "library_path",
    "version",
]
