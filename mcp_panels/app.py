"""HTTP and WebSocket routes, wired to one Console for the app's lifetime."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from mcp_panels.alerts import WEBHOOK_PATH, alertmanager_webhook
from mcp_panels.console import Console
from mcp_panels.envelope import EMITTABLE_TYPES
from mcp_panels.jsonbody import MalformedJSON, decode_json
from mcp_panels.settings import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
NO_STORE = {"Cache-Control": "no-store"}


def _console(request: Request | WebSocket) -> Console:
    return request.app.state.console


async def index(request: Request) -> Response:
    # no-cache: a redeployed console must not run yesterday's page against today's server.
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok", headers=NO_STORE)


async def snapshot(request: Request) -> Response:
    return JSONResponse(_console(request).snapshot_document(), headers=NO_STORE)


async def websocket(websocket: WebSocket) -> None:
    await websocket.accept()
    await _console(websocket).serve_socket(websocket)


def _error(status: int, message: str, **extra: Any) -> Response:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=NO_STORE)


async def test_emit(request: Request) -> Response:
    """Test control: broadcast one event now, computed for real or as given."""
    console = _console(request)
    try:
        body = decode_json(await request.body())
    except MalformedJSON as exc:
        return _error(400, str(exc))
    if not isinstance(body, dict):
        return _error(400, "body must be a JSON object with a 'type'")
    event_type = body.get("type")
    known = list(EMITTABLE_TYPES)
    if event_type not in known:
        return _error(
            400,
            f"unknown event type {event_type!r}; known types: {', '.join(known)}",
            known_types=known,
        )
    payload = body.get("payload")
    if payload is None:
        event = await console.emit_now(event_type)
    else:
        assert console.validator is not None  # built whenever test controls are on
        problem = console.validator.error(event_type, payload)
        if problem is not None:
            return _error(422, f"invalid {event_type} payload: {problem}")
        event = await console.publish_and_wait(event_type, payload)
    return JSONResponse({"id": event.id, "type": event.type, "ts": event.ts}, headers=NO_STORE)


def _sendable_close_code(code: object) -> bool:
    # RFC 6455 7.4: what a server may put on the wire (1005/1006/1015 never are).
    return isinstance(code, int) and (
        code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)
        or 3000 <= code <= 4999
    )


async def test_close(request: Request) -> Response:
    """Test control: the server closes one socket (named by its hello's id) with a code."""
    try:
        body = decode_json(await request.body())
    except MalformedJSON as exc:
        return _error(400, str(exc))
    if not isinstance(body, dict) or not isinstance(body.get("hello_id"), str):
        return _error(400, "body must be a JSON object with a 'hello_id' string")
    code = body.get("code", 1000)
    if not _sendable_close_code(code):
        return _error(400, f"close code {code!r} cannot be sent by a server")
    # A close reason is at most 123 bytes of UTF-8 on the wire.
    reason = str(body.get("reason", "")).encode("utf-8")[:123].decode("utf-8", "ignore")
    if not _console(request).broadcaster.close(body["hello_id"], code, reason):
        return _error(404, f"no open socket whose hello id is {body['hello_id']!r}")
    return JSONResponse({"closed": body["hello_id"], "code": code}, headers=NO_STORE)


def create_app(settings: Settings) -> Starlette:
    """The console app; its lifespan probes once, then runs the periodic loops."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console = Console(settings)
        app.state.console = console
        try:
            await console.start()
            yield
        finally:
            await console.stop()

    routes = [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/api/snapshot", snapshot, methods=["GET"]),
        # Alertmanager's webhook receiver (alert.fired / alert.resolved); always on.
        Route(WEBHOOK_PATH, alertmanager_webhook, methods=["POST"]),
        WebSocketRoute("/ws", websocket),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    # Absent (404) unless asked for: a real deployment must not let anyone inject events.
    if settings.test_controls:
        routes.append(Route("/api/test/emit", test_emit, methods=["POST"]))
        routes.append(Route("/api/test/close", test_close, methods=["POST"]))
    return Starlette(routes=routes, lifespan=lifespan)
