"""The health panel shows, per component, what the frame that carried it said."""

from __future__ import annotations

import uuid

import pytest
import redis

from e2e.pages.console import HEALTH_PANEL, ConsolePage
from e2e.support.controls import ConsoleControls
from e2e.support.panels import health_mismatches
from e2e.support.renders import wait_for_render

pytestmark = pytest.mark.health

COMPONENTS = ["kyverno", "argocd", "redis", "prometheus"]


def test_health_panel_renders_the_hello_snapshot(console: ConsolePage):
    console.open()
    hello = console.recorder.wait_for("hello")
    health = hello.payload["snapshot"]["health"]
    assert set(COMPONENTS) <= {c["name"] for c in health["components"]}
    render = wait_for_render(console.page, hello.id, HEALTH_PANEL)
    assert health_mismatches(render, health) == []


def test_health_panel_follows_the_periodic_checks(console: ConsolePage):
    console.open()
    check = console.recorder.wait_for("health.check", timeout_ms=20_000)
    render = wait_for_render(console.page, check.id, HEALTH_PANEL)
    assert health_mismatches(render, check.payload) == []


def test_health_panel_applies_an_injected_degradation(
    console: ConsolePage, emitter: ConsoleControls
):
    console.open()
    hello = console.recorder.wait_for("hello")
    health = hello.payload["snapshot"]["health"]
    marker = f"e2e-{uuid.uuid4()}"
    for component in health["components"]:
        if component["name"] == "argocd":
            component.update(status="degraded", detail=f"3 apps OutOfSync ({marker})")
    sent = emitter.emit("health.check", health)
    frame = console.recorder.wait_for("health.check", lambda f: f.id == sent["id"])
    render = wait_for_render(console.page, frame.id, HEALTH_PANEL)
    assert health_mismatches(render, frame.payload) == []
    assert render.attr("health-row-argocd", "status") == "degraded"
    assert marker in render.text("health-detail-argocd")


def test_redis_component_reflects_a_real_ping(
    console: ConsolePage, emitter: ConsoleControls, e2e_endpoints
):
    console.open()
    console.recorder.wait_for("hello")
    sent = emitter.emit("health.check")  # the server probes now, for real
    frame = console.recorder.wait_for("health.check", lambda f: f.id == sent["id"])
    redis_status = next(c for c in frame.payload["components"] if c["name"] == "redis")
    if e2e_endpoints.redis_url:
        with redis.Redis.from_url(e2e_endpoints.redis_url, socket_timeout=2) as client:
            assert client.ping()
    assert redis_status["status"] == "ok", redis_status
    assert "PONG" in redis_status["detail"]
    render = wait_for_render(console.page, frame.id, HEALTH_PANEL)
    assert render.attr("health-row-redis", "status") == "ok"
