"""Sample: a module skipped at collection time."""

import pytest

pytest.skip("no such service here", allow_module_level=True)


def test_never_collected():
    raise AssertionError("never runs")
