"""Sample: a run that passes."""


def test_one():
    pass


def test_two():
    pass
