"""OTLP/HTTP export of one span per observed WebSocket event, child of the server's span.

The span runs from the server's send (`ts`) to the moment the page showed the event, with a
"received" event at the browser's receipt, so Tempo shows where WebSocket latency goes.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from e2e.support.timeline import EventTimeline

_PROPAGATOR = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """Accepts a collector base URL (like OTEL_EXPORTER_OTLP_ENDPOINT) or the full path."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def _ns(ms: float) -> int:
    # Through whole microseconds: epoch ms * 1e6 overflows a double's exact integers.
    return round(ms * 1000) * 1000


class EventTracer:
    def __init__(self, endpoint: str, service_name: str = "mcp-e2e", timeout_s: float = 5) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"OTLP endpoint must be an http(s) URL, got {endpoint!r}")
        self.endpoint = traces_url(endpoint)
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=self.endpoint, timeout=timeout_s))
        )
        self._tracer = self._provider.get_tracer("mcp_e2e.websocket")

    def export(self, event: EventTimeline, test: str) -> None:
        parent = (
            _PROPAGATOR.extract({"traceparent": event.traceparent}) if event.traceparent else None
        )
        span = self._tracer.start_span(
            f"ws.event {event.event_type}",
            context=parent,
            kind=SpanKind.CONSUMER,
            start_time=_ns(event.sent_ms),
            attributes={
                "mcp.event.type": event.event_type,
                "mcp.event.id": event.event_id,
                "mcp.event.seq": event.seq,
                "mcp.e2e.test": test,
                "mcp.latency.shown_ms": event.shown_ms - event.sent_ms,
            },
        )
        if event.received_ms is not None:
            span.add_event("received", timestamp=_ns(event.received_ms))
        span.add_event("shown", timestamp=_ns(event.shown_ms))
        span.end(end_time=_ns(max(event.shown_ms, event.sent_ms)))

    def shutdown(self) -> None:
        """Flush what is queued (bounded by the exporter's timeout) and stop."""
        self._provider.shutdown()
