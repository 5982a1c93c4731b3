"""pytest hooks that start the real services once per run and hand their URLs to workers.

Under pytest-xdist the controller starts everything (pytest_sessionstart runs there before
xdist starts its workers) and passes the URLs in workerinput; workers start nothing.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import shutil
import signal
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.alertmanager_config import start_for_console, write_webhook_token
from harness.process import Service, ServiceStartError
from harness.services import start_console, start_pushgateway, start_redis
from harness.settings import setting

_WORKERINPUT_KEY = "mcp_e2e_endpoints"
_STATE_KEY = pytest.StashKey["RunServices"]()


@dataclass
class Endpoints:
    """Where the suite finds each service; None where it was neither given nor started."""

    base_url: str | None = None
    redis_url: str | None = None
    alertmanager_url: str | None = None
    pushgateway_url: str | None = None
    embedded: bool = False  # True when the harness started the reference console


@dataclass
class RunServices:
    endpoints: Endpoints
    started: list[Service]
    workdir: Path | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mcp-e2e", "MCP e2e targets (none given: start the embedded ones)")
    group.addoption(
        "--redis-url", help="Redis the console uses (env E2E_REDIS_URL; default: start one)"
    )
    group.addoption(
        "--alertmanager-url",
        help="Alertmanager to fire alerts into (env E2E_ALERTMANAGER_URL; default: start one)",
    )
    group.addoption(
        "--console-heartbeat",
        type=_positive_seconds,
        default=1.0,
        help="heartbeat interval in seconds of the embedded console (default 1.0)",
    )
    parser.addini("redis_url", "Redis URL the console uses")
    parser.addini("alertmanager_url", "Alertmanager URL")


def _positive_seconds(text: str) -> float:
    # ArgumentTypeError: argparse shows its message; for a ValueError it names this function.
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a positive number of seconds (e.g. 1 or 0.5)"
        )
    return value


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def endpoints(config: pytest.Config) -> Endpoints:
    """The run's endpoints, in the controller or in any worker."""
    if _is_worker(config):
        return Endpoints(**json.loads(config.workerinput[_WORKERINPUT_KEY]))
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        raise RuntimeError("services not started (no e2e session)")
    return state.endpoints


def _wants_push(config: pytest.Config) -> bool:
    return not (
        config.getoption("no_metrics", default=False)
        or config.getoption("no_metrics_push", default=False)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if _is_worker(config) or config.option.collectonly:
        return
    given = Endpoints(
        base_url=setting(config, "base_url", "E2E_BASE_URL", "base_url"),
        redis_url=setting(config, "redis_url", "E2E_REDIS_URL", "redis_url"),
        alertmanager_url=setting(
            config, "alertmanager_url", "E2E_ALERTMANAGER_URL", "alertmanager_url"
        ),
        pushgateway_url=setting(
            config, "pushgateway_url", "E2E_PUSHGATEWAY_URL", "pushgateway_url"
        ),
    )
    _check_urls(given)
    state = RunServices(endpoints=given, started=[])
    config.stash[_STATE_KEY] = state
    # Services run in sessions of their own, so a signal to pytest does not reach them:
    # SIGTERM (CI cancel, `timeout`, `kill`) unwinds like Ctrl-C, and atexit is the last net.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
    atexit.register(_stop_all, state)
    try:
        _start_missing(config, state)
    except ServiceStartError as exc:
        _stop_all(state)
        pytest.exit(f"harness: {exc}", returncode=pytest.ExitCode.INTERNAL_ERROR)
    if state.endpoints.pushgateway_url:
        # The reporter reads this at session end.
        config.option.pushgateway_url = state.endpoints.pushgateway_url


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


_SCHEMES = {
    "base_url": ("http", "https"),
    "alertmanager_url": ("http", "https"),
    "pushgateway_url": ("http", "https"),
    "redis_url": ("redis", "rediss", "unix"),
}


def _check_urls(given: Endpoints) -> None:
    """A wrong URL is a usage error now, not forty failing tests later."""
    for name, schemes in _SCHEMES.items():
        url = getattr(given, name)
        if url is None:
            continue
        parts = urlsplit(url)
        if parts.scheme not in schemes or not (parts.hostname or parts.scheme == "unix"):
            option = "--" + name.replace("_", "-")
            raise pytest.UsageError(
                f"{option}: {url!r} is not a {' or '.join(schemes)} URL "
                f"(e.g. {schemes[0]}://127.0.0.1:{_EXAMPLE_PORTS[name]})"
            )


_EXAMPLE_PORTS = {
    "base_url": 8080,
    "alertmanager_url": 9093,
    "pushgateway_url": 9091,
    "redis_url": 6379,
}


def _start_missing(config: pytest.Config, state: RunServices) -> None:
    ep = state.endpoints
    needs_console = ep.base_url is None
    needs_gateway = ep.pushgateway_url is None and _wants_push(config)
    if not (needs_console or needs_gateway):
        return
    reports = Path(config.rootpath) / "reports" / "services"
    reports.mkdir(parents=True, exist_ok=True)
    _keep_newest_runs(reports, KEEP_RUN_LOGS - 1)
    state.workdir = Path(tempfile.mkdtemp(prefix="run-", dir=reports))
    if needs_console:
        if ep.redis_url is None:
            redis = start_redis(state.workdir)
            state.started.append(redis)
            ep.redis_url = redis.url
        # The webhook demands a token only Alertmanager has, as a deployment's should.
        token_file = write_webhook_token(state.workdir)
        console = start_console(
            state.workdir,
            ep.redis_url,
            heartbeat_interval=config.option.console_heartbeat,
            webhook_token_file=token_file,
        )
        state.started.append(console)
        ep.base_url = console.url
        ep.embedded = True
        # Only for the embedded console: a given --base-url needs a given --alertmanager-url
        # that delivers to it (the alert tests skip otherwise).
        if ep.alertmanager_url is None:
            alertmanager = start_for_console(state.workdir, console.url, token_file)
            state.started.append(alertmanager)
            ep.alertmanager_url = alertmanager.url
    if needs_gateway:
        gateway = start_pushgateway(state.workdir)
        state.started.append(gateway)
        ep.pushgateway_url = gateway.url


def pytest_configure_node(node) -> None:  # noqa: ANN001 - xdist's WorkerController
    """xdist hook: every worker gets the controller's endpoints."""
    node.workerinput[_WORKERINPUT_KEY] = json.dumps(asdict(endpoints(node.config)))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE_KEY, None)
    if state is None:
        return []
    ep = state.endpoints
    lines = [f"mcp-e2e target: {ep.base_url}" + (" (embedded reference console)" * ep.embedded)]
    lines += [f"mcp-e2e started: {s.name} {s.url} (log {s.log_path})" for s in state.started]
    return lines


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE_KEY, None)
    if state is not None:
        _stop_all(state)


KEEP_RUN_LOGS = 10


def _keep_newest_runs(reports: Path, keep: int) -> None:
    """Service logs of the last runs stay for a post-mortem; older ones go."""
    runs = sorted(reports.glob("run-*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def _stop_all(state: RunServices) -> None:
    for service in reversed(state.started):
        service.stop()
    state.started.clear()
    if state.workdir is not None:
        # Logs stay for a post-mortem; data folders go.
        for data in state.workdir.glob("*-data"):
            shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(state.workdir / "redis", ignore_errors=True)
