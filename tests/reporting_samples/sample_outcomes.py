"""Sample suite: every outcome pytest reports, a parametrized test, browsers, observations."""

import pytest

import reporting


@pytest.fixture
def broken_setup():
    raise RuntimeError("setup fails on purpose")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown fails on purpose")


@pytest.fixture
def alert_latency(request):
    reporting.observe(request, "e2e_alert_ui_latency_seconds", 0.8, severity="critical")


def test_passes(alert_latency, request):
    reporting.observe(request, "e2e_ws_event_latency_seconds", 0.042, event_type="alert.fired")
    reporting.observe(request, "e2e_ws_event_latency_seconds", 1.5, event_type="alert.fired")
    reporting.observe(request, "e2e_not_a_known_metric", 1.0, kind="typo")


def test_fails():
    assert 1 + 1 == 3


def test_skips_at_runtime():
    pytest.skip("decided while running")


@pytest.mark.skipif(True, reason="decided by a marker")
def test_skipif():
    raise AssertionError("never runs")


def test_setup_error(broken_setup):
    raise AssertionError("never runs")


def test_teardown_error(broken_teardown, request):
    reporting.observe(request.node, "e2e_ws_event_latency_seconds", 0.004, event_type="heartbeat")
    reporting.observe(request, "e2e_not_a_known_metric", 2.0, kind="typo")


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    raise AssertionError("known bug")


@pytest.mark.xfail(reason="fixed since")
def test_xpass():
    pass


@pytest.mark.parametrize("n", [1, 2, 3])
def test_param(n):
    assert n != 3


@pytest.mark.parametrize("engine", ["chromium", "webkit"])
def test_engine(engine):
    assert engine


def test_records_browser(record_property):
    record_property("browser", "firefox")
