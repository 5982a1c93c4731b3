"""Sample: a run that fails."""


def test_one():
    pass


def test_broken():
    raise AssertionError("fails on purpose")
