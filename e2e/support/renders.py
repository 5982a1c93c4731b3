"""Reads what the render probe (render_probe.js) saw the console's panels show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

PROBE_JS = (Path(__file__).with_name("render_probe.js")).read_text()


@dataclass
class Render:
    panel: str
    event_id: str
    seq: str | None
    dom_at_ms: float
    frame_at_ms: float | None
    items: dict[str, dict[str, Any]]

    def text(self, testid: str) -> str:
        return self.items[testid]["text"]

    def attr(self, testid: str, name: str) -> str | None:
        return self.items[testid]["attrs"].get(name)


def install(page: Page) -> None:
    page.add_init_script(PROBE_JS)


_FIND = """([id, panel]) => (window.__e2eRenders || []).find(
    r => r.eventId === id && (panel === null || r.panel === panel))"""


def _render(raw: dict[str, Any]) -> Render:
    return Render(
        raw["panel"], raw["eventId"], raw["seq"], raw["domAt"], raw["frameAt"], raw["items"]
    )


def wait_for_render(
    page: Page, event_id: str, panel: str | None = None, timeout_ms: float = 10_000
) -> Render:
    """The render of `panel` (any panel if None) stamped with event_id, waiting for it."""
    page.wait_for_function(_FIND, arg=[event_id, panel], timeout=timeout_ms)
    return _render(page.evaluate(_FIND, [event_id, panel]))


def all_renders(page: Page) -> list[Render]:
    return [_render(r) for r in page.evaluate("window.__e2eRenders || []")]


def receipts(page: Page) -> dict[str, float]:
    """Event id → when the page's socket delivered it (epoch ms)."""
    return page.evaluate("window.__e2eReceipts || {}")


def page_sockets(page: Page) -> list[dict[str, Any]]:
    """The page's own list of sockets: url, open, close code, wasClean, openedAt, closedAt."""
    return page.evaluate("window.__e2eSockets || []")


def transitions(page: Page, testid: str, attr: str) -> list[dict[str, Any]]:
    """Each change of data-<attr> on the element with that test id: value, at, note text."""
    return page.evaluate(
        "([t, a]) => (window.__e2eTransitions || []).filter(x => x.testid === t && x.attr === a)",
        [testid, attr],
    )
