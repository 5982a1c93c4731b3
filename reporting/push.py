"""One push per run to the Pushgateway: bounded in time, retried with backoff, never fatal.

`push_registry` PUTs (prometheus_client.push_to_gateway) to the group `job` + `env` + `suite`
(+ `shard`), never to a per-run id, through a handler that adds a per-attempt timeout, retries
connection errors, timeouts and 5xx answers (not 4xx) with exponential backoff from 0.25 s, and
captures the gateway's answer for the warning. Everything (including the read of the previous
`e2e_last_success_timestamp_seconds`) shares one time budget of timeout x attempts, so a gateway
that hangs costs at most that.

Secrets come from the environment only: E2E_PUSHGATEWAY_USERNAME / E2E_PUSHGATEWAY_PASSWORD
(basic auth) or E2E_PUSHGATEWAY_TOKEN (bearer; wins when both are set). They are never printed;
user:password@ in a URL is used as basic auth and masked in everything printed.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from prometheus_client import push_to_gateway
from prometheus_client.exposition import basic_auth_handler, default_handler

from reporting.options import mask_url

FIRST_BACKOFF = 0.25
BODY_CHARS = 300
LAST_SUCCESS_METRIC = "e2e_last_success_timestamp_seconds"


@dataclass(frozen=True)
class GatewayAuth:
    """Credentials from the environment (or the URL's user:password@); never printed."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, url: str = "") -> GatewayAuth:
        environ = os.environ if environ is None else environ
        username = environ.get("E2E_PUSHGATEWAY_USERNAME") or None
        password = environ.get("E2E_PUSHGATEWAY_PASSWORD") or None
        parts = urlsplit(url)
        if username is None and parts.username:
            username = unquote(parts.username)
            password = unquote(parts.password or "")
        return cls(username, password, environ.get("E2E_PUSHGATEWAY_TOKEN") or None)

    @property
    def basic(self) -> bool:
        return self.token is None and self.username is not None and self.password is not None

    def headers(self) -> list[tuple[str, str]]:
        """Authorization header(s) for requests made without prometheus_client's handlers."""
        if self.token:
            return [("Authorization", f"Bearer {self.token}")]
        if self.basic:
            raw = f"{self.username}:{self.password}".encode()
            return [("Authorization", "Basic " + base64.b64encode(raw).decode("ascii"))]
        return []

    def redact(self, text: str) -> str:
        """`text` with every secret value replaced by ***."""
        for secret in (self.token, self.password):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class PushTarget:
    """Where the run's group goes, and how long to try."""

    url: str
    job: str
    grouping_key: dict[str, str]
    timeout: float = 3.0
    retries: int = 2

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @property
    def budget(self) -> float:
        """Seconds all gateway traffic of one run may take together."""
        return self.timeout * self.attempts

    @property
    def base_url(self) -> str:
        """The URL without user:password@ (credentials travel in a header)."""
        parts = urlsplit(self.url)
        host = parts.netloc.rsplit("@", 1)[-1]
        return parts._replace(netloc=host).geturl().rstrip("/")

    @property
    def shown_url(self) -> str:
        return mask_url(self.url)

    def describe_group(self) -> str:
        labels = {"job": self.job, **self.grouping_key}
        return " ".join(f"{name}={value}" for name, value in labels.items())

    def group_labels(self) -> dict[str, str]:
        return {"job": self.job, **self.grouping_key}


@dataclass
class PushResult:
    """How the push went; `detail` is the gateway's answer or the error, one line."""

    ok: bool
    attempts: int = 0
    status: int | None = None
    detail: str = ""
    elapsed: float = 0.0

    def warning(self, target: PushTarget) -> str:
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        return f"e2e metrics: push to {target.shown_url} failed after {tries}: {self.detail}"


class Deadline:
    """A monotonic point in time shared by every request of one push."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(self._end - time.monotonic(), 0.0)


@dataclass
class _RetryingHandler:
    """A prometheus_client push handler: timeout, bounded retries, the answer kept."""

    target: PushTarget
    auth: GatewayAuth
    deadline: Deadline
    result: PushResult = field(default_factory=lambda: PushResult(ok=False))
    sleep: Callable[[float], None] = time.sleep

    def __call__(
        self, url: str, method: str, timeout: float | None, headers: list[tuple[str, str]],
        data: bytes,
    ) -> Callable[[], None]:
        def handle() -> None:
            self._send_with_retries(url, method, headers, data)

        return handle

    def _send_with_retries(
        self, url: str, method: str, headers: list[tuple[str, str]], data: bytes
    ) -> None:
        delay = FIRST_BACKOFF
        for attempt in range(1, self.target.attempts + 1):
            remaining = self.deadline.remaining()
            if remaining <= 0.05:
                self.result.detail = self.result.detail or (
                    f"no time left of the {self.deadline.seconds:g}s push budget"
                )
                return
            self.result.attempts = attempt
            timeout = min(self.target.timeout, remaining)
            retry = self._send_once(url, method, headers, data, timeout)
            if self.result.ok or not retry:
                return
            if attempt == self.target.attempts or self.deadline.remaining() <= delay + 0.05:
                return
            self.sleep(delay)  # backoff between push attempts, bounded by the deadline
            delay *= 2

    def _send_once(
        self, url: str, method: str, headers: list[tuple[str, str]], data: bytes, timeout: float
    ) -> bool:
        """One request; True if a failure is worth retrying."""
        request_headers = list(headers)
        if self.auth.token:
            request_headers.append(("Authorization", f"Bearer {self.auth.token}"))
        try:
            if self.auth.basic:
                basic_auth_handler(url, method, timeout, request_headers, data,
                                   self.auth.username, self.auth.password)()
            else:
                default_handler(url, method, timeout, request_headers, data)()
        except urllib.error.HTTPError as exc:
            self.result.status = exc.code
            self.result.detail = self.auth.redact(_describe_http_error(exc))
            return exc.code >= 500
        except Exception as exc:  # connection refused, timeout, reset, bad status line...
            self.result.status = None
            self.result.detail = self.auth.redact(_describe_error(exc, timeout))
            return True
        self.result.ok = True
        self.result.status = 200
        self.result.detail = "ok"
        return False


def push_registry(
    registry: Any,
    target: PushTarget,
    auth: GatewayAuth | None = None,
    deadline: Deadline | None = None,
) -> PushResult:
    """PUT the registry to the target's group. Never raises; never takes longer than the budget."""
    auth = auth or GatewayAuth()
    deadline = deadline or Deadline(target.budget)
    handler = _RetryingHandler(target, auth, deadline)
    started = time.monotonic()

    def push() -> None:
        try:
            push_to_gateway(target.base_url, job=target.job, registry=registry,
                            grouping_key=target.grouping_key, timeout=target.timeout,
                            handler=handler)
        except Exception as exc:  # building the request failed; report, never raise
            handler.result.ok = False
            handler.result.detail = auth.redact(f"{type(exc).__name__}: {exc}")

    finished = _run_within(push, deadline.remaining() + 0.5)
    result = handler.result
    if not finished:
        result.ok = False
        result.detail = f"no complete answer within the {deadline.seconds:g}s push budget"
    result.elapsed = time.monotonic() - started
    result.detail = _one_line(result.detail)
    return result


def read_last_success(
    target: PushTarget, auth: GatewayAuth | None = None, deadline: Deadline | None = None
) -> float | None:
    """The group's current `e2e_last_success_timestamp_seconds` on the gateway, or None.

    One GET of /api/v1/metrics with at most a share of the deadline, so the PUT that follows
    keeps time for its attempts. Any failure (down, hanging, unexpected JSON) gives None.
    """
    auth = auth or GatewayAuth()
    deadline = deadline or Deadline(target.budget)
    timeout = min(target.timeout, deadline.remaining() / (target.attempts + 1))
    if timeout <= 0.05:
        return None
    request = urllib.request.Request(f"{target.base_url}/api/v1/metrics", method="GET")
    for name, value in auth.headers():
        request.add_header(name, value)
    answer: dict[str, Any] = {}

    def fetch() -> None:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer["json"] = json.loads(response.read(20_000_000))
        except Exception:  # the gateway is down or odd: no value to carry over
            return

    if not _run_within(fetch, timeout + 0.5) or "json" not in answer:
        return None
    return _last_success_in(answer["json"], target.group_labels())


def _last_success_in(document: Any, labels: dict[str, str]) -> float | None:
    try:
        groups = document["data"]
        for group in groups:
            if group.get("labels") != labels:
                continue
            family = group.get(LAST_SUCCESS_METRIC)
            if not family or not family.get("metrics"):
                return None
            return float(family["metrics"][0]["value"])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None
    return None


def _run_within(action: Callable[[], None], seconds: float) -> bool:
    """Run `action` in a daemon thread; False if it did not finish in time (it is abandoned).

    The per-request socket timeouts bound each read, but a gateway that trickles bytes could
    still hold a request open; this keeps the total bounded whatever the server does.
    """
    thread = threading.Thread(target=action, name="e2e-metrics-push", daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    return not thread.is_alive()


def _describe_http_error(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(4096).decode("utf-8", errors="replace")
    except Exception:
        body = ""
    reason = exc.reason or http.client.responses.get(exc.code, "")
    text = f"{exc.code} {reason}".strip()
    body = _one_line(body)[:BODY_CHARS]
    return f"{text}: {body}" if body else text


def _describe_error(exc: BaseException, timeout: float) -> str:
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"no answer within {timeout:g}s (timeout)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is the Pushgateway running?)"
    if isinstance(reason, http.client.RemoteDisconnected):
        return "the gateway closed the connection without an answer"
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve host ({reason.strerror or reason})"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{type(reason).__name__}: {reason.strerror}"
    return f"{type(reason).__name__}: {reason}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
