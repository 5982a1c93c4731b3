"""Self-tests of the console's Alertmanager webhook (mcp_panels.alerts) against real processes:
redis-server, the console under uvicorn, a real WebSocket client, and for the whole loop a real
prometheus-alertmanager with the harness's rendered config. No mocks, no sleeps."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import ClientConnection, connect

from e2e.support.schemas import validator
from harness.alertmanager_config import start_for_console, write_webhook_token
from harness.process import Service
from harness.services import start_console, start_redis
from mcp_panels.alerts import (
    EVENT_BUDGET_BYTES,
    MAX_BODY_BYTES,
    MAX_ENTRIES,
    MAX_VALUE_CHARS,
    SNAPSHOT_ALERTS_BYTES,
    AlertBook,
    WebhookError,
    authorized,
    parse_notification,
)

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
WEBHOOK = "/api/alertmanager/webhook"
ZERO = "0001-01-01T00:00:00Z"


FRAME = validator("frame.schema.json")
SNAPSHOT = validator("snapshot-response.schema.json")


def assert_valid(v: Draft202012Validator, doc: Any) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in v.iter_errors(doc)]
    assert not errors, errors


# -- payloads as Alertmanager sends them ---------------------------------------------------


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"  # nanoseconds, like Go


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def am_alert(
    name: str = "RedisDown",
    *,
    status: str = "firing",
    fingerprint: str | None = None,
    starts_at: datetime | None = None,
    ends_at: str | None = ZERO,
    severity: str = "critical",
    annotations: dict[str, str] | None = None,
    **labels: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "synthetic": "true", **labels},
        "annotations": {"summary": f"{name} summary"} if annotations is None else annotations,
        "startsAt": rfc3339(starts_at or datetime.now(UTC)),
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        "fingerprint": fingerprint or uuid.uuid4().hex[:16],
    }


def notification(*alerts: dict[str, Any], truncated: int = 0, **extra: Any) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": '{}/{synthetic="true"}:{alertname="x"}',
        "truncatedAlerts": truncated,
        "status": "firing" if firing else "resolved",
        "receiver": "mcp-console",
        "groupLabels": {"alertname": "x"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
        **extra,
    }


def resolved(alert: dict[str, Any]) -> dict[str, Any]:
    return {**alert, "status": "resolved", "endsAt": rfc3339(datetime.now(UTC))}


# -- a WebSocket client that sees only alert events ------------------------------------------


class AlertFrames:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.hello = json.loads(conn.recv(timeout=5))
        assert self.hello["type"] == "hello"

    def next_alert_event(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next alert.* frame (schema-checked), skipping heartbeats and the like."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no alert event within {timeout} s")
            frame = json.loads(self.conn.recv(timeout=remaining))
            assert_valid(FRAME, frame)
            if frame["type"].startswith("alert."):
                return frame


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    workdir = tmp_path_factory.mktemp("alerts-console")
    with (
        start_redis(workdir) as redis_service,
        start_console(
            workdir,
            redis_service.url,
            heartbeat_interval=0.5,
            health_interval=60,
            metrics_interval=60,
        ) as service,
    ):
        yield service
        assert service.alive(), service.log_tail()


@pytest.fixture
def api(console: Service) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=console.url, timeout=10, trust_env=False) as client:
        yield client


@pytest.fixture
def client(console: Service) -> Iterator[AlertFrames]:
    url = console.url.replace("http://", "ws://", 1) + "/ws"
    with connect(url, proxy=None, open_timeout=5, close_timeout=2) as conn:
        yield AlertFrames(conn)


def post(api: httpx.Client, body: Any, status: int = 200) -> dict[str, Any]:
    response = api.post(WEBHOOK, json=body)
    assert response.status_code == status, response.text
    return response.json()


def firing_fingerprints(api: httpx.Client) -> set[str]:
    body = api.get("/api/snapshot").json()
    assert_valid(SNAPSHOT, body)
    return {a["fingerprint"] for a in body["snapshot"]["alerts"]}


def fps(frame: dict[str, Any]) -> list[str]:
    return [a["fingerprint"] for a in frame["payload"]["alerts"]]


def marker_comes_next(api: httpx.Client, client: AlertFrames) -> None:
    """Proves nothing was broadcast since the last event: a fresh alert is the next event."""
    marker = am_alert("Marker", severity="info")
    post(api, notification(marker))
    frame = client.next_alert_event()
    assert (frame["type"], fps(frame)) == ("alert.fired", [marker["fingerprint"]])
    post(api, notification(resolved(marker)))
    assert fps(client.next_alert_event()) == [marker["fingerprint"]]


# -- the webhook ---------------------------------------------------------------------------


def test_several_alerts_in_one_notification_make_one_event(api, client):
    alerts = [am_alert(instance=f"redis-{i}:9121") for i in range(3)]
    answer = post(api, notification(*alerts))
    assert answer["fired"] == 3
    frame = client.next_alert_event()
    assert frame["type"] == "alert.fired"
    assert frame["id"] == answer["events"][0]["id"]
    assert fps(frame) == [a["fingerprint"] for a in alerts]
    first = frame["payload"]["alerts"][0]
    assert first["ends_at"] is None  # Go's zero time while firing
    assert first["starts_at"] > 0
    assert (first["alertname"], first["severity"], first["status"]) == (
        "RedisDown",
        "critical",
        "firing",
    )
    assert frame["payload"]["receiver"] == "mcp-console"
    assert firing_fingerprints(api) >= set(fps(frame))
    post(api, notification(*map(resolved, alerts)))
    assert client.next_alert_event()["type"] == "alert.resolved"


def test_repeated_notifications_are_idempotent(api, client):
    alerts = [am_alert(instance=f"repeat-{i}") for i in range(2)]
    body = notification(*alerts)
    assert post(api, body)["fired"] == 2
    assert fps(client.next_alert_event()) == [a["fingerprint"] for a in alerts]
    # repeat_interval, group_interval, a second receiver: the same alerts again
    for _ in range(3):
        answer = post(api, body)
        assert (answer["fired"], answer["repeats"], answer["events"]) == (0, 2, [])
    # ... and the same alert twice in one body
    twice = am_alert(instance="twice")
    assert post(api, notification(twice, twice))["fired"] == 1
    assert fps(client.next_alert_event()) == [twice["fingerprint"]]
    marker_comes_next(api, client)
    hello = connect_hello(api)
    shown = [a["fingerprint"] for a in hello["snapshot"]["alerts"]]
    assert shown.count(alerts[0]["fingerprint"]) == 1
    post(api, notification(*map(resolved, [*alerts, twice])))
    client.next_alert_event()


def connect_hello(api: httpx.Client) -> dict[str, Any]:
    url = str(api.base_url).replace("http://", "ws://", 1).rstrip("/") + "/ws"
    with connect(url, proxy=None, open_timeout=5) as conn:
        return json.loads(conn.recv(timeout=5))["payload"]


def test_resolution_removes_the_alert_once(api, client):
    keep, going = am_alert(instance="keep"), am_alert(instance="going")
    post(api, notification(keep, going))
    client.next_alert_event()
    answer = post(api, notification(keep, resolved(going)))  # one group, mixed statuses
    assert (answer["fired"], answer["resolved"], answer["repeats"]) == (0, 1, 1)
    frame = client.next_alert_event()
    assert frame["type"] == "alert.resolved"
    assert fps(frame) == [going["fingerprint"]]
    (alert,) = frame["payload"]["alerts"]
    assert alert["status"] == "resolved"
    assert alert["ends_at"] is not None
    assert going["fingerprint"] not in firing_fingerprints(api)
    assert keep["fingerprint"] in firing_fingerprints(api)
    # Resolved again, or a late firing repeat of the resolved alert: nothing.
    assert post(api, notification(resolved(going)))["events"] == []
    assert post(api, notification(going))["events"] == []
    # A resolution of an alert never shown: nothing either.
    assert post(api, notification(resolved(am_alert(instance="never"))))["events"] == []
    marker_comes_next(api, client)
    # Firing again later (a new startsAt) is a new firing.
    again = {**going, "startsAt": rfc3339(datetime.now(UTC) + timedelta(seconds=1))}
    assert post(api, notification(again))["fired"] == 1
    assert fps(client.next_alert_event()) == [going["fingerprint"]]
    post(api, notification(resolved(keep), resolved(again)))
    assert sorted(fps(client.next_alert_event())) == sorted(
        [keep["fingerprint"], going["fingerprint"]]
    )


def test_new_and_resolved_alerts_in_one_notification_make_two_events(api, client):
    old = am_alert(instance="old")
    post(api, notification(old))
    client.next_alert_event()
    new = am_alert(instance="new")
    answer = post(api, notification(resolved(old), new))
    assert [e["type"] for e in answer["events"]] == ["alert.fired", "alert.resolved"]
    assert fps(client.next_alert_event()) == [new["fingerprint"]]
    assert fps(client.next_alert_event()) == [old["fingerprint"]]
    post(api, notification(resolved(new)))
    client.next_alert_event()


def test_truncated_alerts_are_reported(api, client):
    shown = am_alert(instance="truncated")
    assert post(api, notification(shown, truncated=7))["truncated_alerts"] == 7
    frame = client.next_alert_event()
    assert frame["payload"]["truncated_alerts"] == 7
    assert fps(frame) == [shown["fingerprint"]]
    post(api, notification(resolved(shown)))
    client.next_alert_event()


def test_hostile_and_odd_alert_text_is_stored_verbatim(api, client):
    annotations = {
        "summary": '<img src=x onerror="window.__pwned=1">',
        "description": "<script>alert(1)</script> \"double\" 'single' \\ back\nslash & ampersand",
        "runbook_url": "javascript:alert(document.domain)",
        "unicode": "ünïcødé 中文 🚨 \u202eRTL",
        "long": "x" * 100_000,
    }
    alert = am_alert(
        annotations=annotations,
        instance='host"with"quotes',
        team="équipe 🚒",
        long_label="y" * 10_000,
    )
    post(api, notification(alert))
    frame = client.next_alert_event()
    (sent,) = frame["payload"]["alerts"]
    # Verbatim, but for values past MAX_VALUE_CHARS: their first characters and "…".
    cut = {
        "long": "x" * (MAX_VALUE_CHARS - 1) + "…",
        "long_label": "y" * (MAX_VALUE_CHARS - 1) + "…",
    }
    assert sent["annotations"] == {**annotations, "long": cut["long"]}
    assert sent["labels"] == {**alert["labels"], "long_label": cut["long_label"]}
    (held,) = [
        a
        for a in api.get("/api/snapshot").json()["snapshot"]["alerts"]
        if a["fingerprint"] == alert["fingerprint"]
    ]
    assert held["annotations"] == sent["annotations"]
    post(api, notification(resolved(alert)))
    client.next_alert_event()


def _bad_alert(**changes: Any) -> dict[str, Any]:
    alert = am_alert()
    for key, value in changes.items():
        if value is None:
            alert.pop(key)
        else:
            alert[key] = value
    return alert


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"version": "4", "alerts": [], "truncatedAlerts": NaN}', "malformed JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (json.dumps({"alerts": []}).encode(), "version"),
        (json.dumps({"version": "3", "alerts": []}).encode(), "version"),
        (json.dumps({"version": "4"}).encode(), "'alerts' must be a list"),
        (json.dumps(notification(truncated=-1)).encode(), "truncatedAlerts"),
        (
            json.dumps(notification(am_alert(), am_alert(status="pending"))).encode(),
            "alerts[1].status",
        ),
        (json.dumps(notification(_bad_alert(fingerprint=None))).encode(), "fingerprint"),
        (json.dumps(notification(_bad_alert(fingerprint="<b>"))).encode(), "fingerprint"),
        (json.dumps(notification(_bad_alert(labels={"a": 1}))).encode(), "labels.a"),
        (json.dumps(notification(_bad_alert(labels={}))).encode(), "labels is empty"),
        (json.dumps(notification(_bad_alert(annotations=["x"]))).encode(), "annotations"),
        (json.dumps(notification(_bad_alert(startsAt="yesterday"))).encode(), "startsAt"),
        (json.dumps(notification(_bad_alert(startsAt=ZERO))).encode(), "startsAt"),
        (json.dumps(notification(_bad_alert(endsAt=5))).encode(), "endsAt"),
        (
            b'{"version": "4", "alerts": [{"status": "firing", "fingerprint": "ab", '
            b'"labels": {"a": "\\ud800"}, "startsAt": "2024-01-01T00:00:00Z"}]}',
            "surrogate",
        ),
    ],
)
def test_malformed_webhook_is_400_and_broadcasts_nothing(api, client, content, fragment):
    before = firing_fingerprints(api)
    response = api.post(WEBHOOK, content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("invalid Alertmanager webhook: ")
    assert fragment in error
    assert firing_fingerprints(api) == before
    marker_comes_next(api, client)


def test_oversized_webhook_is_413(api):
    response = api.post(WEBHOOK, content=b" " * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_webhook_only_accepts_post(api):
    assert api.get(WEBHOOK).status_code == 405


def test_page_loads_the_alerts_script(api):
    assert '<script src="/static/alerts.js" defer></script>' in api.get("/").text
    script = api.get("/static/alerts.js")
    assert script.status_code == 200
    assert "innerHTML" not in script.text  # alert text is never parsed as HTML


# -- units: parsing and bookkeeping ----------------------------------------------------------


def test_parse_notification_normalises_times():
    body = notification(
        am_alert(starts_at=datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC), ends_at=None),
        am_alert(status="resolved", ends_at="2024-05-01T14:00:01.5+02:00"),
    )
    parsed = parse_notification(body, received_at=42)
    assert parsed.alerts[0]["starts_at"] == ms(datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC))
    assert parsed.alerts[0]["ends_at"] is None
    assert parsed.alerts[1]["ends_at"] == ms(datetime(2024, 5, 1, 12, 0, 1, 500000, tzinfo=UTC))
    resolved_no_end = am_alert(status="resolved", ends_at=ZERO)
    assert parse_notification(notification(resolved_no_end), 42).alerts[0]["ends_at"] == 42
    with pytest.raises(WebhookError, match="time zone"):
        parse_notification(notification(_bad_alert(startsAt="2024-05-01T12:00:00")))


def test_alert_book_dedupes_by_fingerprint_and_starts_at():
    book = AlertBook(resolved_memory=2)
    a = parse_notification(notification(am_alert(instance="a"))).alerts[0]
    fired, gone, repeats = book.news([a, a])
    assert (fired, gone, repeats) == ([a], [], 1)
    book.apply_fired({"alerts": fired})
    assert book.news([a]) == ([], [], 1)
    done = {**a, "status": "resolved", "ends_at": 1}
    assert book.news([a, done]) == ([], [done], 1)  # the resolution wins over a stale firing
    book.apply_resolved({"alerts": [done]})
    assert (len(book), book.news([a])) == (0, ([], [], 1))


# -- the webhook's bearer token -------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Path]]:
    """A console whose webhook wants the token in the file returned, as the harness starts it."""
    workdir = tmp_path_factory.mktemp("guarded-console")
    token_file = write_webhook_token(workdir)
    with (
        start_redis(workdir) as redis_service,
        start_console(
            workdir,
            redis_service.url,
            heartbeat_interval=0.5,
            health_interval=60,
            metrics_interval=60,
            webhook_token_file=token_file,
        ) as service,
    ):
        yield service, token_file
        assert service.alive(), service.log_tail()


@pytest.fixture
def guarded_api(guarded: tuple[Service, Path]) -> Iterator[httpx.Client]:
    service, token_file = guarded
    token = token_file.read_text().strip()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service.url, headers=headers, timeout=10, trust_env=False) as c:
        yield c


@pytest.fixture
def guarded_client(guarded: tuple[Service, Path]) -> Iterator[AlertFrames]:
    url = guarded[0].url.replace("http://", "ws://", 1) + "/ws"
    with connect(url, proxy=None, open_timeout=5, close_timeout=2) as conn:
        yield AlertFrames(conn)


def test_token_file_is_fresh_and_owner_only(tmp_path):
    (tmp_path / "a").mkdir()
    first = write_webhook_token(tmp_path / "a")
    second = write_webhook_token(tmp_path)
    assert first.stat().st_mode & 0o777 == 0o600
    assert len(first.read_text().strip()) >= 32
    assert first.read_text() != second.read_text()
    with pytest.raises(FileExistsError):  # never reuses (or follows) what is already there
        write_webhook_token(tmp_path)


def test_authorized_wants_exactly_the_bearer_token():
    assert authorized(None, None)
    assert authorized("Basic x", None)
    assert authorized("Bearer tok", "tok")
    assert authorized("bearer  tok", "tok")
    for header in (None, "", "tok", "Bearer", "Bearer to", "Bearer tokk", "Basic tok", "Bearer ök"):
        assert not authorized(header, "tok"), header


def test_webhook_refuses_posts_without_the_token(guarded, guarded_api, guarded_client):
    service, token_file = guarded
    token = token_file.read_text().strip()
    body = notification(am_alert())
    refused = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}]
    refused += [{"Authorization": f"Bearer {token[:-1]}"}, {"Authorization": token}]
    with httpx.Client(base_url=service.url, timeout=10, trust_env=False) as anyone:
        for headers in refused:
            answer = anyone.post(WEBHOOK, json=body, headers=headers)
            assert answer.status_code == 401, (headers, answer.text)
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert token not in answer.text
        # Refused before the body is looked at: no parser runs for a stranger.
        assert anyone.post(WEBHOOK, content=b"[" * 100_000).status_code == 401
    assert "webhook refused" in service.log_tail()
    assert token not in service.log_tail()
    marker_comes_next(guarded_api, guarded_client)  # none of the refused was broadcast


# -- the whole loop: a real Alertmanager with the harness's config ---------------------------


@pytest.fixture
def alertmanager(guarded: tuple[Service, Path], tmp_path: Path) -> Iterator[Service]:
    service, token_file = guarded
    with start_for_console(tmp_path, service.url, token_file) as am:
        yield am


def fire_fixture(am: httpx.Client, name: str) -> dict[str, Any]:
    """Posts fixtures/alerts/<name>.json to Alertmanager with a unique e2e_test_id."""
    fixture = json.loads((FIXTURES_DIR / f"{name}.json").read_text())
    labels = {**fixture["labels"], "e2e_test_id": str(uuid.uuid4())}
    alert = {
        "labels": labels,
        "annotations": fixture["annotations"],
        "startsAt": datetime.now(UTC).isoformat(),
    }
    assert am.post("/api/v2/alerts", json=[alert]).status_code == 200
    return alert


def test_alertmanager_delivers_to_the_console(alertmanager, guarded_client):
    client = guarded_client
    with httpx.Client(base_url=alertmanager.url, timeout=10, trust_env=False) as am:
        alert = fire_fixture(am, "RedisDown")
        labels = alert["labels"]
        frame = client.next_alert_event(timeout=10)
        assert frame["type"] == "alert.fired"
        (sent,) = frame["payload"]["alerts"]
        assert (sent["labels"], sent["annotations"]) == (labels, alert["annotations"])
        held = am.get("/api/v2/alerts", params={"filter": f'e2e_test_id="{labels["e2e_test_id"]}"'})
        assert sent["fingerprint"] == held.json()[0]["fingerprint"]
        alert["endsAt"] = datetime.now(UTC).isoformat()
        assert am.post("/api/v2/alerts", json=[alert]).status_code == 200
        frame = client.next_alert_event(timeout=10)
        assert (frame["type"], fps(frame)) == ("alert.resolved", [sent["fingerprint"]])


def webhook_failures(am: httpx.Client) -> float:
    text = am.get("/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alertmanager_notifications_failed"
        for sample in family.samples
        if sample.labels.get("integration") == "webhook" and sample.name.endswith("_total")
    )


def test_alertmanager_without_the_token_is_refused(guarded, guarded_api, guarded_client, tmp_path):
    service, _ = guarded
    with (
        start_for_console(tmp_path, service.url) as tokenless,
        httpx.Client(base_url=tokenless.url, timeout=10, trust_env=False) as am,
    ):
        fire_fixture(am, "RedisDown")
        deadline = time.monotonic() + 20
        while webhook_failures(am) < 1:  # a condition Alertmanager reports, polled
            assert time.monotonic() < deadline, "Alertmanager never reported a failed webhook"
            time.sleep(0.1)
    marker_comes_next(guarded_api, guarded_client)  # the refused alert never reached a socket


def compact_bytes(value: Any) -> int:
    """Bytes of `value` as the console sends JSON (no spaces, UTF-8)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def test_an_alert_storm_fits_every_frame_a_client_accepts(api, client):
    # 2 500 alerts of one group in one body, as Alertmanager sends a storm (max_alerts: 0).
    text = "pod crash-looping in namespace payments, restarted 12 times in 10 minutes " * 4
    storm = [
        am_alert(
            "KubePodCrashLooping",
            severity="critical" if i < 10 else "warning",
            annotations={"summary": f"pod-{i} {text}"},
            pod=f"pod-{i}",
        )
        for i in range(2500)
    ]
    body = notification(*storm)
    assert len(json.dumps(body)) > 1024 * 1024
    answer = post(api, body)
    assert answer["fired"] == 2500
    frames = [client.next_alert_event() for _ in answer["events"]]
    assert sum(len(f["payload"]["alerts"]) for f in frames) == 2500
    assert max(compact_bytes(f["payload"]["alerts"]) for f in frames) <= EVENT_BUDGET_BYTES
    raw = api.get("/api/snapshot")
    assert len(raw.content) < 1024 * 1024  # under the page's default max_frame_bytes
    snapshot = raw.json()["snapshot"]
    assert_valid(SNAPSHOT, raw.json())
    listed = {a["fingerprint"] for a in snapshot["alerts"]}
    assert len(listed) + snapshot["alerts_omitted"] == 2500
    assert snapshot["alerts_omitted"] > 0
    assert {a["fingerprint"] for a in storm[:10]} <= listed  # the criticals first
    assert compact_bytes(snapshot["alerts"]) <= SNAPSHOT_ALERTS_BYTES
    post(api, notification(*[resolved(a) for a in storm]))
    assert api.get("/api/snapshot").json()["snapshot"]["alerts_omitted"] == 0


def test_an_alert_with_too_many_labels_keeps_the_first_by_name(api, client):
    labels = {f"label_{i:03d}": "v" for i in range(MAX_ENTRIES + 10)}
    alert = am_alert("ManyLabels", severity="info", **labels)
    post(api, notification(alert))
    (sent,) = client.next_alert_event()["payload"]["alerts"]
    assert len(sent["labels"]) == MAX_ENTRIES
    assert list(sent["labels"]) == sorted({**alert["labels"]})[:MAX_ENTRIES]
    post(api, notification(resolved(alert)))
    client.next_alert_event()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"startsAt": "9999-12-31T23:59:59-23:59"}, "startsAt is out of range"),
        ({"endsAt": "9999-12-31T23:59:59-23:59"}, "endsAt is out of range"),
    ],
)
def test_a_time_past_the_calendar_is_a_400(api, change, message):
    answer = post(api, notification({**am_alert(), **change}), status=400)
    assert message in answer["error"]


def test_a_truncated_count_no_browser_can_read_is_a_400(api):
    answer = post(api, notification(am_alert(), truncated=10**400), status=400)
    assert "'truncatedAlerts' must be a count" in answer["error"]
