"""The real suite, a slice of it under xdist, publishes one group to a real Pushgateway whose
numbers equal pytest's summary and the metrics file, latency histograms included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.process import Service
from tests.reporting_samples.support import (
    PROJECT_ROOT,
    file_samples,
    gateway_groups,
    gateway_samples,
    isolated,
    run,
    terminal_outcomes,
    value,
    values_of,
)
from tests.support.otlp_receiver import OtlpReceiver

JOB = "e2e_selftest"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    from tests.reporting_samples.support import running_gateway

    yield from running_gateway(tmp_path_factory)


def test_an_e2e_run_under_xdist_pushes_one_group_equal_to_its_summary(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, gateway: Service
):
    isolated(pytester, monkeypatch)
    receiver = OtlpReceiver()
    metrics_file = pytester.path / "e2e.prom"
    result = run(
        pytester,
        str(PROJECT_ROOT / "e2e"),
        f"--rootdir={PROJECT_ROOT}",
        "-n",
        "2",
        "-k",
        "renders_the_hello_snapshot or badge_says_live",
        "--pushgateway-url",
        gateway.url,
        "--metrics-job",
        JOB,
        "--metrics-file",
        str(metrics_file),
        "--otlp-endpoint",
        receiver.url,
    )
    outcomes = terminal_outcomes(result)
    assert outcomes["passed"] == 3, result.outlines[-20:]
    assert gateway_groups(gateway.url, JOB) == [{"job": JOB, "env": "local", "suite": "e2e"}]
    pushed = gateway_samples(gateway.url, JOB)
    assert values_of(pushed, "e2e_tests", "outcome") == {k: float(v) for k, v in outcomes.items()}
    assert pushed == file_samples(metrics_file)
    assert value(pushed, "e2e_run_success") == 1.0
    # Test-side measurements travelled from the workers to the controller's push.
    latency_counts = values_of(pushed, "e2e_ws_event_latency_seconds_count", "event_type")
    assert latency_counts.get("hello", 0) >= 3, latency_counts
    assert any(line.startswith("e2e metrics:") for line in result.outlines[-3:])
    # And each observed event went to the OTLP receiver as a child of the server's span.
    expected_spans = int(sum(latency_counts.values()))
    spans = receiver.wait_for_spans(expected_spans)
    receiver.close()
    assert len(spans) == expected_spans
    assert all(s.name.startswith("ws.event ") and s.parent_span_id for s in spans)
