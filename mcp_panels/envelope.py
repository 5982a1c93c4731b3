"""v1 frames: event type names, one Event per broadcast, and its JSON text per connection."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

PROTOCOL_VERSION = 1

HELLO = "hello"
HEARTBEAT = "heartbeat"
HEALTH_CHECK = "health.check"
METRICS_PUSH = "metrics.push"
# From Alertmanager's webhook (mcp_panels.alerts); never emitted by the test controls.
ALERT_FIRED = "alert.fired"
ALERT_RESOLVED = "alert.resolved"
# From Redis keyspace notifications (mcp_panels.cache); never emitted by the test controls.
CACHE_TTL_CHANGED = "cache.ttl_changed"
CACHE_KEY_EXPIRED = "cache.key_expired"
CACHE_STATUS = "cache.status"
# A later family adds its names here, a payload schema in fixtures/schemas and an applier
# in state.py.

# Types the test-control endpoint may emit (hello is per connection, never broadcast).
EMITTABLE_TYPES: tuple[str, ...] = (HEARTBEAT, HEALTH_CHECK, METRICS_PUSH)


def now_ms() -> int:
    """Wall-clock time in ms since the epoch, the unit of every timestamp in the contract."""
    return time.time_ns() // 1_000_000


def dumps(value: Any) -> str:
    """Compact JSON; NaN/Infinity are refused because JSON clients cannot parse them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Event:
    """One event: the same id, ts and payload on every connection it is sent to."""

    type: str
    payload: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    ts: int = field(default_factory=now_ms)
    # W3C trace context of the server span that broadcast it (mcp_panels.tracing).
    traceparent: str | None = None
    # Serialised once per event, not once per connection.
    _payload_json: str = field(init=False, repr=False, compare=False)
    _type_json: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_payload_json", dumps(self.payload))
        object.__setattr__(self, "_type_json", dumps(self.type))

    def frame(self, seq: int) -> str:
        """The frame text for one connection; only seq differs between connections."""
        trace = f',"traceparent":"{self.traceparent}"' if self.traceparent else ""
        return (
            f'{{"v":{PROTOCOL_VERSION},"type":{self._type_json},"seq":{int(seq)},'
            f'"id":"{self.id}","ts":{self.ts}{trace},"payload":{self._payload_json}}}'
        )
