"""The exactness matrix: for -n 0/1/2/4, with and without --reruns, what a run pushes to a real
Pushgateway equals pytest's own summary line, test by test.

One sample suite holds every case at once: passes, failures, setup and teardown errors,
xfail/xpass, skips at collection (a skipped module) and at run time (skip(), skipif), a module
that fails to import, tests parametrized by browser, latency observations, a test that fails once
and passes on its rerun, and one that always fails. -n 0 runs in this process; xdist runs need
a subprocess.
"""

from __future__ import annotations

import pytest

from tests.reporting_samples.support import (
    add_samples,
    file_samples,
    gateway_groups,
    gateway_samples,
    isolated,
    metrics_file,
    put_count,
    reporter_lines,
    run,
    run_inline,
    running_gateway,
    terminal_outcomes,
    value,
    values_of,
)

SAMPLES = ("outcomes", "module_skipped", "broken_import", "reruns")
EXPECTED_OUTCOMES = {
    # without --reruns test_flaky_once fails and test_flaky_setup_once errors; with --reruns 1
    # both pass on their rerun, and every failing or erroring test runs twice (pytest counts the
    # teardown-error test's call twice). A strict xfail that passes is a failure.
    0: {"passed": 8, "failed": 5, "error": 4, "skipped": 3, "xfailed": 1, "xpassed": 1,
        "rerun": 0},
    1: {"passed": 11, "failed": 4, "error": 3, "skipped": 3, "xfailed": 1, "xpassed": 1,
        "rerun": 8},
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
    "test_reruns.py::test_always_fails": 0,
    "test_reruns.py::test_stable": 1,
    "test_reruns.py::test_strict_xpass": 0,
}
FLAKY = ("test_reruns.py::test_flaky_once", "test_reruns.py::test_flaky_setup_once")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    yield from running_gateway(tmp_path_factory)


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


@pytest.mark.parametrize("reruns", [0, 1])
@pytest.mark.parametrize("workers", [0, 1, 2, 4])
def test_pushed_outcomes_equal_pytests_summary(suite, gateway, workers, reruns):
    add_samples(suite, *SAMPLES)
    job = f"exact_n{workers}_reruns{reruns}"
    args = ["--continue-on-collection-errors", "--pushgateway-url", gateway.url,
            "--metrics-job", job]
    if reruns:
        args += ["--reruns", str(reruns)]
    puts_before = put_count(gateway.url)

    # xdist needs a fresh interpreter; -n 0 runs in this process (much cheaper).
    result = run(suite, "-n", str(workers), *args) if workers else run_inline(suite, *args)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    pushed = gateway_samples(gateway.url, job)
    counts = {outcome: int(count) for outcome, count in
              values_of(pushed, "e2e_tests", "outcome").items()}
    assert counts == terminal_outcomes(result) == EXPECTED_OUTCOMES[reruns]

    flaky_passed = 1 if reruns else 0
    assert values_of(pushed, "e2e_test_passed", "test") == {
        **EXPECTED_PASSED, **dict.fromkeys(FLAKY, flaky_passed)}
    flaky = values_of(pushed, "e2e_test_flaky", "test")
    assert [flaky.pop(test) for test in FLAKY] == [flaky_passed] * len(FLAKY)
    assert set(flaky.values()) == {0}
    assert set(values_of(pushed, "e2e_test_duration_seconds", "test")) == {
        *EXPECTED_PASSED, *FLAKY}
    # Parametrized by browser, or recorded by the test: the browser label says which.
    assert value(pushed, "e2e_test_passed", test="test_outcomes.py::test_engine[webkit]",
                 file="test_outcomes.py", browser="webkit") == 1
    assert value(pushed, "e2e_test_passed", test="test_outcomes.py::test_records_browser",
                 file="test_outcomes.py", browser="firefox") == 1
    assert value(pushed, "e2e_run_success") == 0
    assert value(pushed, "e2e_last_success_timestamp_seconds") is None  # never succeeded
    assert value(pushed, "e2e_tests_dropped") == 0

    # Observations travelled from the workers; the unknown name was ignored, with one warning.
    assert value(pushed, "e2e_ws_event_latency_seconds_count", event_type="alert.fired") == 2
    assert value(pushed, "e2e_ws_event_latency_seconds_bucket", event_type="alert.fired",
                 le="0.05") == 1
    assert value(pushed, "e2e_alert_ui_latency_seconds_sum", severity="critical") == 0.8
    assert [line for line in reporter_lines(result) if "ignored" in line] == [
        f"e2e metrics: ignored {2 + reruns} observations for unknown or malformed metrics: "
        "e2e_not_a_known_metric"
    ]
    info = [dict(labels) for (name, labels) in pushed if name == "e2e_run_info"]
    assert [(entry["browser"], entry["target"]) for entry in info] == [
        ("chromium,firefox,webkit", "embedded")]

    # One PUT, one group (job + env + suite, no run id); the file holds exactly what was pushed.
    assert put_count(gateway.url) - puts_before == 1
    assert gateway_groups(gateway.url, job) == [{"job": job, "env": "local", "suite": "e2e"}]
    assert file_samples(metrics_file(suite)) == pushed
    assert reporter_lines(result)[-1] == (
        f"e2e metrics: {_series(suite)} series → reports/e2e-metrics.prom; "
        f"pushed to {gateway.url} (job={job} env=local suite=e2e)")


def _series(pytester: pytest.Pytester) -> int:
    text = metrics_file(pytester).read_text()
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))
