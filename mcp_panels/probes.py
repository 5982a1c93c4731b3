"""Real health probes (HTTP GET, Redis PING) and real metric readings (Redis INFO)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from mcp_panels.envelope import now_ms
from mcp_panels.state import COMPONENTS

HTTP_PROBE_TIMEOUT = 2.0
# Short: a probe round must not outlast the health interval because Redis hangs.
REDIS_SOCKET_TIMEOUT = 0.5
REDIS_CALL_TIMEOUT = 1.5

Component = dict[str, Any]

# metrics.push name -> INFO field; a field a Redis-compatible server lacks is left out.
_INFO_FIELDS = {
    "redis_connected_clients": "connected_clients",
    "redis_used_memory_bytes": "used_memory",
    "redis_ops_per_sec": "instantaneous_ops_per_sec",
}


def redis_client(url: str) -> aioredis.Redis:
    """An asyncio client that fails fast: one quick retry (to replace a pooled connection
    a restarted server dropped), then the error, rather than redis-py's slow default backoff."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=0,
    )


def http_client() -> httpx.AsyncClient:
    # trust_env=False: probe targets are the console's neighbours; a proxy from the
    # environment would turn "down" into the proxy's own answer.
    return httpx.AsyncClient(timeout=HTTP_PROBE_TIMEOUT, trust_env=False, follow_redirects=False)


def _component(name: str, status: str, detail: str, latency_ms: float | None) -> Component:
    return {
        "name": name,
        "status": status,
        "detail": detail,
        "latency_ms": None if latency_ms is None else round(latency_ms, 3),
        "checked_at": now_ms(),
    }


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def probe_http(client: httpx.AsyncClient, name: str, url: str | None) -> Component:
    """GET url: 2xx within the timeout is ok, any other answer degraded, no answer down."""
    if not url:
        return _component(name, "unknown", "no probe configured", None)
    started = time.perf_counter()
    try:
        async with asyncio.timeout(HTTP_PROBE_TIMEOUT):
            response = await client.get(url)
    except (TimeoutError, httpx.TimeoutException):
        return _component(name, "down", f"no answer within {HTTP_PROBE_TIMEOUT:g} s", None)
    except httpx.HTTPError as exc:
        return _component(name, "down", _error_text(exc), None)
    elapsed = (time.perf_counter() - started) * 1000
    detail = f"HTTP {response.status_code} in {elapsed:.1f} ms"
    status = "ok" if 200 <= response.status_code < 300 else "degraded"
    return _component(name, status, detail, elapsed)


async def probe_redis(client: aioredis.Redis) -> Component:
    """A real PING."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(REDIS_CALL_TIMEOUT):
            await client.ping()
    except TimeoutError:
        return _component("redis", "down", f"no PONG within {REDIS_CALL_TIMEOUT:g} s", None)
    except (RedisError, OSError) as exc:
        return _component("redis", "down", _error_text(exc), None)
    elapsed = (time.perf_counter() - started) * 1000
    return _component("redis", "ok", f"PONG in {elapsed:.1f} ms", elapsed)


async def health_round(
    redis: aioredis.Redis, http: httpx.AsyncClient, targets: Mapping[str, str | None]
) -> dict[str, Any]:
    """Probe every component concurrently; the result is a whole HealthState."""
    probes = {
        name: probe_redis(redis) if name == "redis" else probe_http(http, name, targets.get(name))
        for name in COMPONENTS
    }
    results = await asyncio.gather(*probes.values())
    return {"checked_at": now_ms(), "components": list(results)}


async def redis_values(redis: aioredis.Redis) -> dict[str, float]:
    """Redis figures for the metrics panel, or {} when Redis does not answer (never faked)."""
    try:
        async with asyncio.timeout(REDIS_CALL_TIMEOUT):
            info = await redis.info()
            keys = await redis.dbsize()
    except (TimeoutError, RedisError, OSError):
        return {}
    values: dict[str, float] = {"redis_keys": int(keys)}
    for name, field in _INFO_FIELDS.items():
        if isinstance(info.get(field), int | float):
            values[name] = info[field]
    return values
