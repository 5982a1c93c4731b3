"""The cardinality guard: at most `max_tests` tests get per-test series.

Beyond the limit, tests are kept in this order and the rest dropped: failed and errored tests
first, then flaky ones (passed after a rerun), then the other tests that ran (passed, xfailed,
xpassed); within each, by node id. So passed tests are dropped first, failing ones only when
they alone exceed the limit. Skipped tests never have per-test series. `0` means no limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reporting.collector import CaseResult


@dataclass(frozen=True)
class KeptTests:
    """The tests that get per-test series, and how many that ran did not."""

    kept: list[CaseResult]
    dropped_passing: int = 0
    dropped_failing: int = 0
    limit: int = 0

    @property
    def dropped(self) -> int:
        return self.dropped_passing + self.dropped_failing


def select_tests(tests: Iterable[CaseResult], max_tests: int) -> KeptTests:
    """The ran tests, cut to `max_tests` (0: all) by the order in the module docstring."""
    ran = [test for test in tests if test.ran]
    if max_tests <= 0 or len(ran) <= max_tests:
        return KeptTests(kept=ran, limit=max_tests)
    ordered = sorted(ran, key=lambda test: (_rank(test), test.nodeid))
    kept, dropped = ordered[:max_tests], ordered[max_tests:]
    failing = sum(1 for test in dropped if not test.passed)
    return KeptTests(
        kept=sorted(kept, key=lambda test: test.nodeid),
        dropped_passing=len(dropped) - failing,
        dropped_failing=failing,
        limit=max_tests,
    )


def _rank(test: CaseResult) -> int:
    if not test.passed:
        return 0
    return 1 if test.flaky else 2
