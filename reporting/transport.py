"""HTTP to the Pushgateway: bounded in time, retried with backoff, never raising.

Every request of one publication shares a `Deadline` (timeout x attempts). Each attempt waits at
most `timeout` seconds (less when the deadline is nearer) and runs in a daemon thread joined for
no longer than that and never past the deadline plus `DEADLINE_GRACE`, so even a gateway that
trickles its answer byte by byte costs no more than the budget plus `JOIN_GRACE`.
Connection errors, timeouts, 5xx and 429 are retried with exponential backoff from
`FIRST_BACKOFF`; other 4xx answers are not (retrying cannot help). Nothing here prints; the
caller gets an `Answer` whose `detail` is one line with secrets redacted.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from reporting.auth import GatewayAuth, GatewaySettingsError

FIRST_BACKOFF = 0.25
JOIN_GRACE = 0.25
"""What a publication may take beyond its budget: an attempt's thread is waited for at most
until the deadline plus `DEADLINE_GRACE` (< JOIN_GRACE, leaving room for the bookkeeping)."""
DEADLINE_GRACE = 0.1
BODY_CHARS = 300
MIN_ATTEMPT_SECONDS = 0.05
RETRYABLE_STATUSES = frozenset({429})


class Deadline:
    """A monotonic point in time shared by every request of one publication."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(self._end - time.monotonic(), 0.0)


@dataclass
class Answer:
    """How a request (with its retries) ended. `body` is the answer's body when `ok`."""

    ok: bool = False
    attempts: int = 0
    status: int | None = None
    detail: str = ""
    body: bytes = b""
    retryable: bool = False


@dataclass
class GatewayClient:
    """Requests to one gateway with one deadline; credentials go in a header, never the URL."""

    url: str
    auth: GatewayAuth
    timeout: float
    retries: int
    deadline: Deadline
    sleep: Callable[[float], None] = time.sleep
    _context: Any = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        """The URL without user:password@ (credentials travel in a header) and trailing /."""
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=host).geturl().rstrip("/")

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """`method` `path` with retries inside the deadline; never raises."""
        answer = Answer()
        try:
            self._context = self.auth.ssl_context() if self.base_url.startswith("https") else None
        except GatewaySettingsError as exc:
            answer.detail = str(exc)
            return answer
        delay = FIRST_BACKOFF
        for attempt in range(1, self.retries + 2):
            remaining = self.deadline.remaining()
            if remaining <= MIN_ATTEMPT_SECONDS:
                answer.detail = answer.detail or (
                    f"no time left of the {self.deadline.seconds:g}s push budget")
                break
            answer.attempts = attempt
            self._attempt(answer, method, path, body, min(self.timeout, remaining))
            if answer.ok or not answer.retryable or attempt == self.retries + 1:
                break
            if self.deadline.remaining() <= delay + MIN_ATTEMPT_SECONDS:
                break
            self.sleep(delay)  # backoff between attempts, inside the deadline
            delay *= 2
        answer.detail = _one_line(self.auth.redact(answer.detail))
        return answer

    def _cut(self, timeout: float) -> str:
        """What ended an attempt that got no answer: its own timeout, or the run's budget."""
        if timeout < self.timeout:
            return f"timeout: what was left of the {_seconds(self.deadline.seconds)}s push budget"
        return "timeout"

    def _attempt(
        self, answer: Answer, method: str, path: str, body: bytes | None, timeout: float
    ) -> None:
        request = urllib.request.Request(self.base_url + path, data=body, method=method)
        for name, value in self.auth.headers().items():
            request.add_header(name, value)
        if body is not None:
            request.add_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        result: dict[str, Any] = {}

        def send() -> None:
            try:
                with urllib.request.urlopen(request, timeout=timeout,
                                            context=self._context) as response:
                    result["status"] = response.status
                    result["body"] = response.read()
            except BaseException as exc:  # reported, never raised
                result["error"] = exc

        thread = threading.Thread(target=send, name="e2e-metrics-http", daemon=True)
        thread.start()
        thread.join(min(timeout + JOIN_GRACE, self.deadline.remaining() + DEADLINE_GRACE))
        if thread.is_alive():  # trickling: the socket timeout never fired; abandon the thread
            answer.ok, answer.status, answer.retryable = False, None, True
            answer.detail = f"no complete answer within {_seconds(timeout)}s ({self._cut(timeout)})"
            return
        error = result.get("error")
        if error is None:
            answer.ok, answer.status, answer.retryable = True, result["status"], False
            answer.body, answer.detail = result["body"], "ok"
        elif isinstance(error, urllib.error.HTTPError):
            answer.ok, answer.status = False, error.code
            answer.retryable = error.code >= 500 or error.code in RETRYABLE_STATUSES
            answer.detail = _describe_http_error(error)
        else:
            answer.ok, answer.status, answer.retryable = False, None, True
            answer.detail = _describe_error(error, timeout).replace(
                "(timeout)", f"({self._cut(timeout)})")
            if isinstance(_reason(error), (ssl.SSLError, ValueError)):
                answer.retryable = False  # a certificate or a bad header does not go away


def _reason(exc: BaseException) -> BaseException:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return reason if isinstance(reason, BaseException) else exc


def _describe_http_error(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(4096).decode("utf-8", errors="replace")
    except Exception:
        body = ""
    reason = exc.reason or http.client.responses.get(exc.code, "")
    text = f"{exc.code} {reason}".strip()
    if exc.code in (401, 403):
        text += " (check E2E_PUSHGATEWAY_USERNAME/_PASSWORD or _TOKEN)"
    body = _one_line(body)[:BODY_CHARS]
    return f"{text}: {body}" if body else text


def _describe_error(exc: BaseException, timeout: float) -> str:
    reason = _reason(exc)
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS: {reason.verify_message or reason} (check E2E_PUSHGATEWAY_CA_FILE)"
    if isinstance(reason, ssl.SSLError):
        return f"TLS: {reason.reason or reason} (check E2E_PUSHGATEWAY_CERT_FILE/_KEY_FILE)"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {_seconds(timeout)}s (timeout)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the Pushgateway running?)"
    if isinstance(reason, (http.client.RemoteDisconnected, ConnectionResetError)):
        return "the gateway closed the connection without an answer"
    if isinstance(reason, ValueError):
        # http.client quotes the offending header, credentials and all: never show it.
        return "the request could not be sent (an invalid header value: check the credentials)"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve host ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return f"{type(reason).__name__}: {reason}"


def _seconds(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _one_line(text: str) -> str:
    return " ".join(text.split())
