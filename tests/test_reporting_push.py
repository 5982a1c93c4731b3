"""The reporter against a real Pushgateway: what a run pushes equals what pytest reported."""

from __future__ import annotations

import sys

import pytest

from tests.reporting_samples.support import (
    add_samples,
    file_samples,
    gateway_groups,
    gateway_samples,
    isolated,
    put_count,
    reporter_lines,
    run,
    running_gateway,
    terminal_outcomes,
    value,
    values_of,
)

EXPECTED_OUTCOMES = {
    "passed": 7, "failed": 2, "error": 3, "skipped": 3, "xfailed": 1, "xpassed": 1, "rerun": 0,
}
EXPECTED_PASSED = {
    "test_outcomes.py::test_passes": 1,
    "test_outcomes.py::test_fails": 0,
    "test_outcomes.py::test_setup_error": 0,
    "test_outcomes.py::test_teardown_error": 0,
    "test_outcomes.py::test_xfail": 1,
    "test_outcomes.py::test_xpass": 1,
    "test_outcomes.py::test_param[1]": 1,
    "test_outcomes.py::test_param[2]": 1,
    "test_outcomes.py::test_param[3]": 0,
    "test_outcomes.py::test_engine[chromium]": 1,
    "test_outcomes.py::test_engine[webkit]": 1,
    "test_outcomes.py::test_records_browser": 1,
    "test_broken_import.py": 0,
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    yield from running_gateway(tmp_path_factory)


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_pushed_outcomes_equal_pytests_summary(suite, gateway, workers):
    add_samples(suite, "outcomes", "module_skipped", "broken_import")
    job = f"outcomes_n{workers}"
    puts_before = put_count(gateway.url)

    result = run(suite, "-n", workers, "--continue-on-collection-errors",
                 "--pushgateway-url", gateway.url, "--metrics-job", job)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    pushed = gateway_samples(gateway.url, job)
    counts = _outcome_counts(pushed)
    assert counts == terminal_outcomes(result) == EXPECTED_OUTCOMES

    passed = values_of(pushed, "e2e_test_passed", "test")
    assert passed == EXPECTED_PASSED
    assert value(pushed, "e2e_test_passed", test="test_outcomes.py::test_engine[webkit]",
                 file="test_outcomes.py", browser="webkit") == 1
    assert value(pushed, "e2e_test_passed", test="test_outcomes.py::test_records_browser",
                 file="test_outcomes.py", browser="firefox") == 1
    assert set(values_of(pushed, "e2e_test_duration_seconds", "test")) == set(EXPECTED_PASSED)
    assert set(values_of(pushed, "e2e_test_flaky", "test").values()) == {0}
    assert value(pushed, "e2e_run_success") == 0
    assert value(pushed, "e2e_last_success_timestamp_seconds") is None  # never succeeded

    # Observations travelled from the workers; the unknown name was ignored, with one warning.
    assert value(pushed, "e2e_ws_event_latency_seconds_count", event_type="alert.fired") == 2
    assert value(pushed, "e2e_ws_event_latency_seconds_bucket", event_type="alert.fired",
                 le="0.05") == 1
    assert value(pushed, "e2e_ws_event_latency_seconds_count", event_type="heartbeat") == 1
    assert value(pushed, "e2e_alert_ui_latency_seconds_sum", severity="critical") == 0.8
    ignored = [line for line in reporter_lines(result) if "ignored" in line]
    assert ignored == [
        "e2e metrics: ignored 2 observations for unknown or malformed metrics: "
        "e2e_not_a_known_metric"
    ]
    info = [dict(labels) for (name, labels) in pushed if name == "e2e_run_info"]
    assert len(info) == 1
    assert info[0]["browser"] == "chromium,firefox,webkit"
    assert info[0]["target"] == "embedded"

    # One PUT, one group (job + env + suite, no run id); the file holds exactly what was pushed.
    assert put_count(gateway.url) - puts_before == 1
    assert gateway_groups(gateway.url, job) == [{"job": job, "env": "local", "suite": "e2e"}]
    assert file_samples(suite.path / "reports" / "e2e-metrics.prom") == pushed
    last = reporter_lines(result)[-1]
    assert last == (f"e2e metrics: {_series(suite)} series → reports/e2e-metrics.prom; "
                    f"pushed to {gateway.url} (job={job} env=local suite=e2e)")


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_test_that_passes_on_rerun_is_flaky(suite, gateway, workers):
    add_samples(suite, "reruns")
    job = f"reruns_n{workers}"

    result = run(suite, "-n", workers, "--reruns", "1", "--pushgateway-url", gateway.url,
                 "--metrics-job", job)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    pushed = gateway_samples(gateway.url, job)
    counts = _outcome_counts(pushed)
    assert counts == terminal_outcomes(result)
    assert (counts["rerun"], counts["passed"], counts["failed"]) == (2, 2, 1)
    assert values_of(pushed, "e2e_test_flaky", "test") == {
        "test_reruns.py::test_flaky_once": 1,
        "test_reruns.py::test_always_fails": 0,
        "test_reruns.py::test_stable": 0,
    }
    assert values_of(pushed, "e2e_test_passed", "test") == {
        "test_reruns.py::test_flaky_once": 1,
        "test_reruns.py::test_always_fails": 0,
        "test_reruns.py::test_stable": 1,
    }


def test_last_success_survives_a_failing_run(suite, gateway):
    job = "last_success"
    add_samples(suite, "passing")
    passing = run(suite, "--pushgateway-url", gateway.url, "--metrics-job", job)
    assert passing.ret == pytest.ExitCode.OK
    first = gateway_samples(gateway.url, job)
    success_time = value(first, "e2e_last_success_timestamp_seconds")
    assert success_time == value(first, "e2e_run_timestamp_seconds")
    assert value(first, "e2e_run_success") == 1

    (suite.path / "test_passing.py").unlink()
    add_samples(suite, "failing")
    failing = run(suite, "--pushgateway-url", gateway.url, "--metrics-job", job)

    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    second = gateway_samples(gateway.url, job)
    assert value(second, "e2e_run_success") == 0
    assert value(second, "e2e_run_timestamp_seconds") > success_time
    assert value(second, "e2e_last_success_timestamp_seconds") == success_time
    assert file_samples(suite.path / "reports" / "e2e-metrics.prom") == second
    assert gateway_groups(gateway.url, job) == [{"job": job, "env": "local", "suite": "e2e"}]


def test_no_metrics_push_writes_the_file_only(suite, gateway):
    add_samples(suite, "passing")
    puts_before = put_count(gateway.url)

    result = run(suite, "--pushgateway-url", gateway.url, "--metrics-job", "never_pushed",
                 "--no-metrics-push", "--metrics-file", "out/run.prom")

    assert result.ret == pytest.ExitCode.OK
    assert put_count(gateway.url) == puts_before
    assert gateway_groups(gateway.url, "never_pushed") == []
    written = file_samples(suite.path / "out" / "run.prom")
    assert value(written, "e2e_tests", outcome="passed") == 2
    assert reporter_lines(result)[-1].endswith("→ out/run.prom; push disabled")


def test_no_metrics_turns_the_reporter_off(suite, gateway):
    add_samples(suite, "passing")
    puts_before = put_count(gateway.url)

    result = run(suite, "--pushgateway-url", gateway.url, "--no-metrics")

    assert result.ret == pytest.ExitCode.OK
    assert put_count(gateway.url) == puts_before
    assert not (suite.path / "reports").exists()
    assert reporter_lines(result) == []


def test_url_set_by_another_plugin_at_configure_is_used(suite, gateway):
    """The harness starts its own gateway and sets config.option.pushgateway_url."""
    add_samples(suite, "passing")
    suite.makeconftest(f"""
        def pytest_configure(config):
            if not config.option.pushgateway_url:
                config.option.pushgateway_url = {gateway.url!r}
    """)

    result = run(suite, "--metrics-job", "late_url", "--metrics-shard", "3")

    assert result.ret == pytest.ExitCode.OK
    assert gateway_groups(gateway.url, "late_url") == [
        {"job": "late_url", "env": "local", "suite": "e2e", "shard": "3"}
    ]
    result.stdout.fnmatch_lines([f"e2e metrics: writing reports/e2e-metrics.prom; pushing to "
                                 f"{gateway.url} (job=late_url env=local suite=e2e shard=3)"])


def test_secrets_reach_the_gateway_but_never_the_output(suite, gateway, monkeypatch):
    add_samples(suite, "passing")
    token, password = "tok-3f9a1c77e2", "pw-hunter2-91"
    monkeypatch.setenv("E2E_PUSHGATEWAY_TOKEN", token)
    url_with_password = gateway.url.replace("http://", f"http://ci:{password}@")

    result = run(suite, "--pushgateway-url", url_with_password, "--metrics-job", "secret",
                 "-v", "-rA")

    assert result.ret == pytest.ExitCode.OK
    output = "\n".join(result.outlines + result.errlines)
    assert token not in output
    assert password not in output
    assert "http://***@127.0.0.1:" in reporter_lines(result)[-1]
    assert gateway_groups(gateway.url, "secret") == [
        {"job": "secret", "env": "local", "suite": "e2e"}
    ]
    assert token not in (suite.path / "reports" / "e2e-metrics.prom").read_text()


def test_python_m_reporting_push_resends_a_saved_file(suite, gateway):
    add_samples(suite, "outcomes")
    saved = run(suite, "--pushgateway-url", gateway.url, "--no-metrics-push")
    path = suite.path / "reports" / "e2e-metrics.prom"

    resent = suite.run(sys.executable, "-m", "reporting", "push", str(path),
                       "--pushgateway-url", gateway.url, "--job", "resent", "--suite", "nightly",
                       timeout=60)

    assert saved.ret == pytest.ExitCode.TESTS_FAILED
    assert resent.ret == 0, resent.stderr.str()
    assert gateway_groups(gateway.url, "resent") == [
        {"job": "resent", "env": "local", "suite": "nightly"}
    ]
    assert gateway_samples(gateway.url, "resent") == file_samples(path)
    assert "pushed" in resent.stdout.str()


def test_python_m_reporting_push_fails_loudly(suite, tmp_path):
    path = tmp_path / "run.prom"
    path.write_text("e2e_run_success 1\n")
    dead = f"http://127.0.0.1:{_free_port()}"

    down = suite.run(sys.executable, "-m", "reporting", "push", str(path),
                     "--pushgateway-url", dead, "--retries", "0", timeout=60)
    missing = suite.run(sys.executable, "-m", "reporting", "push", str(tmp_path / "nope.prom"),
                        "--pushgateway-url", dead, timeout=60)
    bad_url = suite.run(sys.executable, "-m", "reporting", "push", str(path),
                        "--pushgateway-url", "gateway:9091", timeout=60)

    assert down.ret == 1
    down.stderr.fnmatch_lines([f"*push to {dead} failed after 1 attempt: connection refused*"])
    assert missing.ret == 2
    missing.stderr.fnmatch_lines(["*cannot read*nope.prom*"])
    assert bad_url.ret == 2
    bad_url.stderr.fnmatch_lines(["*is not a Pushgateway URL*"])


def _outcome_counts(samples: dict) -> dict[str, int]:
    counts = values_of(samples, "e2e_tests", "outcome")
    return {outcome: int(count) for outcome, count in counts.items()}


def _series(pytester: pytest.Pytester) -> int:
    text = (pytester.path / "reports" / "e2e-metrics.prom").read_text()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def _free_port() -> int:
    from harness.ports import free_port

    return free_port()
