"""Self-tests of the reference console (mcp_panels) against real processes: redis-server,
the console under uvicorn, a real HTTP server as probe target. No mocks, no sleeps."""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from jsonschema import Draft202012Validator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

import mcp_panels
from e2e.support.schemas import validator
from harness.ports import free_port
from harness.process import Service
from harness.services import start_console, start_redis

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "schemas"
SCHEMA_BASE = "https://schemas.mcp-e2e.local/v1/"
COMPONENTS = ["kyverno", "argocd", "redis", "prometheus"]
REDIS_METRICS = {
    "redis_connected_clients",
    "redis_used_memory_bytes",
    "redis_keys",
    "redis_ops_per_sec",
}
CONSOLE_METRICS = {"ws_clients", "events_sent_total", "uptime_seconds"}
HEARTBEAT = 0.5
QUEUE_SIZE = 8


# -- schemas -------------------------------------------------------------------------------


def test_every_schema_has_its_file_name_as_id():
    for path in SCHEMA_DIR.glob("*.schema.json"):
        assert json.loads(path.read_text())["$id"] == SCHEMA_BASE + path.name, path


FRAME = validator("frame.schema.json")


def assert_valid(v: Draft202012Validator, doc: Any) -> None:
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{e.json_path}: {e.message}" for e in errors]


# -- clients ------------------------------------------------------------------------------


def ws_url(service: Service) -> str:
    return service.url.replace("http://", "ws://", 1) + "/ws"


class Frames:
    """A real WebSocket client that validates every frame it receives and keeps them all."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.frames: list[dict[str, Any]] = []

    def next(self, timeout: float = 3.0) -> dict[str, Any]:
        frame = json.loads(self.conn.recv(timeout=timeout))
        assert_valid(FRAME, frame)
        self.frames.append(frame)
        return frame

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching frame within {timeout} s")
            frame = self.next(timeout=remaining)
            if predicate(frame):
                return frame

    def by_id(self, event_id: str, timeout: float = 3.0) -> dict[str, Any]:
        return self.until(lambda f: f["id"] == event_id, timeout)


@pytest.fixture
def open_client() -> Iterator[Callable[[Service], Frames]]:
    """Opens clients that are closed at test end (so ws_clients returns to its baseline)."""
    with contextlib.ExitStack() as stack:

        def _open(service: Service) -> Frames:
            conn = connect(ws_url(service), proxy=None, open_timeout=5, close_timeout=2)
            return Frames(stack.enter_context(conn))

        yield _open


def http_client(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.url, timeout=5.0, trust_env=False)


def emit(client: httpx.Client, event_type: str, payload: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event_type}
    if payload is not None:
        body["payload"] = payload
    response = client.post("/api/test/emit", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def current_metrics(client: httpx.Client) -> dict[str, Any]:
    """Metrics read for real now (emit without payload) as the snapshot then holds them."""
    emit(client, "metrics.push")
    return client.get("/api/snapshot").json()["snapshot"]["metrics"]["values"]


def wait_for_ws_clients(client: httpx.Client, expected: int, timeout: float = 5.0) -> None:
    # Each probe is a real round trip to the console, which paces the loop.
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = current_metrics(client)["ws_clients"]
        if seen == expected:
            return
    raise AssertionError(f"ws_clients stayed {seen}, expected {expected}")


# -- services ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with start_redis(tmp_path_factory.mktemp("redis")) as service:
        yield service


@pytest.fixture(scope="module")
def console(redis_service: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    # Long health/metrics intervals: what tests emit is not overwritten behind their back.
    with start_console(
        tmp_path_factory.mktemp("console"),
        redis_service.url,
        heartbeat_interval=HEARTBEAT,
        health_interval=60,
        metrics_interval=60,
        extra_args=["--send-queue-size", str(QUEUE_SIZE)],
    ) as service:
        yield service
        assert service.alive(), service.log_tail()


@pytest.fixture
def api(console: Service) -> Iterator[httpx.Client]:
    with http_client(console) as client:
        yield client


# -- hello, seq, ids -----------------------------------------------------------------------


def test_healthz_is_ready(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


def test_hello_is_first_with_seq_1_and_a_full_snapshot(console, open_client):
    hello = open_client(console).next()
    assert hello["type"] == "hello"
    assert hello["seq"] == 1
    assert hello["v"] == 1
    payload = hello["payload"]
    assert_valid(validator("hello.schema.json"), payload)
    assert payload["server"] == {"name": "mcp-panels", "version": mcp_panels.__version__}
    assert payload["heartbeat_interval_ms"] == int(HEARTBEAT * 1000)
    snapshot = payload["snapshot"]
    assert snapshot["alerts"] == []
    assert [c["name"] for c in snapshot["health"]["components"]] == COMPONENTS
    redis_row = snapshot["health"]["components"][2]
    assert redis_row["status"] == "ok", redis_row
    assert redis_row["detail"].startswith("PONG in ")
    for name in ("kyverno", "argocd", "prometheus"):
        row = next(c for c in snapshot["health"]["components"] if c["name"] == name)
        assert (row["status"], row["detail"], row["latency_ms"]) == (
            "unknown",
            "no probe configured",
            None,
        )
    assert set(snapshot["metrics"]["values"]) == CONSOLE_METRICS | REDIS_METRICS


def test_seq_is_per_connection_and_ids_are_shared(console, api, open_client):
    first = open_client(console)
    first.next()
    # Let the first client get ahead, so both seq counters visibly differ.
    first.until(lambda f: f["type"] == "heartbeat")
    second = open_client(console)
    assert second.next()["seq"] == 1

    emitted = [emit(api, "heartbeat"), emit(api, "metrics.push"), emit(api, "health.check")]
    for client in (first, second):
        for sent in emitted:
            client.by_id(sent["id"])
        seqs = [f["seq"] for f in client.frames]
        assert seqs == list(range(1, len(seqs) + 1)), seqs

    for sent in emitted:
        a = next(f for f in first.frames if f["id"] == sent["id"])
        b = next(f for f in second.frames if f["id"] == sent["id"])
        assert a["ts"] == b["ts"] == sent["ts"]
        assert a["type"] == b["type"] == sent["type"]
        assert a["payload"] == b["payload"]
        assert a["seq"] > b["seq"]
    assert len({f["id"] for f in first.frames}) == len(first.frames)


def test_heartbeats_arrive_at_the_configured_cadence(console, open_client):
    client = open_client(console)
    client.next()
    beats = [client.until(lambda f: f["type"] == "heartbeat", timeout=3) for _ in range(4)]
    assert all(b["payload"] == {"interval_ms": int(HEARTBEAT * 1000)} for b in beats)
    gaps = [(b["ts"] - a["ts"]) / 1000 for a, b in itertools.pairwise(beats)]
    assert all(0.2 < g < 1.5 for g in gaps), gaps
    assert 0.35 < sum(gaps) / len(gaps) < 0.8, gaps


# -- test controls -------------------------------------------------------------------------


def test_emit_without_payload_probes_and_reads_for_real(console, api, redis_service, open_client):
    client = open_client(console)
    client.next()
    before = time.time() * 1000

    sent = emit(api, "health.check")
    assert sent["type"] == "health.check"
    # Answered only once the frame was handed to every socket: it is there already.
    frame = client.by_id(sent["id"], timeout=1.0)
    health = frame["payload"]
    assert health["checked_at"] >= before - 1
    redis_row = health["components"][2]
    assert redis_row["name"] == "redis"
    assert redis_row["status"] == "ok"
    assert redis_row["detail"].startswith("PONG in ")
    assert redis_row["latency_ms"] > 0

    key = f"mcp-panels-test:{uuid.uuid4()}"
    with redis.Redis.from_url(redis_service.url) as r:
        r.set(key, "1", ex=60)
        try:
            frame = client.by_id(emit(api, "metrics.push")["id"], timeout=1.0)
            values = frame["payload"]["values"]
            assert values["redis_keys"] == r.dbsize()
            assert values["redis_used_memory_bytes"] > 0
            assert values["redis_connected_clients"] >= 2  # the console and us
        finally:
            r.delete(key)
    assert values["ws_clients"] >= 1
    assert values["events_sent_total"] >= 2
    assert values["uptime_seconds"] > 0


def test_emit_with_payload_is_broadcast_and_applied(console, api, open_client):
    client = open_client(console)
    client.next()
    marker = f"synthetic {uuid.uuid4()}"
    now = int(time.time() * 1000)
    health = {
        "checked_at": now,
        "components": [
            {
                "name": name,
                "status": status,
                "detail": f"{marker} {name}",
                "latency_ms": latency,
                "checked_at": now,
            }
            for name, status, latency in [
                ("kyverno", "ok", 1.5),
                ("argocd", "degraded", 20),
                ("redis", "down", None),
                ("prometheus", "unknown", None),
            ]
        ],
    }
    metrics = {"at": now, "values": {"custom_gauge": 42.5, "ws_clients": 7}}
    try:
        frame = client.by_id(emit(api, "health.check", health)["id"])
        assert frame["payload"] == health
        frame = client.by_id(emit(api, "metrics.push", metrics)["id"])
        assert frame["payload"] == metrics
        snapshot = api.get("/api/snapshot").json()["snapshot"]
        assert snapshot["health"] == health
        assert snapshot["metrics"] == metrics

        beat = client.by_id(emit(api, "heartbeat", {"interval_ms": 1234})["id"])
        assert beat["payload"] == {"interval_ms": 1234}
    finally:
        # Leave real state behind for the other tests.
        emit(api, "health.check")
        emit(api, "metrics.push")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"type": "heartbeat", "payload": {"interval_ms": "soon"}}, "interval_ms"),
        ({"type": "heartbeat", "payload": {"interval_ms": 5, "extra": 1}}, "extra"),
        ({"type": "metrics.push", "payload": {"at": 1, "values": {"x": "high"}}}, "high"),
        ({"type": "health.check", "payload": {"checked_at": 1, "components": []}}, "components"),
        ({"type": "metrics.push", "payload": [1, 2]}, "object"),
    ],
)
def test_emit_rejects_invalid_payload_with_422(api, body, fragment):
    before = api.get("/api/snapshot").json()["snapshot"]
    response = api.post("/api/test/emit", json=body)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]
    after = api.get("/api/snapshot").json()["snapshot"]
    assert (after["health"], after["metrics"]) == (before["health"], before["metrics"])


def test_emit_rejects_unknown_type_and_bad_json_with_400(api):
    response = api.post("/api/test/emit", json={"type": "alert.fired"})
    assert response.status_code == 400
    assert response.json()["known_types"] == ["heartbeat", "health.check", "metrics.push"]
    for known in ("heartbeat", "health.check", "metrics.push"):
        assert known in response.json()["error"]

    for content in (b"{not json", b"[]", b'{"type": "heartbeat", "payload": NaN}', b""):
        response = api.post(
            "/api/test/emit", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (content, response.text)


# -- bookkeeping ---------------------------------------------------------------------------


def test_ws_clients_counts_live_sockets(console, api, open_client):
    wait_for_ws_clients(api, 0)
    clients = [open_client(console) for _ in range(3)]
    for client in clients:
        client.next()  # hello: registered
    assert current_metrics(api)["ws_clients"] == 3
    clients[0].conn.close()
    clients[1].conn.close()
    wait_for_ws_clients(api, 1)


def test_snapshot_endpoint_matches_schema(api):
    response = api.get("/api/snapshot")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_valid(validator("snapshot-response.schema.json"), body)
    assert body["server"]["version"] == mcp_panels.__version__
    assert body["snapshot"]["alerts"] == []


def test_page_and_assets_are_served_with_the_testids(api):
    page = api.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for testid in [
        "connection-badge",
        "server-version",
        "health-panel",
        "health-panel-stale",
        "metrics-panel",
        "metrics-panel-stale",
        "alerts-panel",
        "toasts",
        *[f"health-{part}-{name}" for name in COMPONENTS for part in ("row", "status", "detail")],
    ]:
        assert f'data-testid="{testid}"' in page.text, testid
    for label in ("Health", "Metrics", "Alerts"):
        assert f'role="region" aria-label="{label}"' in page.text

    script = api.get("/static/app.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    for needle in ('"metric-"', '"health-row-"', "mcpConsole", "/api/snapshot", "/ws"):
        assert needle in script.text, needle
    assert "innerHTML" not in script.text  # everything is rendered as text
    assert api.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert api.get("/static/nope.js").status_code == 404


def _stalled_socket(service: Service) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads."""
    host, port = service.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "server closed during handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def _big_health(marker: str) -> dict[str, Any]:
    """A valid health.check of ~512 KiB: fills a stalled socket's kernel buffers quickly."""
    now = int(time.time() * 1000)
    details = {"kyverno": marker, "redis": "x" * 512 * 1024}
    return {
        "checked_at": now,
        "components": [
            {
                "name": name,
                "status": "ok",
                "detail": details.get(name, "-"),
                "latency_ms": None,
                "checked_at": now,
            }
            for name in COMPONENTS
        ],
    }


def test_a_client_that_stops_reading_is_dropped_and_blocks_nobody(console, api, open_client):
    wait_for_ws_clients(api, 0)
    stalled = _stalled_socket(console)
    try:
        fast = open_client(console)
        fast.next()
        deadline = time.monotonic() + 15
        with ThreadPoolExecutor(max_workers=1) as pool:
            while True:
                assert time.monotonic() < deadline, "the stalled client was never dropped"
                marker = str(uuid.uuid4())
                # Emitted from another thread: the emit may wait on the stalled socket for
                # a while, the reading client must get the frame meanwhile.
                answer = pool.submit(emit, api, "health.check", _big_health(marker))
                fast.until(
                    lambda f, m=marker: (
                        f["type"] == "health.check" and f["payload"]["components"][0]["detail"] == m
                    ),
                    timeout=1.5,
                )
                answer.result(timeout=10)
                if current_metrics(api)["ws_clients"] == 1:
                    break
        assert fast.frames[0]["type"] == "hello"
        assert [f["seq"] for f in fast.frames] == list(range(1, len(fast.frames) + 1))
    finally:
        stalled.close()
        emit(api, "health.check")
    wait_for_log(console, "code=1013 reason=send queue overflow")


def wait_for_log(service: Service, needle: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while needle not in service.log_path.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not in log:\n{service.log_tail()}")
        # Each read is a real file read; the console flushes its log line by line.
        with httpx.Client(base_url=service.url, trust_env=False) as client:
            client.get("/healthz")


# -- processes of their own ----------------------------------------------------------------


def test_cli_rejects_bad_options():
    result = subprocess.run(
        [sys.executable, "-m", "mcp_panels", "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "unrecognized arguments: --no-such-option" in result.stderr

    from mcp_panels.__main__ import settings_from_args

    for argv in (
        ["--heartbeat-interval", "0"],
        ["--health-interval", "soon"],
        ["--port", "70000"],
        ["--prometheus-url", "prometheus:9090"],
        ["--log-level", "loud"],
        ["--redis-url", "http://x"],
    ):
        with pytest.raises(SystemExit) as exc:
            settings_from_args(argv)
        assert exc.value.code == 2, argv
    settings = settings_from_args([])
    assert (settings.heartbeat_interval, settings.health_interval, settings.metrics_interval) == (
        5.0,
        10.0,
        5.0,
    )
    assert settings.test_controls is False
    assert settings.webhook_token is None


def test_webhook_token_comes_from_a_file_and_is_never_shown(tmp_path, capsys):
    from mcp_panels.__main__ import settings_from_args

    token = "s3cr3t-" + uuid.uuid4().hex
    good = tmp_path / "token"
    good.write_text(token + "\n")
    settings = settings_from_args(["--webhook-token-file", str(good)])
    assert settings.webhook_token == token
    assert token not in repr(settings)
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "two").write_text(token + "\n" + token + "\n")
    for name, says in (("missing", "cannot read"), ("empty", "one token"), ("two", "one token")):
        with pytest.raises(SystemExit) as exc:
            settings_from_args(["--webhook-token-file", str(tmp_path / name)])
        assert exc.value.code == 2, name
        err = capsys.readouterr().err
        assert says in err, (name, err)
        assert token not in err, name


def test_without_test_controls_emit_is_404_and_sigterm_exits_0(
    redis_service, tmp_path, open_client
):
    service = start_console(tmp_path, redis_service.url, test_controls=False)
    try:
        with http_client(service) as client:
            assert client.post("/api/test/emit", json={"type": "heartbeat"}).status_code == 404
            assert client.get("/healthz").status_code == 200
        frames = open_client(service)
        assert frames.next()["type"] == "hello"
        started = time.monotonic()
        service.stop(timeout=5)
        assert time.monotonic() - started < 3.0
        assert service.process.returncode == 0, service.log_tail()
        with pytest.raises(ConnectionClosed) as closed:
            frames.until(lambda f: False, timeout=3)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012  # service restart
        log = service.log_path.read_text()
        assert "ws open conn=1" in log
        assert "ws close conn=1" in log
    finally:
        service.stop()


class _ProbeTarget(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ok" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def probe_target() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProbeTarget)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_probes_are_real_and_redis_down_is_reported(tmp_path, probe_target, open_client):
    closed_port = free_port()
    own_redis = start_redis(tmp_path)
    service = start_console(
        tmp_path,
        own_redis.url,
        heartbeat_interval=HEARTBEAT,
        health_interval=0.3,
        metrics_interval=0.3,
        extra_args=[
            "--kyverno-url",
            f"{probe_target}/ok",
            "--argocd-url",
            f"{probe_target}/fail",
            "--prometheus-url",
            f"http://127.0.0.1:{closed_port}/-/healthy",
        ],
    )
    try:
        with http_client(service) as api:
            health = api.get("/api/snapshot").json()["snapshot"]["health"]
            rows = {c["name"]: c for c in health["components"]}
            assert rows["kyverno"]["status"] == "ok"
            assert rows["kyverno"]["detail"].startswith("HTTP 200 in ")
            assert rows["argocd"]["status"] == "degraded"
            assert rows["argocd"]["detail"].startswith("HTTP 503 ")
            assert rows["prometheus"]["status"] == "down"
            assert rows["prometheus"]["latency_ms"] is None
            assert rows["redis"]["status"] == "ok"

            # The periodic loops publish on their own.
            client = open_client(service)
            client.next()
            client.until(lambda f: f["type"] == "health.check")
            client.until(lambda f: f["type"] == "metrics.push")

            own_redis.stop()
            health = client.by_id(emit(api, "health.check")["id"])["payload"]
            redis_row = health["components"][2]
            assert redis_row["status"] == "down", redis_row
            assert redis_row["detail"]
            assert redis_row["latency_ms"] is None
            values = client.by_id(emit(api, "metrics.push")["id"])["payload"]["values"]
            assert set(values) == CONSOLE_METRICS, values
            snapshot = api.get("/api/snapshot").json()["snapshot"]
            assert snapshot["health"]["components"][2]["status"] == "down"
            assert not REDIS_METRICS & set(snapshot["metrics"]["values"])
    finally:
        service.stop()
        own_redis.stop()


def test_hostile_json_bodies_get_400_not_500(console: Service):
    deep = b"[" * 100_000
    for path in ("/api/test/emit", "/api/test/close", "/api/alertmanager/webhook"):
        for body in (deep, b'{"type": NaN}', b"\xff\xfe"):
            answer = httpx.post(console.url + path, content=body, timeout=5)
            assert answer.status_code == 400, (path, body[:10], answer.text)
