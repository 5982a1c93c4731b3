"""The metrics panel shows the live numbers the server pushed."""

from __future__ import annotations

import random

import pytest

from e2e.pages.console import METRICS_PANEL, ConsolePage
from e2e.support.controls import ConsoleControls
from e2e.support.panels import metrics_mismatches
from e2e.support.renders import wait_for_render

pytestmark = pytest.mark.metrics


def test_metrics_panel_renders_the_hello_snapshot(console: ConsolePage):
    console.open()
    hello = console.recorder.wait_for("hello")
    metrics = hello.payload["snapshot"]["metrics"]
    assert metrics["values"], "hello carried no metric values"
    render = wait_for_render(console.page, hello.id, METRICS_PANEL)
    assert metrics_mismatches(render, metrics) == []


def test_metrics_panel_follows_each_push(console: ConsolePage):
    console.open()
    rec = console.recorder
    first = rec.wait_for("metrics.push", timeout_ms=20_000)
    second = rec.wait_for("metrics.push", lambda f: f.seq > first.seq, timeout_ms=20_000)
    for frame in (first, second):
        render = wait_for_render(console.page, frame.id, METRICS_PANEL)
        assert metrics_mismatches(render, frame.payload) == []


def test_metrics_panel_shows_injected_values_exactly(
    console: ConsolePage, emitter: ConsoleControls
):
    console.open()
    hello = console.recorder.wait_for("hello")
    values = dict(hello.payload["snapshot"]["metrics"]["values"])
    values["events_sent_total"] = random.randint(10**6, 10**7)
    values["uptime_seconds"] = 12345.5
    sent = emitter.emit("metrics.push", {"at": hello.data["ts"], "values": values})
    frame = console.recorder.wait_for("metrics.push", lambda f: f.id == sent["id"])
    render = wait_for_render(console.page, frame.id, METRICS_PANEL)
    assert metrics_mismatches(render, frame.payload) == []


def test_ws_clients_counts_this_page(console: ConsolePage, emitter: ConsoleControls):
    console.open()
    console.recorder.wait_for("hello")
    sent = emitter.emit("metrics.push")  # real numbers, read now
    frame = console.recorder.wait_for("metrics.push", lambda f: f.id == sent["id"])
    assert frame.payload["values"]["ws_clients"] >= 1
    assert frame.payload["values"]["events_sent_total"] >= 1
