"""Real loopback servers that misbehave like a broken Pushgateway, for the fault table.

`FaultyGateway` answers GET /api/v1/metrics and PUT each with a `Reply`: a status and body
(`{authorization}` in the body echoes the request's Authorization header back, as a careless
proxy might), answered late, trickled byte by byte, or the connection closed without an answer.
`HangingGateway` accepts connections and never reads or answers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

EMPTY_STATE = '{"status":"success","data":[]}'


@dataclass(frozen=True)
class Reply:
    """How the fake answers one kind of request."""

    status: int = 200
    body: str = ""
    delay: float = 0.0  # the server answers this late (simulated slowness, not a test wait)
    close: bool = False  # close the connection without any answer
    trickle: bool = False  # send the status line, then one byte every 0.1 s until stopped


STATE_OK = Reply(200, EMPTY_STATE)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class FaultyGateway:
    """A real HTTP server on a free loopback port; records every request it gets."""

    def __init__(self, put: Reply = Reply(), get: Reply = STATE_OK) -> None:
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                owner.requests.append(Request(self.command, self.path, dict(self.headers), body))
                reply = get if self.command == "GET" else put
                if reply.close:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.delay and owner._stopping.wait(reply.delay):
                    return
                payload = reply.body.replace(
                    "{authorization}", self.headers.get("Authorization", "")).encode()
                if reply.trickle:
                    self._trickle(reply.status)
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _trickle(self, status: int) -> None:
                self.wfile.write(f"HTTP/1.1 {status} OK\r\n".encode())
                self.wfile.flush()
                while not owner._stopping.wait(0.1):  # a slow server: one byte per 0.1 s
                    try:
                        self.wfile.write(b"X")
                        self.wfile.flush()
                    except OSError:
                        return

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def puts(self) -> list[Request]:
        return [request for request in self.requests if request.method == "PUT"]

    def __enter__(self) -> FaultyGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self.server.shutdown()
        self.server.server_close()


class HangingGateway:
    """A TCP server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never read from or answered

    def __enter__(self) -> HangingGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.sock.close()
        for conn in self.accepted:
            conn.close()
