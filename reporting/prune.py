"""`python -m reporting prune --older-than 7d`: delete this job's stale groups on the gateway.

A group is stale when its last push attempt (the newer of `push_time_seconds` and
`push_failure_time_seconds`: a group somebody still tries to push to is not abandoned) is at
least `--older-than` before `--now` (default: the current time). Each stale group is deleted
with `DELETE /metrics/job/<job>/<label>/<value>...`, built by `reporting.grouping` (`@base64`
wherever a value is not plain), so odd label values work.
Only groups whose `job` is `--job` are touched. Exit status: 0 done (or nothing to do),
1 the gateway could not be read or a delete failed, 2 bad input.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from reporting.auth import GatewayAuth
from reporting.gateway_state import GatewayGroup, GatewayState
from reporting.grouping import describe, group_path
from reporting.options import mask_url
from reporting.transport import Deadline, GatewayClient

PREFIX = "python -m reporting prune:"
_AGE = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>[smhdw]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in `90s`, `15m`, `12h`, `7d`, `2w`, `1.5h` or a plain number; ValueError else."""
    match = _AGE.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not an age like 90s, 15m, 12h, 7d or 2w")
    return float(match["number"]) * _UNIT_SECONDS[match["unit"]]


@dataclass(frozen=True)
class PruneOptions:
    url: str
    job: str
    older_than: float
    now: float
    dry_run: bool = False
    timeout: float = 3.0
    retries: int = 2
    older_than_text: str = ""


def prune(options: PruneOptions, auth: GatewayAuth) -> int:
    shown = mask_url(options.url).rstrip("/")
    read = _client(options, auth).request("GET", "/api/v1/metrics")
    if not read.ok:
        return _fail(f"cannot read {shown}/api/v1/metrics: {read.detail}", 1)
    try:
        groups = GatewayState.from_json(read.body).groups_of_job(options.job)
    except ValueError as exc:
        return _fail(f"{shown}: {exc}", 1)
    stale = [(group, when) for group in groups
             if (when := group.last_push_time()) is None
             or options.now - when >= options.older_than]
    failed = 0
    for group, when in stale:
        line = f"{describe(group.labels)} (last push {_when(when, options.now)})"
        if options.dry_run:
            print(f"would delete {line}")
            continue
        answer = _client(options, auth).request("DELETE", _path(group))
        if answer.ok:
            print(f"deleted {line}")
        else:
            failed += 1
            print(f"{PREFIX} could not delete {line}: {answer.detail}", file=sys.stderr)
    verb = "would delete" if options.dry_run else "deleted"
    done = len(stale) - failed
    print(f"prune: {verb} {done} of {len(groups)} groups of job={options.job} on {shown} "
          f"older than {options.older_than_text or f'{options.older_than:g}s'}")
    return 1 if failed else 0


def _path(group: GatewayGroup) -> str:
    labels = dict(group.labels)
    job = labels.pop("job")
    return group_path(job, labels)


def _client(options: PruneOptions, auth: GatewayAuth) -> GatewayClient:
    budget = options.timeout * (options.retries + 1)
    return GatewayClient(url=options.url, auth=auth, timeout=options.timeout,
                         retries=options.retries, deadline=Deadline(budget))


def _when(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "unknown"
    iso = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{iso}, {_age_text(now - timestamp)} ago"


def _age_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{max(seconds, 0):.1f}s"


def _fail(message: str, status: int) -> int:
    print(f"{PREFIX} {message}", file=sys.stderr)
    return status
