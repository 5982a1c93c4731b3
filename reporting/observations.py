"""Test-side latency measurements: what tests record, and which histograms accept them.

A test (or a function-scoped fixture) records a measurement with `observe`; it travels to the
process that publishes the metrics (the xdist controller, or the single pytest process) inside
`report.user_properties`, as `("e2e_observation", {"metric": ..., "labels": {...}, "value": ...})`.

This module is imported whenever pytest loads the plugin, so it imports nothing heavy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

OBSERVATION_PROPERTY = "e2e_observation"
"""Name of the `user_properties` entry that carries one observation."""

BROWSER_PROPERTY = "browser"
"""Name of the `user_properties` entry that names the browser a test ran in."""

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
)
"""Histogram buckets (seconds) covering 5 ms .. 30 s."""


@dataclass(frozen=True)
class HistogramSpec:
    """A latency histogram the reporter publishes, and the one label it is split by."""

    name: str
    help: str
    label: str


WS_EVENT_LATENCY = HistogramSpec(
    name="e2e_ws_event_latency_seconds",
    help="Time from the server sending a WebSocket event to the UI showing it, by event type.",
    label="event_type",
)
ALERT_UI_LATENCY = HistogramSpec(
    name="e2e_alert_ui_latency_seconds",
    help="Time from posting an alert to Alertmanager to its toast being visible, by severity.",
    label="severity",
)
HISTOGRAMS: dict[str, HistogramSpec] = {
    spec.name: spec for spec in (WS_EVENT_LATENCY, ALERT_UI_LATENCY)
}


def observe(request_or_item_node: Any, metric: str, value: float, **labels: str) -> None:
    """Record one latency measurement for the run's metrics.

    `request_or_item_node` is the function-scoped `request` fixture or the test item
    (`request.node`); the measurement rides on the test's report, so it works under xdist.
    Example: `observe(request, "e2e_ws_event_latency_seconds", 0.042, event_type="alert.fired")`.
    Unknown metric names are not an error here: the reporter ignores them and warns once.
    """
    node = _item_of(request_or_item_node)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"observe({metric!r}): value must be a finite number, got {value!r}")
    entry = {
        "metric": str(metric),
        "labels": {str(key): str(val) for key, val in labels.items()},
        "value": number,
    }
    node.user_properties.append((OBSERVATION_PROPERTY, entry))


def _item_of(request_or_item_node: Any) -> Any:
    if isinstance(getattr(request_or_item_node, "user_properties", None), list):
        return request_or_item_node
    node = getattr(request_or_item_node, "node", None)
    if isinstance(getattr(node, "user_properties", None), list):
        return node
    raise TypeError(
        "observe() needs the function-scoped `request` fixture or a test item "
        f"(something with .user_properties), not {type(request_or_item_node).__name__}"
    )
