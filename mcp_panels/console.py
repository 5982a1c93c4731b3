"""The running console: state, connections, clients for probes, and the periodic loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from mcp_panels import SERVER_NAME, __version__, probes
from mcp_panels.broadcaster import Broadcaster
from mcp_panels.cache import CacheBook, CacheWatcher
from mcp_panels.envelope import (
    EMITTABLE_TYPES,
    HEALTH_CHECK,
    HEARTBEAT,
    HELLO,
    METRICS_PUSH,
    Event,
    now_ms,
)
from mcp_panels.settings import Settings
from mcp_panels.state import PanelState
from mcp_panels.tracing import BroadcastTracer, traceparent
from mcp_panels.validation import PayloadValidator

log = logging.getLogger("mcp_panels")

Payload = dict[str, Any]
# Resolved once a frame was handed to one socket (False: that socket went away first).
Delivery = asyncio.Future[bool]


class Console:
    """One instance per app; lives from lifespan start-up to shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        cache_book = CacheBook(settings.cache_prefix, settings.cache_max_keys)
        self.state = PanelState(cache_book)
        self.broadcaster = Broadcaster(settings.send_queue_size)
        self.server_info = {"name": SERVER_NAME, "version": __version__}
        self._started = time.monotonic()
        self._redis = probes.redis_client(settings.redis_url)
        self._http = probes.http_client()
        self._loops: list[asyncio.Task[None]] = []
        self.tracer = BroadcastTracer(settings.otlp_endpoint)
        # Redis keyspace notifications -> cache.* events (its own connections).
        self.cache = CacheWatcher(settings.redis_url, cache_book, self.publish)
        # Only the test controls need the schemas, so a bare install runs without fixtures/.
        self.validator = (
            PayloadValidator(settings.schema_dir, EMITTABLE_TYPES)
            if settings.test_controls
            else None
        )
        # How to compute each event's payload "now"; types that only arrive from outside
        # (alerts from a webhook) will have no producer and need an explicit payload.
        self.producers: dict[str, Callable[[], Awaitable[Payload]]] = {
            HEARTBEAT: self.heartbeat_payload,
            HEALTH_CHECK: self.health_payload,
            METRICS_PUSH: self.metrics_payload,
        }

    async def start(self) -> None:
        """Probe once before serving, so the first hello already carries real state."""
        self.state.apply(HEALTH_CHECK, await self.health_payload())
        self.state.apply(METRICS_PUSH, await self.metrics_payload())
        await self.cache.start()
        s = self.settings
        self._loops = [
            asyncio.create_task(self._every(s.heartbeat_interval, HEARTBEAT), name="heartbeat"),
            asyncio.create_task(self._every(s.health_interval, HEALTH_CHECK), name="health"),
            asyncio.create_task(self._every(s.metrics_interval, METRICS_PUSH), name="metrics"),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.cache.stop()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
        await self._http.aclose()
        self.tracer.shutdown()

    # -- payloads computed now, for real ---------------------------------------------------

    async def heartbeat_payload(self) -> Payload:
        return {"interval_ms": self.settings.heartbeat_interval_ms}

    async def health_payload(self) -> Payload:
        return await probes.health_round(self._redis, self._http, self.settings.probe_targets())

    async def metrics_payload(self) -> Payload:
        redis_values = await probes.redis_values(self._redis)
        # Read after the await so the console's own figures are as fresh as possible.
        values: dict[str, float] = {
            "ws_clients": len(self.broadcaster),
            "events_sent_total": self.broadcaster.frames_sent_total,
            "uptime_seconds": round(time.monotonic() - self._started, 3),
            **redis_values,
        }
        return {"at": now_ms(), "values": values}

    # -- events ----------------------------------------------------------------------------

    def hello(self) -> Event:
        event_id = str(uuid.uuid4())
        with self.tracer.broadcast(HELLO, event_id, clients=1) as span:
            return Event(
                HELLO,
                {
                    "server": self.server_info,
                    "heartbeat_interval_ms": self.settings.heartbeat_interval_ms,
                    "snapshot": self.state.snapshot(),
                },
                id=event_id,
                traceparent=traceparent(span),
            )

    def snapshot_document(self) -> Payload:
        return {"v": 1, "server": self.server_info, "snapshot": self.state.snapshot()}

    def publish(self, event_type: str, payload: Payload) -> tuple[Event, list[Delivery]]:
        """Apply to the state and queue to every socket, in one step with no await between."""
        self.state.apply(event_type, payload)
        event_id = str(uuid.uuid4())
        with self.tracer.broadcast(event_type, event_id, len(self.broadcaster)) as span:
            event = Event(event_type, payload, id=event_id, traceparent=traceparent(span))
            return event, self.broadcaster.broadcast(event)

    async def publish_and_wait(self, event_type: str, payload: Payload) -> Event:
        """publish, then wait until every socket got the frame (or was dropped), bounded:
        a client that stopped reading must not hold up the caller for long."""
        event, delivered = self.publish(event_type, payload)
        if delivered:
            _, pending = await asyncio.wait(delivered, timeout=self.settings.delivery_timeout)
            if pending:
                log.warning(
                    "%s %s not yet sent to %d slow socket(s) after %.1f s",
                    event_type,
                    event.id,
                    len(pending),
                    self.settings.delivery_timeout,
                )
        return event

    async def emit_now(self, event_type: str) -> Event:
        return await self.publish_and_wait(event_type, await self.producers[event_type]())

    async def serve_socket(self, websocket: WebSocket) -> None:
        await self.broadcaster.serve(websocket, self.hello)

    async def _every(self, interval: float, event_type: str) -> None:
        """Publish a freshly produced event_type every interval, without drift; a round that
        overran (a probe timing out) pushes the schedule back instead of causing a burst."""
        loop = asyncio.get_running_loop()
        produce = self.producers[event_type]
        next_at = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            try:
                self.publish(event_type, await produce())
            except Exception:
                log.exception("periodic %s failed", event_type)
            next_at += interval
            if next_at < loop.time():
                next_at = loop.time() + interval
