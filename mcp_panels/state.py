"""What the panels show: the latest health, metrics and alerts, and how events change them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp_panels.alerts import AlertBook
from mcp_panels.cache import CacheBook
from mcp_panels.envelope import (
    ALERT_FIRED,
    ALERT_RESOLVED,
    CACHE_KEY_EXPIRED,
    CACHE_STATUS,
    CACHE_TTL_CHANGED,
    HEALTH_CHECK,
    METRICS_PUSH,
    now_ms,
)

# Always reported, always in this order (the contract fixes it).
COMPONENTS: tuple[str, ...] = ("kyverno", "argocd", "redis", "prometheus")

Payload = dict[str, Any]


def initial_health(at: int | None = None) -> Payload:
    """Health before any probe has run (replaced by the start-up probe round)."""
    at = now_ms() if at is None else at
    return {
        "checked_at": at,
        "components": [
            {
                "name": name,
                "status": "unknown",
                "detail": "not checked yet",
                "latency_ms": None,
                "checked_at": at,
            }
            for name in COMPONENTS
        ],
    }


class PanelState:
    """The server-side truth every client is synchronised to (hello, snapshot, events).

    Payloads are stored as received and never mutated, so a snapshot can share them.
    """

    def __init__(self, cache: CacheBook | None = None) -> None:
        at = now_ms()
        self.health: Payload = initial_health(at)
        self.metrics: Payload = {"at": at, "values": {}}
        # Firing alerts, deduplicated per (fingerprint, startsAt) (mcp_panels.alerts).
        self.alert_book = AlertBook()
        # One applier per event type that changes a panel; types absent here (heartbeat)
        # change nothing. The alert and cache families register theirs here.
        self._appliers: dict[str, Callable[[Payload], None]] = {
            HEALTH_CHECK: self._apply_health,
            METRICS_PUSH: self._apply_metrics,
            ALERT_FIRED: self.alert_book.apply_fired,
            ALERT_RESOLVED: self.alert_book.apply_resolved,
        }
        # The Redis cache panel (mcp_panels.cache); None: this console has none, and its
        # snapshot has no "cache".
        self.cache = cache
        if cache is not None:
            self._appliers[CACHE_TTL_CHANGED] = cache.apply_ttl_changed
            self._appliers[CACHE_KEY_EXPIRED] = cache.apply_key_expired
            self._appliers[CACHE_STATUS] = cache.apply_status

    def apply(self, event_type: str, payload: Payload) -> bool:
        """Fold one event into the state; False if the type does not touch any panel."""
        applier = self._appliers.get(event_type)
        if applier is None:
            return False
        applier(payload)
        return True

    def snapshot(self) -> Payload:
        """All panels at once: what hello carries and GET /api/snapshot answers."""
        alerts, omitted = self.alert_book.shown()
        snapshot = {
            "health": self.health,
            "metrics": self.metrics,
            "alerts": alerts,
            "alerts_omitted": omitted,
            "generated_at": now_ms(),
        }
        if self.cache is not None:
            snapshot["cache"] = self.cache.snapshot()
        return snapshot

    def _apply_health(self, payload: Payload) -> None:
        self.health = payload

    def _apply_metrics(self, payload: Payload) -> None:
        self.metrics = payload
