"""The console records a span per broadcast and puts its context in the frame (traceparent)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.sync.client import connect

from harness.process import Service
from harness.services import start_console, start_redis
from tests.support.otlp_receiver import OtlpReceiver


@pytest.fixture(scope="module")
def traced_console(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Service, OtlpReceiver]]:
    workdir = tmp_path_factory.mktemp("traced")
    receiver = OtlpReceiver()
    with (
        start_redis(workdir) as rds,
        start_console(
            workdir,
            rds.url,
            heartbeat_interval=30,
            health_interval=30,
            metrics_interval=30,
            extra_args=["--otlp-endpoint", receiver.url],
        ) as console,
    ):
        yield console, receiver
    receiver.close()


def test_each_frame_names_the_span_that_broadcast_it(traced_console):
    console, receiver = traced_console
    ws_url = console.url.replace("http://", "ws://") + "/ws"
    with connect(ws_url) as ws:
        hello = json.loads(ws.recv(timeout=5))
        sent = httpx.post(f"{console.url}/api/test/emit", json={"type": "heartbeat"}).json()
        beat = json.loads(ws.recv(timeout=5))
    assert beat["id"] == sent["id"]
    spans = {}
    for frame in (hello, beat):
        version, trace_id, span_id, flags = frame["traceparent"].split("-")
        assert version == "00"
        assert int(flags, 16) & 1, "sampled flag"  # 0x02 (random trace id) may be set too
        spans[span_id] = (trace_id, frame)
    # The BatchSpanProcessor exports within its schedule (5 s by default); wait for both.
    exported = receiver.wait_for_spans(2, timeout=15)
    by_id = {s.span_id.hex(): s for s in exported}
    for span_id, (trace_id, frame) in spans.items():
        span = by_id[span_id]
        assert span.trace_id.hex() == trace_id
        assert span.name == f"ws.broadcast {frame['type']}"
        attrs = {a.key: a.value for a in span.attributes}
        assert attrs["mcp.event.id"].string_value == frame["id"]
