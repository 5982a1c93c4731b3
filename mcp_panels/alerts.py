"""Alertmanager's webhook (payload version 4) turned into alert.fired / alert.resolved events.

Alertmanager re-sends what it already sent: every group_interval while a group changes, every
repeat_interval while it fires, to several receivers that may all point here. The console
therefore announces each alert once per firing, keyed by (fingerprint, startsAt): a firing
alert already shown and a resolution of an alert not shown change nothing and send nothing.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mcp_panels.envelope import ALERT_FIRED, ALERT_RESOLVED, dumps, now_ms
from mcp_panels.jsonbody import MalformedJSON, decode_json

log = logging.getLogger("mcp_panels.alerts")

Payload = dict[str, Any]

WEBHOOK_PATH = "/api/alertmanager/webhook"
WEBHOOK_VERSION = "4"
# Alertmanager sends every alert of a group in one body (max_alerts: 0); bounded all the same.
MAX_BODY_BYTES = 8 * 1024 * 1024
# Alertmanager's fingerprints are 16 hex digits; they end up in test ids and attributes.
_FINGERPRINT = re.compile(r"^[0-9A-Za-z_.:-]{1,128}$")
STATUSES = ("firing", "resolved")
# Resolutions remembered, so that a late repeat of a resolved alert does not bring it back.
RESOLVED_MEMORY = 10_000
# Every frame must fit a client's frame limit (1 MiB by default) in an alert storm too. So:
# a label or annotation keeps its first MAX_VALUE_CHARS characters (then "…"), an alert its
# first MAX_ENTRIES labels and annotations (by name); an event carries alerts up to
# EVENT_BUDGET_BYTES (more alerts, more events); a snapshot lists firing alerts, most severe
# and newest first, up to SNAPSHOT_ALERTS_BYTES and says how many it left out.
MAX_VALUE_CHARS = 1024
MAX_KEY_CHARS = 128
MAX_ENTRIES = 64
EVENT_BUDGET_BYTES = 256 * 1024
SNAPSHOT_ALERTS_BYTES = 512 * 1024
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
MAX_SAFE_INTEGER = 2**53 - 1  # what a browser reads back exactly
NO_STORE = {"Cache-Control": "no-store"}


class WebhookError(ValueError):
    """The body is not a usable Alertmanager webhook notification; the message says why."""


@dataclass(frozen=True)
class Notification:
    """One webhook call, validated and normalised (timestamps in ms, labels as given)."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    external_url: str
    truncated_alerts: int
    received_at: int
    alerts: list[Payload]


# -- parsing ------------------------------------------------------------------------------


def decode_body(raw: bytes) -> Any:
    """JSON text → value; NaN/Infinity, invalid UTF-8, hostile nesting are errors."""
    try:
        return decode_json(raw)
    except MalformedJSON as exc:
        raise WebhookError(str(exc)) from None


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise WebhookError(f"{where} must be a string, got {_kind(value)}")
    try:
        # A lone surrogate (from a "\ud800" escape) cannot be sent as UTF-8 to any client.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise WebhookError(f"{where} holds an invalid unicode escape (lone surrogate)") from None
    return value


def _string_map(value: Any, where: str, *, required: bool = False) -> dict[str, str]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise WebhookError(f"{where} must be an object of strings, got {_kind(value)}")
    entries = {
        _text(key, f"{where} key"): _text(item, f"{where}.{key}") for key, item in value.items()
    }
    if len(entries) > MAX_ENTRIES:
        log.warning("%s: %d entries, keeping the first %d by name", where, len(entries),
                    MAX_ENTRIES)
    return {
        _bounded(key, MAX_KEY_CHARS): _bounded(entries[key], MAX_VALUE_CHARS)
        for key in sorted(entries)[:MAX_ENTRIES]
    }


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def parse_time_ms(value: Any, where: str) -> int | None:
    """RFC 3339 (nanoseconds allowed) → ms since the epoch; Go's zero time → None."""
    text = _text(value, where)
    try:
        # datetime keeps microseconds; Alertmanager may send nanoseconds.
        parsed = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))
    except ValueError:
        raise WebhookError(f"{where} is not an RFC 3339 time: {text[:64]!r}") from None
    if parsed.tzinfo is None:
        raise WebhookError(f"{where} has no time zone: {text[:64]!r}")
    if parsed.year <= 1:
        return None  # 0001-01-01T00:00:00Z: "not set" (endsAt of a firing alert)
    try:
        return max(0, int(parsed.astimezone(UTC).timestamp() * 1000))
    except (OverflowError, OSError):  # 9999-12-31T23:59-23:59 is past datetime's range in UTC
        raise WebhookError(f"{where} is out of range: {text[:64]!r}") from None


def _alert(raw: Any, index: int, received_at: int) -> Payload:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict):
        raise WebhookError(f"{where} must be an object, got {_kind(raw)}")
    status = raw.get("status")
    if status not in STATUSES:
        raise WebhookError(f"{where}.status must be 'firing' or 'resolved', got {status!r}")
    fingerprint = _text(raw.get("fingerprint"), f"{where}.fingerprint")
    if not _FINGERPRINT.fullmatch(fingerprint):
        raise WebhookError(f"{where}.fingerprint is not an Alertmanager fingerprint")
    labels = _string_map(raw.get("labels"), f"{where}.labels", required=True)
    if not labels:
        raise WebhookError(f"{where}.labels is empty")
    starts_at = parse_time_ms(raw.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise WebhookError(f"{where}.startsAt is the zero time")
    ends_at = None if raw.get("endsAt") is None else parse_time_ms(raw["endsAt"], f"{where}.endsAt")
    if status == "resolved" and ends_at is None:
        ends_at = received_at
    generator_url = raw.get("generatorURL")
    return {
        "fingerprint": fingerprint,
        "status": status,
        "alertname": labels.get("alertname", ""),
        "severity": labels.get("severity") or "none",
        "labels": labels,
        "annotations": _string_map(raw.get("annotations"), f"{where}.annotations"),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "generator_url": "" if generator_url is None else _text(generator_url, "generatorURL"),
    }


def parse_notification(body: Any, received_at: int | None = None) -> Notification:
    """Validate a decoded webhook body as a whole: any problem rejects all of it."""
    received_at = now_ms() if received_at is None else received_at
    if not isinstance(body, dict):
        raise WebhookError(f"body must be a JSON object, got {_kind(body)}")
    version = body.get("version")
    if version != WEBHOOK_VERSION:
        raise WebhookError(
            f"not an Alertmanager webhook payload version {WEBHOOK_VERSION}: version={version!r}"
        )
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise WebhookError(f"'alerts' must be a list, got {_kind(alerts)}")
    truncated = body.get("truncatedAlerts", 0)
    if (
        isinstance(truncated, bool)
        or not isinstance(truncated, int)
        or not 0 <= truncated <= MAX_SAFE_INTEGER
    ):
        raise WebhookError(f"'truncatedAlerts' must be a count, got {truncated!r}")

    def optional_text(key: str) -> str:
        return "" if body.get(key) is None else _text(body[key], key)

    return Notification(
        receiver=optional_text("receiver"),
        group_key=optional_text("groupKey"),
        group_labels=_string_map(body.get("groupLabels"), "groupLabels"),
        external_url=optional_text("externalURL"),
        truncated_alerts=truncated,
        received_at=received_at,
        alerts=[_alert(raw, i, received_at) for i, raw in enumerate(alerts)],
    )


def event_payload(notification: Notification, alerts: list[Payload]) -> Payload:
    """The alert.fired / alert.resolved payload: these alerts, and where they came from."""
    return {
        "receiver": notification.receiver,
        "group_key": notification.group_key,
        "group_labels": notification.group_labels,
        "external_url": notification.external_url,
        "truncated_alerts": notification.truncated_alerts,
        "received_at": notification.received_at,
        "alerts": alerts,
    }


def json_bytes(alert: Payload) -> int:
    """Bytes the alert takes in a frame's JSON list (with its comma)."""
    return len(dumps(alert).encode("utf-8")) + 1


def in_budget(alerts: list[Payload], budget: int = EVENT_BUDGET_BYTES) -> list[list[Payload]]:
    """The alerts in consecutive chunks of at most `budget` bytes of JSON (one alert at least)."""
    chunks: list[list[Payload]] = []
    size = budget
    for alert in alerts:
        cost = json_bytes(alert)
        if size + cost > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(alert)
        size += cost
    return chunks


# -- state --------------------------------------------------------------------------------


def _key(alert: Mapping[str, Any]) -> tuple[str, int]:
    return alert["fingerprint"], alert["starts_at"]


class AlertBook:
    """The alerts panel's state: firing alerts by fingerprint, in the order they arrived."""

    def __init__(self, resolved_memory: int = RESOLVED_MEMORY) -> None:
        self._active: dict[str, Payload] = {}
        self._bytes: dict[str, int] = {}  # fingerprint -> json_bytes of its active alert
        self._resolved: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._resolved_memory = resolved_memory

    def __len__(self) -> int:
        return len(self._active)

    def firing(self) -> list[Payload]:
        return list(self._active.values())

    def shown(self, budget: int = SNAPSHOT_ALERTS_BYTES) -> tuple[list[Payload], int]:
        """The firing alerts a snapshot lists, most severe then newest first, within `budget`
        bytes of JSON, in arrival order; and how many it leaves out."""
        ranked = sorted(
            self._active.values(),
            key=lambda a: (SEVERITY_ORDER.get(a["severity"], 3), -a["starts_at"]),
        )
        kept: set[str] = set()
        size = 0
        for alert in ranked:
            size += self._bytes[alert["fingerprint"]]
            if size > budget and kept:
                break
            kept.add(alert["fingerprint"])
        listed = [a for a in self._active.values() if a["fingerprint"] in kept]
        return listed, len(self._active) - len(listed)

    def news(self, alerts: list[Payload]) -> tuple[list[Payload], list[Payload], int]:
        """Split a notification's alerts into (newly firing, newly resolved, repeats)."""
        # A body can carry one alert both firing and resolved (two groups, one receiver):
        # the resolution wins, the firing copy is the stale one.
        resolving = {_key(a) for a in alerts if a["status"] == "resolved"}
        fired: list[Payload] = []
        resolved: list[Payload] = []
        taken: set[tuple[str, int]] = set()
        for alert in alerts:
            key = _key(alert)
            if key in taken:
                continue
            shown = self._active.get(alert["fingerprint"])
            shown_now = shown is not None and _key(shown) == key
            if alert["status"] == "resolved":
                if shown_now:
                    resolved.append(alert)
                    taken.add(key)
            elif not shown_now and key not in resolving and key not in self._resolved:
                fired.append(alert)
                taken.add(key)
        repeats = len(alerts) - len(fired) - len(resolved)
        return fired, resolved, repeats

    def apply_fired(self, payload: Payload) -> None:
        for alert in payload["alerts"]:
            # Re-inserted, so a re-fired alert moves to the end like a new one.
            self._active.pop(alert["fingerprint"], None)
            self._active[alert["fingerprint"]] = alert
            # Measured once here, not on every snapshot (each hello and poll).
            self._bytes[alert["fingerprint"]] = json_bytes(alert)

    def apply_resolved(self, payload: Payload) -> None:
        for alert in payload["alerts"]:
            shown = self._active.get(alert["fingerprint"])
            if shown is not None and _key(shown) == _key(alert):
                del self._active[alert["fingerprint"]]
                del self._bytes[alert["fingerprint"]]
            self._resolved[_key(alert)] = None
            self._resolved.move_to_end(_key(alert))
        while len(self._resolved) > self._resolved_memory:
            self._resolved.popitem(last=False)


# -- the endpoint -------------------------------------------------------------------------


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=NO_STORE)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None when it is larger than MAX_BODY_BYTES."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def authorized(header: str | None, token: str | None) -> bool:
    """Whether an Authorization header carries the expected bearer token (any, when None)."""
    if token is None:
        return True
    scheme, _, given = (header or "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token matched.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    )


async def alertmanager_webhook(request: Request) -> Response:
    """POST /api/alertmanager/webhook: Alertmanager's webhook_config url for the console."""
    console = request.app.state.console
    if not authorized(request.headers.get("authorization"), console.settings.webhook_token):
        # Checked before the body is read: an unauthenticated client cannot make us parse.
        log.warning("alertmanager webhook refused: missing or wrong bearer token")
        response = _error(401, "a valid bearer token is required")
        response.headers["WWW-Authenticate"] = 'Bearer realm="mcp-console"'
        return response
    raw = await _read_body(request)
    if raw is None:
        return _error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        notification = parse_notification(decode_body(raw))
    except WebhookError as exc:
        log.warning("alertmanager webhook rejected: %s", exc)
        return _error(400, f"invalid Alertmanager webhook: {exc}")
    # news() and publish() run with no await in between: the book cannot change meanwhile.
    fired, resolved, repeats = console.state.alert_book.news(notification.alerts)
    events = []
    for event_type, alerts in ((ALERT_FIRED, fired), (ALERT_RESOLVED, resolved)):
        for chunk in in_budget(alerts):
            event, _ = console.publish(event_type, event_payload(notification, chunk))
            events.append({"id": event.id, "type": event.type, "ts": event.ts})
    log.info(
        "alertmanager webhook receiver=%s alerts=%d fired=%d resolved=%d repeats=%d "
        "truncated=%d group=%s",
        notification.receiver or "-",
        len(notification.alerts),
        len(fired),
        len(resolved),
        repeats,
        notification.truncated_alerts,
        notification.group_key or "-",
    )
    return JSONResponse(
        {
            "alerts": len(notification.alerts),
            "fired": len(fired),
            "resolved": len(resolved),
            "repeats": repeats,
            "truncated_alerts": notification.truncated_alerts,
            "events": events,
        },
        headers=NO_STORE,
    )
