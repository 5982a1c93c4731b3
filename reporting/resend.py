"""`python -m reporting push FILE...`: re-send saved exposition files (e.g. the spool).

Each file goes to the group its `# e2e-group` line names (options override it; a file without
one goes to the group the options and E2E_METRICS_* name), through the same steps as the plugin
(`reporting.push.publish`): the gateway's last success is carried over, families are checked
against the other groups, and a group that already holds a newer run is not overwritten unless
`--force`. Exit status: 0 all pushed, 1 a push failed or was refused, 2 bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from reporting.auth import GatewayAuth
from reporting.metrics import count_series
from reporting.push import PushTarget, publish
from reporting.spool import group_of

PREFIX = "python -m reporting push:"


@dataclass(frozen=True)
class ResendOptions:
    """What `python -m reporting push` was asked to do besides which files."""

    url: str
    defaults: Mapping[str, str]  # the group for a file without an `# e2e-group` line
    overrides: Mapping[str, str]  # group labels given on the command line
    timeout: float
    retries: int
    force: bool = False
    delete_sent: bool = False


def resend_files(paths: list[Path], options: ResendOptions, auth: GatewayAuth) -> int:
    """Push every file; the worst exit status of them all."""
    return max((resend_file(path, options, auth) for path in paths), default=0)


def resend_file(path: Path, options: ResendOptions, auth: GatewayAuth) -> int:
    try:
        text = path.read_text(encoding="utf-8")
        families: list[Metric] = list(text_string_to_metric_families(text))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    except (ValueError, UnicodeDecodeError) as exc:
        return _fail(f"{path} is not a Prometheus text exposition: {exc}", 2)
    if not families:
        return _fail(f"{path} holds no metrics", 2)
    labels = dict(group_of(text) or options.defaults)
    labels.update(options.overrides)
    job = labels.pop("job", "")
    if not job:
        return _fail(f"{path}: no job (pass --job)", 2)
    target = PushTarget(url=options.url, job=job, grouping_key=labels,
                        timeout=options.timeout, retries=options.retries)
    result, _body = publish(families, target, auth, refuse_newer=not options.force)
    if not result.ok:
        return _fail(auth.redact(f"{path}: " + result.warning(target).removeprefix(
            "e2e metrics: ")), 1)
    print(f"e2e metrics: pushed {count_series(families)} series from {path} to "
          f"{target.shown_url} ({target.describe_group()})")
    if options.delete_sent:
        try:
            path.unlink()
        except OSError as exc:
            return _fail(f"pushed, but cannot delete {path}: {exc.strerror or exc}", 1)
    return 0


def _fail(message: str, status: int) -> int:
    print(f"{PREFIX} {message}", file=sys.stderr)
    return status
