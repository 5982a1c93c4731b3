"""The run as Prometheus metric families (exactly those in DESIGN.md), in a fresh registry.

Low cardinality by construction: label values are node ids, file paths, browser names,
outcome names and a few run facts; never durations, run ids or error texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from reporting.collector import OUTCOMES, RunResults
from reporting.observations import HISTOGRAMS, LATENCY_BUCKETS
from reporting.run_info import RunFacts

FAMILY_NAMES: tuple[str, ...] = (
    "e2e_tests",
    "e2e_test_passed",
    "e2e_test_duration_seconds",
    "e2e_test_flaky",
    "e2e_run_success",
    "e2e_run_duration_seconds",
    "e2e_run_timestamp_seconds",
    "e2e_last_success_timestamp_seconds",
    *HISTOGRAMS,
    "e2e_run_info",
)


class RunCollector(Collector):
    """Yields the run's families; the data is fixed, so every scrape is identical."""

    def __init__(self, results: RunResults, run: RunFacts) -> None:
        self._results = results
        self._run = run

    def collect(self) -> Iterator[Metric]:
        results, run = self._results, self._run
        tests = GaugeMetricFamily(
            "e2e_tests", "Test outcomes of the last run, as counted in pytest's summary line.",
            labels=["outcome"],
        )
        for outcome in OUTCOMES:
            tests.add_metric([outcome], results.counts.get(outcome, 0))
        yield tests

        ran = [test for test in results.tests if test.ran]
        passed = GaugeMetricFamily(
            "e2e_test_passed",
            "1 if the test passed (or xfailed/xpassed) in the last run, 0 if it failed or "
            "errored; skipped tests have no series.",
            labels=["test", "file", "browser"],
        )
        duration = GaugeMetricFamily(
            "e2e_test_duration_seconds",
            "Setup + call + teardown time of the test's final attempt in the last run.",
            labels=["test", "browser"],
        )
        flaky = GaugeMetricFamily(
            "e2e_test_flaky", "1 if the test passed only after a rerun in the last run, else 0.",
            labels=["test"],
        )
        for test in ran:
            passed.add_metric([test.nodeid, test.file, test.browser], 1 if test.passed else 0)
            duration.add_metric([test.nodeid, test.browser], round(test.duration, 6))
            flaky.add_metric([test.nodeid], 1 if test.flaky else 0)
        yield passed
        yield duration
        yield flaky

        yield _gauge("e2e_run_success", "1 if the last run's pytest exit status was 0, else 0.",
                     1 if run.succeeded else 0)
        yield _gauge("e2e_run_duration_seconds", "Wall time of the last run's pytest session.",
                     round(max(run.finished - run.started, 0.0), 3))
        yield _gauge("e2e_run_timestamp_seconds", "Unix time the last run finished.",
                     run.finished)
        last_success = GaugeMetricFamily(
            "e2e_last_success_timestamp_seconds",
            "Unix time of the last run that exited 0 (carried over through failed runs).",
        )
        if run.last_success is not None:
            last_success.add_metric([], run.last_success)
        yield last_success

        for spec in HISTOGRAMS.values():
            yield _histogram(spec.name, spec.help, spec.label, [
                (obs.label_value, obs.value) for obs in results.observations
                if obs.metric == spec.name
            ])

        info = GaugeMetricFamily(
            "e2e_run_info", "Always 1; the labels describe the last run.",
            labels=["version", "git_sha", "branch", "browser", "target"],
        )
        info.add_metric(
            [run.version, run.git_sha, run.branch, ",".join(results.browsers), run.target], 1
        )
        yield info


def build_registry(results: RunResults, run: RunFacts) -> CollectorRegistry:
    """A fresh registry holding only the run's families (nothing process-global)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RunCollector(results, run))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    """The text exposition format (what the file holds and what is pushed)."""
    return generate_latest(registry)


def count_series(registry: Any) -> int:
    """Number of samples (lines with a value) the registry exposes."""
    return sum(len(family.samples) for family in registry.collect())


def _gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, value=value)


def _histogram(
    name: str, help_text: str, label: str, observations: list[tuple[str, float]]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, help_text, labels=[label])
    by_label: dict[str, list[float]] = {}
    for label_value, value in observations:
        by_label.setdefault(label_value, []).append(value)
    for label_value in sorted(by_label):
        values = by_label[label_value]
        buckets = [
            (_le(bound), sum(1 for value in values if value <= bound)) for bound in LATENCY_BUCKETS
        ]
        buckets.append(("+Inf", len(values)))
        family.add_metric([label_value], buckets, sum_value=sum(values))
    return family


def _le(bound: float) -> str:
    return repr(float(bound))
