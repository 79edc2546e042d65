"""What flagwire needs from the Optimizely Python SDK (PyPI `optimizely-sdk` 5.x), without
importing it at `import flagwire`: the notification type names and where the datafile is."""

from __future__ import annotations

from typing import Any, Optional, Tuple

# optimizely.helpers.enums.NotificationTypes in 5.x, used when the SDK cannot be imported.
_DECISION_FALLBACK = "DECISION:type, user_id, attributes, decision_info"
_CONFIG_UPDATE_FALLBACK = "OPTIMIZELY_CONFIG_UPDATE"

#: The DECISION type of the `decide` API (enums.DecisionNotificationTypes.FLAG).
FLAG = "flag"


def notification_types() -> Tuple[str, str]:
    """(DECISION, OPTIMIZELY_CONFIG_UPDATE) as the installed SDK spells them."""
    try:
        from optimizely.helpers.enums import NotificationTypes

        return NotificationTypes.DECISION, NotificationTypes.OPTIMIZELY_CONFIG_UPDATE
    except Exception:  # the SDK is not installed, or another layout
        return _DECISION_FALLBACK, _CONFIG_UPDATE_FALLBACK


def datafile_of(optimizely_client: Any) -> Optional[str]:
    """The datafile (JSON text) the client decides with, or None while it has none.

    Never blocks: a PollingConfigManager's get_config() waits up to its blocking_timeout until
    the first datafile arrives, and OPTIMIZELY_CONFIG_UPDATE is sent before that wait ends. So,
    as Optimizely.get_optimizely_config() does, use the manager's `optimizely_config` (set with
    each config, before the notification) when the manager has one; a custom manager without it
    is asked with get_config().
    """
    manager = getattr(optimizely_client, "config_manager", None)
    if manager is None:
        return None
    if hasattr(manager, "optimizely_config"):
        config = manager.optimizely_config
        return config.get_datafile() if config is not None else None
    project_config = manager.get_config()
    return project_config.to_datafile() if project_config is not None else None
