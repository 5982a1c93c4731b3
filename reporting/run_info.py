"""What the run was: suite version, git revision, target (the labels of `e2e_run_info`)."""

from __future__ import annotations

import ipaddress
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

UNKNOWN = "unknown"
EMBEDDED = "embedded"


@dataclass(frozen=True)
class RunFacts:
    """One run, as the run-level metrics describe it."""

    exit_status: int
    started: float
    finished: float
    version: str
    git_sha: str
    branch: str
    target: str
    last_success: float | None

    @property
    def succeeded(self) -> bool:
        return self.exit_status == 0


def package_version(distribution: str = "mcp-e2e") -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return UNKNOWN


def git_revision(rootdir: Path, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(sha, branch) from GITHUB_SHA / GITHUB_REF_NAME, else `git rev-parse`, else unknown."""
    environ = os.environ if environ is None else environ
    sha = environ.get("GITHUB_SHA", "").strip() or _git(rootdir, "rev-parse", "HEAD")
    branch = environ.get("GITHUB_REF_NAME", "").strip() or _git(
        rootdir, "rev-parse", "--abbrev-ref", "HEAD"
    )
    if branch == "HEAD":
        branch = "detached"
    return sha or UNKNOWN, branch or UNKNOWN


def _git(rootdir: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(rootdir), *args],
            capture_output=True, text=True, timeout=3, check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def target_label(option: Any, environ: Mapping[str, str] | None = None) -> str:
    """`--base-url` (config.option.base_url) or E2E_BASE_URL as scheme://host[:port].

    "embedded" when none is set, or when it points at a loopback address: that is the reference
    console the harness starts on a random port, and a random port must not become a label value.
    """
    environ = os.environ if environ is None else environ
    url = getattr(option, "base_url", None) or environ.get("E2E_BASE_URL", "").strip()
    if not url:
        return EMBEDDED
    parts = urlsplit(str(url))
    host = parts.hostname
    if not parts.scheme or not host:
        return EMBEDDED
    if _is_loopback(host):
        return EMBEDDED
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
