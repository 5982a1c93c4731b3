"""A span per broadcast, whose context travels in each frame as a W3C traceparent.

Spans are always recorded (the traceparent must be real); they are exported over OTLP/HTTP
only when the console is started with --otlp-endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind


def traceparent(span: Span) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class BroadcastTracer:
    def __init__(self, otlp_endpoint: str | None = None, service_name: str = "mcp-panels") -> None:
        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            endpoint = otlp_endpoint.rstrip("/")
            if not endpoint.endswith("/v1/traces"):
                endpoint += "/v1/traces"
            self._provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=5))
            )
        self._tracer = self._provider.get_tracer("mcp_panels.ws")

    @contextmanager
    def broadcast(self, event_type: str, event_id: str, clients: int) -> Iterator[Span]:
        """The span of one fan-out; a new trace per event (events are independent)."""
        with self._tracer.start_as_current_span(
            f"ws.broadcast {event_type}",
            kind=SpanKind.PRODUCER,
            attributes={
                "mcp.event.type": event_type,
                "mcp.event.id": event_id,
                "mcp.ws.clients": clients,
            },
        ) as span:
            yield span

    def shutdown(self) -> None:
        self._provider.shutdown()
