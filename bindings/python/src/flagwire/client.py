"""flagwire.Client: Optimizely DECISION notifications -> Segment "Experiment Viewed" events.

The binding only converts (docs/design.md §8): every `decide` decision goes to the core as one
decision record (§2.2), legacy notification types as notification JSON, config options as
the core's JSON config. What is an exposure, the event's shape, batching, retries, limits,
fork safety and the stats are the core's.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from ctypes import byref, c_void_p
from typing import Any, Dict, Mapping, Optional, Union

from . import _attach, _json, _optimizely
from ._attach import Attachment
from ._handle import ONLY_OK, NativeHandle, allowing, milliseconds
from ._logging import LOGGER_NAME, core_log_level, make_callback
from ._native import load
from ._record import decision_record
from .errors import ClosedError, Error, Status, error_for

DEFAULT_CLOSE_TIMEOUT = 5.0
DEFAULT_FLUSH_TIMEOUT = 5.0

_OK = int(Status.OK)
# Statuses the listener takes without raising: queued, not an exposure, or dropped and counted
# by the core (stats dropped_queue_full / dropped_too_large).
_LISTENER_ALLOW = allowing(Status.OK, Status.SKIPPED, Status.QUEUE_FULL, Status.TOO_LARGE)
_ENQUEUE_ALLOW = allowing(Status.OK, Status.QUEUE_FULL, Status.TOO_LARGE)
_FLUSH_ALLOW = allowing(Status.OK, Status.TIMEOUT)
_PROFILE_ALLOW = allowing(Status.OK, Status.NOT_FOUND, Status.UNAVAILABLE)
_STATUS_BY_NUMBER = tuple(Status)  # Status members indexed by number (no enum lookup per call)

_PROFILE_ATTRIBUTES = 1  # FlagwireProfileField
_PROFILE_USER_ID = 2


class Client:
    """A flagwire client: a bounded queue and a background sender (in the core).

    >>> flagwire = Client(write_key=os.environ["SEGMENT_WRITE_KEY"])
    >>> flagwire.attach(optimizely_client)   # DECISION listener + the datafile on every update
    >>> ...
    >>> flagwire.close()                     # or leave it to the exit hook

    Every method is thread-safe. After close() every method raises ClosedError, except the
    listener (which ignores the decision) and close() (which returns None).
    """

    def __init__(
        self,
        write_key: str,
        *,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        logger: Optional[logging.Logger] = None,
        **options: Any,
    ) -> None:
        """`options` are the core's config keys (docs/design.md §3), passed through as JSON:
        endpoint, batch_size, flush_interval_ms, max_queue_events, property_style, log_level,
        profile={...}, ... None means the default. The core validates them: a bad key or value
        raises ConfigError with the core's message, which names the key.

        `close_timeout` (seconds) is how long close(), the exit hook and the garbage collector's
        close wait to deliver; `logger` receives the core's log lines (default
        logging.getLogger("flagwire")). Without a `log_level` option, the logger's effective
        level sets it (logging.DEBUG: every event as sent, with its messageId).
        """
        milliseconds(close_timeout)  # validates it
        self._lib = load()
        self._logger = logger if logger is not None else logging.getLogger(LOGGER_NAME)
        config: Dict[str, Any] = {"write_key": write_key}
        config.update((key, value) for key, value in options.items() if value is not None)
        config.setdefault("log_level", core_log_level(self._logger))
        try:
            config_json = _json.dumps(config)
        except (TypeError, ValueError) as e:
            raise error_for(Status.INVALID_CONFIG, "init", f"options are not JSON: {e}") from None

        out_client, out_error = c_void_p(), c_void_p()
        status = self._lib.init(config_json, byref(out_client), byref(out_error))
        detail = self._lib.take_string(out_error.value)
        if status != _OK or not out_client.value:
            raise error_for(status, "init", detail)

        callback = make_callback(self._logger)
        self._lib.set_log_callback(out_client.value, callback, None)
        self._handle = NativeHandle(self._lib, out_client.value, callback, self._logger)
        self._close_timeout = close_timeout
        # Closes at interpreter exit (atexit) or when garbage-collected, whichever comes first;
        # captures the handle, never the Client.
        self._finalizer = weakref.finalize(self, _close_quietly, self._handle, close_timeout, self._logger)
        _close_in_multiprocessing_children(self)

        self._on_record = self._lib.on_decision_record
        self._on_notification = self._lib.on_notification_json
        self._listener = self.on_decision  # one object: the SDK compares listeners by equality
        self._attachment: Optional[Attachment] = None
        self._errors_lock = threading.Lock()
        self._listener_errors = 0
        self._datafile_errors = 0
        self._warned_closed = False

    # -- the listener ------------------------------------------------------------------------

    @property
    def listener(self) -> Any:
        """The DECISION callable, optimizely-sdk's signature (type, user_id, attributes,
        decision_info), for notification_center.add_notification_listener(DECISION, ...).
        attach() registers it for you. Always the same object."""
        return self._listener

    def on_decision(
        self, decision_type: Any, user_id: Any, attributes: Any, decision_info: Any
    ) -> Optional[Status]:
        """What the listener runs for each DECISION notification. Never raises: errors are
        counted in stats()["listener_errors"] and logged.

        Returns Status.OK (an event was queued), SKIPPED (not an exposure), QUEUE_FULL or
        TOO_LARGE (dropped and counted by the core), or None after an error or after close.
        """
        try:
            if decision_type == _optimizely.FLAG:
                record = decision_record(user_id, attributes, decision_info)
                status = self._handle.call(self._on_record, record, "listener", _LISTENER_ALLOW)
            else:
                # Legacy types (feature, feature-test, ab-test, feature-variable, ...): the whole
                # notification, in the SDK's snake_case, for the core to read (docs/design.md §4).
                doc = _json.dumps(
                    {"type": decision_type, "user_id": user_id, "attributes": attributes,
                     "decision_info": decision_info}
                )
                status = self._handle.call(self._on_notification, doc, "listener", _LISTENER_ALLOW)
            return _STATUS_BY_NUMBER[status]
        except ClosedError:
            if not self._warned_closed:
                self._warned_closed = True
                self._logger.warning("flagwire: a decision arrived after close and was ignored (detach before closing)")
            return None
        except Exception as e:  # never into the SDK
            self._count_error("listener", e)
            return None

    # -- attach ------------------------------------------------------------------------------

    def attach(self, optimizely_client: Any) -> Attachment:
        """Registers the DECISION listener on optimizely_client.notification_center and an
        OPTIMIZELY_CONFIG_UPDATE listener (which pushes the datafile on every config update) where
        its config manager announces updates, and pushes the current datafile now.

        Raises AlreadyAttachedError when this client is attached already, when another flagwire
        client is attached to the same notification center, or when the SDK refuses the
        listener (registered by hand already): two listeners would send every exposure twice.
        """
        attachment = _attach.attach(
            self, optimizely_client, lambda: self._push_datafile_from(optimizely_client, quiet=True)
        )
        self._push_datafile_from(optimizely_client, quiet=False)
        return attachment

    def detach(self) -> bool:
        """Removes the listeners attach() registered. False when not attached."""
        return _attach.detach(self)

    @property
    def attached(self) -> bool:
        return self._attachment is not None

    def _push_datafile_from(self, optimizely_client: Any, quiet: bool) -> None:
        try:
            datafile = _optimizely.datafile_of(optimizely_client)
            if datafile is not None:
                self.set_datafile(datafile)
        except Exception as e:
            if not quiet:
                raise
            self._count_error("datafile", e)  # the config-update listener never raises either

    # -- the rest of the API -----------------------------------------------------------------

    def set_datafile(self, datafile: Union[str, bytes, Mapping[str, Any]]) -> None:
        """Gives the core the Optimizely datafile (JSON text, or a dict), so rules are classified
        per flag from it. attach() does this now and on every config update. Raises
        InvalidInputError for an invalid datafile (the previous one is kept)."""
        doc = _as_json_bytes(datafile)
        self._handle.call_waiting(self._lib.set_datafile_json, (doc, len(doc)), "set_datafile", ONLY_OK)

    def enqueue(self, message: Union[str, bytes, Mapping[str, Any]]) -> bool:
        """Queues any Segment message (track, identify, page, screen, group, alias), a dict or
        JSON text; messageId, timestamp and context.library are filled in when absent. True when
        queued, False when dropped (queue full, or over 32 KB; counted). Raises
        InvalidInputError when it is not a valid Segment message."""
        doc = _as_json_bytes(message)
        return self._handle.call(self._lib.enqueue_json, doc, "enqueue", _ENQUEUE_ALLOW) == _OK

    def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> bool:
        """Waits until everything queued before the call is delivered (or failed for good). True
        when done; False when `timeout` seconds passed first (nothing is lost). Other threads
        run meanwhile."""
        status = self._handle.call_waiting(
            self._lib.flush, (milliseconds(timeout),), "flush", _FLUSH_ALLOW, out_error=False
        )
        return status == _OK

    def stats(self) -> Dict[str, Any]:
        """The core's counters since init in this process (docs/design.md §6: decisions,
        exposures, skipped, enqueued, dropped_*, delivered, failed, retries, batches, requests,
        queue_depth, in_flight, deduplicated, held, spooled, ...; all ints), plus this binding's
        listener_errors and datafile_errors, and exposures_by_variation: a list of
        {flag_key, rule_key, variation_key, exposures} dicts, the split an SRM check needs."""
        text = self._handle.call_string(self._lib.stats, "stats")
        if text is None:
            raise error_for(Status.PANIC, "stats", "the library returned NULL")
        counters: Dict[str, Any] = json.loads(text)
        counters["listener_errors"] = self._listener_errors
        counters["datafile_errors"] = self._datafile_errors
        return counters

    def profile_attributes(self, identifier: Optional[str] = None, **by_type: str) -> Optional[Dict[str, Any]]:
        """Segment Profile API (docs/design.md §7; needs the `profile` option): the profile's
        traits as Optimizely attributes for create_user_context, or None when there is no such
        profile or the API is unavailable (decide without enrichment then). `identifier` is
        "<type>:<value>" ("user_id:u-123") or one keyword (user_id="u-123"). Cached in the core;
        a miss waits at most profile timeout_ms, on this thread only."""
        text = self._profile_lookup(_PROFILE_ATTRIBUTES, "profile_attributes", identifier, by_type)
        return json.loads(text) if text is not None else None

    def profile_user_id(self, identifier: Optional[str] = None, **by_type: str) -> Optional[str]:
        """Segment Profile API: the profile's canonical user_id (e.g. for anonymous_id="a-1"),
        or None. As profile_attributes."""
        return self._profile_lookup(_PROFILE_USER_ID, "profile_user_id", identifier, by_type)

    def _profile_lookup(
        self, field: int, what: str, identifier: Optional[str], by_type: Dict[str, str]
    ) -> Optional[str]:
        ident = _identifier(what, identifier, by_type).encode()
        value = c_void_p()
        status = self._handle.call_waiting(
            self._lib.profile_lookup, (field, ident, len(ident), byref(value)), what, _PROFILE_ALLOW
        )
        text = self._lib.take_string(value.value)
        return text if status == _OK else None

    def close(self, timeout: Optional[float] = None) -> Optional[bool]:
        """Detaches, flushes (up to `timeout` seconds, default close_timeout), stops the sender
        and frees the client. True when everything was delivered, False when the deadline
        passed (what was not sent is dropped, and logged), None when already closed."""
        timeout = self._close_timeout if timeout is None else timeout
        milliseconds(timeout)
        try:
            self.detach()
        except Exception as e:
            self._logger.warning("flagwire: close: detach failed: %s", e)
        if self._finalizer.detach() is None:  # claimed once, by close, the exit hook or the GC
            return None
        return self._handle.close(timeout)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("attached" if self.attached else "open")
        return f"<flagwire.Client {state}>"

    def _count_error(self, kind: str, error: BaseException) -> None:
        with self._errors_lock:
            if kind == "listener":
                self._listener_errors += 1
                count = self._listener_errors
            else:
                self._datafile_errors += 1
                count = self._datafile_errors
        # The first one, then one line per 1,000: a broken input must not flood the log. A stack
        # trace only for what is not the core's answer (that message says all there is).
        if count == 1 or count % 1000 == 0:
            self._logger.warning(
                "flagwire: %s error #%d (counted in stats()['%s_errors']): %s: %s",
                kind, count, kind, type(error).__name__, error,
                exc_info=count == 1 and not isinstance(error, Error),
            )
        else:
            self._logger.debug("flagwire: %s error: %s: %s", kind, type(error).__name__, error)


def _as_json_bytes(value: Union[str, bytes, Mapping[str, Any]]) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return _json.dumps(value)


def _identifier(what: str, identifier: Optional[str], by_type: Dict[str, str]) -> str:
    given = (identifier is not None) + len(by_type)
    if given != 1:
        raise TypeError(
            f"flagwire: {what} takes one identifier: \"<type>:<value>\" or one keyword such as "
            f"user_id=... or anonymous_id=..."
        )
    if identifier is not None:
        return identifier
    ((kind, value),) = by_type.items()
    return f"{kind}:{value}"


def _close_quietly(handle: NativeHandle, timeout: float, logger: logging.Logger) -> None:
    """The exit hook's and the garbage collector's close."""
    try:
        if handle.close(timeout) is False:
            logger.warning("flagwire: events not delivered within %.1f s at close were dropped", timeout)
    except Exception as e:
        logger.warning("flagwire: close failed: %s", e)


def _close_in_multiprocessing_children(client: Client) -> None:
    """multiprocessing (and Celery's billiard, which shares its registries) ends a forked child
    with os._exit, after its own exit finalizers but without atexit: register the close there
    too, in each child, as the child starts."""
    try:
        import multiprocessing.util as mp_util
    except ImportError:
        return
    mp_util.register_after_fork(client, _register_child_close)


def _register_child_close(client: Client) -> None:
    import multiprocessing.util as mp_util

    mp_util.Finalize(None, client._finalizer, exitpriority=100)


# For isinstance checks and type hints in user code.
__all__ = ["Client"]
