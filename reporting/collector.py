"""Accumulates a run's results from its reports, in the process that sees all of them.

That is the xdist controller (xdist replays every worker report into the controller's
`pytest_runtest_logreport` / `pytest_collectreport`) or the single pytest process; never an
xdist worker. Outcome counts follow the terminal summary exactly: the category comes from
`pytest_report_teststatus`, as the terminal reporter gets it, and `count_towards_summary` is
honoured.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reporting.observations import BROWSER_PROPERTY, HISTOGRAMS, OBSERVATION_PROPERTY

OUTCOMES: tuple[str, ...] = (
    "passed", "failed", "error", "skipped", "xfailed", "xpassed", "rerun",
)
"""Every value of the `outcome` label of `e2e_tests`, in the terminal summary's words."""

PASSING_OUTCOMES = frozenset({"passed", "xfailed", "xpassed"})
KNOWN_BROWSERS = ("chromium", "firefox", "webkit")
_PARAM_ID = re.compile(r"\[(.*)\]$")


@dataclass
class CaseResult:
    """One test (by node id): how its final attempt ended, and what it took."""

    nodeid: str
    browser: str = ""
    outcome: str = ""
    duration: float = 0.0
    reran: bool = False
    _phases: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def file(self) -> str:
        return self.nodeid.split("::", 1)[0]

    @property
    def ran(self) -> bool:
        """Did it run (rather than being skipped)?"""
        return self.outcome not in ("", "skipped")

    @property
    def passed(self) -> bool:
        return self.outcome in PASSING_OUTCOMES

    @property
    def flaky(self) -> bool:
        """Passed only after at least one rerun."""
        return self.reran and self.outcome == "passed"


@dataclass(frozen=True)
class Observation:
    """One latency measurement for a known histogram."""

    metric: str
    label_value: str
    value: float


@dataclass
class RunResults:
    """Everything the metrics are built from."""

    counts: dict[str, int]
    tests: list[CaseResult]
    observations: list[Observation]
    ignored_observations: dict[str, int]

    @property
    def browsers(self) -> list[str]:
        return sorted({test.browser for test in self.tests if test.browser})


class ResultCollector:
    """Feed it every test and collection report; read `results()` at session end."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        self._tests: dict[str, CaseResult] = {}
        self._observations: list[Observation] = []
        self._ignored: Counter[str] = Counter()
        self._observations_taken: dict[str, int] = {}
        self.reports_seen = 0

    def add_test_report(self, report: Any, category: str) -> None:
        """A `pytest_runtest_logreport` report and its terminal-summary category.

        Called for every report of the run (three per test), so it does as little as it can:
        the final outcome is worked out once, in `results()`.
        """
        self.reports_seen += 1
        if category in self._counts and getattr(report, "count_towards_summary", True):
            self._counts[category] += 1
        nodeid = report.nodeid
        test = self._tests.get(nodeid)
        if test is None:
            test = self._tests[nodeid] = CaseResult(nodeid=nodeid,
                                                    browser=_browser_in_nodeid(nodeid))
        when = getattr(report, "when", "call")
        phases = test._phases
        if when == "setup" and phases:  # a new attempt (pytest-rerunfailures)
            phases.clear()
            test.duration = 0.0
        if category == "rerun":
            test.reran = True
        phases[when] = category
        test.duration += float(getattr(report, "duration", 0.0) or 0.0)
        properties = getattr(report, "user_properties", None)
        if properties:
            properties = list(properties)
            browser = _browser_in_properties(properties)
            if browser:
                test.browser = browser
            self._take_observations(nodeid, properties)
        elif self._observations_taken.get(nodeid):
            self._observations_taken[nodeid] = 0

    def add_collect_report(self, report: Any) -> None:
        """A `pytest_collectreport` report; counted exactly like the terminal reporter does."""
        if report.failed:
            category = "error"
        elif report.skipped:
            category = "skipped"
        else:
            return
        self.reports_seen += 1
        if getattr(report, "count_towards_summary", True):
            self._counts[category] += 1
        if category == "error":
            nodeid = report.nodeid or "<collection>"
            self._tests.setdefault(nodeid, CaseResult(nodeid=nodeid, outcome="error"))

    def results(self) -> RunResults:
        for test in self._tests.values():
            if test._phases:
                test.outcome = _final_outcome(test._phases)
        return RunResults(
            counts={outcome: self._counts[outcome] for outcome in OUTCOMES},
            tests=sorted(self._tests.values(), key=lambda test: test.nodeid),
            observations=list(self._observations),
            ignored_observations=dict(self._ignored),
        )

    def _take_observations(self, nodeid: str, properties: list[Any]) -> None:
        # user_properties is copied into each phase report and only grows within one item,
        # so each report repeats the previous ones' entries: take only the new tail.
        entries = [value for name, value in _pairs(properties) if name == OBSERVATION_PROPERTY]
        taken = self._observations_taken.get(nodeid, 0)
        if len(entries) < taken:
            taken = 0
        self._observations_taken[nodeid] = len(entries)
        for entry in entries[taken:]:
            observation, problem = _parse_observation(entry)
            if observation is not None:
                self._observations.append(observation)
            else:
                self._ignored[problem] += 1


def _final_outcome(phases: dict[str, str]) -> str:
    categories = phases.values()
    for decisive in ("error", "failed"):
        if decisive in categories:
            return decisive
    for when in ("call", "setup", "???"):
        category = phases.get(when)
        if category:
            return category
    return ""


def _pairs(properties: Iterable[Any]) -> Iterable[tuple[Any, Any]]:
    for entry in properties:
        if isinstance(entry, (tuple, list)) and len(entry) == 2:
            yield entry[0], entry[1]


def _browser_in_properties(properties: list[Any]) -> str:
    for name, value in _pairs(properties):
        if name == BROWSER_PROPERTY and value:
            return str(value)
    return ""


def _browser_in_nodeid(nodeid: str) -> str:
    if not nodeid.endswith("]"):
        return ""
    match = _PARAM_ID.search(nodeid)
    if match:
        for part in match.group(1).split("-"):
            if part in KNOWN_BROWSERS:
                return part
    return ""


def _parse_observation(entry: Any) -> tuple[Observation | None, str]:
    """The observation, or None and the reason it is ignored (an unknown metric's name)."""
    if not isinstance(entry, dict):
        return None, "(malformed entry)"
    metric = entry.get("metric")
    spec = HISTOGRAMS.get(metric) if isinstance(metric, str) else None
    if spec is None:
        return None, str(metric)
    labels = entry.get("labels")
    if not isinstance(labels, dict) or set(labels) != {spec.label}:
        return None, f"{metric} (labels must be exactly {{{spec.label}}})"
    try:
        value = float(entry.get("value"))
    except (TypeError, ValueError):
        return None, f"{metric} (value is not a number)"
    if not math.isfinite(value):
        return None, f"{metric} (value is not finite)"
    return Observation(metric=metric, label_value=str(labels[spec.label]), value=value), ""
