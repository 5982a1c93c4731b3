"""A Pushgateway that is down, answers an error or hangs never changes the run's exit status:
bounded time, bounded retries, one warning line with the gateway's answer."""

from __future__ import annotations

import base64
import dataclasses
import time

import pytest

from harness.ports import free_port
from reporting.collector import ResultCollector
from reporting.metrics import build_registry
from reporting.push import Deadline, GatewayAuth, PushTarget, push_registry, read_last_success
from reporting.run_info import RunFacts
from tests.reporting_samples.support import (
    AnsweringGateway,
    HangingGateway,
    add_samples,
    isolated,
    push_warnings,
    reporter_lines,
    run,
)


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


@pytest.mark.parametrize(("sample", "status"), [
    ("passing", pytest.ExitCode.OK),
    ("failing", pytest.ExitCode.TESTS_FAILED),
])
def test_gateway_down_keeps_exit_status_and_warns_once(suite, sample, status):
    add_samples(suite, sample)
    dead = f"http://127.0.0.1:{free_port()}"

    result = run(suite, "--pushgateway-url", dead)

    assert result.ret == status
    assert push_warnings(result) == [
        f"e2e metrics: push to {dead} failed after 3 attempts: "
        "connection refused (is the Pushgateway running?)"
    ]
    assert reporter_lines(result)[-1].endswith("; push FAILED (see warning above)")
    assert (suite.path / "reports" / "e2e-metrics.prom").exists()


def test_a_4xx_answer_is_reported_with_its_body_and_not_retried(suite, monkeypatch):
    add_samples(suite, "passing")
    token = "tok-5d1e0b6a99"
    monkeypatch.setenv("E2E_PUSHGATEWAY_TOKEN", token)
    with AnsweringGateway(400, f"text format parsing error in line 3\n(token {token})") as gw:
        result = run(suite, "--pushgateway-url", gw.url)
        puts = gw.puts()

    assert result.ret == pytest.ExitCode.OK
    assert len(puts) == 1
    _method, path, headers = puts[0]
    assert path == "/metrics/job/mcp_e2e/env/local/suite/e2e"
    assert headers["Authorization"] == f"Bearer {token}"
    assert push_warnings(result) == [
        f"e2e metrics: push to {gw.url} failed after 1 attempt: 400 Bad Request: "
        "text format parsing error in line 3 (token ***)"
    ]
    assert token not in "\n".join(result.outlines + result.errlines)


def test_a_5xx_answer_is_retried_then_reported(suite, monkeypatch):
    add_samples(suite, "failing")
    monkeypatch.setenv("E2E_PUSHGATEWAY_USERNAME", "ci")
    monkeypatch.setenv("E2E_PUSHGATEWAY_PASSWORD", "pw-s3cret-77")
    with AnsweringGateway(503, "overloaded") as gw:
        result = run(suite, "--pushgateway-url", gw.url, "--metrics-push-retries", "1")
        puts = gw.puts()
        gets = [request for request in gw.requests if request[0] == "GET"]

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert len(puts) == 2
    basic = "Basic " + base64.b64encode(b"ci:pw-s3cret-77").decode()
    assert {headers["Authorization"] for _, _, headers in puts} == {basic}
    assert [path for _, path, _ in gets] == ["/api/v1/metrics"]  # last success, failing run
    assert push_warnings(result) == [
        f"e2e metrics: push to {gw.url} failed after 2 attempts: 503 Service Unavailable: "
        "overloaded"
    ]
    assert "pw-s3cret-77" not in "\n".join(result.outlines + result.errlines)


def test_a_hanging_gateway_costs_at_most_timeout_times_attempts(suite):
    add_samples(suite, "failing")
    with HangingGateway() as gw:
        result = run(suite, "--pushgateway-url", gw.url, "--metrics-push-timeout", "0.5",
                     "--metrics-push-retries", "1")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    warnings = push_warnings(result)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"e2e metrics: push to {gw.url} failed after ")
    assert warnings[0].endswith("(timeout)")


@pytest.mark.parametrize("failing_run", [False, True])
def test_push_time_is_bounded_in_process(failing_run):
    """Measured without pytest start-up: read of last success + PUT attempts share one budget."""
    target = PushTarget(url="", job="hang", grouping_key={"env": "local", "suite": "e2e"},
                        timeout=0.3, retries=2)
    registry = build_registry(ResultCollector().results(), _run_facts())
    with HangingGateway() as gw:
        target = dataclasses.replace(target, url=gw.url)
        started = time.monotonic()
        deadline = Deadline(target.budget)
        if failing_run:
            assert read_last_success(target, GatewayAuth(), deadline) is None
        result = push_registry(registry, target, GatewayAuth(), deadline)
        elapsed = time.monotonic() - started

    assert not result.ok
    assert result.attempts >= 1
    assert "no answer within" in result.detail
    assert target.timeout <= elapsed <= target.budget + 0.5


def test_a_4xx_answer_in_process_keeps_status_and_body():
    target_args = {"job": "x", "grouping_key": {"env": "local", "suite": "e2e"},
                   "timeout": 1.0, "retries": 2}
    registry = build_registry(ResultCollector().results(), _run_facts())
    with AnsweringGateway(409, "x" * 1000) as gw:
        result = push_registry(registry, PushTarget(url=gw.url, **target_args))
    assert (result.ok, result.attempts, result.status) == (False, 1, 409)
    assert result.detail == "409 Conflict: " + "x" * 300


def _run_facts() -> RunFacts:
    return RunFacts(exit_status=1, started=1.0, finished=2.0, version="0", git_sha="unknown",
                    branch="unknown", target="embedded", last_success=None)
