"""The reporter against a real Pushgateway: last success carried over, the consistency check,
re-sending saved and spooled files, the cardinality guard, and turning things off."""

from __future__ import annotations

import shutil
import sys

import httpx
import pytest

from harness.ports import free_port
from reporting.__main__ import main as reporting_main
from tests.reporting_samples.support import (
    add_samples,
    file_samples,
    gateway_groups,
    gateway_samples,
    isolated,
    metrics_file,
    push_warnings,
    put_count,
    reporter_lines,
    run,
    run_inline,
    running_gateway,
    spooled_files,
    value,
    values_of,
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    yield from running_gateway(tmp_path_factory)


@pytest.fixture
def suite(pytester, monkeypatch):
    return isolated(pytester, monkeypatch)


def test_last_success_survives_a_failing_run_under_xdist(suite, gateway):
    job = "last_success_xdist"
    add_samples(suite, "passing")
    args = ["-n", "2", "--pushgateway-url", gateway.url, "--metrics-job", job]
    assert run(suite, *args).ret == pytest.ExitCode.OK
    success_time = value(gateway_samples(gateway.url, job), "e2e_last_success_timestamp_seconds")
    assert success_time is not None

    (suite.path / "test_passing.py").unlink()
    add_samples(suite, "failing")
    assert run(suite, *args).ret == pytest.ExitCode.TESTS_FAILED
    after = gateway_samples(gateway.url, job)
    assert value(after, "e2e_run_success") == 0
    assert value(after, "e2e_run_timestamp_seconds") > success_time
    assert value(after, "e2e_last_success_timestamp_seconds") == success_time


def test_last_success_survives_failing_runs_pushed_late_or_resent(suite, gateway, tmp_path):
    job = "last_success"
    add_samples(suite, "passing")
    passing = run_inline(suite, "--pushgateway-url", gateway.url, "--metrics-job", job)
    assert passing.ret == pytest.ExitCode.OK
    first = gateway_samples(gateway.url, job)
    success_time = value(first, "e2e_last_success_timestamp_seconds")
    assert success_time == value(first, "e2e_run_timestamp_seconds")
    assert value(first, "e2e_run_success") == 1
    saved_passing = shutil.copy(metrics_file(suite), tmp_path / "passing.prom")

    # A failing run pushed directly: its PUT carries the last success over.
    (suite.path / "test_passing.py").unlink()
    add_samples(suite, "failing")
    failing = run_inline(suite, "--pushgateway-url", gateway.url, "--metrics-job", job)
    assert failing.ret == pytest.ExitCode.TESTS_FAILED
    second = gateway_samples(gateway.url, job)
    assert value(second, "e2e_run_success") == 0
    assert value(second, "e2e_run_timestamp_seconds") > success_time
    assert value(second, "e2e_last_success_timestamp_seconds") == success_time
    assert file_samples(metrics_file(suite)) == second

    # A failing run while the gateway is down: spooled without a last success (unknown) ...
    dead = f"http://127.0.0.1:{free_port()}"
    down = run_inline(suite, "--pushgateway-url", dead, "--metrics-job", job,
                      "--metrics-push-retries", "0")
    assert down.ret == pytest.ExitCode.TESTS_FAILED
    [spooled] = spooled_files(suite)
    assert value(file_samples(spooled), "e2e_last_success_timestamp_seconds") is None

    # ... re-sent later by `python -m reporting push` (a real subprocess, to its own group):
    resent = suite.run(sys.executable, "-m", "reporting", "push", str(spooled),
                       "--pushgateway-url", gateway.url, "--delete-sent", timeout=60)
    assert resent.ret == 0, resent.stderr.str()
    assert "pushed" in resent.stdout.str()
    third = gateway_samples(gateway.url, job)
    assert value(third, "e2e_last_success_timestamp_seconds") == success_time
    assert value(third, "e2e_run_timestamp_seconds") > value(second, "e2e_run_timestamp_seconds")
    assert not spooled.exists()
    assert gateway_groups(gateway.url, job) == [{"job": job, "env": "local", "suite": "e2e"}]

    # An older file does not overwrite a newer run, unless forced.
    refused = reporting_main(["push", str(saved_passing), "--pushgateway-url", gateway.url])
    assert refused == 1
    assert value(gateway_samples(gateway.url, job), "e2e_run_success") == 0
    forced = reporting_main(["push", str(saved_passing), "--pushgateway-url", gateway.url,
                             "--force"])
    assert forced == 0
    assert value(gateway_samples(gateway.url, job), "e2e_run_success") == 1


@pytest.fixture
def own_gateway(tmp_path_factory):
    """A gateway of its own: the gateway checks types across all jobs, so none may hold ours."""
    yield from running_gateway(tmp_path_factory)


def test_a_family_that_disagrees_with_another_group_is_not_pushed(suite, own_gateway, capsys):
    gateway = own_gateway
    job = "consistency"
    old_definitions = (
        "# TYPE e2e_tests counter\n# HELP e2e_tests Old outcomes.\ne2e_tests{outcome=\"x\"} 3\n"
        "# TYPE e2e_run_success gauge\n# HELP e2e_run_success An older help text.\n"
        "e2e_run_success 1\n"
    )
    for env in ("other", "local"):  # our own group's old definitions do not matter: PUT
        httpx.put(f"{gateway.url}/metrics/job/{job}/env/{env}/suite/e2e",
                  content=old_definitions, timeout=5).raise_for_status()
    add_samples(suite, "failing")
    puts_before = put_count(gateway.url)

    result = run_inline(suite, "--pushgateway-url", gateway.url, "--metrics-job", job)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert push_warnings(result) == [
        f"e2e metrics: not pushed to {gateway.url}: families disagree with the gateway: "
        f"e2e_tests is a gauge here but a counter in group job={job} env=other suite=e2e; "
        f"e2e_run_success help differs from group job={job} env=other suite=e2e: here "
        "\"1 if the last run's pytest exit status was 0, else 0.\", there "
        "'An older help text.' (delete or prune that group, or keep the old definition)"
    ]
    assert put_count(gateway.url) == puts_before
    assert value(gateway_samples(gateway.url, job), "e2e_tests_total", outcome="x") == 3
    [spooled] = spooled_files(suite)
    assert file_samples(spooled) == file_samples(metrics_file(suite))

    # Once the old group is gone, the spooled run goes out as it is.
    httpx.delete(f"{gateway.url}/metrics/job/{job}/env/other/suite/e2e",
                 timeout=5).raise_for_status()
    assert reporting_main(["push", str(spooled), "--pushgateway-url", gateway.url]) == 0
    assert gateway_groups(gateway.url, job) == [{"job": job, "env": "local", "suite": "e2e"}]
    assert gateway_samples(gateway.url, job) == file_samples(spooled)
    assert f"series from {spooled} to {gateway.url}" in capsys.readouterr().out


def test_max_tests_keeps_failing_tests_and_counts_the_dropped(suite, monkeypatch):
    suite.makepyfile(test_many="""
        import pytest

        @pytest.mark.parametrize("i", range(12))
        def test_pass(i):
            pass

        @pytest.mark.parametrize("i", range(3))
        def test_fail(i):
            assert False
    """)
    kept_by_limit = {}
    for limit, via_env in (("5", False), ("2", True), ("0", False)):
        if via_env:
            monkeypatch.setenv("E2E_METRICS_MAX_TESTS", limit)
            result = run_inline(suite)
        else:
            result = run_inline(suite, "--metrics-max-tests", limit)
        monkeypatch.delenv("E2E_METRICS_MAX_TESTS", raising=False)
        assert result.ret == pytest.ExitCode.TESTS_FAILED
        written = file_samples(metrics_file(suite))
        assert values_of(written, "e2e_tests", "outcome")["passed"] == 12  # counts stay whole
        passed = values_of(written, "e2e_test_passed", "test")
        assert set(values_of(written, "e2e_test_flaky", "test")) == set(passed)
        kept_by_limit[limit] = (passed, value(written, "e2e_tests_dropped"),
                                [line for line in reporter_lines(result) if "max-tests" in line])

    fails = {f"test_many.py::test_fail[{i}]": 0 for i in range(3)}
    assert kept_by_limit["5"] == (
        {**fails, "test_many.py::test_pass[0]": 1, "test_many.py::test_pass[10]": 1}, 10,
        ["e2e metrics: 15 tests ran, more than --metrics-max-tests 5: per-test series dropped "
         "for 10 tests (10 passed); e2e_tests_dropped=10"])
    assert kept_by_limit["2"] == (
        {"test_many.py::test_fail[0]": 0, "test_many.py::test_fail[1]": 0}, 13,
        ["e2e metrics: 15 tests ran, more than --metrics-max-tests 2: per-test series dropped "
         "for 13 tests (12 passed, 1 failing); e2e_tests_dropped=13"])
    passed, dropped, warning = kept_by_limit["0"]
    assert (len(passed), dropped, warning) == (15, 0, [])


def test_no_metrics_push_writes_the_file_only(suite, gateway):
    add_samples(suite, "passing")
    puts_before = put_count(gateway.url)

    result = run_inline(suite, "--pushgateway-url", gateway.url, "--metrics-job", "never_pushed",
                        "--no-metrics-push", "--metrics-file", "out/run.prom")

    assert result.ret == pytest.ExitCode.OK
    assert put_count(gateway.url) == puts_before
    assert gateway_groups(gateway.url, "never_pushed") == []
    written = file_samples(suite.path / "out" / "run.prom")
    assert value(written, "e2e_tests", outcome="passed") == 2
    assert reporter_lines(result)[-1].endswith("→ out/run.prom; push disabled")
    first_line = (suite.path / "out" / "run.prom").read_text().splitlines()[0]
    assert first_line == (
        '# e2e-group {"job": "never_pushed", "env": "local", "suite": "e2e"}')


def test_no_metrics_turns_the_reporter_off(suite, gateway):
    add_samples(suite, "passing")
    puts_before = put_count(gateway.url)

    result = run_inline(suite, "--pushgateway-url", gateway.url, "--no-metrics")

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

    result = run_inline(suite, "--metrics-job", "late_url", "--metrics-shard", "3")

    assert result.ret == pytest.ExitCode.OK
    assert gateway_groups(gateway.url, "late_url") == [
        {"job": "late_url", "env": "local", "suite": "e2e", "shard": "3"}
    ]
    result.stdout.fnmatch_lines([f"e2e metrics: writing reports/e2e-metrics.prom; pushing to "
                                 f"{gateway.url} (job=late_url env=local suite=e2e shard=3)"])


def test_python_m_reporting_push_fails_loudly(tmp_path, capsys):
    path = tmp_path / "run.prom"
    path.write_text("e2e_run_success 1\n")
    dead = f"http://127.0.0.1:{free_port()}"

    down = reporting_main(["push", str(path), "--pushgateway-url", dead, "--retries", "0"])
    down_err = capsys.readouterr().err
    missing = reporting_main(["push", str(tmp_path / "nope.prom"), "--pushgateway-url", dead])
    missing_err = capsys.readouterr().err
    bad_url = reporting_main(["push", str(path), "--pushgateway-url", "gateway:9091"])
    bad_url_err = capsys.readouterr().err

    assert down == 1
    assert f"push to {dead} failed after 1 attempt: connection refused" in down_err
    assert missing == 2
    assert "cannot read" in missing_err
    assert "nope.prom" in missing_err
    assert bad_url == 2
    assert "is not a Pushgateway URL" in bad_url_err


def test_a_metrics_file_that_cannot_be_written_says_so_and_leaves_nothing(suite, gateway):
    add_samples(suite, "passing")
    folder = suite.path / "a-folder"
    folder.mkdir()
    result = run_inline(suite, "--pushgateway-url", gateway.url, "--metrics-file", str(folder))
    assert result.ret == pytest.ExitCode.OK  # the tests passed; the file is not theirs
    assert any("cannot write" in line for line in reporter_lines(result)), reporter_lines(result)
    assert "NOT WRITTEN" in reporter_lines(result)[-1]
    assert sorted(p.name for p in suite.path.iterdir() if p.name.endswith(".tmp")) == []
    assert list(folder.iterdir()) == []
