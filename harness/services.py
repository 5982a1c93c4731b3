"""How each real component starts: a free loopback port, its own work folder, readiness."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from harness.ports import free_port
from harness.process import Service, ServiceStartError, http_ready, start_process

HOST = "127.0.0.1"
_PORT_ATTEMPTS = 3


def binary(name: str) -> str:
    """Absolute path of a Debian-packaged binary, or a clear error."""
    path = shutil.which(name)
    if path is None:
        raise ServiceStartError(f"{name} is not installed; run `make setup` (apt-get install)")
    return path


def _start_on_free_port(
    name: str,
    workdir: Path,
    build: Callable[[int], tuple[Sequence[str], str, Callable[[], bool]]],
    timeout: float = 20.0,
) -> Service:
    """Start on a fresh free port; retry when another process took the port meanwhile."""
    last: ServiceStartError | None = None
    for attempt in range(_PORT_ATTEMPTS):
        port = free_port(HOST)
        argv, url, ready = build(port)
        try:
            return start_process(
                name, argv, url, ready, workdir / f"{name}-{attempt}.log", timeout=timeout
            )
        except ServiceStartError as exc:
            last = exc
            if "address already in use" not in str(exc).lower():
                raise
    assert last is not None
    raise last


def start_redis(workdir: Path) -> Service:
    """redis-server without persistence."""
    data = workdir / "redis"
    data.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> tuple[Sequence[str], str, Callable[[], bool]]:
        url = f"redis://{HOST}:{port}/0"
        argv = [
            binary("redis-server"),
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            "--protected-mode",
            "yes",
            "--maxmemory",
            "64mb",
        ]
        return argv, url, _redis_ready(url)

    return _start_on_free_port("redis", workdir, build)


def _redis_ready(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
            with client:
                return bool(client.ping())
        except redis.RedisError:
            return False

    return probe


def start_pushgateway(workdir: Path) -> Service:
    """prometheus-pushgateway with the admin API on (the reporter's prune needs it)."""

    def build(port: int) -> tuple[Sequence[str], str, Callable[[], bool]]:
        url = f"http://{HOST}:{port}"
        argv = [
            binary("prometheus-pushgateway"),
            f"--web.listen-address={HOST}:{port}",
            "--web.enable-admin-api",
            "--log.level=info",
            # Debian's default persists to one shared file; each run gets a gateway of its own.
            "--persistence.file=",
        ]
        return argv, url, http_ready(f"{url}/-/ready")

    return _start_on_free_port("pushgateway", workdir, build)


def start_console(
    workdir: Path,
    redis_url: str,
    *,
    heartbeat_interval: float = 1.0,
    health_interval: float = 2.0,
    metrics_interval: float = 2.0,
    test_controls: bool = True,
    webhook_token_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Service:
    """The reference MCP console (mcp_panels) served by uvicorn; its Alertmanager webhook
    wants the bearer token in webhook_token_file when one is given."""

    def build(port: int) -> tuple[Sequence[str], str, Callable[[], bool]]:
        url = f"http://{HOST}:{port}"
        argv = [
            sys.executable,
            "-m",
            "mcp_panels",
            "--host",
            HOST,
            "--port",
            str(port),
            "--redis-url",
            redis_url,
            "--heartbeat-interval",
            str(heartbeat_interval),
            "--health-interval",
            str(health_interval),
            "--metrics-interval",
            str(metrics_interval),
            *(["--test-controls"] if test_controls else []),
            *(["--webhook-token-file", str(webhook_token_file)] if webhook_token_file else []),
            *extra_args,
        ]
        return argv, url, http_ready(f"{url}/healthz")

    return _start_on_free_port("console", workdir, build)


def start_alertmanager(workdir: Path, config_path: Path) -> Service:
    """prometheus-alertmanager, clustering off, with the given rendered config."""
    storage = workdir / "alertmanager-data"
    storage.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> tuple[Sequence[str], str, Callable[[], bool]]:
        url = f"http://{HOST}:{port}"
        argv = [
            binary("prometheus-alertmanager"),
            f"--config.file={config_path}",
            f"--storage.path={storage}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ]
        return argv, url, http_ready(f"{url}/-/ready")

    return _start_on_free_port("alertmanager", workdir, build)


def start_prometheus(workdir: Path, config_path: Path) -> Service:
    """prometheus with a throwaway TSDB."""
    storage = workdir / "prometheus-data"
    storage.mkdir(parents=True, exist_ok=True)

    def build(port: int) -> tuple[Sequence[str], str, Callable[[], bool]]:
        url = f"http://{HOST}:{port}"
        argv = [
            binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={storage}",
            f"--web.listen-address={HOST}:{port}",
            "--web.enable-lifecycle",
        ]
        return argv, url, http_ready(f"{url}/-/ready")

    return _start_on_free_port("prometheus", workdir, build, timeout=30.0)
