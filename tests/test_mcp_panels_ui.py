"""The console page in a real Chromium against a real console: rendering, the client's
frame discipline (dedupe, seq, gaps, junk) and how it degrades (watchdog, fallback, offline).

Frames the server would never send (duplicates, gaps, junk) are scripted through Playwright's
WebSocket routing; everything else goes through to the real server."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

import mcp_panels
from harness.process import Service
from harness.services import start_console, start_redis

WS_URL = re.compile(r"/ws$")
TIMEOUT_MS = 5000
FAST = "backoff_base_ms=20&backoff_max_ms=100&poll_interval_ms=200&fallback_after=3"

# Counts sockets that are CONNECTING/OPEN at the moment a new one is created.
SOCKET_PROBE = """
(() => {
  const Base = window.WebSocket;
  const live = new Set();
  window.__sockets = { created: 0, maxLive: 0 };
  window.WebSocket = class extends Base {
    constructor(...args) {
      super(...args);
      for (const s of Array.from(live)) if (s.readyState >= 2) live.delete(s);
      live.add(this);
      window.__sockets.created += 1;
      window.__sockets.maxLive = Math.max(window.__sockets.maxLive, live.size);
      this.addEventListener("close", () => live.delete(this));
    }
  };
})();
"""


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("ui")
    with (
        start_redis(workdir) as redis_service,
        start_console(
            workdir,
            redis_service.url,
            heartbeat_interval=0.25,
            health_interval=60,
            metrics_interval=60,
        ) as service,
    ):
        yield service


@pytest.fixture
def api(console: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=5.0, trust_env=False) as client:
        yield client


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def emit(api: httpx.Client, event_type: str, payload: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event_type}
    if payload is not None:
        body["payload"] = payload
    response = api.post("/api/test/emit", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def by_testid(page: Page, testid: str):
    return page.locator(f'[data-testid="{testid}"]')


def stats(page: Page) -> dict[str, int]:
    return page.evaluate("() => ({...window.mcpConsole.stats})")


def wait_for_stat(page: Page, name: str, at_least: int) -> None:
    page.wait_for_function(
        "([name, n]) => window.mcpConsole.stats[name] >= n",
        arg=[name, at_least],
        timeout=TIMEOUT_MS,
    )


def test_live_page_renders_server_state_as_text(page, console, api, page_errors):
    page.goto(console.url + "/")
    expect(by_testid(page, "connection-badge")).to_have_attribute("data-state", "live")
    expect(by_testid(page, "connection-badge")).to_have_text("live")
    expect(by_testid(page, "server-version")).to_have_text(mcp_panels.__version__)
    expect(by_testid(page, "health-row-redis")).to_have_attribute("data-status", "ok")
    expect(by_testid(page, "health-detail-redis")).to_have_text(re.compile(r"^PONG in "))
    expect(by_testid(page, "health-status-kyverno")).to_have_text("unknown")
    expect(by_testid(page, "metric-redis_used_memory_bytes")).to_have_text(
        re.compile(r"^\d+(\.\d)? (B|KiB|MiB)$")
    )
    hello_id = by_testid(page, "health-panel").get_attribute("data-event-id")
    assert re.fullmatch(r"[0-9a-f-]{36}", hello_id)
    expect(by_testid(page, "health-panel")).to_have_attribute("data-seq", "1")
    expect(by_testid(page, "health-panel")).to_have_attribute("data-stale", "false")
    expect(by_testid(page, "health-panel-stale")).to_be_hidden()
    expect(by_testid(page, "alerts-empty")).to_be_visible()

    now = int(time.time() * 1000)
    hostile = f'<img src=x onerror="window.__pwned=1"> {uuid.uuid4()}'
    components = [
        {
            "name": name,
            "status": status,
            "detail": hostile if name == "argocd" else name,
            "latency_ms": None,
            "checked_at": now,
        }
        for name, status in [
            ("kyverno", "ok"),
            ("argocd", "degraded"),
            ("redis", "ok"),
            ("prometheus", "down"),
        ]
    ]
    try:
        sent = emit(api, "health.check", {"checked_at": now, "components": components})
        panel = by_testid(page, "health-panel")
        expect(panel).to_have_attribute("data-event-id", sent["id"])
        assert int(panel.get_attribute("data-seq")) > 1
        expect(by_testid(page, "health-row-argocd")).to_have_attribute("data-status", "degraded")
        expect(by_testid(page, "health-status-prometheus")).to_have_text("down")
        expect(by_testid(page, "health-detail-argocd")).to_have_text(hostile)
        assert panel.locator("img").count() == 0
        assert page.evaluate("() => window.__pwned") is None

        sent = emit(
            api,
            "metrics.push",
            {"at": now, "values": {"custom_bytes": 1048576, "odd_ratio": 0.125, "ws_clients": 3}},
        )
        expect(by_testid(page, "metrics-panel")).to_have_attribute("data-event-id", sent["id"])
        expect(by_testid(page, "metric-custom_bytes")).to_have_attribute("data-value", "1048576")
        expect(by_testid(page, "metric-custom_bytes")).to_have_text("1.0 MiB")
        expect(by_testid(page, "metric-odd_ratio")).to_have_attribute("data-value", "0.125")
        expect(by_testid(page, "metric-ws_clients")).to_have_text("3")
        # Values absent from the latest push are gone, not left over.
        expect(by_testid(page, "metric-redis_keys")).to_have_count(0)
    finally:
        emit(api, "health.check")
        emit(api, "metrics.push")
    assert page_errors == []


def _frame(seq: int, event_type: str, payload: dict, event_id: str | None = None) -> str:
    return json.dumps(
        {
            "v": 1,
            "type": event_type,
            "seq": seq,
            "id": event_id or str(uuid.uuid4()),
            "ts": int(time.time() * 1000),
            "payload": payload,
        }
    )


def test_client_dedupes_orders_resyncs_and_ignores_junk(page, console, api, page_errors):
    sockets: list[WebSocketRoute] = []
    # Scripted: nothing reaches the server (Playwright wants a Python function as handler).
    page.route_web_socket(WS_URL, lambda ws: sockets.append(ws))
    page.goto(console.url + "/?heartbeat_timeout_ms=60000")
    page.wait_for_function("() => window.mcpConsole !== undefined")
    expect(by_testid(page, "connection-badge")).not_to_have_attribute("data-state", "live")
    assert len(sockets) == 1
    ws = sockets[0]

    snapshot = api.get("/api/snapshot").json()
    ws.send(
        _frame(
            1,
            "hello",
            {
                "server": snapshot["server"],
                "heartbeat_interval_ms": 20000,
                "snapshot": snapshot["snapshot"],
            },
        )
    )
    expect(by_testid(page, "connection-badge")).to_have_attribute("data-state", "live")

    now = int(time.time() * 1000)

    def health(detail: str, checked_at: int) -> dict:
        return {
            "checked_at": checked_at,
            "components": [
                {
                    "name": n,
                    "status": "ok",
                    "detail": f"{detail} {n}",
                    "latency_ms": 1,
                    "checked_at": checked_at,
                }
                for n in ("kyverno", "argocd", "redis", "prometheus")
            ],
        }

    first = str(uuid.uuid4())
    ws.send(_frame(2, "health.check", health("first", 1), first))
    expect(by_testid(page, "health-detail-redis")).to_have_text("first redis")
    ws.send(_frame(2, "health.check", health("again", 1), first))  # same id
    ws.send(_frame(3, "health.check", health("replayed", 1), first))  # same id, next seq
    ws.send(_frame(3, "health.check", health("older", 1)))  # seq not newer
    ws.send(_frame(4, "future.event", {"anything": True}))  # unknown type
    for junk in (
        "not json",
        "[1, 2]",
        '{"v": 1, "type": "heartbeat"}',
        _frame(5, "heartbeat", {})[:-1],
        '{"v": 2, "type": "x", "seq": 5, "id": "a", "ts": 1, "payload": {}}',
    ):
        ws.send(junk)
    ws.send(b"\x00\x01binary")
    ws.send(_frame(5, "metrics.push", {"at": now + 10**9, "values": {"from_frame": 1}}))
    expect(by_testid(page, "metric-from_frame")).to_have_attribute("data-value", "1")
    wait_for_stat(page, "malformed", 6)
    s = stats(page)
    assert (s["duplicates"], s["outOfOrder"], s["unknownTypes"], s["gaps"]) == (2, 1, 1, 0), s
    expect(by_testid(page, "health-detail-redis")).to_have_text("first redis")
    expect(by_testid(page, "health-panel")).to_have_attribute("data-event-id", first)

    # A gap: apply the frame, then resync from GET /api/snapshot. Health (shown state older
    # than the snapshot) is replaced; metrics (shown state newer) is kept.
    gap_id = str(uuid.uuid4())
    ws.send(_frame(9, "heartbeat", {"interval_ms": 20000}, gap_id))
    wait_for_stat(page, "resyncs", 1)
    assert stats(page)["gaps"] == 1
    expect(by_testid(page, "health-panel")).to_have_attribute(
        "data-event-id", re.compile(r"^snapshot:\d+$")
    )
    expect(by_testid(page, "health-detail-redis")).to_have_text(re.compile(r"^PONG in "))
    expect(by_testid(page, "metric-from_frame")).to_have_attribute("data-value", "1")
    ws.send(_frame(10, "metrics.push", {"at": now, "values": {"after_gap": 2}}))
    expect(by_testid(page, "metric-after_gap")).to_have_attribute("data-value", "2")
    assert page.evaluate("() => window.mcpConsole.state().lastSeq") == 10
    expect(by_testid(page, "connection-badge")).to_have_attribute("data-state", "live")
    assert page_errors == []


def test_degrades_to_polling_and_offline_then_recovers(page, console, api, page_errors):
    mode = {"value": "pass"}

    def route(ws: WebSocketRoute) -> None:
        if mode["value"] == "refuse":
            ws.close()
            return
        server = ws.connect_to_server()
        created_in = mode["value"]

        def forward(message: str | bytes) -> None:
            # One by one, so "mute" silences a socket that is already open; a socket opened
            # while muted stays silent for good.
            if created_in == "pass" and mode["value"] == "pass":
                ws.send(message)

        server.on_message(forward)

    page.route_web_socket(WS_URL, route)
    page.add_init_script(SOCKET_PROBE)
    badge = by_testid(page, "connection-badge")
    health_panel = by_testid(page, "health-panel")

    page.goto(f"{console.url}/?{FAST}&heartbeat_timeout_ms=800")
    expect(badge).to_have_attribute("data-state", "live")

    # Silence: the watchdog marks the panels stale and replaces the socket; muted sockets
    # never say hello, so after 3 of them the page polls the snapshot instead.
    mode["value"] = "mute"
    expect(health_panel).to_have_attribute("data-stale", "true")
    expect(by_testid(page, "health-panel-stale")).to_have_text(
        re.compile(r"^stale since \d\d:\d\d:\d\d$")
    )
    expect(by_testid(page, "metrics-panel")).to_have_attribute("data-stale", "true")
    expect(badge).to_have_attribute("data-state", "fallback")
    mode["value"] = "refuse"
    polls = stats(page)["polls"]
    wait_for_stat(page, "polls", polls + 2)
    expect(health_panel).to_have_attribute("data-stale", "false")
    expect(health_panel).to_have_attribute("data-event-id", re.compile(r"^snapshot:\d+$"))
    sent = emit(api, "metrics.push", {"at": int(time.time() * 1000), "values": {"polled": 5}})
    expect(by_testid(page, "metric-polled")).to_have_attribute("data-value", "5")
    assert sent["id"] != by_testid(page, "metrics-panel").get_attribute("data-event-id")

    # The snapshot endpoint fails too: offline, stale.
    page.route("**/api/snapshot", lambda r: r.abort())
    expect(badge).to_have_attribute("data-state", "offline")
    expect(health_panel).to_have_attribute("data-stale", "true")
    expect(by_testid(page, "health-panel-stale")).to_be_visible()

    # Everything back: the next socket gets hello, the page is live and stops polling.
    page.unroute("**/api/snapshot")
    mode["value"] = "pass"
    expect(badge).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
    expect(health_panel).to_have_attribute("data-stale", "false")
    expect(by_testid(page, "health-panel-stale")).to_be_hidden()
    state = page.evaluate("() => window.mcpConsole.state()")
    assert state["polling"] is False
    history = state["badgeHistory"]
    for expected in ("live", "reconnecting", "fallback", "offline"):
        assert expected in history, history
    assert history[-1] == "live"
    emit(api, "metrics.push")

    sockets = page.evaluate("() => window.__sockets")
    assert sockets["created"] >= 5, sockets  # the probe saw the page's sockets
    assert sockets["maxLive"] == 1, sockets  # never two at once
    assert stats(page)["reconnects"] >= 4
    assert page_errors == []


def test_reconnects_after_the_server_closes_the_socket(page, console, page_errors):
    closers: list[Callable[[], None]] = []

    def route(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        closers.append(lambda: ws.close(code=1012, reason="restart"))

    page.route_web_socket(WS_URL, route)
    page.goto(f"{console.url}/?{FAST}")
    badge = by_testid(page, "connection-badge")
    expect(badge).to_have_attribute("data-state", "live")
    first_hello = by_testid(page, "health-panel").get_attribute("data-event-id")
    closers[-1]()
    page.wait_for_function("() => window.mcpConsole.state().connection >= 2", timeout=TIMEOUT_MS)
    expect(badge).to_have_attribute("data-state", "live")
    expect(by_testid(page, "health-panel")).not_to_have_attribute("data-event-id", first_hello)
    assert "reconnecting" in page.evaluate("() => window.mcpConsole.state().badgeHistory")
    assert page.evaluate("() => window.mcpConsole.state().lastSeq") >= 1
    assert page_errors == []
