"""`python -m reporting push FILE...` and `python -m reporting prune --older-than AGE`.

    python -m reporting push reports/spool/*.prom [--pushgateway-url URL] [--delete-sent]
        [--job J --env E --suite S --shard N] [--force] [--timeout T --retries R]
    python -m reporting prune --older-than 7d [--pushgateway-url URL] [--job mcp_e2e]
        [--dry-run] [--now UNIX_SECONDS] [--timeout T --retries R]

Both use the plugin's environment: E2E_PUSHGATEWAY_URL, E2E_METRICS_JOB/_ENV/_SUITE/_SHARD,
E2E_METRICS_PUSH_TIMEOUT/_RETRIES, and the credentials and TLS files
(E2E_PUSHGATEWAY_USERNAME/_PASSWORD/_TOKEN/_CA_FILE/_CERT_FILE/_KEY_FILE).
Exit status: 0 done, 1 the gateway failed or refused, 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from reporting.auth import GatewayAuth, GatewaySettingsError
from reporting.options import (
    DEFAULT_ENV,
    DEFAULT_JOB,
    DEFAULT_PUSH_RETRIES,
    DEFAULT_PUSH_TIMEOUT,
    DEFAULT_SUITE,
    MAX_PUSH_RETRIES,
    validate_pushgateway_url,
)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    prog = f"python -m reporting {args.command}:"
    if not args.pushgateway_url:
        return _fail(prog, "no Pushgateway URL: pass --pushgateway-url or set E2E_PUSHGATEWAY_URL")
    try:
        url = validate_pushgateway_url(args.pushgateway_url)
    except pytest.UsageError as exc:
        return _fail(prog, str(exc))
    if args.timeout <= 0 or not 0 <= args.retries <= MAX_PUSH_RETRIES:
        return _fail(prog, f"--timeout must be > 0 and --retries between 0 and {MAX_PUSH_RETRIES}")
    auth = GatewayAuth.from_env(url=url)
    try:
        auth.check()
    except GatewaySettingsError as exc:
        return _fail(prog, str(exc))
    if args.command == "push":
        return _push(args, url, auth)
    return _prune(args, url, auth, prog)


def _push(args: argparse.Namespace, url: str, auth: GatewayAuth) -> int:
    from reporting.resend import ResendOptions, resend_files

    env = os.environ
    defaults = {"job": env.get("E2E_METRICS_JOB") or DEFAULT_JOB,
                "env": env.get("E2E_METRICS_ENV") or DEFAULT_ENV,
                "suite": env.get("E2E_METRICS_SUITE") or DEFAULT_SUITE}
    if env.get("E2E_METRICS_SHARD"):
        defaults["shard"] = env["E2E_METRICS_SHARD"]
    overrides = {name: value for name in ("job", "env", "suite", "shard")
                 if (value := getattr(args, name)) is not None}
    options = ResendOptions(url=url, defaults=defaults, overrides=overrides,
                            timeout=args.timeout, retries=args.retries, force=args.force,
                            delete_sent=args.delete_sent)
    return resend_files([Path(file) for file in args.files], options, auth)


def _prune(args: argparse.Namespace, url: str, auth: GatewayAuth, prog: str) -> int:
    from reporting.prune import PruneOptions, parse_age, prune

    try:
        older_than = parse_age(args.older_than)
    except ValueError as exc:
        return _fail(prog, f"--older-than: {exc}")
    options = PruneOptions(url=url, job=args.job, older_than=older_than,
                           now=args.now if args.now is not None else time.time(),
                           dry_run=args.dry_run, timeout=args.timeout, retries=args.retries,
                           older_than_text=args.older_than)
    return prune(options, auth)


def _parser() -> argparse.ArgumentParser:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m reporting",
                                     description="e2e metrics reporter tools")
    commands = parser.add_subparsers(dest="command", required=True)

    push = commands.add_parser("push", help="re-send saved exposition files to a Pushgateway")
    push.add_argument("files", nargs="+", metavar="FILE",
                      help="exposition files, e.g. reports/spool/*.prom")
    push.add_argument("--job", help="override the group's job (default: the file's group)")
    push.add_argument("--env", help="override the group's env label")
    push.add_argument("--suite", help="override the group's suite label")
    push.add_argument("--shard", help="override the group's shard label")
    push.add_argument("--force", action="store_true",
                      help="overwrite a group that holds a newer run than the file")
    push.add_argument("--delete-sent", action="store_true",
                      help="delete each file once it is pushed")

    prune = commands.add_parser("prune", help="delete this job's groups not pushed for a while")
    prune.add_argument("--older-than", required=True, metavar="AGE",
                       help="e.g. 7d, 12h, 30m, 90s, 2w; 0s deletes every group of the job")
    prune.add_argument("--job", default=env.get("E2E_METRICS_JOB") or DEFAULT_JOB,
                       help=f"the job whose groups are pruned (default $E2E_METRICS_JOB or "
                            f"{DEFAULT_JOB})")
    prune.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    prune.add_argument("--now", type=float, metavar="UNIX_SECONDS",
                       help="the current time to measure ages from (default: now)")

    for command in (push, prune):
        command.add_argument("--pushgateway-url", default=env.get("E2E_PUSHGATEWAY_URL"),
                             help="Pushgateway base URL [env E2E_PUSHGATEWAY_URL]")
        command.add_argument("--timeout", type=float, default=_env_number(
            "E2E_METRICS_PUSH_TIMEOUT", DEFAULT_PUSH_TIMEOUT), help="seconds per attempt")
        command.add_argument("--retries", type=int, default=int(_env_number(
            "E2E_METRICS_PUSH_RETRIES", DEFAULT_PUSH_RETRIES)), help="retries per request")
    return parser


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


def _fail(prog: str, message: str) -> int:
    print(f"{prog} {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
