"""Fault injection: for each way the socket can misbehave, the console's required reaction.

Frame-level faults go through Playwright's route_web_socket (WsFaultProxy); connection-level
ones (a real 1006, connection refused) through a real TCP relay in front of the console.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from itertools import pairwise

import pytest
from playwright.sync_api import expect

from e2e.pages.console import HEALTH_PANEL, METRICS_PANEL, ConsolePage
from e2e.support.controls import ConsoleControls
from e2e.support.flow import flow_problems
from e2e.support.recorder import Frame
from e2e.support.relay import TcpRelay
from e2e.support.renders import all_renders, page_sockets, transitions, wait_for_render
from e2e.support.wsproxy import WsFaultProxy, envelope, of_type

pytestmark = pytest.mark.websocket

# Short client timings so each fault plays out in a few seconds.
FAST = {"backoff_base_ms": 50, "backoff_max_ms": 400, "poll_interval_ms": 300}


def expect_one_open_socket(console: ConsolePage) -> None:
    """The page's own view: exactly one socket not closed, and it is live."""
    console.expect_connection("live")
    console.page.wait_for_function(
        "() => window.__e2eSockets.filter(s => s.open).length === 1", timeout=10_000
    )


def badge_history(console: ConsolePage) -> list[str]:
    return console.client_state()["badgeHistory"]


# -- the server closes ------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1011, 4000])
def test_server_close_reconnects_with_backoff_to_a_fresh_hello(
    console: ConsolePage, emitter: ConsoleControls, code: int
):
    console.open(**FAST)
    rec = console.recorder
    first_hello = rec.wait_for("hello")
    emitter.close_socket(first_hello.id, code, "e2e: server closes")
    hello = rec.wait_for("hello", lambda f: f.socket != first_hello.socket)
    assert hello.seq == 1
    expect_one_open_socket(console)
    assert "reconnecting" in badge_history(console)
    first = page_sockets(console.page)[0]
    assert (first["open"], first["code"], first["wasClean"]) == (False, code, True)
    assert console.client_stats()["reconnects"] >= 1


def test_a_routed_socket_closed_by_the_route_reconnects(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    console.open(**FAST)
    rec = console.recorder
    first_hello = rec.wait_for("hello")
    ws_proxy.close(4000, "e2e: route closes")
    rec.wait_for("hello", lambda f: f.socket != first_hello.socket)
    expect_one_open_socket(console)
    assert page_sockets(console.page)[0]["code"] == 4000


def test_abnormal_closure_1006_reconnects(console: ConsolePage, relay: TcpRelay):
    # A watchdog far away: the reconnect must come from the close itself.
    console.open(ws_url=f"ws://{relay.address}/ws", heartbeat_timeout_ms=120_000, **FAST)
    rec = console.recorder
    rec.wait_for("hello")
    relay.cut()  # TCP reset, no close frame
    rec.wait_for("hello", lambda f: f.socket == 1)
    expect_one_open_socket(console)
    first = page_sockets(console.page)[0]
    assert (first["code"], first["wasClean"]) == (1006, False)
    assert "reconnecting" in badge_history(console)
    assert flow_problems(rec.received(socket=1)) == []


# -- no socket at all: fallback to polling ----------------------------------------------


def test_connection_refused_falls_back_to_polling_and_data_keeps_flowing(
    console: ConsolePage, relay: TcpRelay, emitter: ConsoleControls
):
    relay.refuse()
    console.open(ws_url=f"ws://{relay.address}/ws", fallback_after=3, **FAST)
    console.expect_connection("fallback")
    # Every attempt failed without a handshake (1006); one may be connecting right now.
    assert all(s["code"] in (1006, None) for s in page_sockets(console.page))
    # New data reaches the panel through GET /api/snapshot alone: the server's next metrics
    # (it pushes on a cadence; the emit only hurries it) shows up in a snapshot render.
    before = emitter.snapshot()["snapshot"]["metrics"]["at"]
    emitter.emit("metrics.push")
    console.page.wait_for_function(
        """before => window.__e2eRenders.some(r => r.panel === "metrics-panel"
             && r.eventId.startsWith("snapshot:")
             && window.mcpConsole.state().metrics.at > before)""",
        arg=before,
        timeout=10_000,
    )
    assert console.client_stats()["polls"] >= 1
    assert console.recorder.received() == []  # none of it came over a socket
    console.expect_stale(METRICS_PANEL, stale=False)
    # The socket comes back: live again, polling stops, one socket.
    relay.accept()
    console.recorder.wait_for("hello", timeout_ms=15_000)
    expect_one_open_socket(console)
    assert console.client_state()["polling"] is False


@pytest.mark.parametrize("random", [0.25, 0.999])
def test_reconnects_back_off_exponentially_with_full_jitter_up_to_the_cap(
    console: ConsolePage, relay: TcpRelay, random: float
):
    # Math.random pinned: each delay must be exactly random x min(cap, base x 2^failures).
    base, cap, attempts = 200, 1600, 6
    console.page.add_init_script(f"Math.random = () => {random};")
    relay.refuse()
    console.open(
        ws_url=f"ws://{relay.address}/ws",
        backoff_base_ms=base,
        backoff_max_ms=cap,
        fallback_after=100,  # no polling: only the socket's own retries
    )
    console.page.wait_for_function(
        "n => window.__e2eSockets.filter(s => !s.open).length >= n", arg=attempts, timeout=30_000
    )
    sockets = page_sockets(console.page)[:attempts]
    delays = [later["openedAt"] - earlier["closedAt"] for earlier, later in pairwise(sockets)]
    wanted = [random * min(cap, base * 2**failures) for failures in range(1, attempts)]
    shown = ([round(d) for d in delays], wanted)
    # A timer never fires early, but a loaded machine fires it late: each delay is bounded
    # loosely, their sum tightly enough that no jitter (4x at 0.25) or no cap (2x, 4x at the
    # end) cannot pass.
    assert all(w - 2 <= d <= w + 1000 for d, w in zip(delays, wanted, strict=True)), shown
    assert sum(delays) <= 1.6 * sum(wanted), shown


def test_a_failing_poll_says_offline_and_stale_until_polling_works_again(
    console: ConsolePage, relay: TcpRelay
):
    relay.refuse()
    console.open(ws_url=f"ws://{relay.address}/ws", fallback_after=2, **FAST)
    console.expect_connection("fallback")
    console.expect_stale(METRICS_PANEL, stale=False)
    console.page.route("**/api/snapshot", lambda route: route.fulfill(status=503, body="down"))
    console.expect_connection("offline")
    for panel in (HEALTH_PANEL, METRICS_PANEL):
        console.expect_stale(panel, stale=True)
    assert console.client_stats()["pollFailures"] >= 1
    console.page.unroute("**/api/snapshot")
    console.expect_connection("fallback")
    for panel in (HEALTH_PANEL, METRICS_PANEL):
        console.expect_stale(panel, stale=False)


def test_server_closing_before_hello_repeatedly_falls_back_then_recovers(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    ws_proxy.refuse_next(3, code=1011)
    console.open(fallback_after=3, **FAST)
    console.recorder.wait_for("hello", timeout_ms=15_000)  # the 4th socket passes
    expect_one_open_socket(console)
    history = badge_history(console)
    assert history.index("fallback") > history.index("reconnecting"), history
    assert history[-1] == "live"
    assert console.client_state()["polling"] is False


# -- frames lost, repeated, reordered ----------------------------------------------------


def test_a_dropped_frame_is_a_gap_that_resyncs_from_the_snapshot(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    ws_proxy.drop(of_type("heartbeat"))
    with console.page.expect_request("**/api/snapshot") as snapshot_request:
        console.open(**FAST)
        console.recorder.wait_for("heartbeat")
    assert snapshot_request.value.url.endswith("/api/snapshot")
    console.wait_for_stat("resyncs", 1)
    assert console.client_stats()["gaps"] == 1
    assert any(r.event_id.startswith("snapshot:") for r in all_renders(console.page))


def test_a_duplicated_frame_is_applied_once(console: ConsolePage, ws_proxy: WsFaultProxy):
    ws_proxy.duplicate(of_type("metrics.push"))
    console.open(**FAST)
    rec = console.recorder
    push = rec.wait_for("metrics.push", timeout_ms=15_000)
    assert len([f for f in rec.received() if f.id == push.id]) == 2
    console.wait_for_stat("duplicates", 1)
    wait_for_render(console.page, push.id, METRICS_PANEL)
    renders_of_push = [r for r in all_renders(console.page) if r.event_id == push.id]
    assert len(renders_of_push) == 1
    assert console.client_stats()["gaps"] == 0


def test_an_event_seen_on_an_earlier_socket_is_not_applied_again(
    console: ConsolePage, ws_proxy: WsFaultProxy, controls: ConsoleControls
):
    # seq restarts on each socket, so only the id can tell a replay across a reconnect.
    console.open(**FAST)
    rec = console.recorder
    push = rec.wait_for("metrics.push", timeout_ms=15_000)
    wait_for_render(console.page, push.id, METRICS_PANEL)
    hello = envelope(
        "hello",
        {
            "server": {"name": "replaying", "version": "1.0.0"},
            "heartbeat_interval_ms": 1000,
            "snapshot": controls.snapshot()["snapshot"],
        },
        1,
        str(uuid.uuid4()),
        time.time() * 1000,
    )
    replay = envelope("metrics.push", push.payload, 2, push.id, push.data["ts"])
    ws_proxy.serve_next([hello, replay])
    duplicates = console.client_stats()["duplicates"]
    ws_proxy.close(4000, "e2e: reconnect to a server that replays")
    rec.wait_for("metrics.push", lambda f: f.id == push.id and f.socket != push.socket)
    console.wait_for_stat("duplicates", duplicates + 1)
    assert [r.event_id for r in all_renders(console.page)].count(push.id) == 1
    assert console.client_stats()["gaps"] == 0


def test_reordered_frames_never_let_older_state_win(console: ConsolePage, ws_proxy: WsFaultProxy):
    ws_proxy.hold(of_type("metrics.push"))
    console.open(**FAST)
    rec = console.recorder
    held = rec.wait_for("metrics.push", direction="upstream-received", timeout_ms=15_000)
    # Frames after the held one overtake it: a gap, so the client resyncs.
    rec.wait_for("heartbeat", lambda f: f.seq > held.seq)
    console.wait_for_stat("resyncs", 1)
    ws_proxy.release()
    late = rec.wait_for("metrics.push", lambda f: f.id == held.id)
    assert late.seq == held.seq
    console.wait_for_stat("outOfOrder", 1)
    assert all(r.event_id != held.id for r in all_renders(console.page))
    assert console.page.get_by_test_id(METRICS_PANEL).get_attribute("data-event-id") != held.id


def test_delayed_frames_are_applied_in_order_once_they_arrive(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    # The watchdog out of reach: a slow stream is not a dead one.
    console.open(heartbeat_timeout_ms=60_000, **FAST)
    rec = console.recorder
    hello = rec.wait_for("hello")
    ws_proxy.pause()
    rec.wait_until(
        lambda: _push_then_beat(ws_proxy.held_frames()),
        "a held metrics.push with a heartbeat held after it",
        timeout_ms=15_000,
    )
    held = ws_proxy.held_frames()
    push = next(f for f in held if f.type == "metrics.push")
    held_ids = [f.id for f in held]
    assert not [r for r in all_renders(console.page) if r.event_id in held_ids]
    resumed_ms = time.time() * 1000
    ws_proxy.resume()
    shown = wait_for_render(console.page, push.id, METRICS_PANEL)
    assert shown.dom_at_ms >= resumed_ms - 5  # shown on arrival, not before
    # Late but in order: no gap, no resync, no reconnect, every frame applied once.
    ids = [f.id for f in rec.received(socket=hello.socket)]
    first = ids.index(held_ids[0])
    assert ids[first : first + len(held_ids)] == held_ids
    assert flow_problems(rec.received(socket=hello.socket)) == []
    stats = console.client_stats()
    assert [stats[k] for k in ("gaps", "resyncs", "duplicates", "outOfOrder")] == [0, 0, 0, 0]
    assert "reconnecting" not in badge_history(console)
    console.expect_connection("live")


def _push_then_beat(frames: list[Frame]) -> bool:
    types = [f.type for f in frames]
    return "metrics.push" in types and "heartbeat" in types[types.index("metrics.push") :]


# -- frames that are not what the contract says --------------------------------------------


def test_malformed_json_is_ignored_counted_and_logged(
    console: ConsolePage, ws_proxy: WsFaultProxy, page_warnings: list[str]
):
    console.open(**FAST)
    hello = console.recorder.wait_for("hello")
    ws_proxy.inject('{"v": 1, "type": "health.check", "seq": ')
    console.wait_for_stat("malformed", 1)
    assert any("malformed" in line for line in page_warnings), page_warnings
    after = console.recorder.wait_for("health.check", timeout_ms=15_000)
    wait_for_render(console.page, after.id, HEALTH_PANEL)
    console.expect_connection("live")
    assert after.socket == hello.socket


def test_an_unknown_event_type_is_ignored_counted_and_logged(
    console: ConsolePage, ws_proxy: WsFaultProxy, page_warnings: list[str]
):
    console.open(**FAST)
    console.recorder.wait_for("hello")
    ws_proxy.inject_event("cache.warmed", {"keys": 3})
    console.wait_for_stat("unknownTypes", 1)
    assert any("cache.warmed" in line for line in page_warnings), page_warnings
    # It held a place in the sequence: no gap, and the next real event still renders.
    after = console.recorder.wait_for("metrics.push", timeout_ms=15_000)
    wait_for_render(console.page, after.id, METRICS_PANEL)
    assert console.client_stats()["gaps"] == 0
    assert flow_problems(console.recorder.received(socket=0)) == []


def test_an_oversized_frame_is_refused_unparsed_and_resynced(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    console.open(max_frame_bytes=65536, **FAST)
    console.recorder.wait_for("hello")
    ws_proxy.inject_event("metrics.push", {"at": 0, "values": {"blob": 1}, "pad": "x" * 200_000})
    console.wait_for_stat("oversized", 1)
    # Its seq was never seen, so the next frame is a gap: the client resyncs.
    console.wait_for_stat("resyncs", 1, timeout_ms=15_000)
    console.expect_connection("live")
    expect(console.metric("blob")).to_have_count(0)


def test_a_binary_frame_is_ignored(console: ConsolePage, ws_proxy: WsFaultProxy):
    console.open(**FAST)
    console.recorder.wait_for("hello")
    ws_proxy.inject(json.dumps({"v": 1, "type": "heartbeat"}).encode())
    console.wait_for_stat("malformed", 1)
    after = console.recorder.wait_for("heartbeat", lambda f: isinstance(f.raw, str))
    console.expect_connection("live")
    assert after.errors == []


# -- silence ------------------------------------------------------------------------------


def test_silence_without_close_marks_panels_stale_and_reconnects(
    console: ConsolePage, ws_proxy: WsFaultProxy
):
    console.open(heartbeat_timeout_ms=1500, **FAST)
    rec = console.recorder
    first_hello = rec.wait_for("hello")
    console.expect_stale(HEALTH_PANEL, stale=False)
    ws_proxy.silence()
    rec.wait_for("hello", lambda f: f.socket != first_hello.socket, timeout_ms=15_000)
    expect_one_open_socket(console)
    console.expect_stale(HEALTH_PANEL, stale=False)
    assert page_sockets(console.page)[0]["code"] == 4000  # closed by the client's watchdog
    # In between, both panels said they were stale, and since when.
    for panel in (HEALTH_PANEL, METRICS_PANEL):
        went_stale = [t for t in transitions(console.page, panel, "stale") if t["value"] == "true"]
        assert went_stale, f"{panel} never went stale"
        assert re.fullmatch(r"stale since \d\d:\d\d:\d\d", went_stale[0]["note"])


# -- a server replaced entirely ------------------------------------------------------------


def test_a_fully_mocked_server_is_recorded_and_rendered(
    console: ConsolePage, ws_proxy: WsFaultProxy, controls: ConsoleControls
):
    snapshot = controls.snapshot()["snapshot"]
    components = [dict(c) for c in snapshot["health"]["components"]]
    components[0].update(status="down", detail="scripted by the test")
    scripted_health = {**snapshot["health"], "components": components}
    hello = envelope(
        "hello",
        {
            "server": {"name": "mock", "version": "9.9.9"},
            "heartbeat_interval_ms": 1000,
            "snapshot": snapshot,
        },
        1,
        "00000000-0000-4000-8000-000000000001",
        1.0,
    )
    check = envelope(
        "health.check", scripted_health, 2, "00000000-0000-4000-8000-000000000002", 2.0
    )
    ws_proxy.serve_next([hello, check])
    console.open(**FAST)
    rec = console.recorder
    frame = rec.wait_for("health.check")
    assert [f.type for f in rec.received()] == ["hello", "health.check"]
    assert all(s.kind == "routed" for s in rec.sockets)  # page.on("websocket") saw nothing
    assert frame.errors == []
    render = wait_for_render(console.page, frame.id, HEALTH_PANEL)
    assert render.attr(f"health-row-{components[0]['name']}", "status") == "down"
    expect(console.server_version).to_have_text("9.9.9")
