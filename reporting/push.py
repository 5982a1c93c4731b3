"""One publication per run: read the gateway's state, check, then one PUT. Never fatal.

`publish` does, inside one time budget (timeout x attempts, see `reporting.transport`):

1. `GET /api/v1/metrics` — what the gateway holds. No push without it: a failing run's PUT
   must carry the group's `e2e_last_success_timestamp_seconds` over, or it would erase it.
2. carry the last success over: the value pushed is the newer of ours and the gateway's;
3. optionally refuse to overwrite a group holding a newer run (re-sending an old file);
4. check our families' type and help against every other group (`reporting.gateway_state`):
   a mismatch is reported by family and group, and nothing is pushed;
5. `PUT` the exposition to the group `job` + `env` + `suite` (+ `shard`), never a run id,
   its path built by `reporting.grouping` (`@base64` wherever a value is not plain).

It returns the result and the exact bytes pushed (or that would have been), for the file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import Metric

from reporting.auth import GatewayAuth
from reporting.gateway_state import Conflict, GatewayState, find_conflicts
from reporting.grouping import describe, group_path
from reporting.metrics import (
    LAST_SUCCESS,
    RUN_TIMESTAMP,
    definitions,
    render,
    sample_value,
    with_last_success,
)
from reporting.options import DEFAULT_PUSH_RETRIES, DEFAULT_PUSH_TIMEOUT, mask_url
from reporting.transport import JOIN_GRACE, Answer, Deadline, GatewayClient

STATE_PATH = "/api/v1/metrics"
PREFIX = "e2e metrics:"


@dataclass(frozen=True)
class PushTarget:
    """Where the run's group goes, and how long to try."""

    url: str
    job: str
    grouping_key: dict[str, str]
    timeout: float = DEFAULT_PUSH_TIMEOUT
    retries: int = DEFAULT_PUSH_RETRIES

    @property
    def attempts(self) -> int:
        return self.retries + 1

    @property
    def budget(self) -> float:
        """Seconds all gateway traffic of one publication may take together."""
        return self.timeout * self.attempts

    @property
    def worst_case_seconds(self) -> float:
        """The most a publication can add to a run, whatever the gateway does."""
        return self.budget + JOIN_GRACE

    @property
    def shown_url(self) -> str:
        return mask_url(self.url).rstrip("/")

    @property
    def labels(self) -> dict[str, str]:
        return {"job": self.job, **self.grouping_key}

    @property
    def path(self) -> str:
        return group_path(self.job, self.grouping_key)

    def describe_group(self) -> str:
        return describe(self.labels)


@dataclass
class PushResult:
    """How the publication went; `detail` is one line, secrets redacted."""

    ok: bool
    stage: str = "read"  # read, stale, check, put
    attempts: int = 0
    status: int | None = None
    detail: str = ""
    elapsed: float = 0.0
    conflicts: list[Conflict] = field(default_factory=list)

    def warning(self, target: PushTarget) -> str:
        """The one warning line for a failed publication."""
        if self.stage == "check":
            found = "; ".join(conflict.describe() for conflict in self.conflicts)
            return (f"{PREFIX} not pushed to {target.shown_url}: families disagree with the "
                    f"gateway: {found} (delete or prune that group, or keep the old definition)")
        if self.stage == "stale":
            return f"{PREFIX} not pushed to {target.shown_url}: {self.detail}"
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        return f"{PREFIX} push to {target.shown_url} failed after {tries}: {self.detail}"


def publish(
    families: Sequence[Metric],
    target: PushTarget,
    auth: GatewayAuth | None = None,
    *,
    refuse_newer: bool = False,
) -> tuple[PushResult, bytes]:
    """Steps 1-5 of this module's docstring; never raises, bounded by `target.worst_case_seconds`.

    Returns the result and the exposition pushed (or, if not pushed, the one that would be).
    """
    auth = auth or GatewayAuth()
    started = time.monotonic()
    client = GatewayClient(url=target.url, auth=auth, timeout=target.timeout,
                           retries=target.retries, deadline=Deadline(target.budget))
    result, body = _publish(client, list(families), target, refuse_newer)
    result.elapsed = time.monotonic() - started
    return result, body


def _publish(
    client: GatewayClient, families: list[Metric], target: PushTarget, refuse_newer: bool
) -> tuple[PushResult, bytes]:
    answer = client.request("GET", STATE_PATH)
    if not answer.ok:
        if answer.status is not None:
            answer.detail = f"reading {STATE_PATH}: {answer.detail}"
        return _failed("read", answer), render(families)
    try:
        state = GatewayState.from_json(answer.body)
    except ValueError as exc:
        return PushResult(ok=False, stage="read", attempts=answer.attempts,
                          detail=f"reading {STATE_PATH}: {exc}"), render(families)

    own = state.group(target.labels)
    theirs = own.value(LAST_SUCCESS) if own else None
    ours = sample_value(families, LAST_SUCCESS)
    known = [value for value in (ours, theirs) if value is not None]
    families = with_last_success(families, max(known) if known else None)
    body = render(families)

    if refuse_newer and own is not None:
        their_run, our_run = own.value(RUN_TIMESTAMP), sample_value(families, RUN_TIMESTAMP)
        if their_run is not None and our_run is not None and their_run > our_run:
            return PushResult(ok=False, stage="stale", attempts=answer.attempts, detail=(
                f"group {target.describe_group()} holds a newer run (finished "
                f"{_iso(their_run)}) than this one ({_iso(our_run)}); --force overwrites it"
            )), body

    conflicts = find_conflicts(definitions(families), state, target.labels)
    if conflicts:
        return PushResult(ok=False, stage="check", attempts=answer.attempts,
                          conflicts=conflicts), body

    answer = client.request("PUT", target.path, body)
    if not answer.ok:
        return _failed("put", answer), body
    return PushResult(ok=True, stage="put", attempts=answer.attempts, status=answer.status,
                      detail="ok"), body


def _failed(stage: str, answer: Answer) -> PushResult:
    return PushResult(ok=False, stage=stage, attempts=answer.attempts, status=answer.status,
                      detail=answer.detail)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
