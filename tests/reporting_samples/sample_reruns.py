"""Sample for --reruns 1: one test fails once then passes, one errors in setup once then
passes, one always fails, one passes, and a strict xfail that passes (so fails)."""

from pathlib import Path

import pytest

ATTEMPTS = Path(__file__).with_name("flaky-attempts.txt")


def test_flaky_once():
    attempts = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(attempts + 1))
    assert attempts >= 1, "fails on the first attempt only"


def test_always_fails():
    raise AssertionError("fails every time")


def test_stable():
    pass


SETUP_ATTEMPTS = Path(__file__).with_name("flaky-setup-attempts.txt")


@pytest.fixture
def flaky_setup():
    attempts = int(SETUP_ATTEMPTS.read_text()) if SETUP_ATTEMPTS.exists() else 0
    SETUP_ATTEMPTS.write_text(str(attempts + 1))
    if attempts == 0:
        raise RuntimeError("setup fails on the first attempt only")


def test_flaky_setup_once(flaky_setup):
    pass


@pytest.mark.xfail(reason="expected to fail, strictly", strict=True)
def test_strict_xpass():
    pass
