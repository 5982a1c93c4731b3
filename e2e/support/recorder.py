"""Records every WebSocket frame a page sees, parsed and schema-checked, and waits on them.

Attach before navigating: page.on("websocket") only reports sockets opened afterwards.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Frame as PlaywrightFrame
from playwright.sync_api import Page, WebSocket

from e2e.support.schemas import frame_errors


@dataclass
class Frame:
    socket: int  # 0-based index of the socket within the page, in opening order
    direction: str  # "received" | "sent"
    raw: str | bytes
    at_ms: float  # wall-clock receipt time on the test side, ms since epoch
    data: dict[str, Any] | None = None  # decoded JSON object, None when it is not one
    parse_errors: list[str] = field(default_factory=list)  # why raw is not a JSON object
    # Made up by the test (a mock, an injection) or held back by it: its timing is the
    # test's, not the server's, so it is never a latency sample.
    scripted: bool = False
    _errors: list[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def errors(self) -> list[str]:
        """Every way the frame breaks the contract ([] when valid). Schema-checked on first
        use, not on arrival: in Playwright's event dispatch a check would hold up the next
        event. The latency timelines read every received frame's at the end of a test."""
        if self._errors is None:
            checked = self.parse_errors
            if not checked and self.data is not None:
                checked = frame_errors(self.data)
            self._errors = checked
        return self._errors

    @property
    def type(self) -> str | None:
        return self.data.get("type") if self.data else None

    @property
    def id(self) -> str | None:
        return self.data.get("id") if self.data else None

    @property
    def seq(self) -> int | None:
        return self.data.get("seq") if self.data else None

    @property
    def payload(self) -> dict[str, Any]:
        return (self.data or {}).get("payload") or {}


def decode(raw: str | bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The JSON object a frame holds, and every way it breaks the contract."""
    data, problems = parse(raw)
    return data, problems or frame_errors(data)


def parse(raw: str | bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """The JSON object a frame holds (None if it holds none), and why not."""
    if isinstance(raw, bytes):
        return None, ["binary frame (the contract sends JSON text)"]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, [f"not JSON: {exc}"]
    if not isinstance(data, dict):
        return None, [f"not a JSON object: {type(data).__name__}"]
    return data, []


@dataclass
class RecordedSocket:
    url: str
    kind: str  # "page": seen by page.on("websocket"); "routed": through route_web_socket;
    #            "upstream": the server side of a routed socket (pre-fault frames)
    ws: WebSocket | None = None
    closed: bool = False


class FrameRecorder:
    """Every frame of every socket a page opens, both directions, in arrival order."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.sockets: list[RecordedSocket] = []
        self.frames: list[Frame] = []
        # Set by a route_web_socket proxy: page.on("websocket") then reports the server's
        # side of routed sockets, which is not what the page received.
        self.routed: re.Pattern[str] | None = None
        page.on("websocket", self._on_socket)
        page.on("framenavigated", self._on_navigated)

    def _on_navigated(self, frame: PlaywrightFrame) -> None:
        # A document's sockets die with it; Playwright reports no "close" for them.
        if frame.parent_frame is None:
            for sock in self.sockets:
                sock.closed = True

    def _on_socket(self, ws: WebSocket) -> None:
        upstream = self.routed is not None and self.routed.search(ws.url) is not None
        index = self._add(RecordedSocket(ws.url, "upstream" if upstream else "page", ws))
        received, sent = (
            ("upstream-received", "upstream-sent") if upstream else ("received", "sent")
        )
        ws.on("framereceived", lambda payload: self.record(index, received, payload))
        ws.on("framesent", lambda payload: self.record(index, sent, payload))
        ws.on("close", lambda _ws: self.mark_closed(index))

    def _add(self, sock: RecordedSocket) -> int:
        self.sockets.append(sock)
        return len(self.sockets) - 1

    def add_routed_socket(self, url: str) -> int:
        return self._add(RecordedSocket(url, "routed"))

    def mark_closed(self, index: int) -> None:
        self.sockets[index].closed = True

    def record(
        self, socket: int, direction: str, raw: str | bytes, scripted: bool = False
    ) -> Frame:
        data, problems = parse(raw)
        frame = Frame(socket, direction, raw, time.time() * 1000, data, problems, scripted)
        self.frames.append(frame)
        return frame

    # -- queries ---------------------------------------------------------------------

    def received(self, socket: int | None = None) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f.direction == "received" and (socket is None or f.socket == socket)
        ]

    def of_type(self, type_: str, socket: int | None = None) -> list[Frame]:
        return [f for f in self.received(socket) if f.type == type_]

    def open_sockets(self) -> list[int]:
        """Indices of the page's open sockets (page-seen or routed, not upstream sides)."""
        return [i for i, s in enumerate(self.sockets) if not s.closed and s.kind != "upstream"]

    def page_sockets(self) -> list[int]:
        return [i for i, s in enumerate(self.sockets) if s.kind != "upstream"]

    # -- waiting ---------------------------------------------------------------------

    def wait_for(
        self,
        type_: str,
        predicate: Callable[[Frame], bool] = lambda _f: True,
        *,
        after: int = 0,
        timeout_ms: float = 10_000,
        direction: str = "received",
    ) -> Frame:
        """The first received frame of that type at index >= after that matches, waiting for it.

        Waits on Playwright's own events (a frame, a new socket); never sleeps.
        """
        found: list[Frame] = []
        cursor = after

        def match() -> bool:
            nonlocal cursor
            new, cursor = self.frames[cursor:], len(self.frames)
            found.extend(
                f for f in new if f.direction == direction and f.type == type_ and predicate(f)
            )
            return bool(found)

        self.wait_until(match, f"a {type_!r} frame matching", timeout_ms)
        return found[0]

    def wait_until(
        self, condition: Callable[[], bool], what: str, timeout_ms: float = 10_000
    ) -> None:
        """Recheck `condition` each time Playwright delivers something, until it holds."""
        deadline = time.monotonic() + timeout_ms / 1000
        while not condition():
            remaining_ms = (deadline - time.monotonic()) * 1000
            if remaining_ms <= 0:
                raise AssertionError(
                    f"no {what} within {timeout_ms:.0f} ms; "
                    f"{len(self.frames)} frames seen: {self.summary()}"
                )
            self._next_event(remaining_ms)

    def wait_closed(self, index: int, timeout_ms: float = 10_000) -> None:
        """Wait for the page to report socket `index` closed."""
        sock = self.sockets[index]
        if not sock.closed and sock.ws is not None:
            sock.ws.wait_for_event("close", timeout=timeout_ms)
        assert sock.closed, f"socket {index} still open"

    def _next_event(self, timeout_ms: float) -> None:
        """Return when Playwright has delivered something: a frame, a close, a new socket."""
        watched = [s.ws for s in self.sockets if s.ws is not None and not s.closed]
        try:
            if watched:
                watched[-1].wait_for_event("framereceived", timeout=timeout_ms)
            elif any(s.kind == "routed" for s in self.sockets):
                # A fully mocked socket has no page.on("websocket") side to wait on; its frames
                # come from the test itself, so let Playwright dispatch for a moment.
                self.page.wait_for_timeout(min(timeout_ms, 50))
            else:
                self.page.wait_for_event("websocket", timeout=timeout_ms)
        except PlaywrightError:
            # A timeout or a socket closing mid-wait: the caller rechecks and its deadline rules.
            pass

    # -- reporting -------------------------------------------------------------------

    def summary(self, last: int = 8) -> str:
        tail = [f"#{f.socket}:{f.type}:{f.seq}" for f in self.received()[-last:]]
        return ", ".join(tail) or "none"

    def dump(self, path: Path) -> Path:
        """Write the recording as JSON lines (for a failed test's output folder)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as out:
            for f in self.frames:
                raw = f.raw if isinstance(f.raw, str) else f"<{len(f.raw)} bytes>"
                record = {
                    "socket": f.socket,
                    "direction": f.direction,
                    "at_ms": f.at_ms,
                    "raw": raw,
                    "errors": f.errors,
                }
                out.write(json.dumps(record) + "\n")
        return path
