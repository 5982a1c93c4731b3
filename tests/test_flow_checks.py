"""The suite's own contract checks find what they claim to find (and nothing else)."""

from __future__ import annotations

import json
import uuid

from e2e.support.flow import cadence_problems, flow_problems
from e2e.support.recorder import Frame, decode
from e2e.support.wsproxy import envelope

SNAPSHOT = {
    "health": {
        "checked_at": 1,
        "components": [
            {"name": name, "status": "ok", "detail": "", "latency_ms": None, "checked_at": 1}
            for name in ("kyverno", "argocd", "redis", "prometheus")
        ],
    },
    "metrics": {"at": 1, "values": {}},
    "alerts": [],
    "generated_at": 1,
}


def frame(
    type_: str, seq: int, payload: dict | None = None, id_: str | None = None, ts: float = 1000.0
) -> Frame:
    if payload is None:
        payload = {"interval_ms": 1000} if type_ == "heartbeat" else {}
    if type_ == "hello" and not payload:
        payload = {
            "server": {"name": "m", "version": "1"},
            "heartbeat_interval_ms": 1000,
            "snapshot": SNAPSHOT,
        }
    raw = envelope(type_, payload, seq, id_ or str(uuid.uuid4()), ts)
    data, errors = decode(raw)
    return Frame(0, "received", raw, ts, data, errors)


def test_a_clean_flow_has_no_problems():
    frames = [frame("hello", 1), frame("heartbeat", 2), frame("heartbeat", 3)]
    assert [f.errors for f in frames] == [[], [], []]
    assert flow_problems(frames) == []


def test_gaps_repeats_duplicates_and_a_late_hello_are_named():
    dup = str(uuid.uuid4())
    frames = [
        frame("heartbeat", 1, id_=dup),
        frame("hello", 2),
        frame("heartbeat", 4),
        frame("heartbeat", 4),
        frame("heartbeat", 5, id_=dup),
    ]
    problems = flow_problems(frames)
    assert problems[0] == "first frame is 'heartbeat', not 'hello'"
    assert any("seq 4, expected 3 (gap)" in p for p in problems)
    assert any("seq 4, expected 5 (repeat or reorder)" in p for p in problems)
    assert any(f"duplicate id {dup}" in p for p in problems)


def test_schema_errors_are_reported_per_frame():
    bad_payload = frame("heartbeat", 1, payload={"interval_ms": "soon"})
    assert any("heartbeat payload" in e for e in bad_payload.errors)
    missing = json.dumps({"v": 1, "type": "heartbeat", "seq": 1, "payload": {}})
    assert any("'id' is a required property" in e for e in decode(missing)[1])
    assert decode(b"\x00\x01")[1] == ["binary frame (the contract sends JSON text)"]
    assert decode("[1, 2]")[1] == ["not a JSON object: list"]
    assert decode("{nope")[1][0].startswith("not JSON")


def test_unknown_types_pass_the_envelope_check_only():
    unknown = frame("cache.warmed", 1, payload={"anything": True})
    assert unknown.errors == []


def test_cadence_finds_a_missed_beat_a_burst_and_a_wrong_interval():
    on_time = [frame("heartbeat", n, ts=1000.0 * n) for n in range(1, 5)]
    assert cadence_problems(on_time, 1000) == []
    missed = [on_time[0], on_time[2], on_time[3]]
    assert cadence_problems(missed, 1000) == ["heartbeats seq 1→3: 2000 ms apart"]
    burst = [*on_time, frame("heartbeat", 5, ts=4100.0)]
    assert cadence_problems(burst, 1000) == ["heartbeats seq 4→5: 100 ms apart"]
    wrong = [frame("heartbeat", 1, payload={"interval_ms": 500})]
    assert cadence_problems(wrong, 1000) == ["heartbeat seq 1 announces 500 ms, not 1000"]


def test_latency_comes_only_from_server_frames_a_panel_showed():
    from e2e.support.renders import Render
    from e2e.support.timeline import timelines

    real = frame("heartbeat", 1, ts=1000.0)
    scripted = frame("hello", 2, ts=1.0)  # a mock's made-up send time
    scripted.scripted = True
    unseen = frame("heartbeat", 3, ts=1100.0)
    shown = [
        Render("connection-badge", f.id, None, f.data["ts"] + 20, f.data["ts"] + 25, {})
        for f in (real, scripted)
    ]
    [only] = timelines([real, scripted, unseen, real], shown, {real.id: 1004.0})
    assert (only.event_id, only.received_ms, only.shown_ms) == (real.id, 1004.0, 1025.0)
    assert only.latency_s == 0.025
