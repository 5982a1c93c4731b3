"""Sample for --reruns 1: one test fails once then passes, one always fails, one passes."""

from pathlib import Path

ATTEMPTS = Path(__file__).with_name("flaky-attempts.txt")


def test_flaky_once():
    attempts = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(attempts + 1))
    assert attempts >= 1, "fails on the first attempt only"


def test_always_fails():
    raise AssertionError("fails every time")


def test_stable():
    pass
