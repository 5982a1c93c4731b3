"""The event flow the browser receives: hello first, schema, seq, ids, heartbeats, reconnect."""

from __future__ import annotations

import itertools
import statistics

import pytest

from e2e.pages.console import ConsolePage
from e2e.support.flow import cadence_problems, flow_problems, intervals_ms
from e2e.support.recorder import FrameRecorder

pytestmark = pytest.mark.websocket

HEARTBEATS_TO_WATCH = 4


def test_badge_says_live_once_hello_arrives(console: ConsolePage):
    console.open()
    console.recorder.wait_for("hello")
    console.expect_connection("live")


def test_first_frame_is_hello_with_seq_1_and_server_version(console: ConsolePage):
    console.open()
    hello = console.recorder.wait_for("hello")
    assert console.recorder.received(socket=0)[0] is hello
    assert hello.seq == 1
    assert hello.errors == []
    version = hello.payload["server"]["version"]
    assert console.server_version.text_content() == version


def test_every_frame_matches_its_schema(console: ConsolePage):
    console.open()
    rec = console.recorder
    # A run of heartbeats and at least one of each periodic event type.
    for type_ in ("heartbeat", "health.check", "metrics.push"):
        rec.wait_for(type_, timeout_ms=15_000)
    invalid = [(f.type, f.seq, f.errors) for f in rec.received() if f.errors]
    assert invalid == []
    assert {f.type for f in rec.received()} >= {
        "hello",
        "heartbeat",
        "health.check",
        "metrics.push",
    }


def test_seq_starts_at_1_with_no_gaps_repeats_or_duplicate_ids(console: ConsolePage):
    console.open()
    rec = console.recorder
    first = rec.wait_for("hello")
    rec.wait_for("heartbeat", lambda f: f.seq >= 6, timeout_ms=15_000)
    assert first.seq == 1
    assert flow_problems(rec.received(socket=0)) == []


def test_heartbeats_arrive_on_the_announced_cadence(console: ConsolePage):
    console.open()
    rec = console.recorder
    hello = rec.wait_for("hello")
    interval = hello.payload["heartbeat_interval_ms"]
    nth = HEARTBEATS_TO_WATCH
    rec.wait_for(
        "heartbeat",
        lambda _f: len(rec.of_type("heartbeat")) >= nth,
        timeout_ms=interval * (nth + 3),
    )
    beats = rec.of_type("heartbeat", socket=0)
    # A missed beat doubles a gap; 0.6 leaves room for a loaded 2-core CI machine.
    assert cadence_problems(beats, interval, tolerance=0.6) == []
    assert statistics.mean(intervals_ms(beats)) == pytest.approx(interval, rel=0.2)
    # And the browser received them as they were sent, not all at once at the end.
    receipt_gaps = [b.at_ms - a.at_ms for a, b in itertools.pairwise(beats)]
    assert max(receipt_gaps) > interval * 0.4, receipt_gaps


def test_reload_reconnects_with_a_fresh_hello_and_one_socket(console: ConsolePage):
    console.open()
    rec = console.recorder
    rec.wait_for("hello")
    rec.wait_for("heartbeat")
    console.page.reload()
    second_hello = rec.wait_for("hello", lambda f: f.socket == 1)
    assert second_hello.seq == 1
    assert second_hello.id != rec.of_type("hello", socket=0)[0].id
    console.expect_connection("live")
    rec.wait_for("heartbeat", lambda f: f.socket == 1)
    rec.wait_closed(0)
    assert rec.open_sockets() == [1]
    assert flow_problems(rec.received(socket=1)) == []


def test_two_pages_receive_the_same_events_with_their_own_seq(console: ConsolePage, context):
    other_page = context.new_page()
    other = FrameRecorder(other_page)
    console.open()
    other_page.goto(console.base_url + "/")
    console.recorder.wait_for("hello")
    other_hello = other.wait_for("hello")
    # A heartbeat made after the second page's hello reaches both: one event (same id),
    # each connection's own seq.
    beat = console.recorder.wait_for("heartbeat", lambda f: f.data["ts"] > other_hello.data["ts"])
    twin = other.wait_for("heartbeat", lambda f: f.id == beat.id)
    assert twin.data["ts"] == beat.data["ts"]
    assert flow_problems(other.received(socket=0)) == []


def test_every_event_carries_a_traceparent_of_its_own(console: ConsolePage, context):
    other_page = context.new_page()
    other = FrameRecorder(other_page)
    console.open()
    other_page.goto(console.base_url + "/")
    rec = console.recorder
    rec.wait_for("hello")
    other_hello = other.wait_for("hello")
    beat = rec.wait_for("heartbeat", lambda f: f.data["ts"] > other_hello.data["ts"])
    twin = other.wait_for("heartbeat", lambda f: f.id == beat.id)
    frames = rec.received(socket=0)
    parents = [f.data.get("traceparent") for f in frames]
    assert all(parents), "a frame without traceparent"
    # One server span per event: distinct span ids, and the same context on every socket.
    span_ids = [p.split("-")[2] for p in parents]
    assert len(set(span_ids)) == len(span_ids)
    assert twin.data["traceparent"] == beat.data["traceparent"]
