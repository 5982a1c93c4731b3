"""Helpers for the reporter's self-tests: a real Pushgateway, sample suites, parsed metrics,
and small real HTTP servers that misbehave (answer 4xx/5xx, or accept and never answer)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.process import Service
from harness.services import start_pushgateway

SAMPLES = Path(__file__).parent
PROJECT_ROOT = SAMPLES.parents[1]
GROUPING_LABELS = frozenset({"job", "env", "suite", "shard", "instance"})
GATEWAY_OWN = frozenset({"push_time_seconds", "push_failure_time_seconds"})
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "rerun")

SampleKey = tuple[str, frozenset[tuple[str, str]]]


def running_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """For a fixture: a real prometheus-pushgateway on a free loopback port, then stopped."""
    service = start_pushgateway(tmp_path_factory.mktemp("pushgateway"))
    yield service
    service.stop()


def isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """For a fixture: pytester whose runs see none of the caller's E2E_* settings."""
    for name in list(os.environ):
        if name.startswith("E2E_") or name in ("GITHUB_SHA", "GITHUB_REF_NAME"):
            monkeypatch.delenv(name)
    # Like pyproject's `pythonpath = ["."]`: the project's packages come from the checkout.
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    return pytester


def add_samples(pytester: pytest.Pytester, *names: str) -> None:
    """Copy tests/reporting_samples/sample_<name>.py into the run as test_<name>.py."""
    pytester.makepyfile(**{
        f"test_{name}": (SAMPLES / f"sample_{name}.py").read_text() for name in names
    })


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=90)


def reporter_lines(result: pytest.RunResult) -> list[str]:
    """Every line the reporter printed (they all start with `e2e metrics:`)."""
    return [line for line in result.outlines + result.errlines
            if line.startswith("e2e metrics:")]


def push_warnings(result: pytest.RunResult) -> list[str]:
    return [line for line in reporter_lines(result) if line.startswith("e2e metrics: push to ")]


def terminal_outcomes(result: pytest.RunResult) -> dict[str, int]:
    """pytest's own summary line, in the reporter's outcome names (0 where absent)."""
    parsed = result.parseoutcomes()
    renamed = {("error" if key == "errors" else key): count for key, count in parsed.items()}
    return {outcome: renamed.get(outcome, 0) for outcome in OUTCOMES}


def parse_samples(text: str, job: str | None = None) -> dict[SampleKey, float]:
    """Samples by (name, labels); grouping labels, empty labels and gateway metrics dropped."""
    samples: dict[SampleKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in GATEWAY_OWN:
                continue
            if job is not None and sample.labels.get("job") != job:
                continue
            labels = frozenset(
                (name, str(float(value)) if name == "le" else value)
                for name, value in sample.labels.items()
                if value != "" and name not in GROUPING_LABELS
            )
            samples[(sample.name, labels)] = sample.value
    return samples


def gateway_samples(url: str, job: str) -> dict[SampleKey, float]:
    return parse_samples(httpx.get(f"{url}/metrics", timeout=5).text, job=job)


def file_samples(path: Path) -> dict[SampleKey, float]:
    return parse_samples(path.read_text())


def value(samples: dict[SampleKey, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def values_of(samples: dict[SampleKey, float], name: str, label: str) -> dict[str, float]:
    """{label value: sample value} of one metric."""
    return {dict(key)[label]: val for (metric, key), val in samples.items() if metric == name}


def gateway_groups(url: str, job: str) -> list[dict[str, str]]:
    """Grouping labels of every group the gateway holds for `job`."""
    data = httpx.get(f"{url}/api/v1/metrics", timeout=5).json()["data"]
    return [group["labels"] for group in data if group["labels"].get("job") == job]


def put_count(url: str) -> float:
    """PUT requests the gateway has handled so far (its own counter)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "pushgateway_http_requests"
        for sample in family.samples
        if sample.labels.get("handler") == "push" and sample.labels.get("method") == "put"
    )


class AnsweringGateway:
    """A real HTTP server that answers every request with one status and body, and records
    what it received (method, path, headers)."""

    def __init__(self, status: int, body: str) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.requests.append((self.command, self.path, dict(self.headers)))
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def puts(self) -> list[tuple[str, str, dict[str, str]]]:
        return [request for request in self.requests if request[0] == "PUT"]

    def __enter__(self) -> AnsweringGateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
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
