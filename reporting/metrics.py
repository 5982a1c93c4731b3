"""The run as Prometheus metric families (those in DESIGN.md, plus `e2e_tests_dropped`).

Low cardinality by construction: label values are node ids, file paths, browser names,
outcome names and a few run facts; never durations, run ids or error texts. Every label value
goes through `reporting.label_values` (exact up to 200 characters, else a stable prefix + hash),
and per-test series exist for at most `--metrics-max-tests` tests (`reporting.cardinality`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from reporting.cardinality import KeptTests, select_tests
from reporting.collector import OUTCOMES, RunResults
from reporting.exposition import render
from reporting.gateway_state import FamilyDefinition
from reporting.label_values import LabelValues
from reporting.observations import HISTOGRAMS, LATENCY_BUCKETS
from reporting.run_info import RunFacts

LAST_SUCCESS = "e2e_last_success_timestamp_seconds"
RUN_TIMESTAMP = "e2e_run_timestamp_seconds"
__all__ = ["build_families", "count_series", "definitions", "render", "with_last_success"]

FAMILY_NAMES: tuple[str, ...] = (
    "e2e_tests",
    "e2e_test_passed",
    "e2e_test_duration_seconds",
    "e2e_test_flaky",
    "e2e_tests_dropped",
    "e2e_run_success",
    "e2e_run_duration_seconds",
    RUN_TIMESTAMP,
    LAST_SUCCESS,
    *HISTOGRAMS,
    "e2e_run_info",
)
LAST_SUCCESS_HELP = "Unix time of the last run that exited 0 (carried over through failed runs)."


def build_families(
    results: RunResults,
    run: RunFacts,
    kept: KeptTests | None = None,
    secrets: Iterable[str] = (),
) -> list[Metric]:
    """Every family of the run, in FAMILY_NAMES order; `kept` defaults to all tests."""
    kept = kept if kept is not None else select_tests(results.tests, 0)
    secrets = tuple(secrets)
    test_label, file_label = LabelValues(secrets), LabelValues(secrets)
    other_label = LabelValues(secrets)

    tests = GaugeMetricFamily(
        "e2e_tests", "Test outcomes of the last run, as counted in pytest's summary line.",
        labels=["outcome"],
    )
    for outcome in OUTCOMES:
        tests.add_metric([outcome], results.counts.get(outcome, 0))

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
    for test in kept.kept:
        name, browser = test_label(test.nodeid), other_label(test.browser)
        passed.add_metric([name, file_label(test.file), browser], 1 if test.passed else 0)
        duration.add_metric([name, browser], round(test.duration, 6))
        flaky.add_metric([name], 1 if test.flaky else 0)

    families: list[Metric] = [
        tests, passed, duration, flaky,
        _gauge("e2e_tests_dropped",
               "Tests of the last run whose per-test series were dropped by "
               "--metrics-max-tests (passed tests first).", kept.dropped),
        _gauge("e2e_run_success", "1 if the last run's pytest exit status was 0, else 0.",
               1 if run.succeeded else 0),
        _gauge("e2e_run_duration_seconds", "Wall time of the last run's pytest session.",
               round(max(run.finished - run.started, 0.0), 3)),
        _gauge(RUN_TIMESTAMP, "Unix time the last run finished.", run.finished),
        last_success_family(run.last_success),
    ]
    for spec in HISTOGRAMS.values():
        families.append(_histogram(spec.name, spec.help, spec.label, [
            (other_label(obs.label_value), obs.value) for obs in results.observations
            if obs.metric == spec.name
        ]))
    info = GaugeMetricFamily(
        "e2e_run_info", "Always 1; the labels describe the last run.",
        labels=["version", "git_sha", "branch", "browser", "target"],
    )
    info.add_metric([other_label(value) for value in (
        run.version, run.git_sha, run.branch, ",".join(results.browsers), run.target
    )], 1)
    families.append(info)
    return families


def last_success_family(value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(LAST_SUCCESS, LAST_SUCCESS_HELP)
    if value is not None:
        family.add_metric([], value)
    return family


def with_last_success(families: Sequence[Metric], value: float | None) -> list[Metric]:
    """`families` with `e2e_last_success_timestamp_seconds` set to `value` (None: no sample);
    the family is appended when `families` (e.g. a hand-made file) lacks it."""
    replaced = [last_success_family(value) if family.name == LAST_SUCCESS else family
                for family in families]
    if value is not None and all(family.name != LAST_SUCCESS for family in families):
        replaced.append(last_success_family(value))
    return replaced


def sample_value(families: Iterable[Metric], name: str) -> float | None:
    """The value of an unlabelled family's one sample, or None."""
    for family in families:
        if family.name == name:
            return family.samples[0].value if family.samples else None
    return None


def definitions(families: Iterable[Metric]) -> list[FamilyDefinition]:
    """Name, type and help as the gateway names them (untyped, counters with `_total`)."""
    found = []
    for family in families:
        name, kind = family.name, family.type
        if kind == "unknown":
            kind = "untyped"
        elif kind == "counter" and any(s.name == f"{name}_total" for s in family.samples):
            name = f"{name}_total"
        found.append(FamilyDefinition(name, kind, family.documentation))
    return found


def count_series(families: Iterable[Metric]) -> int:
    """Number of samples (lines with a value) the families expose."""
    return sum(len(family.samples) for family in families)


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
