"""The fault table: whatever the gateway does, the run's exit status is unchanged, the time is
bounded, one warning names the gateway's answer, the exposition is spooled for a later
`python -m reporting push`, and the bearer token never shows.

Every row runs pytest in this process against a real loopback server (or none). The bound on
wall time is shown by `bench/reporter_faults.py` (timing belongs there, not here); here the
bound is checked by attempts and by what the reporter says stopped it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from harness.ports import free_port
from reporting.push import PushTarget
from tests.reporting_samples.fake_gateways import (
    STATE_OK,
    FaultyGateway,
    HangingGateway,
    Reply,
)
from tests.reporting_samples.support import (
    add_samples,
    all_output,
    file_samples,
    isolated,
    metrics_file,
    push_warnings,
    reporter_lines,
    run_inline,
    spooled_files,
)

TOKEN = "tok-9f8e7d6c5b4a3921"
ECHO = "request was {authorization}"  # a careless gateway/proxy echoing the credentials
FAST = ("--metrics-push-timeout", "0.3", "--metrics-push-retries", "1")


@dataclass(frozen=True)
class Fault:
    """One row: how the gateway misbehaves, and what the run must say about it."""

    gateway: str  # "faulty" (FaultyGateway with `get`/`put`), "down" or "hanging"
    warning: str | None  # fnmatch pattern after "push to URL failed after "; None: pushed
    puts: int | None = 0  # PUT requests the gateway saw (None: not observable)
    get: Reply = STATE_OK
    put: Reply = field(default_factory=Reply)
    sample: str = "failing"
    args: tuple[str, ...] = ()


FAULTS = {
    "down": Fault("down", "3 attempts: connection refused (is the Pushgateway running?)",
                  puts=None, sample="passing"),
    "refusing": Fault("faulty", "3 attempts: the gateway closed the connection without an "
                      "answer", get=Reply(close=True)),
    "hanging": Fault("hanging", "* attempt*: no answer within *s (timeout)", puts=None,
                     sample="passing", args=FAST),
    "400 with body": Fault("faulty", "1 attempt: 400 Bad Request: text format parsing error "
                           "in line 3: request was Bearer ***", puts=1,
                           put=Reply(400, f"text format parsing error in line 3: {ECHO}")),
    "401": Fault("faulty", "1 attempt: reading /api/v1/metrics: 401 Unauthorized (check "
                 "E2E_PUSHGATEWAY_USERNAME/_PASSWORD or _TOKEN): request was Bearer ***",
                 get=Reply(401, ECHO), sample="passing"),
    "403": Fault("faulty", "1 attempt: 403 Forbidden (check E2E_PUSHGATEWAY_USERNAME/_PASSWORD "
                 "or _TOKEN): not allowed to push here", puts=1,
                 put=Reply(403, "not allowed to push here")),
    "500": Fault("faulty", "3 attempts: 500 Internal Server Error: boom", puts=3,
                 put=Reply(500, "boom")),
    "slow, within the timeout": Fault("faulty", None, puts=1, put=Reply(200, delay=0.2),
                                      sample="passing"),
    "slow, trickling forever": Fault("faulty", "* attempt*: no complete answer within *s "
                                     "(timeout)", puts=None, put=Reply(trickle=True), args=FAST),
    "state not JSON": Fault("faulty", "1 attempt: reading /api/v1/metrics: unexpected "
                            "/api/v1/metrics answer (*)", get=Reply(200, "<html>nope</html>")),
}


@pytest.fixture
def suite(pytester, monkeypatch):
    suite = isolated(pytester, monkeypatch)
    monkeypatch.setenv("E2E_PUSHGATEWAY_TOKEN", TOKEN)
    return suite


@contextlib.contextmanager
def gateway_for(fault: Fault) -> Iterator[tuple[str, FaultyGateway | None]]:
    if fault.gateway == "down":
        yield f"http://127.0.0.1:{free_port()}", None
    elif fault.gateway == "hanging":
        with HangingGateway() as hanging:
            yield hanging.url, None
    else:
        with FaultyGateway(put=fault.put, get=fault.get) as faulty:
            yield faulty.url, faulty


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_table(suite, name):
    fault = FAULTS[name]
    add_samples(suite, fault.sample)
    status = pytest.ExitCode.OK if fault.sample == "passing" else pytest.ExitCode.TESTS_FAILED

    with gateway_for(fault) as (url, faulty):
        result = run_inline(suite, "--pushgateway-url", url, *fault.args)
        requests = list(faulty.requests) if faulty else []

    assert result.ret == status  # the exit status is the tests' own, whatever the gateway did
    output = all_output(result)
    assert TOKEN not in output
    assert TOKEN not in metrics_file(suite).read_text()
    assert file_samples(metrics_file(suite))  # the file is always written
    if faulty is not None:  # every request carried the bearer token, none more than allowed
        assert {request.headers.get("Authorization") for request in requests} == {
            f"Bearer {TOKEN}"}
    if fault.puts is not None:
        assert sum(request.method == "PUT" for request in requests) == fault.puts
    if fault.warning is None:
        assert push_warnings(result) == []
        assert reporter_lines(result)[-1].endswith(f"pushed to {url} (job=mcp_e2e env=local "
                                                   "suite=e2e)")
        assert spooled_files(suite) == []
        return

    warnings = push_warnings(result)
    assert len(warnings) == 1, reporter_lines(result)
    expected = f"e2e metrics: push to {url} failed after {fault.warning}"
    assert fnmatch.fnmatchcase(warnings[0], expected), warnings[0]
    attempts = int(warnings[0].split(" failed after ")[1].split(" attempt")[0])
    assert 1 <= attempts <= 3
    [spooled] = spooled_files(suite)
    shown = spooled.relative_to(suite.path)
    hint = f"e2e metrics: spooled to {shown}; re-send with: "
    [line] = [line for line in reporter_lines(result) if line.startswith(hint)]
    assert line.endswith(f" -m reporting push {shown} --pushgateway-url {url}"), line
    assert spooled.read_bytes() == metrics_file(suite).read_bytes()
    assert reporter_lines(result)[-1].endswith("; push FAILED (see warning above)")


def test_default_settings_bound_the_worst_case_under_ten_seconds():
    """Timeout x attempts (backoff included: it waits inside the same deadline) plus the grace
    given to a trickling answer: the most a gateway can add to a run with the defaults."""
    target = PushTarget(url="http://gateway:9091", job="mcp_e2e", grouping_key={})
    assert (target.timeout, target.retries) == (3.0, 2)
    assert target.worst_case_seconds < 10


@pytest.mark.parametrize("name", ["hanging", "slow, trickling forever"])
def test_a_gateway_that_never_answers_adds_no_more_than_the_push_budget(suite, name):
    """The bound above, measured: the whole run (a trivial suite) within the worst case of
    its settings, plus a second for pytest itself."""
    fault = FAULTS[name]
    timeout, retries = float(fault.args[1]), int(fault.args[3])
    budget = PushTarget(url="http://gateway:9091", job="mcp_e2e", grouping_key={},
                        timeout=timeout, retries=retries).worst_case_seconds
    add_samples(suite, fault.sample)
    with gateway_for(fault) as (url, _):
        started = time.monotonic()
        result = run_inline(suite, "--pushgateway-url", url, *fault.args)
        elapsed = time.monotonic() - started
    assert len(push_warnings(result)) == 1
    assert elapsed <= budget + 1.0, f"{elapsed:.2f}s for a budget of {budget:.2f}s"


def test_a_push_to_another_gateway_keeps_the_spooled_run(suite):
    """The spool is per group and gateway: a run meant for the real gateway is not lost when
    the same group later goes to another one (the harness's own, say)."""
    add_samples(suite, "passing")
    down = f"http://127.0.0.1:{free_port()}"
    run_inline(suite, "--pushgateway-url", down)
    [spooled] = spooled_files(suite)
    with FaultyGateway() as other:
        result = run_inline(suite, "--pushgateway-url", other.url)
    assert push_warnings(result) == []
    assert spooled_files(suite) == [spooled]
