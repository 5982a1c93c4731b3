"""The Alertmanager config of a test run: monitoring/alertmanager/alertmanager.yml, rendered so
that its notifications reach the embedded console, fast.

What changes: every webhook URL (the `mcp-console` receiver's and the others', e.g. the pager
placeholder) becomes the console's /api/alertmanager/webhook (the console deduplicates, so an
alert delivered through two receivers shows once), each webhook's http_config becomes the run's
bearer token file (when the console wants one), and the route timings are shortened.
What does not: the routing tree, its matchers and `continue`s, grouping, inhibition.
"""

from __future__ import annotations

import copy
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.process import Service
from harness.services import start_alertmanager

SOURCE = Path(__file__).resolve().parents[1] / "monitoring" / "alertmanager" / "alertmanager.yml"
CONSOLE_RECEIVER = "mcp-console"
WEBHOOK_PATH = "/api/alertmanager/webhook"
# group_wait: first notification of a new alert; group_interval: changes (resolutions) of a
# notified group; repeat_interval: re-sending what still fires (the console ignores repeats).
TEST_TIMINGS: Mapping[str, str] = {
    "group_wait": "1s",
    "group_interval": "1s",
    "repeat_interval": "10s",
}
_TIMING_KEYS = frozenset(TEST_TIMINGS)


class ConfigRenderError(ValueError):
    """The source config cannot be rendered safely for a test run."""


def webhook_url(console_url: str) -> str:
    """The console's Alertmanager webhook endpoint."""
    return console_url.rstrip("/") + WEBHOOK_PATH


def write_webhook_token(workdir: Path) -> Path:
    """A fresh random token in workdir/webhook-token (owner-only), for the console to demand
    and Alertmanager to send."""
    path = workdir / "webhook-token"
    # O_EXCL + 0600: never readable by others, never a file someone placed there first.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    return path


def bearer_http_config(token_file: Path) -> dict[str, Any]:
    """Alertmanager's http_config that sends the token in token_file as a bearer token."""
    return {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}


def render_config(
    source: Mapping[str, Any],
    console_url: str,
    timings: Mapping[str, str] = TEST_TIMINGS,
    token_file: Path | None = None,
) -> dict[str, Any]:
    """A copy of the parsed config with every webhook pointed at the console (with the token
    in token_file, if any, as its only credentials), timings shortened."""
    if set(timings) - _TIMING_KEYS:
        raise ConfigRenderError(f"unknown timing keys: {sorted(set(timings) - _TIMING_KEYS)}")
    config = copy.deepcopy(dict(source))
    receivers = config.get("receivers") or []
    names = [r.get("name") for r in receivers]
    if CONSOLE_RECEIVER not in names:
        raise ConfigRenderError(f"no receiver named {CONSOLE_RECEIVER!r} (receivers: {names})")
    target = webhook_url(console_url)
    for receiver in receivers:
        # Anything but a webhook (email, slack, ...) would notify outside the test run.
        others = set(receiver) - {"name", "webhook_configs"}
        if others:
            raise ConfigRenderError(
                f"receiver {receiver['name']!r} has {sorted(others)}: only webhook receivers "
                "can be redirected to the console"
            )
        for hook in receiver.get("webhook_configs") or []:
            hook["url"] = target
            # The source's credentials are for the real endpoints (and their files do not
            # exist here); the console on loopback wants the run's token or nothing.
            hook.pop("http_config", None)
            if token_file is not None:
                hook["http_config"] = bearer_http_config(token_file)
    route = config.get("route")
    if not isinstance(route, dict):
        raise ConfigRenderError("no root route")
    _shorten(route, timings, root=True)
    return config


def _shorten(route: dict[str, Any], timings: Mapping[str, str], *, root: bool) -> None:
    # The root gets every timing; a child route only where it set its own (else it inherits).
    for key, value in timings.items():
        if root or key in route:
            route[key] = value
    for child in route.get("routes") or []:
        _shorten(child, timings, root=False)


def write_config(
    dest: Path,
    console_url: str,
    source: Path = SOURCE,
    timings: Mapping[str, str] = TEST_TIMINGS,
    token_file: Path | None = None,
) -> Path:
    """Render source for console_url into dest (the run's work folder)."""
    rendered = render_config(yaml.safe_load(source.read_text()), console_url, timings, token_file)
    dest.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Rendered by harness/alertmanager_config.py from {source.name} for one test run:\n"
        f"# every webhook -> {webhook_url(console_url)}, timings {dict(timings)}.\n"
    )
    dest.write_text(header + yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True))
    return dest


def start_for_console(
    workdir: Path, console_url: str, token_file: Path | None = None
) -> Service:
    """Render the config into workdir and start prometheus-alertmanager with it."""
    config = write_config(workdir / "alertmanager.yml", console_url, token_file=token_file)
    return start_alertmanager(workdir, config)
