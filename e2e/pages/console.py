"""Page object of the MCP console: the only place that knows its test ids."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Locator, Page, expect

from e2e.support.recorder import FrameRecorder

HEALTH_PANEL = "health-panel"
METRICS_PANEL = "metrics-panel"
ALERTS_PANEL = "alerts-panel"


class ConsolePage:
    def __init__(self, page: Page, base_url: str, recorder: FrameRecorder) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder

    def open(self, **client_options: object) -> ConsolePage:
        """Load the console; client_options become its query-string tunables."""
        query = f"?{urlencode(client_options)}" if client_options else ""
        self.page.goto(f"{self.base_url}/{query}")
        return self

    # -- regions -------------------------------------------------------------------

    @property
    def badge(self) -> Locator:
        return self.page.get_by_test_id("connection-badge")

    @property
    def server_version(self) -> Locator:
        return self.page.get_by_test_id("server-version")

    def panel(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    def health_row(self, component: str) -> Locator:
        return self.page.get_by_test_id(f"health-row-{component}")

    def health_status(self, component: str) -> Locator:
        return self.page.get_by_test_id(f"health-status-{component}")

    def health_detail(self, component: str) -> Locator:
        return self.page.get_by_test_id(f"health-detail-{component}")

    def metric(self, name: str) -> Locator:
        return self.page.get_by_test_id(f"metric-{name}")

    # -- conditions ----------------------------------------------------------------

    def expect_connection(self, state: str, timeout_ms: float = 10_000) -> None:
        expect(self.badge).to_have_attribute("data-state", state, timeout=timeout_ms)

    def client_stats(self) -> dict[str, int]:
        return self.page.evaluate("({...window.mcpConsole.stats})")

    def client_state(self) -> dict:
        return self.page.evaluate("window.mcpConsole.state()")

    def wait_for_stat(self, name: str, at_least: int, timeout_ms: float = 10_000) -> None:
        """Wait until the client's own counter `name` reaches at_least."""
        self.page.wait_for_function(
            "([name, n]) => window.mcpConsole && window.mcpConsole.stats[name] >= n",
            arg=[name, at_least],
            timeout=timeout_ms,
        )

    def expect_stale(self, panel: str, stale: bool, timeout_ms: float = 10_000) -> None:
        expect(self.panel(panel)).to_have_attribute(
            "data-stale", "true" if stale else "false", timeout=timeout_ms
        )
        note = self.page.get_by_test_id(f"{panel}-stale")
        if stale:
            expect(note).to_have_text(re.compile(r"^stale since \d\d:\d\d:\d\d$"))
        else:
            expect(note).to_be_hidden()
