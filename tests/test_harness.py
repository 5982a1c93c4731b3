"""The harness starts real services on free loopback ports, once per run, and says why not."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import httpx
import pytest
import redis

from harness import chromium
from harness.process import ServiceStartError, http_ready, start_process
from harness.services import start_pushgateway, start_redis


def test_redis_and_pushgateway_start_on_loopback_and_stop(tmp_path: Path):
    with start_redis(tmp_path) as rds, start_pushgateway(tmp_path) as gateway:
        assert rds.url.startswith("redis://127.0.0.1:")
        assert gateway.url.startswith("http://127.0.0.1:")
        with redis.Redis.from_url(rds.url) as client:
            assert client.ping()
        assert httpx.get(f"{gateway.url}/-/ready").status_code == 200
    assert not rds.alive()
    assert not gateway.alive()


def test_a_service_that_dies_at_start_up_raises_with_its_log(tmp_path: Path):
    argv = [sys.executable, "-c", "import sys; print('config is broken: no such key'); sys.exit(3)"]
    with pytest.raises(ServiceStartError) as err:
        start_process("broken", argv, "http://127.0.0.1:1", lambda: False, tmp_path / "b.log")
    assert "exited with code 3" in str(err.value)
    assert "config is broken: no such key" in str(err.value)


def test_a_service_that_never_gets_ready_is_stopped_and_reported(tmp_path: Path):
    argv = [
        sys.executable,
        "-c",
        "import time; print('listening soon', flush=True); time.sleep(60)",
    ]
    with pytest.raises(ServiceStartError) as err:
        start_process(
            "slow",
            argv,
            "http://127.0.0.1:1",
            http_ready("http://127.0.0.1:1/"),
            tmp_path / "s.log",
            timeout=0.5,
        )
    assert "not ready after" in str(err.value)
    assert "listening soon" in str(err.value)


def test_missing_binary_says_how_to_install(tmp_path: Path):
    with pytest.raises(ServiceStartError, match="make setup"):
        start_process("nope", ["/nonexistent/binary"], "x", lambda: True, tmp_path / "n.log")


def test_debian_chromium_is_chosen_when_playwright_has_none(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("E2E_CHROMIUM_PATH", raising=False)
    overrides = chromium.launch_overrides("/nonexistent/ms-playwright/chrome")
    assert overrides["executable_path"] == chromium.find_debian_chromium()
    assert "--disable-background-networking" in overrides["args"]
    assert overrides["env"]["HOME"] != str(Path.home())


def test_playwrights_own_chromium_wins_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("E2E_CHROMIUM_PATH", raising=False)
    own = tmp_path / "chrome"
    own.write_text("")
    assert chromium.launch_overrides(str(own)) == {}
    monkeypatch.setenv("E2E_CHROMIUM_PATH", "/opt/custom/chromium")
    assert chromium.launch_overrides(str(own))["executable_path"] == "/opt/custom/chromium"


CONFTEST = """
from harness.pytest_plugin import (endpoints, pytest_addoption, pytest_configure_node,
    pytest_sessionstart, pytest_unconfigure)
"""

PROBE_TEST = """
import json, os, pathlib
from harness.pytest_plugin import endpoints

def test_{n}(pytestconfig):
    ep = endpoints(pytestconfig)
    out = pathlib.Path(os.environ["PROBE_DIR"]) / "{n}.json"
    out.write_text(json.dumps({{"base_url": ep.base_url, "redis_url": ep.redis_url,
                              "worker": os.environ.get("PYTEST_XDIST_WORKER", "main")}}))
"""


def test_services_start_once_in_the_controller_and_workers_share_them(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(probe_dir))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**{f"test_p{n}": PROBE_TEST.format(n=n) for n in range(4)})
    result = pytester.runpytest_subprocess("-n", "2", "--no-metrics", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    seen = [json.loads(p.read_text()) for p in probe_dir.glob("*.json")]
    assert len({s["worker"] for s in seen}) == 2, seen
    assert len({s["base_url"] for s in seen}) == 1, seen
    base_url = seen[0]["base_url"]
    # The run is over: the console it started is gone.
    port = int(base_url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_given_urls_start_nothing(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    monkeypatch.setenv("PROBE_DIR", str(probe_dir))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_p0=PROBE_TEST.format(n=0))
    monkeypatch.setenv("E2E_REDIS_URL", "redis://127.0.0.1:1/0")
    result = pytester.runpytest_subprocess(
        "--base-url", "http://127.0.0.1:9/", "--no-metrics", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    seen = json.loads((probe_dir / "0.json").read_text())
    assert seen["base_url"] == "http://127.0.0.1:9/"
    assert seen["redis_url"] == "redis://127.0.0.1:1/0"
    assert "mcp-e2e started" not in result.stdout.str()


def test_a_bad_console_heartbeat_is_one_clear_usage_error(pytester: pytest.Pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_p0="def test_p0(): pass")
    for value in ("0", "abc", "-1", "inf"):
        result = pytester.runpytest_subprocess("--console-heartbeat", value, "--no-metrics")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        err = result.stderr.str()
        assert f"'{value}' is not a positive number of seconds" in err, err
        assert "_positive_seconds" not in err


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--base-url", "not-a-url"),
        ("--alertmanager-url", "ftp://127.0.0.1:9093"),
        ("--redis-url", "http://127.0.0.1:6379"),
    ],
)
def test_a_wrong_url_is_a_usage_error_before_anything_starts(
    pytester: pytest.Pytester, option: str, value: str
):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_p0="def test_p0(): pass")
    result = pytester.runpytest_subprocess(option, value, "--no-metrics")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{option}: {value!r} is not a" in result.stderr.str()
    assert "mcp-e2e started" not in result.stdout.str()


@pytest.mark.parametrize("workers", ["0", "2"])
def test_an_unreachable_console_stops_the_run_with_one_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: str
):
    # The suite's own base_url fixture, against a port where nothing listens.
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", str(repo))
    pytester.makeconftest((repo / "e2e" / "conftest.py").read_text())
    pytester.makepyfile(**{f"test_c{n}": f"def test_c{n}(base_url): pass" for n in range(6)})
    result = pytester.runpytest_subprocess(
        "--base-url", "http://127.0.0.1:1", "-n", workers, "--no-metrics", "-p", "no:randomly"
    )
    out = result.stdout.str()
    assert result.ret != 0
    outcomes = result.parseoutcomes()
    assert 1 <= outcomes.get("errors", outcomes.get("error", 0)) <= max(1, int(workers)), out
    assert "the console at http://127.0.0.1:1 does not answer" in out
    assert "During handling of the above exception" not in out


@pytest.mark.parametrize(("args", "env"), [(["--otlp-endpoint", "notaurl"], None), ([], "http://")])
def test_a_wrong_otlp_endpoint_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args, env
):
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", str(repo))
    if env is not None:
        monkeypatch.setenv("E2E_OTLP_ENDPOINT", env)
    pytester.makeconftest((repo / "e2e" / "conftest.py").read_text())
    pytester.makepyfile(test_p0="def test_p0(): pass")
    result = pytester.runpytest_subprocess(*args, "--no-metrics")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--otlp-endpoint:" in result.stderr.str()
    assert "is not a http or https URL" in result.stderr.str()
