"""Helpers for the reporter's self-tests: a real Pushgateway, sample suites, runs, parsed metrics.

Misbehaving gateways are in `fake_gateways.py`, the TLS + basic-auth gateway in `tls_gateway.py`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.process import Service
from harness.services import start_pushgateway

SAMPLES = Path(__file__).parent
PROJECT_ROOT = SAMPLES.parents[1]
GROUPING_LABELS = frozenset({"job", "env", "suite", "shard", "instance"})
GATEWAY_OWN = frozenset({"push_time_seconds", "push_failure_time_seconds"})
OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "rerun")

SampleKey = tuple[str, frozenset[tuple[str, str]]]


def running_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """For a fixture: a real prometheus-pushgateway on a free loopback port, then stopped."""
    service = start_pushgateway(tmp_path_factory.mktemp("pushgateway"))
    yield service
    service.stop()


def isolated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """For a fixture: pytester whose runs see none of the caller's E2E_* settings."""
    for name in list(os.environ):
        if name.startswith("E2E_") or name in ("GITHUB_SHA", "GITHUB_REF_NAME"):
            monkeypatch.delenv(name)
    # Like pyproject's `pythonpath = ["."]`: the project's packages come from the checkout.
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))
    return pytester


def add_samples(pytester: pytest.Pytester, *names: str) -> None:
    """Copy tests/reporting_samples/sample_<name>.py into the run as test_<name>.py."""
    pytester.makepyfile(**{
        f"test_{name}": (SAMPLES / f"sample_{name}.py").read_text() for name in names
    })


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A pytest run in a subprocess: for xdist (-n) runs, which need a fresh interpreter."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=90)


def run_inline(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A pytest run in this process (much cheaper); `result.reprec` has every report.

    pytest-playwright is left out: its per-test soft-assertion scope cannot nest in the
    outer test's own."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:playwright", *args)


def metrics_file(pytester: pytest.Pytester) -> Path:
    return pytester.path / "reports" / "e2e-metrics.prom"


def spooled_files(pytester: pytest.Pytester) -> list[Path]:
    return sorted((pytester.path / "reports" / "spool").glob("*.prom"))


def all_output(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def reporter_lines(result: pytest.RunResult) -> list[str]:
    """Every line the reporter printed (they all start with `e2e metrics:`)."""
    return [line for line in result.outlines + result.errlines
            if line.startswith("e2e metrics:")]


def push_warnings(result: pytest.RunResult) -> list[str]:
    """The lines saying a push failed or was not made (not the spool hint, not the summary)."""
    return [line for line in reporter_lines(result)
            if line.startswith(("e2e metrics: push to ", "e2e metrics: not pushed to "))]


def terminal_outcomes(result: pytest.RunResult) -> dict[str, int]:
    """pytest's own summary line, in the reporter's outcome names (0 where absent)."""
    parsed = result.parseoutcomes()
    renamed = {("error" if key == "errors" else key): count for key, count in parsed.items()}
    return {outcome: renamed.get(outcome, 0) for outcome in OUTCOMES}


def parse_samples(text: str, job: str | None = None) -> dict[SampleKey, float]:
    """Samples by (name, labels); grouping labels, empty labels and gateway metrics dropped."""
    samples: dict[SampleKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in GATEWAY_OWN:
                continue
            if job is not None and sample.labels.get("job") != job:
                continue
            labels = frozenset(
                (name, str(float(value)) if name == "le" else value)
                for name, value in sample.labels.items()
                if value != "" and name not in GROUPING_LABELS
            )
            samples[(sample.name, labels)] = sample.value
    return samples


def gateway_samples(url: str, job: str) -> dict[SampleKey, float]:
    return parse_samples(httpx.get(f"{url}/metrics", timeout=5).text, job=job)


def file_samples(path: Path) -> dict[SampleKey, float]:
    return parse_samples(path.read_text())


def value(samples: dict[SampleKey, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def values_of(samples: dict[SampleKey, float], name: str, label: str) -> dict[str, float]:
    """{label value: sample value} of one metric."""
    return {dict(key)[label]: val for (metric, key), val in samples.items() if metric == name}


def gateway_groups(url: str, job: str) -> list[dict[str, str]]:
    """Grouping labels of every group the gateway holds for `job`."""
    data = httpx.get(f"{url}/api/v1/metrics", timeout=5).json()["data"]
    return [group["labels"] for group in data if group["labels"].get("job") == job]


def put_count(url: str) -> float:
    """PUT requests the gateway has handled so far (its own counter)."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "pushgateway_http_requests"
        for sample in family.samples
        if sample.labels.get("handler") == "push" and sample.labels.get("method") == "put"
    )


def gateway_data(url: str) -> list[dict[str, Any]]:
    """The gateway's /api/v1/metrics `data`: one entry per group, label values as stored."""
    return httpx.get(f"{url}/api/v1/metrics", timeout=10).json()["data"]


def group_series(url: str, labels: dict[str, str], family: str) -> list[dict[str, str]]:
    """Label sets of one family's series in one group, grouping labels removed."""
    for group in gateway_data(url):
        if group["labels"] == labels:
            return [
                {name: val for name, val in metric["labels"].items()
                 if name not in GROUPING_LABELS and name not in labels}
                for metric in group.get(family, {}).get("metrics", [])
            ]
    return []
