"""The reporter's settings (CLI > env > ini > default), usage errors, and the observe() helper."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import reporting
from reporting.collector import ResultCollector
from reporting.observations import OBSERVATION_PROPERTY
from tests.reporting_samples.support import isolated, run_inline


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


@pytest.mark.parametrize(("cli", "env", "ini", "expected"), [
    (None, None, None, "mcp_e2e"),
    (None, None, "ini_job", "ini_job"),
    (None, "env_job", "ini_job", "env_job"),
    ("cli_job", "env_job", "ini_job", "cli_job"),
    ("cli_job", None, "ini_job", "cli_job"),
])
def test_precedence_is_cli_then_env_then_ini_then_default(
    suite, monkeypatch, cli, env, ini, expected
):
    if env:
        monkeypatch.setenv("E2E_METRICS_JOB", env)
    if ini:
        suite.makeini(f"[pytest]\nmetrics_job = {ini}\n")
    args = ["--metrics-job", cli] if cli else []

    config = suite.parseconfigure(*args)

    assert config.option.metrics_job == expected


def test_defaults(suite):
    config = suite.parseconfigure()
    option = config.option
    assert option.pushgateway_url is None
    assert option.metrics_env == "local"
    assert option.metrics_suite == "e2e"
    assert option.metrics_shard is None
    assert Path(option.metrics_file) == suite.path / "reports" / "e2e-metrics.prom"
    assert option.metrics_push_timeout == 3.0
    assert option.metrics_push_retries == 2
    assert option.metrics_max_tests == 5000
    assert option.no_metrics_push is False
    assert option.no_metrics is False


def test_every_setting_has_cli_env_and_ini(suite, monkeypatch):
    suite.makeini("""
        [pytest]
        pushgateway_url = http://ini-gateway:9091
        metrics_env = ini_env
        metrics_suite = ini_suite
        metrics_shard = 1
        metrics_file = ini/metrics.prom
        metrics_push_timeout = 7
        metrics_push_retries = 4
        metrics_max_tests = 10
        no_metrics_push = false
    """)
    monkeypatch.setenv("E2E_PUSHGATEWAY_URL", "https://env-gateway/")
    monkeypatch.setenv("E2E_METRICS_SUITE", "env_suite")
    monkeypatch.setenv("E2E_METRICS_PUSH_RETRIES", "0")
    monkeypatch.setenv("E2E_NO_METRICS_PUSH", "1")

    config = suite.parseconfigure("--metrics-shard", "2", "--metrics-push-timeout", "0.5")

    option = config.option
    assert option.pushgateway_url == "https://env-gateway"
    assert (option.metrics_env, option.metrics_suite, option.metrics_shard) == (
        "ini_env", "env_suite", "2"
    )
    assert Path(option.metrics_file) == suite.path / "ini" / "metrics.prom"
    assert (option.metrics_push_timeout, option.metrics_push_retries) == (0.5, 0)
    assert option.metrics_max_tests == 10
    assert option.no_metrics_push is True


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--metrics-push-timeout", "soon"], {},
     "*--metrics-push-timeout: 'soon' is not a number of seconds*"),
    ([], {"E2E_METRICS_PUSH_TIMEOUT": "-1"},
     "*E2E_METRICS_PUSH_TIMEOUT: '-1' must be more than 0*"),
    (["--metrics-push-retries", "many"], {},
     "*--metrics-push-retries: 'many' is not a whole number of retries*"),
    (["--pushgateway-url", "pushgateway:9091"], {},
     "*--pushgateway-url: 'pushgateway:9091' is not a Pushgateway URL*"),
    ([], {"E2E_PUSHGATEWAY_URL": "ftp://u:pw@host"},
     "*E2E_PUSHGATEWAY_URL: 'ftp://***@host' is not a Pushgateway URL*"),
    ([], {"E2E_NO_METRICS_PUSH": "maybe"}, "*E2E_NO_METRICS_PUSH: 'maybe' is not a boolean*"),
    (["--metrics-max-tests", "-1"], {}, "*--metrics-max-tests: '-1' must be 0 (no limit) or more*"),
    ([], {"E2E_METRICS_MAX_TESTS": "lots"},
     "*E2E_METRICS_MAX_TESTS: 'lots' is not a whole number*"),
    ([], {"E2E_PUSHGATEWAY_CA_FILE": "/nonexistent/ca.pem"},
     "*E2E_PUSHGATEWAY_CA_FILE: '/nonexistent/ca.pem' is not a readable file*"),
    ([], {"E2E_PUSHGATEWAY_KEY_FILE": __file__},
     "*E2E_PUSHGATEWAY_KEY_FILE is set but E2E_PUSHGATEWAY_CERT_FILE is not*"),
])
def test_wrong_values_are_usage_errors(suite, monkeypatch, args, env, message):
    for name, val in env.items():
        monkeypatch.setenv(name, val)
    suite.makepyfile(test_one="def test_one():\n    pass\n")

    result = suite.runpytest(*args)  # in-process: configure fails before anything runs

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "pw" not in result.stderr.str()


def test_header_names_the_gateway_masked(suite):
    suite.makepyfile(test_one="def test_one():\n    pass\n")
    result = run_inline(
        suite, "--pushgateway-url", "http://user:pw-x@127.0.0.1:1/", "--no-metrics-push",
        "--collect-only",
    )
    result.stdout.fnmatch_lines([
        "e2e metrics: writing reports/e2e-metrics.prom; push disabled "
        "(job=mcp_e2e env=local suite=e2e)",
    ])
    assert "no tests ran" not in result.stdout.str()
    assert "pw-x" not in result.stdout.str()
    assert not (suite.path / "reports").exists()


def test_observe_appends_a_user_property():
    item = SimpleNamespace(user_properties=[])
    request = SimpleNamespace(node=item)  # what the `request` fixture looks like

    reporting.observe(request, "e2e_alert_ui_latency_seconds", 0.25, severity="warning")

    assert item.user_properties == [(OBSERVATION_PROPERTY, {
        "metric": "e2e_alert_ui_latency_seconds", "labels": {"severity": "warning"},
        "value": 0.25,
    })]


def test_observe_rejects_what_it_cannot_carry():
    item = SimpleNamespace(user_properties=[])
    session_request = SimpleNamespace(node=SimpleNamespace())  # a session-scoped fixture's
    with pytest.raises(TypeError, match="function-scoped `request`"):
        reporting.observe(session_request, "e2e_alert_ui_latency_seconds", 1.0, severity="x")
    with pytest.raises(ValueError, match="finite"):
        reporting.observe(item, "e2e_alert_ui_latency_seconds", float("nan"), severity="x")


def test_collector_takes_each_observation_once_across_phase_reports():
    entry = (OBSERVATION_PROPERTY, {"metric": "e2e_ws_event_latency_seconds",
                                    "labels": {"event_type": "hello"}, "value": 0.1})
    wrong_labels = (OBSERVATION_PROPERTY, {"metric": "e2e_ws_event_latency_seconds",
                                           "labels": {"severity": "x"}, "value": 0.1})
    collector = ResultCollector()
    for when, properties in [("setup", []), ("call", [entry]), ("teardown", [entry, wrong_labels])]:
        collector.add_test_report(_Report("t.py::test_x", when, properties), "")

    results = collector.results()
    assert [(obs.metric, obs.label_value) for obs in results.observations] == [
        ("e2e_ws_event_latency_seconds", "hello")
    ]
    assert sum(results.ignored_observations.values()) == 1


class _Report:
    outcome = "passed"
    duration = 0.01

    def __init__(self, nodeid: str, when: str, user_properties: list) -> None:
        self.nodeid, self.when, self.user_properties = nodeid, when, user_properties
