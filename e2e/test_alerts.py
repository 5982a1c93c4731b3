"""The alerting loop: a synthetic alert posted to a real Alertmanager reaches the operator's screen
(toast + alerts panel row) through the console's webhook and WebSocket, and leaves it when
resolved. Every alert carries this test's e2e_test_id, so parallel tests never mix."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e.pages.alerts import ALERTS_PANEL, TOAST_OPTIONS, AlertsView
from e2e.pages.console import ConsolePage
from e2e.support import toasts
from e2e.support.alertmanager import (
    GROUP_LABEL,
    TEST_ID_LABEL,
    AlertmanagerAPI,
    FiredAlert,
    SyntheticAlerts,
    fixture_of_severity,
    guide_anchors,
)
from e2e.support.recorder import Frame, FrameRecorder
from e2e.support.renders import wait_for_render
from reporting import observe

pytestmark = pytest.mark.alerts

ALERT_LATENCY = "e2e_alert_ui_latency_seconds"
# Posted to Alertmanager → toast on screen. The embedded Alertmanager waits group_wait (1 s);
# a production one 5 s (monitoring/alertmanager/alertmanager.yml).
BUDGET_MS = 15_000


@pytest.fixture
def alerts_view(alertmanager: AlertmanagerAPI, console: ConsolePage) -> AlertsView:
    """The console, live, with the toast probe installed from the page's start (after the
    check that there is an Alertmanager to fire into: without one the test skips first)."""
    toasts.install(console.page)
    console.open(**TOAST_OPTIONS)
    console.recorder.wait_for("hello")
    console.expect_connection("live")
    return AlertsView(console.page)


def fingerprints(frame: Frame) -> set[str]:
    return {a["fingerprint"] for a in frame.payload.get("alerts", [])}


def wait_event(recorder: FrameRecorder, type_: str, alert: FiredAlert, after: int = 0) -> Frame:
    return recorder.wait_for(
        type_, lambda f: alert.fingerprint in fingerprints(f), after=after, timeout_ms=BUDGET_MS
    )


def fire_and_time(
    view: AlertsView, synthetic_alerts: SyntheticAlerts, *alerts: FiredAlert
) -> list[float]:
    """Fire the alerts in one POST; per alert, seconds from the POST to its toast on screen
    (both ends on the page's clock)."""
    posted_ms = toasts.page_now_ms(view.page)
    synthetic_alerts.fire(*alerts)
    return [
        (toasts.wait_shown_ms(view.page, a.fingerprint, timeout_ms=BUDGET_MS) - posted_ms) / 1000
        for a in alerts
    ]


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_alert_reaches_the_screen_and_leaves_when_resolved(
    severity: str,
    alerts_view: AlertsView,
    console: ConsolePage,
    synthetic_alerts: SyntheticAlerts,
    request: pytest.FixtureRequest,
):
    fixture = fixture_of_severity(severity)
    alert = synthetic_alerts.make(fixture)
    (latency,) = fire_and_time(alerts_view, synthetic_alerts, alert)
    observe(request, ALERT_LATENCY, latency, severity=severity)
    assert latency < BUDGET_MS / 1000

    fp = alert.fingerprint
    alerts_view.expect_firing(fp, severity, fixture["alertname"])
    summary = fixture["annotations"]["summary"]
    expect(alerts_view.toast_summary(fp)).to_have_text(summary)
    expect(alerts_view.row_summary(fp)).to_have_text(summary)

    fired = wait_event(console.recorder, "alert.fired", alert)
    assert fired.errors == []
    (sent,) = [a for a in fired.payload["alerts"] if a["fingerprint"] == fp]
    assert (sent["labels"], sent["annotations"]) == (alert.labels, alert.annotations)
    assert (sent["severity"], sent["status"], sent["ends_at"]) == (severity, "firing", None)
    render = wait_for_render(console.page, fired.id, ALERTS_PANEL)
    assert render.attr(f"alert-row-{fp}", "severity") == severity

    synthetic_alerts.resolve(alert)
    alerts_view.expect_resolved(fp)
    resolved = wait_event(console.recorder, "alert.resolved", alert)
    assert resolved.errors == []
    assert fp not in {a["fingerprint"] for a in alerts_view.firing()}
    # One event each way for this firing, however often Alertmanager sent it.
    for type_ in ("alert.fired", "alert.resolved"):
        events = [f for f in console.recorder.of_type(type_) if fp in fingerprints(f)]
        assert len(events) == 1, (type_, [f.id for f in events])


def test_grouped_notification_shows_every_alert(
    alerts_view: AlertsView,
    console: ConsolePage,
    synthetic_alerts: SyntheticAlerts,
    request: pytest.FixtureRequest,
):
    group = {GROUP_LABEL: "redis-fleet"}
    alerts = [
        synthetic_alerts.make(
            "RedisEvictingKeys", labels={**group, "instance": f"redis-cache-{i}:9121"}
        )
        for i in range(3)
    ]
    latencies = fire_and_time(alerts_view, synthetic_alerts, *alerts)
    for latency in latencies:
        observe(request, ALERT_LATENCY, latency, severity="warning")
    for alert in alerts:
        assert alert.severity == "warning"
        alerts_view.expect_firing(alert.fingerprint, "warning", "RedisEvictingKeys")

    # The e2e_group route groups by (e2e_test_id, e2e_group): one notification, one event.
    frame = wait_event(console.recorder, "alert.fired", alerts[0])
    assert fingerprints(frame) == {a.fingerprint for a in alerts}
    assert frame.payload["group_labels"] == {
        TEST_ID_LABEL: synthetic_alerts.test_id,
        **group,
    }
    render = wait_for_render(console.page, frame.id, ALERTS_PANEL)
    assert {f"alert-row-{a.fingerprint}" for a in alerts} <= set(render.items)

    synthetic_alerts.resolve(*alerts)
    for alert in alerts:
        alerts_view.expect_resolved(alert.fingerprint)


def test_silenced_alert_never_reaches_the_screen(
    alerts_view: AlertsView, console: ConsolePage, synthetic_alerts: SyntheticAlerts
):
    # Same group: the witness's notification is the very one the silenced alert was left
    # out of, so seeing the witness proves the silenced one had its chance.
    group = {GROUP_LABEL: "silence"}
    silenced = synthetic_alerts.make("E2ETestsFlaky", labels=group)
    witness = synthetic_alerts.make("E2ESuiteStale", labels=group)
    silence_id = synthetic_alerts.silence(silenced)
    synthetic_alerts.fire(silenced)
    synthetic_alerts.wait_state(silenced, "suppressed")
    assert synthetic_alerts.state_of(silenced)["silencedBy"] == [silence_id]

    synthetic_alerts.fire(witness)
    alerts_view.expect_firing(witness.fingerprint, "warning", "E2ESuiteStale")
    wait_event(console.recorder, "alert.fired", witness)

    alerts_view.expect_absent(silenced.fingerprint)
    assert not [f for f in console.recorder.received() if silenced.fingerprint in fingerprints(f)]


def test_alert_text_is_shown_as_text_and_runs_nothing(
    alerts_view: AlertsView, console: ConsolePage, synthetic_alerts: SyntheticAlerts
):
    summary = '<img src=x onerror="window.__pwned=1"> payment & "quotes" \'too\' — ünïcødé ✓'
    # Long, but within the 1 023 characters a console keeps of a value (EVENT_CONTRACT.md).
    description = "<script>window.__pwned=2</script><b>not bold</b> " + "long " * 180
    odd_instance = 'redis-"prod"-\u00e9\u4e2d\u6587-' + "x" * 300
    alert = synthetic_alerts.make(
        "RedisDown",
        labels={"instance": odd_instance},
        annotations={
            "summary": summary,
            "description": description,
            "runbook_url": "javascript:window.__pwned=3",
        },
    )
    synthetic_alerts.fire(alert)
    fp = alert.fingerprint
    alerts_view.expect_firing(fp, "critical", "RedisDown", timeout_ms=BUDGET_MS)

    expect(alerts_view.toast_summary(fp)).to_have_text(summary)
    expect(alerts_view.row_summary(fp)).to_have_text(summary)
    expect(alerts_view.row_description(fp)).to_have_text(description.strip())
    assert alerts_view.markup_elements() == 0
    # A javascript: runbook is shown, inert, never as a link.
    for runbook in (alerts_view.runbook(fp), alerts_view.toast_runbook(fp)):
        expect(runbook).to_have_attribute("data-unsafe", "true")
        assert runbook.get_attribute("href") is None
        # Dispatched to the element itself: other tests' toasts (a shared console) may cover
        # the row, and a pointer click would land on them instead.
        runbook.dispatch_event("click")
    assert console.page.evaluate("window.__pwned") is None

    frame = wait_event(console.recorder, "alert.fired", alert)
    (sent,) = [a for a in frame.payload["alerts"] if a["fingerprint"] == fp]
    assert sent["annotations"] == alert.annotations  # verbatim through the whole loop
    assert sent["labels"]["instance"] == odd_instance


def test_runbook_link_opens_the_alerts_guide_section(
    alerts_view: AlertsView, console: ConsolePage, synthetic_alerts: SyntheticAlerts
):
    alert = synthetic_alerts.make("RedisDown")
    runbook_url = alert.annotations["runbook_url"]
    anchor = runbook_url.partition("#")[2]
    assert anchor in guide_anchors(), f"docs/OPERATIONS_GUIDE.md has no heading #{anchor}"
    synthetic_alerts.fire(alert)
    alerts_view.expect_firing(alert.fingerprint, "critical", "RedisDown", timeout_ms=BUDGET_MS)

    link = alerts_view.runbook(alert.fingerprint)
    expect(link).to_have_attribute("href", runbook_url)
    expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(alerts_view.toast_runbook(alert.fingerprint)).to_have_attribute("href", runbook_url)

    # The guide lives on GitHub; answer for it here, and check where the click goes.
    page = console.page
    page.context.route(
        re.compile(r"^https://github\.com/"),
        lambda route: route.fulfill(status=200, content_type="text/html", body="<h1>guide</h1>"),
    )
    # The toast's link: toasts sit above the panel, and other tests' toasts (a shared
    # console) may cover the row's.
    with page.context.expect_page(timeout=BUDGET_MS) as opened:
        alerts_view.toast_runbook(alert.fingerprint).click()
    guide = opened.value
    guide.wait_for_load_state()
    assert guide.url == runbook_url
    guide.close()


def test_alert_firing_before_the_page_opened_comes_with_the_hello(
    alerts_view: AlertsView, console: ConsolePage, synthetic_alerts: SyntheticAlerts
):
    alert = synthetic_alerts.make("KyvernoPolicyErrors")
    synthetic_alerts.fire(alert)
    wait_event(console.recorder, "alert.fired", alert)

    mark = len(console.recorder.frames)
    console.page.reload()
    hello = console.recorder.wait_for("hello", after=mark)
    assert alert.fingerprint in {a["fingerprint"] for a in hello.payload["snapshot"]["alerts"]}
    render = wait_for_render(console.page, hello.id, ALERTS_PANEL)
    assert render.attr(f"alert-row-{alert.fingerprint}", "status") == "firing"
    # Already firing when the page opened: a row, but no toast.
    expect(alerts_view.row(alert.fingerprint)).to_be_visible()
    assert alerts_view.toast(alert.fingerprint).count() == 0

    synthetic_alerts.resolve(alert)
    alerts_view.expect_resolved(alert.fingerprint)
