"""Page object of the console's alerts panel and toasts: the only place that knows their ids."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

ALERTS_PANEL = "alerts-panel"
# Tunables of the page (alerts.js) for tests: the console is shared by parallel tests, whose
# toasts must neither push ours out nor time out before the test looked at them.
TOAST_OPTIONS: dict[str, object] = {"toast_max": 200, "toast_timeout_ms": 0}


class AlertsView:
    def __init__(self, page: Page) -> None:
        self.page = page

    # -- regions -------------------------------------------------------------------

    @property
    def panel(self) -> Locator:
        return self.page.get_by_test_id(ALERTS_PANEL)

    @property
    def toasts(self) -> Locator:
        return self.page.get_by_test_id("toasts")

    def row(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"alert-row-{fingerprint}")

    def row_summary(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"alert-summary-{fingerprint}")

    def row_description(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"alert-description-{fingerprint}")

    def runbook(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"alert-runbook-{fingerprint}")

    def toast(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"toast-{fingerprint}")

    def toast_summary(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"toast-summary-{fingerprint}")

    def toast_runbook(self, fingerprint: str) -> Locator:
        return self.page.get_by_test_id(f"toast-runbook-{fingerprint}")

    # -- conditions ----------------------------------------------------------------

    def expect_firing(
        self, fingerprint: str, severity: str, alertname: str, timeout_ms: float = 15_000
    ) -> None:
        """Its row and its toast are on screen, firing, with that severity."""
        row, toast = self.row(fingerprint), self.toast(fingerprint)
        expect(toast).to_be_visible(timeout=timeout_ms)
        expect(toast).to_have_attribute("data-status", "firing")
        expect(toast).to_have_attribute("data-severity", severity)
        expect(toast).to_have_attribute("role", "alert" if severity == "critical" else "status")
        expect(row).to_be_visible(timeout=timeout_ms)
        expect(row).to_have_attribute("data-status", "firing")
        expect(row).to_have_attribute("data-severity", severity)
        expect(row).to_have_attribute("data-alertname", alertname)

    def expect_resolved(self, fingerprint: str, timeout_ms: float = 15_000) -> None:
        """Its row is gone and its toast says resolved."""
        expect(self.row(fingerprint)).to_have_count(0, timeout=timeout_ms)
        toast = self.toast(fingerprint)
        expect(toast).to_have_attribute("data-status", "resolved", timeout=timeout_ms)
        expect(toast).to_have_attribute("role", "status")

    def expect_absent(self, fingerprint: str) -> None:
        """Neither row nor toast, now (call after something proves the page is up to date)."""
        assert self.row(fingerprint).count() == 0, f"alert-row-{fingerprint} is shown"
        assert self.toast(fingerprint).count() == 0, f"toast-{fingerprint} is shown"

    def markup_elements(self) -> int:
        """Elements in the panel and toasts that only alert text turned into HTML could make."""
        hostile = "img, script, b, iframe, object, embed"
        return self.panel.locator(hostile).count() + self.toasts.locator(hostile).count()

    def firing(self) -> list[dict]:
        """The page's own list of firing alerts (window.mcpConsole.state().alerts)."""
        return self.page.evaluate("window.mcpConsole.state().alerts")
