"""`python -m mcp_panels`: parse options, then serve the console with uvicorn."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from mcp_panels import __version__
from mcp_panels.app import create_app
from mcp_panels.settings import Settings

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text!r}")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.netloc:
            raise argparse.ArgumentTypeError(f"expected a {'/'.join(schemes)} URL, got {text!r}")
        return text

    return parse


def _token_file(text: str) -> str:
    # A file, not the token itself: argv is visible to every user of the machine (ps).
    try:
        token = Path(text).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc}") from None
    if not token or any(c.isspace() for c in token):
        raise argparse.ArgumentTypeError(
            f"{text!r} must hold one token: non-empty, no spaces or line breaks inside"
        )
    return token


def build_parser() -> argparse.ArgumentParser:
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m mcp_panels",
        description="Reference MCP operations console (WebSocket panels + static UI).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mcp-panels {__version__}")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=_port, default=defaults.port)
    parser.add_argument(
        "--redis-url", type=_url("redis", "rediss", "unix"), default=defaults.redis_url
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive_float,
        default=defaults.heartbeat_interval,
        metavar="SECONDS",
    )
    parser.add_argument(
        "--health-interval",
        type=_positive_float,
        default=defaults.health_interval,
        metavar="SECONDS",
    )
    parser.add_argument(
        "--metrics-interval",
        type=_positive_float,
        default=defaults.metrics_interval,
        metavar="SECONDS",
    )
    http_url = _url("http", "https")
    parser.add_argument("--prometheus-url", type=http_url, help="GET probe for prometheus")
    parser.add_argument("--kyverno-url", type=http_url, help="GET probe for kyverno")
    parser.add_argument("--argocd-url", type=http_url, help="GET probe for argocd")
    parser.add_argument(
        "--otlp-endpoint",
        type=http_url,
        help="OTLP/HTTP collector for a span per broadcast (e.g. http://tempo:4318)",
    )
    parser.add_argument(
        "--test-controls",
        action="store_true",
        help="enable POST /api/test/emit (never in a real deployment)",
    )
    parser.add_argument(
        "--send-queue-size",
        type=_positive_int,
        default=defaults.send_queue_size,
        metavar="FRAMES",
        help="frames a client may lag behind before it is closed with 1013",
    )
    parser.add_argument(
        "--cache-prefix",
        default=defaults.cache_prefix,
        metavar="PREFIX",
        help="cache panel: watch Redis keys under this prefix (default %(default)s)",
    )
    parser.add_argument(
        "--cache-max-keys",
        type=_positive_int,
        default=defaults.cache_max_keys,
        metavar="N",
        help="cache panel: most recently changed keys kept in the snapshot",
    )
    parser.add_argument(
        "--webhook-token-file",
        type=_token_file,
        metavar="PATH",
        help="file holding the bearer token Alertmanager must send to "
        "/api/alertmanager/webhook (its http_config.authorization.credentials_file); "
        "without it the webhook accepts anyone",
    )
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=defaults.log_level)
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> Settings:
    args = build_parser().parse_args(argv)
    return Settings(
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        heartbeat_interval=args.heartbeat_interval,
        health_interval=args.health_interval,
        metrics_interval=args.metrics_interval,
        test_controls=args.test_controls,
        prometheus_url=args.prometheus_url,
        kyverno_url=args.kyverno_url,
        argocd_url=args.argocd_url,
        log_level=args.log_level,
        send_queue_size=args.send_queue_size,
        otlp_endpoint=args.otlp_endpoint,
        cache_prefix=args.cache_prefix,
        cache_max_keys=args.cache_max_keys,
        webhook_token=args.webhook_token_file,
    )


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> None:
    settings = settings_from_args(argv)
    # SIGTERM is how the harness and orchestrators stop us: a graceful stop, so exit 0.
    # uvicorn shuts down gracefully on it, restores this handler and re-raises the signal,
    # which lands here instead of killing the process with -15.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # One stdout stream for our lines and uvicorn's (log_config=None makes uvicorn's
    # loggers propagate here), so the harness's log file shows them in order.
    logging.basicConfig(
        stream=sys.stdout,
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if settings.log_level != "debug":
        # httpx logs every probe request at info; the health panel already shows them.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    if settings.webhook_token is None:
        logging.getLogger("mcp_panels").warning(
            "the Alertmanager webhook accepts unauthenticated posts: "
            "give --webhook-token-file in a real deployment"
        )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=settings.log_level,
        lifespan="on",
        # SIGTERM must end the process promptly even with sockets open.
        timeout_graceful_shutdown=2,
    )


if __name__ == "__main__":
    main()
