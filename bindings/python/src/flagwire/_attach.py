"""attach / detach on an optimizely-sdk client (docs/design.md §8): the DECISION listener, an
OPTIMIZELY_CONFIG_UPDATE listener that pushes the datafile, and the guard against a second
listener (the integration guides' "duplicate events" pitfall)."""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import _optimizely
from .errors import AlreadyAttachedError, ClosedError, Status

if TYPE_CHECKING:
    from .client import Client

# DECISION notification center -> the Client attached to it, across clients.
_attached: "weakref.WeakKeyDictionary[Any, weakref.ReferenceType[Client]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class Attachment:
    """What attach() registered: the notification centers and the two listener ids."""

    def __init__(self, client: "Client", notification_center: Any, decision_id: int,
                 config_center: Any, config_update_id: int) -> None:
        self.client = client
        self.notification_center = notification_center
        self.decision_listener_id = decision_id
        # Where config updates are announced: the config manager's own center, which is the
        # client's unless the app built the manager with another one.
        self.config_notification_center = config_center
        self.config_update_listener_id = config_update_id

    def detach(self) -> bool:
        """Removes both listeners (as client.detach()). False when no longer attached."""
        return self.client.detach()

    def _remove_listeners(self) -> None:
        self.notification_center.remove_notification_listener(self.decision_listener_id)
        self.config_notification_center.remove_notification_listener(self.config_update_listener_id)


def attach(client: "Client", optimizely_client: Any, push_datafile: Callable[[], None]) -> Attachment:
    """Registers both listeners (under the guard), then pushes the current datafile."""
    center = getattr(optimizely_client, "notification_center", None)
    if center is None:
        raise TypeError("flagwire: attach needs an optimizely.Optimizely client (with a notification_center)")
    manager = getattr(optimizely_client, "config_manager", None)
    config_center = getattr(manager, "notification_center", None) or center
    decision_type, config_update_type = _optimizely.notification_types()
    with _lock:
        if client.closed:
            raise ClosedError("flagwire: attach: the client is closed", Status.CLOSED)
        if client._attachment is not None:
            raise AlreadyAttachedError(
                "flagwire: attach: this client is already attached; call detach() first "
                "(two listeners would send every exposure twice)"
            )
        other = attached_client(center)
        if other is not None and other is not client:
            raise AlreadyAttachedError(
                "flagwire: attach: another flagwire Client is attached to this Optimizely client "
                "(two listeners would send every exposure twice)"
            )
        decision_id = center.add_notification_listener(decision_type, client.listener)
        _check_listener_id(decision_id, "DECISION")

        def on_config_update(*_args: Any) -> None:
            push_datafile()

        try:
            config_id = config_center.add_notification_listener(config_update_type, on_config_update)
            _check_listener_id(config_id, "OPTIMIZELY_CONFIG_UPDATE")
        except BaseException:
            center.remove_notification_listener(decision_id)
            raise
        attachment = Attachment(client, center, decision_id, config_center, config_id)
        client._attachment = attachment
        try:
            _attached[center] = weakref.ref(client)
        except TypeError:  # a notification center that cannot be weakly referenced
            pass
    return attachment


def detach(client: "Client") -> bool:
    with _lock:
        attachment, client._attachment = client._attachment, None
        if attachment is None:
            return False
        try:
            ref = _attached.get(attachment.notification_center)
            if ref is not None and ref() is client:
                del _attached[attachment.notification_center]
        except TypeError:
            pass
    attachment._remove_listeners()
    return True


def attached_client(center: Any) -> Optional["Client"]:
    """The open, attached Client registered for this notification center, if any."""
    try:
        ref = _attached.get(center)
    except TypeError:
        return None
    client = ref() if ref is not None else None
    if client is None or client.closed or client._attachment is None:
        return None
    return client


def _check_listener_id(listener_id: Any, what: str) -> None:
    if not isinstance(listener_id, int) or listener_id < 0:
        raise AlreadyAttachedError(
            f"flagwire: attach: the SDK refused the {what} listener ({listener_id!r}); is it "
            f"registered by hand already? Two listeners would send every exposure twice"
        )


def _reset_lock() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at fork stays held in the child


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_lock)
