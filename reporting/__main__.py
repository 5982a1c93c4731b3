"""`python -m reporting push FILE --pushgateway-url URL [--job J --env E --suite S --shard N]`

Re-sends a saved exposition file (e.g. reports/e2e-metrics.prom from a run whose push failed)
to the same kind of group the plugin pushes to, with the same timeout, retries and
credentials (E2E_PUSHGATEWAY_USERNAME / _PASSWORD / _TOKEN). Options default to the same
environment variables as the plugin's. Exit status: 0 pushed, 1 push failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from reporting.options import (
    DEFAULT_ENV,
    DEFAULT_JOB,
    DEFAULT_PUSH_RETRIES,
    DEFAULT_PUSH_TIMEOUT,
    DEFAULT_SUITE,
    validate_pushgateway_url,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "push":  # pragma: no cover - argparse enforces the choice
        return 2
    return push_file(args)


def push_file(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry
    from prometheus_client.parser import text_string_to_metric_families

    from reporting.push import GatewayAuth, PushTarget, push_registry

    if not args.pushgateway_url:
        return _fail("no Pushgateway URL: pass --pushgateway-url or set E2E_PUSHGATEWAY_URL", 2)
    try:
        url = validate_pushgateway_url(args.pushgateway_url)
    except pytest.UsageError as exc:
        return _fail(str(exc), 2)
    if args.timeout <= 0 or not 0 <= args.retries <= 10:
        return _fail("--timeout must be > 0 and --retries between 0 and 10", 2)
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
        families = list(text_string_to_metric_families(text))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    except ValueError as exc:
        return _fail(f"{path} is not a Prometheus text exposition: {exc}", 2)
    if not families:
        return _fail(f"{path} holds no metrics", 2)

    class _SavedFamilies:
        def collect(self) -> Iterator[object]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SavedFamilies())  # type: ignore[arg-type]
    grouping_key = {"env": args.env, "suite": args.suite}
    if args.shard:
        grouping_key["shard"] = args.shard
    target = PushTarget(url=url, job=args.job, grouping_key=grouping_key,
                        timeout=args.timeout, retries=args.retries)
    result = push_registry(registry, target, GatewayAuth.from_env(url=url))
    if not result.ok:
        return _fail(result.warning(target).removeprefix("e2e metrics: "), 1)
    series = sum(len(family.samples) for family in families)
    print(f"e2e metrics: pushed {series} series from {path} to {target.shown_url} "
          f"({target.describe_group()})")
    return 0


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m reporting",
                                     description="e2e metrics reporter tools")
    commands = parser.add_subparsers(dest="command", required=True)
    push = commands.add_parser("push", help="re-send a saved exposition file to a Pushgateway")
    push.add_argument("file", help="exposition file, e.g. reports/e2e-metrics.prom")
    push.add_argument("--pushgateway-url", default=env.get("E2E_PUSHGATEWAY_URL"),
                      help="Pushgateway base URL [env E2E_PUSHGATEWAY_URL]")
    push.add_argument("--job", default=env.get("E2E_METRICS_JOB") or DEFAULT_JOB)
    push.add_argument("--env", default=env.get("E2E_METRICS_ENV") or DEFAULT_ENV)
    push.add_argument("--suite", default=env.get("E2E_METRICS_SUITE") or DEFAULT_SUITE)
    push.add_argument("--shard", default=env.get("E2E_METRICS_SHARD") or None)
    push.add_argument("--timeout", type=float, default=_env_number(
        "E2E_METRICS_PUSH_TIMEOUT", DEFAULT_PUSH_TIMEOUT), help="seconds per attempt")
    push.add_argument("--retries", type=int, default=int(_env_number(
        "E2E_METRICS_PUSH_RETRIES", DEFAULT_PUSH_RETRIES)))
    return parser


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


def _fail(message: str, status: int) -> int:
    print(f"python -m reporting push: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
