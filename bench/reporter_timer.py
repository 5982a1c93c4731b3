"""A pytest plugin for `bench.reporter_push`: the reporter's own time inside a real run.

    pytest -p bench.reporter_timer ...   (env REPORTER_TIMER_FILE=<path> gets the JSON result)

Wraps the reporter's per-report hooks and its session-end publication and adds up their wall
time, so the cost of the reporter is measured inside the run rather than as the difference of
two noisy whole-run timings.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from reporting import plugin as reporter

_spent = {"per_report": 0.0, "session_end": 0.0, "reports": 0}


def _timed(method: Callable[..., Any], key: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            _spent[key] += time.perf_counter() - started
            if key == "per_report":
                _spent["reports"] += 1

    return wrapper  # functools.wraps keeps pytest's hookimpl marker (e.g. trylast)


for _name, _key in (("pytest_runtest_logreport", "per_report"),
                    ("pytest_collectreport", "per_report"),
                    ("pytest_sessionfinish", "session_end")):
    setattr(reporter.RunReporter, _name, _timed(getattr(reporter.RunReporter, _name), _key))


def pytest_unconfigure(config: pytest.Config) -> None:
    path = os.environ.get("REPORTER_TIMER_FILE")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_spent, out)
