"""Which Chromium the suite launches: Playwright's own where installed, else Debian's."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

# Debian's /usr/bin/chromium is a shell wrapper that adds flags and prints a warning;
# the binary behind it is what Playwright should start.
DEBIAN_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

# Keep Chromium off the network it cannot reach here and out of first-run chores.
QUIET_FLAGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
)


def find_debian_chromium() -> str | None:
    for candidate in DEBIAN_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def launch_overrides(playwright_executable: str | None) -> dict:
    """Extra launch arguments for pytest-playwright's browser_type_launch_args.

    E2E_CHROMIUM_PATH wins; then Playwright's own build if installed; else Debian's.
    """
    explicit = os.environ.get("E2E_CHROMIUM_PATH")
    if not explicit and playwright_executable and Path(playwright_executable).exists():
        return {}
    executable = explicit or find_debian_chromium()
    if executable is None:
        raise RuntimeError(
            "no Chromium found: run `make setup` (installs Debian's chromium) "
            "or set E2E_CHROMIUM_PATH"
        )
    # Chromium writes profile and cache files under $HOME; keep them out of the user's.
    home = tempfile.mkdtemp(prefix="mcp-e2e-chromium-home-")
    atexit.register(shutil.rmtree, home, True)
    env = {
        **os.environ,
        "HOME": home,
        "XDG_CONFIG_HOME": f"{home}/.config",
        "XDG_CACHE_HOME": f"{home}/.cache",
    }
    return {"executable_path": executable, "args": list(QUIET_FLAGS), "env": env}


def extend_launch_args(launch_args: dict, playwright_executable: str | None) -> dict:
    """pytest-playwright's browser_type_launch_args plus ours (user args kept, ours added)."""
    extra = launch_overrides(playwright_executable)
    args = [*launch_args.get("args", []), *extra.pop("args", [])]
    return {**launch_args, **extra, **({"args": args} if args else {})}
