"""Decision records (docs/design.md §2.2): the ABI 2 fast path, one per `decide` decision."""

from __future__ import annotations

import struct
from typing import Any

from . import _json

# record_len u32, format u8 (1), enabled i8, decision_event_dispatched i8, reserved, at_ms i64
# (0 = now), then 7 x u32 string lengths: user id, flag key, rule key, variation key,
# experiment id, variation id, attributes JSON. Little-endian, no padding: 44 bytes.
_HEADER = struct.Struct("<IBbbxq7I")
_HEADER_LEN = 44
_FORMAT_FLAG_DECISION = 1
assert _HEADER.size == _HEADER_LEN


def decision_record(user_id: Any, attributes: Any, info: Any) -> bytes:
    """One flag decision as a decision record (docs/design.md §2.2), from optimizely-sdk's
    decision_info (snake_case str keys). Strings are sent whatever they hold (NUL bytes are
    data); an absent or empty one has length 0, and the core decides what is valid."""
    u = user_id.encode() if user_id else b""
    flag_key = info.get("flag_key")
    f = flag_key.encode() if flag_key else b""
    rule_key = info.get("rule_key")
    r = rule_key.encode() if rule_key else b""
    variation_key = info.get("variation_key")
    v = variation_key.encode() if variation_key else b""
    experiment_id = info.get("experiment_id")
    e = experiment_id.encode() if experiment_id else b""
    variation_id = info.get("variation_id")
    vi = variation_id.encode() if variation_id else b""
    a = _json.dumps(attributes) if attributes else b""
    enabled = info.get("enabled")
    dispatched = info.get("decision_event_dispatched")
    lu, lf, lr, lv, le, lvi, la = len(u), len(f), len(r), len(v), len(e), len(vi), len(a)
    # Concatenating into a new bytes is cheaper in CPython than packing into a reused buffer
    # (README "Why ctypes"), and ctypes passes the bytes' own storage to C without a copy.
    return _HEADER.pack(
        _HEADER_LEN + lu + lf + lr + lv + le + lvi + la,
        _FORMAT_FLAG_DECISION,
        -1 if enabled is None else (1 if enabled else 0),
        -1 if dispatched is None else (1 if dispatched else 0),
        0,  # at_ms: now, read by the core on this thread
        lu, lf, lr, lv, le, lvi, la,
    ) + u + f + r + v + e + vi + a
