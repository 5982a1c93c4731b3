"""When toasts appeared on the page (toast_probe.js), on the page's own clock."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

PROBE_JS = Path(__file__).with_name("toast_probe.js").read_text()

_SHOWN = """([key]) => {
  const r = (window.__e2eToasts || {})[key];
  return r && r.frameAt !== null ? r.frameAt : null;
}"""


def install(page: Page) -> None:
    """Before the first navigation: record every toast from the page's start."""
    page.add_init_script(PROBE_JS)


def page_now_ms(page: Page) -> float:
    """The page's clock now (epoch ms), the clock toast times are on."""
    return page.evaluate("performance.timeOrigin + performance.now()")


def wait_shown_ms(
    page: Page, fingerprint: str, status: str = "firing", timeout_ms: float = 15_000
) -> float:
    """When toast-<fingerprint> first showed with that data-status (first frame after it was
    in the DOM), waiting for it."""
    key = f"toast-{fingerprint}|{status}"
    handle = page.wait_for_function(_SHOWN, arg=[key], timeout=timeout_ms)
    return float(handle.json_value())
