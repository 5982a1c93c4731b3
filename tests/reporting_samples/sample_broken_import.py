"""Sample: a module that fails at collection time."""

import module_that_does_not_exist  # noqa: F401


def test_never_collected():
    raise AssertionError("never runs")
