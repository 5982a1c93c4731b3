"""Page object of the console's Redis cache panel: the only place that knows its test ids.

A key's row is `cache-row-<encodeURIComponent(key)>` (likewise `cache-key-…`, `cache-ttl-…`),
so any key, hostile ones included, gives a stable id; `quote(key, safe=URI_SAFE)` is the
same encoding in Python.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect

CACHE_PANEL = "cache-panel"
# What encodeURIComponent leaves alone besides letters and digits.
URI_SAFE = "-_.!~*'()"
# Tunables of the page (cache.js) for tests: expired rows stay put while a test looks at
# them; parallel tests' keys never push ours out.
CACHE_OPTIONS: dict[str, object] = {"cache_expired_keep_ms": 0, "cache_max_rows": 1000}
COUNTDOWN = re.compile(r"^expires in \d+(\.\d)? s$|^expires in \d+m \d\ds$|^expiring…$")


def key_id(key: str) -> str:
    """The test-id suffix of a key (JavaScript's encodeURIComponent)."""
    return quote(key, safe=URI_SAFE)


def row_testid(key: str) -> str:
    return f"cache-row-{key_id(key)}"


class CacheView:
    def __init__(self, page: Page) -> None:
        self.page = page

    # -- regions -------------------------------------------------------------------

    @property
    def panel(self) -> Locator:
        return self.page.get_by_test_id(CACHE_PANEL)

    @property
    def unavailable_note(self) -> Locator:
        return self.page.get_by_test_id("cache-unavailable")

    def row(self, key: str) -> Locator:
        return self.page.get_by_test_id(row_testid(key))

    def key_text(self, key: str) -> Locator:
        return self.page.get_by_test_id(f"cache-key-{key_id(key)}")

    def ttl_text(self, key: str) -> Locator:
        return self.page.get_by_test_id(f"cache-ttl-{key_id(key)}")

    # -- conditions ----------------------------------------------------------------

    def expect_state(self, key: str, state: str, timeout_ms: float = 10_000) -> None:
        expect(self.row(key)).to_have_attribute("data-state", state, timeout=timeout_ms)

    def expect_live(self, key: str, ttl_ms: int, timeout_ms: float = 10_000) -> None:
        """Its row counts down from the TTL announced."""
        row = self.row(key)
        expect(row).to_have_attribute("data-ttl-ms", str(ttl_ms), timeout=timeout_ms)
        expect(row).to_have_attribute("data-state", "live")
        expect(self.ttl_text(key)).to_have_text(COUNTDOWN)

    def expect_persistent(self, key: str, timeout_ms: float = 10_000) -> None:
        row = self.row(key)
        expect(row).to_have_attribute("data-state", "persistent", timeout=timeout_ms)
        expect(row).to_have_attribute("data-ttl-ms", "")
        expect(row).to_have_attribute("data-expires-at", "")
        expect(self.ttl_text(key)).to_have_text("no TTL")

    def expect_removed(self, key: str, reason: str, timeout_ms: float = 10_000) -> None:
        """Its row says the key is gone, and why (`expired`, `deleted`, …)."""
        row = self.row(key)
        expect(row).to_have_attribute("data-state", "expired", timeout=timeout_ms)
        expect(row).to_have_attribute("data-reason", reason)
        expect(self.ttl_text(key)).to_have_text(reason)

    def expect_available(self, timeout_ms: float = 10_000) -> None:
        expect(self.panel).to_have_attribute("data-available", "true", timeout=timeout_ms)
        expect(self.unavailable_note).to_be_hidden()

    def has_row(self, key: str) -> bool:
        return self.row(key).count() > 0

    def markup_elements(self) -> int:
        """Elements in the panel that only key text turned into HTML could make."""
        return self.panel.locator("img, script, b, iframe, object, embed, svg").count()

    def rows(self) -> list[dict]:
        """The page's own list of cache rows (window.mcpConsole.state().cache)."""
        return self.page.evaluate("window.mcpConsole.state().cache")
