"""Shared by the self-tests: pytester, and the browser for the console's own UI tests."""

import pytest

from harness import chromium

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright):
    """Debian's Chromium where Playwright has none (as in e2e/conftest.py)."""
    try:
        return chromium.extend_launch_args(
            browser_type_launch_args, playwright.chromium.executable_path
        )
    except RuntimeError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def base_url() -> None:
    """The UI self-tests navigate to consoles of their own, never to a --base-url."""
    return None
