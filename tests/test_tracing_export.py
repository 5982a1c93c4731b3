"""Event spans reach a real OTLP/HTTP receiver as children of the server's broadcast span."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.support.timeline import EventTimeline
from e2e.support.tracing import EventTracer, traces_url
from tests.support.otlp_receiver import OtlpReceiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SERVER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    rcv = OtlpReceiver()
    yield rcv
    rcv.close()


def test_a_span_per_event_linked_to_the_server_span(receiver: OtlpReceiver):
    tracer = EventTracer(receiver.url)
    event = EventTimeline(
        event_type="health.check",
        event_id="e-1",
        seq=7,
        traceparent=f"00-{TRACE_ID}-{SERVER_SPAN}-01",
        sent_ms=1_700_000_000_000.0,
        received_ms=1_700_000_000_004.5,
        shown_ms=1_700_000_000_012.0,
    )
    tracer.export(event, "e2e/test_x.py::test_y[chromium]")
    tracer.shutdown()  # flushes the batch
    (span,) = receiver.wait_for_spans(1)
    assert receiver.paths == ["/v1/traces"]
    assert span.name == "ws.event health.check"
    assert span.trace_id.hex() == TRACE_ID
    assert span.parent_span_id.hex() == SERVER_SPAN
    assert span.start_time_unix_nano == 1_700_000_000_000_000_000
    assert span.end_time_unix_nano == 1_700_000_000_012_000_000
    assert [(e.name, e.time_unix_nano) for e in span.events] == [
        ("received", 1_700_000_000_004_500_000),
        ("shown", 1_700_000_000_012_000_000),
    ]
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["mcp.event.id"].string_value == "e-1"
    assert attrs["mcp.event.seq"].int_value == 7
    assert attrs["mcp.e2e.test"].string_value == "e2e/test_x.py::test_y[chromium]"


def test_an_event_without_traceparent_starts_its_own_trace(receiver: OtlpReceiver):
    tracer = EventTracer(receiver.url + "/v1/traces")
    tracer.export(EventTimeline("hello", "e-2", 1, None, 1000.0, None, 1010.0), "t")
    tracer.shutdown()
    (span,) = receiver.wait_for_spans(1)
    assert span.parent_span_id == b""
    assert [e.name for e in span.events] == ["shown"]


def test_a_down_collector_does_not_hang_the_run():
    tracer = EventTracer("http://127.0.0.1:9/", timeout_s=1)  # nothing listens on port 9
    tracer.export(EventTimeline("hello", "e-3", 1, None, 1000.0, None, 1010.0), "t")
    tracer.shutdown()  # returns; the exporter logs its failure


def test_endpoint_forms_and_a_wrong_one():
    assert traces_url("http://tempo:4318") == "http://tempo:4318/v1/traces"
    assert traces_url("http://tempo:4318/v1/traces/") == "http://tempo:4318/v1/traces"
    with pytest.raises(ValueError, match="http"):
        EventTracer("tempo:4318")
