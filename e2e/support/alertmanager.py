"""Firing the synthetic alerts of fixtures/alerts/ through a real Alertmanager's API v2.

Each test's alerts carry `e2e_test_id=<uuid>` (and the fixture's `synthetic="true"`), so tests
running in parallel against one shared Alertmanager and console never see each other's alerts
as theirs. Everything a test fires is resolved, and every silence it creates is expired, when
the test ends.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = ROOT / "fixtures" / "alerts"
GUIDE = ROOT / "docs" / "OPERATIONS_GUIDE.md"
TEST_ID_LABEL = "e2e_test_id"
GROUP_LABEL = "e2e_group"  # alerts sharing it (and the test id) arrive in one notification


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


@cache
def fixtures() -> dict[str, dict[str, Any]]:
    """alertname → {"alertname", "labels", "annotations"} of every synthetic alert."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(FIXTURES_DIR.glob("*.json"))
    }


def fixture_of_severity(severity: str) -> dict[str, Any]:
    """The first fixture (by name) of that severity."""
    for fixture in fixtures().values():
        if fixture["labels"].get("severity") == severity:
            return fixture
    raise LookupError(f"no synthetic alert with severity={severity!r} in {FIXTURES_DIR}")


def github_slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading (what the runbook_url fragments point at)."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


@cache
def guide_anchors() -> frozenset[str]:
    """Anchors of every heading in docs/OPERATIONS_GUIDE.md."""
    anchors = set()
    in_code = False
    for line in GUIDE.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"^#{1,6}\s+(.*)$", line)):
            anchors.add(github_slug(match.group(1)))
    return frozenset(anchors)


@dataclass
class FiredAlert:
    """One alert a test posted: what it sent, and Alertmanager's fingerprint of it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    fingerprint: str = ""
    resolved: bool = False

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "none")

    def body(self, ends_at: datetime | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": rfc3339(self.starts_at),
        }
        if ends_at is not None:
            body["endsAt"] = rfc3339(ends_at)
        return body


class AlertmanagerAPI:
    """The few calls of Alertmanager's API v2 the suite needs."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.is_error:
            raise AssertionError(
                f"Alertmanager {response.request.method} {response.request.url.path} → "
                f"{response.status_code}: {response.text[:500]}"
            )
        return response

    def ready(self) -> bool:
        try:
            return self._client.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self._check(self._client.post("/api/v2/alerts", json=alerts))

    def alerts(self, **matchers: str) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (active, silenced, inhibited) matching label=value."""
        params = [("filter", f'{name}="{value}"') for name, value in matchers.items()]
        return self._check(self._client.get("/api/v2/alerts", params=params)).json()

    def create_silence(self, matchers: dict[str, str], comment: str, minutes: int = 30) -> str:
        now = utcnow()
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in matchers.items()
            ],
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(datetime.fromtimestamp(now.timestamp() + minutes * 60, UTC)),
            "createdBy": "mcp-e2e",
            "comment": comment,
        }
        return self._check(self._client.post("/api/v2/silences", json=body)).json()["silenceID"]

    def expire_silence(self, silence_id: str) -> None:
        response = self._client.delete(f"/api/v2/silence/{silence_id}")
        if response.status_code != 404:  # already gone is fine
            self._check(response)


class SyntheticAlerts:
    """One test's alerts: fired with its unique id, resolved (and silences expired) at the end."""

    def __init__(self, api: AlertmanagerAPI, test_name: str) -> None:
        self.api = api
        self.test_id = str(uuid.uuid4())
        self.test_name = test_name
        self.fired: list[FiredAlert] = []
        self.silences: list[str] = []

    def make(
        self,
        fixture: dict[str, Any] | str,
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
    ) -> FiredAlert:
        """A fixture's alert tagged with this test's id; labels/annotations override or add."""
        if isinstance(fixture, str):
            fixture = fixtures()[fixture]
        return FiredAlert(
            labels={**fixture["labels"], TEST_ID_LABEL: self.test_id, **(labels or {})},
            annotations={**fixture["annotations"], **(annotations or {})},
            starts_at=utcnow(),
        )

    def fire(self, *alerts: FiredAlert) -> list[FiredAlert]:
        """Post the alerts in one request; fill in the fingerprints Alertmanager gave them."""
        self.fired.extend(alerts)  # before posting: a failed post is still cleaned up
        self.api.post_alerts([a.body() for a in alerts])
        held = {
            _label_key(a["labels"]): a["fingerprint"]
            for a in self.api.alerts(**{TEST_ID_LABEL: self.test_id})
        }
        for alert in alerts:
            fingerprint = held.get(_label_key(alert.labels))
            assert fingerprint, f"Alertmanager does not hold the alert just posted: {alert.labels}"
            alert.fingerprint = fingerprint
        return list(alerts)

    def resolve(self, *alerts: FiredAlert) -> None:
        """Post them again with endsAt now: Alertmanager sends the resolution."""
        alerts = alerts or tuple(a for a in self.fired if not a.resolved)
        if not alerts:
            return
        now = utcnow()
        self.api.post_alerts([a.body(ends_at=now) for a in alerts])
        for alert in alerts:
            alert.resolved = True

    def silence(self, alert: FiredAlert) -> str:
        """A silence matching only that alert (its name and this test's id)."""
        silence_id = self.api.create_silence(
            {TEST_ID_LABEL: self.test_id, "alertname": alert.alertname},
            comment=f"mcp-e2e {self.test_name}",
        )
        self.silences.append(silence_id)
        return silence_id

    def state_of(self, alert: FiredAlert) -> dict[str, Any]:
        """Alertmanager's status of the alert ({"state": "active"|"suppressed", ...})."""
        for held in self.api.alerts(**{TEST_ID_LABEL: self.test_id}):
            if held["fingerprint"] == alert.fingerprint:
                return held["status"]
        return {"state": "unknown"}

    def wait_state(self, alert: FiredAlert, state: str, timeout_s: float = 10.0) -> None:
        """Wait until Alertmanager reports that state (each check is a round trip to it)."""
        deadline = time.monotonic() + timeout_s
        seen = self.state_of(alert)
        while seen.get("state") != state:
            if time.monotonic() > deadline:
                raise AssertionError(f"{alert.alertname} still {seen} after {timeout_s} s")
            seen = self.state_of(alert)

    def cleanup(self) -> None:
        """Resolve what is still firing, then expire the silences (in that order, so a
        silenced alert never becomes active and notifies on its way out)."""
        errors = []
        try:
            self.resolve()
        except (httpx.HTTPError, AssertionError) as exc:
            errors.append(f"resolving: {exc}")
        for silence_id in self.silences:
            try:
                self.api.expire_silence(silence_id)
            except (httpx.HTTPError, AssertionError) as exc:
                errors.append(f"expiring silence {silence_id}: {exc}")
        if errors:
            raise AssertionError("alert clean-up failed: " + "; ".join(errors))


def _label_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))
