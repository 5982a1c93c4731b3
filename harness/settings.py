"""Settings with a CLI option, an env var and an ini key: CLI wins, then env, then ini."""

from __future__ import annotations

import os

import pytest


def setting(config: pytest.Config, dest: str, env: str, ini: str | None = None) -> str | None:
    value = config.getoption(dest, default=None)
    if value:
        return value
    if os.environ.get(env):
        return os.environ[env]
    if ini:
        try:
            return config.getini(ini) or None
        except ValueError:  # ini key not registered by this run's plugins
            return None
    return None
