"""The alerts panel and toasts (mcp_panels/static/alerts.js) in a real Chromium, served by a real
console, fed scripted frames through Playwright's WebSocket routing: what the server would
rarely or never send (repeats, malformed alerts, snapshots that add or drop alerts, older
snapshots) and the toast lifecycle (roles, eviction, timeouts, dismissal)."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from harness.process import Service
from harness.services import start_console, start_redis

WS_URL = re.compile(r"/ws$")
TIMEOUT_MS = 5000


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("alerts-ui")
    with (
        start_redis(workdir) as redis_service,
        start_console(
            workdir,
            redis_service.url,
            heartbeat_interval=1,
            health_interval=60,
            metrics_interval=60,
        ) as service,
    ):
        yield service


@pytest.fixture(scope="module")
def base_snapshot(console: Service) -> dict[str, Any]:
    with httpx.Client(base_url=console.url, timeout=5, trust_env=False) as client:
        return client.get("/api/snapshot").json()


@pytest.fixture
def page_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


class Script:
    """The page's one socket, scripted: frames with the next seq, at a chosen server time."""

    def __init__(self, page: Page, console: Service, base: dict[str, Any], query: str) -> None:
        self.page = page
        self.base = base
        self.sockets: list[WebSocketRoute] = []
        page.route_web_socket(WS_URL, lambda ws: self.sockets.append(ws))
        page.goto(f"{console.url}/?heartbeat_timeout_ms=60000&{query}")
        page.wait_for_function("() => window.mcpConsole !== undefined && window.mcpAlerts")
        assert len(self.sockets) == 1
        self.seq = 0

    def send(
        self,
        event_type: str,
        payload: dict[str, Any],
        *,
        ts: int | None = None,
        seq: int | None = None,
    ) -> str:
        self.seq = self.seq + 1 if seq is None else seq
        event_id = str(uuid.uuid4())
        self.sockets[0].send(
            json.dumps(
                {
                    "v": 1,
                    "type": event_type,
                    "seq": self.seq,
                    "id": event_id,
                    "ts": ts if ts is not None else now_ms(),
                    "payload": payload,
                }
            )
        )
        return event_id

    def hello(
        self, alerts: list[dict[str, Any]], generated_at: int | None = None, omitted: int = 0
    ) -> str:
        snapshot = {
            **self.base["snapshot"],
            "alerts": alerts,
            "alerts_omitted": omitted,
            "generated_at": generated_at or now_ms(),
        }
        return self.send(
            "hello",
            {"server": self.base["server"], "heartbeat_interval_ms": 20000, "snapshot": snapshot},
            seq=1,
        )


def now_ms() -> int:
    return int(time.time() * 1000)


def alert(name: str, severity: str, status: str = "firing", **annotations: str) -> dict[str, Any]:
    return {
        "fingerprint": uuid.uuid4().hex[:16],
        "status": status,
        "alertname": name,
        "severity": severity,
        "labels": {"alertname": name, "severity": severity, "env": "ci"},
        "annotations": {"summary": f"{name} summary", **annotations},
        "starts_at": now_ms(),
        "ends_at": None,
        "generator_url": "",
    }


def notification(alerts: list[dict[str, Any]], truncated: int = 0) -> dict[str, Any]:
    return {
        "receiver": "mcp-console",
        "group_key": "g",
        "group_labels": {},
        "external_url": "",
        "truncated_alerts": truncated,
        "received_at": now_ms(),
        "alerts": alerts,
    }


def done(a: dict[str, Any]) -> dict[str, Any]:
    return {**a, "status": "resolved", "ends_at": now_ms()}


def serve_snapshot(base: dict[str, Any], alerts: list[dict[str, Any]], at: int, omitted: int = 0):
    """A route handler answering GET /api/snapshot with these alerts, generated at `at`."""
    snapshot = {**base["snapshot"], "alerts": alerts, "alerts_omitted": omitted, "generated_at": at}
    return lambda route: route.fulfill(json={**base, "snapshot": snapshot})


def by_testid(page: Page, testid: str):
    return page.locator(f'[data-testid="{testid}"]')


def toast_ids(page: Page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelector('[data-testid=toasts]').children)"
        ".map(t => t.dataset.testid)"
    )


def row_ids(page: Page) -> list[str]:
    return page.evaluate(
        "() => Array.from(document.querySelector('[data-testid=alerts-list]').children)"
        ".map(r => r.dataset.testid)"
    )


def alert_stats(page: Page) -> dict[str, int]:
    return page.evaluate("() => ({...window.mcpAlerts.stats})")


def test_events_make_rows_and_one_toast_per_firing(page, console, base_snapshot, page_errors):
    script = Script(page, console, base_snapshot, "toast_timeout_ms=0&toast_max=10")
    old = alert("AlreadyFiring", "info")
    script.hello([old])
    expect(by_testid(page, f"alert-row-{old['fingerprint']}")).to_be_visible()
    expect(by_testid(page, "alerts-panel")).to_have_attribute("data-seq", "1")
    expect(by_testid(page, "alerts-empty")).to_be_hidden()
    assert toast_ids(page) == []  # firing before the page loaded: no toast

    warning, critical = alert("Warn", "warning"), alert("Crit", "critical")
    script.send("alert.fired", notification([warning], truncated=3))
    toast = by_testid(page, f"toast-{warning['fingerprint']}")
    expect(toast).to_have_attribute("role", "status")
    expect(toast).to_have_attribute("data-status", "firing")
    expect(by_testid(page, "alerts-truncated")).to_have_text(re.compile(r"^3 more alert"))
    script.send("alert.fired", notification([warning]))  # re-sent: nothing new
    event_id = script.send("alert.fired", notification([critical]))
    expect(by_testid(page, "alerts-panel")).to_have_attribute("data-event-id", event_id)
    expect(by_testid(page, "alerts-truncated")).to_be_hidden()  # group g: 0 left out now
    expect(by_testid(page, f"toast-{critical['fingerprint']}")).to_have_attribute("role", "alert")
    assert toast_ids(page) == [
        f"toast-{critical['fingerprint']}",
        f"toast-{warning['fingerprint']}",
    ]
    assert row_ids(page) == [f"alert-row-{a['fingerprint']}" for a in (critical, warning, old)]
    assert alert_stats(page)["repeats"] == 1

    script.send("alert.resolved", notification([done(critical)]))
    expect(by_testid(page, f"alert-row-{critical['fingerprint']}")).to_have_count(0)
    resolved = by_testid(page, f"toast-{critical['fingerprint']}")
    expect(resolved).to_have_attribute("data-status", "resolved")
    expect(resolved).to_have_attribute("role", "status")
    expect(by_testid(page, f"toast-title-{critical['fingerprint']}")).to_have_text(
        "resolved · Crit"
    )

    before = page.evaluate("() => window.mcpConsole.stats.malformed")
    script.send("alert.fired", notification([{"fingerprint": 5}]))
    page.wait_for_function("n => window.mcpConsole.stats.malformed > n", arg=before)
    fingerprints = {a["fingerprint"] for a in page.evaluate("window.mcpConsole.state().alerts")}
    assert fingerprints == {warning["fingerprint"], old["fingerprint"]}
    assert page_errors == []


def test_toasts_are_capped_time_out_and_can_be_dismissed(page, console, base_snapshot):
    script = Script(page, console, base_snapshot, "toast_timeout_ms=400&toast_max=2")
    script.hello([])
    critical, first, second = alert("C", "critical"), alert("W1", "warning"), alert("W2", "info")
    script.send("alert.fired", notification([critical, first, second]))
    # Three toasts, room for two: the oldest non-critical goes.
    expect(by_testid(page, f"toast-{first['fingerprint']}")).to_have_count(0)
    # The remaining non-critical one times out; the firing critical stays until dismissed.
    expect(by_testid(page, f"toast-{second['fingerprint']}")).to_have_count(0)
    assert toast_ids(page) == [f"toast-{critical['fingerprint']}"]
    by_testid(page, f"toast-dismiss-{critical['fingerprint']}").click()
    expect(by_testid(page, f"toast-{critical['fingerprint']}")).to_have_count(0)
    # Toasts come and go; the rows stay while the alerts fire.
    assert len(row_ids(page)) == 3


def test_snapshots_add_and_drop_alerts_but_never_roll_back(page, console, base_snapshot):
    script = Script(page, console, base_snapshot, "toast_timeout_ms=0&toast_max=10")
    kept, dropped = alert("Kept", "warning"), alert("Dropped", "warning")
    script.hello([kept, dropped])
    added = alert("Added", "critical")
    generated_at = now_ms() + 1000

    page.route("**/api/snapshot", serve_snapshot(base_snapshot, [kept, added], generated_at))
    script.send("heartbeat", {"interval_ms": 20000}, seq=5)  # a gap: resync from the snapshot
    expect(by_testid(page, "alerts-panel")).to_have_attribute(
        "data-event-id", f"snapshot:{generated_at}"
    )
    expect(by_testid(page, f"toast-{added['fingerprint']}")).to_have_attribute(
        "data-status", "firing"
    )
    expect(by_testid(page, f"alert-row-{dropped['fingerprint']}")).to_have_count(0)
    expect(by_testid(page, f"toast-{dropped['fingerprint']}")).to_have_attribute(
        "data-status", "resolved"
    )

    # An event newer than the next snapshot: that snapshot must not undo it.
    late = alert("Late", "info")
    event_id = script.send("alert.fired", notification([late]), ts=generated_at + 5000)
    expect(by_testid(page, "alerts-panel")).to_have_attribute("data-event-id", event_id)
    page.unroute("**/api/snapshot")
    resyncs = page.evaluate("() => window.mcpConsole.stats.resyncs")
    page.route("**/api/snapshot", serve_snapshot(base_snapshot, [kept], generated_at + 2000))
    script.send("heartbeat", {"interval_ms": 20000}, seq=script.seq + 2)
    page.wait_for_function("n => window.mcpConsole.stats.resyncs > n", arg=resyncs)
    expect(by_testid(page, "alerts-panel")).to_have_attribute("data-event-id", event_id)
    expect(by_testid(page, f"alert-row-{late['fingerprint']}")).to_be_visible()
    expect(by_testid(page, f"alert-row-{added['fingerprint']}")).to_be_visible()


def test_the_toast_cap_evicts_the_oldest_non_critical_first(page, console, base_snapshot):
    # No timeouts: only the cap can make a toast leave.
    script = Script(page, console, base_snapshot, "toast_timeout_ms=0&toast_max=2")
    script.hello([])
    critical, first, second = alert("C", "critical"), alert("W1", "warning"), alert("W2", "info")
    script.send("alert.fired", notification([critical, first, second]))
    expect(by_testid(page, f"toast-{second['fingerprint']}")).to_have_count(1)
    assert sorted(toast_ids(page)) == sorted(
        [f"toast-{critical['fingerprint']}", f"toast-{second['fingerprint']}"]
    )


def test_a_firing_re_sent_after_its_resolution_toasts_no_more(page, console, base_snapshot):
    # Alertmanager may deliver an older firing notification after the resolved one.
    script = Script(page, console, base_snapshot, "toast_timeout_ms=0&toast_max=10")
    script.hello([])
    x = alert("X", "warning")
    script.send("alert.fired", notification([x]))
    toast = by_testid(page, f"toast-{x['fingerprint']}")
    expect(toast).to_have_attribute("data-status", "firing")
    script.send("alert.resolved", notification([done(x)]))
    expect(toast).to_have_attribute("data-status", "resolved")
    toasts = alert_stats(page)["toasts"]
    fired = alert_stats(page)["fired"]
    script.send("alert.fired", notification([x]))
    page.wait_for_function("n => window.mcpAlerts.stats.fired > n", arg=fired)
    assert alert_stats(page)["toasts"] == toasts
    expect(toast).to_have_attribute("data-status", "resolved")
    assert toast_ids(page) == [f"toast-{x['fingerprint']}"]


def test_a_snapshot_that_leaves_alerts_out_keeps_the_rows_it_cannot_vouch_for(
    page, console, base_snapshot
):
    # An alert storm: the console lists only what fits a frame and says how many it left out.
    script = Script(page, console, base_snapshot, "toast_timeout_ms=0&toast_max=10")
    shown, other = alert("Shown", "critical"), alert("Other", "warning")
    script.hello([shown, other], omitted=40)
    note = by_testid(page, "alerts-truncated")
    expect(note).to_have_text("40 more firing alert(s) not listed by the console")

    # A resync from a partial snapshot that lists `shown` only: `other` may still fire.
    at = now_ms() + 1000
    page.route("**/api/snapshot", serve_snapshot(base_snapshot, [shown], at, omitted=41))
    script.send("heartbeat", {"interval_ms": 20000}, seq=5)  # a gap: resync
    expect(by_testid(page, "alerts-panel")).to_have_attribute("data-event-id", f"snapshot:{at}")
    expect(note).to_have_text("41 more firing alert(s) not listed by the console")
    expect(by_testid(page, f"alert-row-{other['fingerprint']}")).to_have_count(1)
    assert alert_stats(page)["resolved"] == 0
    # A complete snapshot without it: now it has resolved.
    page.unroute("**/api/snapshot")
    page.route("**/api/snapshot", serve_snapshot(base_snapshot, [shown], at + 1000))
    script.send("heartbeat", {"interval_ms": 20000}, seq=9)
    expect(by_testid(page, f"alert-row-{other['fingerprint']}")).to_have_count(0)
    expect(note).to_be_hidden()
