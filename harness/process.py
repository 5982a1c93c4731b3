"""One real service process: started, waited on for readiness, stopped, its log kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class ServiceStartError(RuntimeError):
    """A service did not become ready; the message carries the tail of its log."""


@dataclass
class Service:
    """A running service: its URL, its process and where its log goes."""

    name: str
    url: str
    process: subprocess.Popen
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        # Each service runs in its own process group, so children go too.
        _signal_group(self.process, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.process, signal.SIGKILL)
            self.process.wait(timeout=timeout)

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def http_ready(url: str) -> Callable[[], bool]:
    """Readiness probe: the URL answers 2xx."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError):
            return False

    return probe


def start_process(
    name: str,
    argv: Sequence[str],
    url: str,
    ready: Callable[[], bool],
    log_path: Path,
    timeout: float = 20.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Service:
    """Start argv, wait until ready() is true, or raise with the log's tail."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child owns it while it runs
    try:
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise ServiceStartError(
            f"{name}: cannot run {argv[0]!r} ({exc}); run `make setup` to install it"
        ) from exc
    finally:
        log.close()
    service = Service(name=name, url=url, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServiceStartError(
                f"{name} exited with code {process.returncode} during start-up "
                f"({' '.join(argv)}); log {log_path}:\n{service.log_tail()}"
            )
        if ready():
            return service
        time.sleep(delay)  # polling a child process for readiness; not a test wait
        delay = min(delay * 2, 0.25)
    service.stop()
    raise ServiceStartError(
        f"{name} was not ready after {timeout:.0f}s ({' '.join(argv)}); "
        f"log {log_path}:\n{service.log_tail()}"
    )
