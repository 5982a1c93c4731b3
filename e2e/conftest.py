"""Fixtures of the e2e suite. Services come from the harness; the browser from pytest-playwright."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Playwright

from e2e.pages.console import ConsolePage
from e2e.support import renders
from e2e.support.alertmanager import AlertmanagerAPI, SyntheticAlerts
from e2e.support.controls import ConsoleControls
from e2e.support.recorder import FrameRecorder
from e2e.support.relay import TcpRelay
from e2e.support.timeline import timelines
from e2e.support.tracing import EventTracer
from e2e.support.wsproxy import WsFaultProxy
from harness import chromium
from harness import pytest_plugin as harness_plugin
from harness.pytest_plugin import (  # noqa: F401 - pytest finds hooks by name in conftest
    Endpoints,
    endpoints,
    pytest_configure_node,
    pytest_report_header,
    pytest_sessionstart,
    pytest_unconfigure,
)
from harness.settings import setting
from reporting import observe

_FAILED = pytest.StashKey[bool]()
WS_LATENCY = "e2e_ws_event_latency_seconds"


def pytest_addoption(parser: pytest.Parser) -> None:
    harness_plugin.pytest_addoption(parser)
    parser.getgroup("mcp-e2e").addoption(
        "--otlp-endpoint",
        help="OTLP/HTTP collector (e.g. Tempo's, http://tempo:4318) for one span per observed "
        "WebSocket event (env E2E_OTLP_ENDPOINT; default: no traces)",
    )
    parser.addini("otlp_endpoint", "OTLP/HTTP collector for WebSocket event spans")


def pytest_configure(config: pytest.Config) -> None:
    endpoint = setting(config, "otlp_endpoint", "E2E_OTLP_ENDPOINT", "otlp_endpoint")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # A wrong URL is a usage error now, not an error in every test later.
            raise pytest.UsageError(
                f"--otlp-endpoint: {endpoint!r} is not a http or https URL "
                "(e.g. http://127.0.0.1:4318)"
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture(scope="session")
def e2e_endpoints(pytestconfig: pytest.Config) -> Endpoints:
    return endpoints(pytestconfig)


@pytest.fixture(scope="session")
def base_url(e2e_endpoints: Endpoints, request: pytest.FixtureRequest) -> str:
    """Owned here, not by pytest-base-url: its ini value does not reach xdist workers."""
    assert e2e_endpoints.base_url, "no console: pass --base-url or let the harness start one"
    url = e2e_endpoints.base_url
    try:
        httpx.get(url, timeout=10, follow_redirects=True)
    except httpx.HTTPError as exc:
        problem = f"the console at {url} does not answer: {exc!r}"
    else:
        return url
    # Every other test would fail the same way: stop the run (each worker after this test),
    # which still counts as a failed run in the metrics. Outside the except: no chained trace.
    request.session.shouldstop = problem
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict, playwright: Playwright, browser_name: str
) -> dict:
    """Extends pytest-playwright's own fixture so --headed, --slowmo, --tracing keep working."""
    if browser_name != "chromium" or browser_type_launch_args.get("channel"):
        return browser_type_launch_args
    return chromium.extend_launch_args(
        browser_type_launch_args, playwright.chromium.executable_path
    )


@pytest.fixture(scope="session")
def controls(base_url: str) -> Iterator[ConsoleControls]:
    client = ConsoleControls(base_url)
    yield client
    client.close()


@pytest.fixture
def emitter(controls: ConsoleControls) -> ConsoleControls:
    """Controls, or a skip where the target has no test-control endpoint (a real deployment)."""
    if not controls.available:
        pytest.skip(
            "target has no /api/test/emit (start the reference console with --test-controls)"
        )
    return controls


@pytest.fixture
def recorder(
    page: Page, request: pytest.FixtureRequest, output_path: str
) -> Iterator[FrameRecorder]:
    """Every frame of the page's sockets, recorded from before the first navigation."""
    rec = FrameRecorder(page)
    renders.install(page)
    yield rec
    if request.node.stash.get(_FAILED, False):
        path = rec.dump(Path(output_path) / "ws-frames.jsonl")
        print(f"WebSocket frames of the failed test: {path}")


@pytest.fixture(scope="session")
def event_tracer(pytestconfig: pytest.Config) -> Iterator[EventTracer | None]:
    endpoint = setting(pytestconfig, "otlp_endpoint", "E2E_OTLP_ENDPOINT", "otlp_endpoint")
    if not endpoint:
        yield None
        return
    tracer = EventTracer(endpoint)
    yield tracer
    tracer.shutdown()


@pytest.fixture
def console(
    page: Page,
    base_url: str,
    recorder: FrameRecorder,
    request: pytest.FixtureRequest,
    event_tracer: EventTracer | None,
) -> Iterator[ConsolePage]:
    """The console page; afterwards every event it showed becomes a latency observation."""
    yield ConsolePage(page, base_url, recorder)
    if page.is_closed():
        return
    try:
        shown, received = renders.all_renders(page), renders.receipts(page)
    except PlaywrightError:
        return  # the browser is gone (Ctrl-C, a crash): nothing left to measure
    seen = timelines(recorder.frames, shown, received)
    for event in seen:
        observe(request, WS_LATENCY, event.latency_s, event_type=event.event_type)
        if event_tracer is not None:
            event_tracer.export(event, request.node.nodeid)


@pytest.fixture
def ws_proxy(page: Page, recorder: FrameRecorder) -> WsFaultProxy:
    """Routes the console's socket through Playwright for frame-level faults (before open)."""
    return WsFaultProxy(page, recorder)


@pytest.fixture
def relay(base_url: str) -> Iterator[TcpRelay]:
    """A real TCP relay in front of the console, for 1006 and connection refused."""
    target = urlsplit(base_url)
    default_port = 443 if target.scheme == "https" else 80
    tcp = TcpRelay((target.hostname, target.port or default_port))
    yield tcp
    tcp.close()


@pytest.fixture
def page_warnings(page: Page) -> list[str]:
    """The page's console.warn/error lines, from before the first navigation."""
    lines: list[str] = []
    page.on(
        "console", lambda msg: lines.append(msg.text) if msg.type in ("warning", "error") else None
    )
    return lines


@pytest.fixture(scope="session")
def alertmanager(e2e_endpoints: Endpoints) -> Iterator[AlertmanagerAPI]:
    """The run's Alertmanager (started for the embedded console, or --alertmanager-url)."""
    if not e2e_endpoints.alertmanager_url:
        pytest.skip(
            "no Alertmanager for this console: with --base-url, also pass --alertmanager-url "
            "(or E2E_ALERTMANAGER_URL) of an Alertmanager whose mcp-console receiver posts to "
            "that console's /api/alertmanager/webhook"
        )
    api = AlertmanagerAPI(e2e_endpoints.alertmanager_url)
    yield api
    api.close()


@pytest.fixture
def synthetic_alerts(
    alertmanager: AlertmanagerAPI, request: pytest.FixtureRequest
) -> Iterator[SyntheticAlerts]:
    """Fires fixtures/alerts/* tagged e2e_test_id=<uuid>; resolves them (and expires the
    test's silences) when the test ends, so tests stay isolated on a shared Alertmanager."""
    alerts = SyntheticAlerts(alertmanager, request.node.nodeid)
    yield alerts
    alerts.cleanup()
