"""Frame-level fault injection with Playwright's route_web_socket.

Each socket the page opens to the console goes through `_on_route`: either it is refused at
once (a full mock that closes with a code), or it is connected to the real server and the
server's frames are forwarded through the active faults. What the page really receives is
recorded in the FrameRecorder as socket frames of their own (page.on("websocket") would only
show what the server sent, before the faults).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.sync_api import Page, WebSocketRoute

from e2e.support.recorder import Frame, FrameRecorder, parse

CONSOLE_SOCKET = re.compile(r"/ws(\?.*)?$")

Match = Callable[[Frame], bool]


def of_type(type_: str) -> Match:
    return lambda frame: frame.type == type_


@dataclass
class _Rule:
    match: Match
    action: str  # drop | duplicate | hold
    remaining: int


@dataclass
class RoutedSocket:
    index: int  # the socket's index in the recorder
    route: WebSocketRoute
    server: WebSocketRoute | None
    silenced: bool = False
    paused: bool = False  # every server frame waits in `held`, in order, until resume()
    held: list[str | bytes] = field(default_factory=list)
    # Frames of the test's own inserted into the sequence: later server frames move up.
    seq_shift: int = 0
    last_seq: int = 0


class WsFaultProxy:
    def __init__(self, page: Page, recorder: FrameRecorder) -> None:
        self.recorder = recorder
        self.sockets: list[RoutedSocket] = []
        self._rules: list[_Rule] = []
        self._refuse: list[tuple[int, str]] = []  # (code, reason) for the next connections
        recorder.routed = CONSOLE_SOCKET
        self._mocked: list[list[str | bytes]] = []
        page.route_web_socket(CONSOLE_SOCKET, self._on_route)

    # -- plans, set before or during a test -------------------------------------------

    def refuse_next(self, count: int, code: int = 1011, reason: str = "e2e: refused") -> None:
        """The next `count` sockets are accepted then closed at once, without a server."""
        self._refuse += [(code, reason)] * count

    def serve_next(self, frames: list[str | bytes]) -> None:
        """The next socket is a full mock: no server, the page gets these frames at once and
        the socket then stays open and quiet (page.on("websocket") never sees it)."""
        self._mocked.append(frames)

    def drop(self, match: Match, count: int = 1) -> None:
        self._rules.append(_Rule(match, "drop", count))

    def duplicate(self, match: Match, count: int = 1) -> None:
        self._rules.append(_Rule(match, "duplicate", count))

    def hold(self, match: Match, count: int = 1) -> None:
        """Keep matching frames back until release(): later frames overtake them."""
        self._rules.append(_Rule(match, "hold", count))

    # -- actions on the current socket ------------------------------------------------

    @property
    def current(self) -> RoutedSocket:
        return self.sockets[-1]

    def inject(self, raw: str | bytes) -> None:
        """Send raw bytes or text of the test's own to the page (outside the seq order)."""
        self._to_page(self.current, raw, scripted=True)

    def inject_event(self, type_: str, payload: dict) -> str:
        """Insert a well-formed v1 event into the sequence (it takes the next seq and the
        server's later frames are renumbered after it); returns its id."""
        sock = self.current
        sock.seq_shift += 1
        event_id = str(uuid.uuid4())
        self._to_page(
            sock, envelope(type_, payload, sock.last_seq + 1, event_id, time.time() * 1000)
        )
        return event_id

    def release(self) -> None:
        """Send the held frames on, in the order they were held; their delay is the test's."""
        sock = self.current
        held, sock.held = sock.held, []
        for raw in held:
            self._to_page(sock, raw, scripted=True)

    def pause(self) -> None:
        """Delay the stream: the server's frames queue up, in order, until resume()."""
        self.current.paused = True

    def resume(self) -> None:
        self.current.paused = False
        self.release()

    def held_frames(self) -> list[Frame]:
        """The current socket's frames held back so far, decoded."""
        sock = self.current
        return [Frame(sock.index, "held", raw, 0.0, *parse(raw)) for raw in sock.held]

    def silence(self) -> None:
        """The server's frames stop reaching the page; the socket stays open (half-open)."""
        self.current.silenced = True

    def close(self, code: int, reason: str = "") -> None:
        """Close the page's side with a code, as a server would; the upstream goes too."""
        sock = self.current
        sock.route.close(code=code, reason=reason)
        if sock.server is not None:
            sock.server.close()

    # -- plumbing ---------------------------------------------------------------------

    def _on_route(self, route: WebSocketRoute) -> None:
        index = self.recorder.add_routed_socket(route.url)
        if self._refuse:
            code, reason = self._refuse.pop(0)
            self.sockets.append(RoutedSocket(index, route, None))
            route.close(code=code, reason=reason)
            self.recorder.mark_closed(index)
            return
        if self._mocked:
            sock = RoutedSocket(index, route, None)
            self.sockets.append(sock)
            route.on_message(lambda raw: self.recorder.record(index, "sent", raw))
            route.on_close(lambda _code, _reason: self.recorder.mark_closed(index))
            for raw in self._mocked.pop(0):
                self._to_page(sock, raw, scripted=True)
            return
        server = route.connect_to_server()
        sock = RoutedSocket(index, route, server)
        self.sockets.append(sock)
        route.on_message(lambda raw: self._to_server(sock, raw))
        server.on_message(lambda raw: self._from_server(sock, raw))
        route.on_close(lambda code, reason: self._closed(sock, code, reason, from_page=True))
        server.on_close(lambda code, reason: self._closed(sock, code, reason, from_page=False))

    def _to_server(self, sock: RoutedSocket, raw: str | bytes) -> None:
        self.recorder.record(sock.index, "sent", raw)
        assert sock.server is not None
        sock.server.send(raw)

    def _from_server(self, sock: RoutedSocket, raw: str | bytes) -> None:
        if sock.silenced:
            return
        data, problems = parse(raw)
        if sock.seq_shift and data is not None and isinstance(data.get("seq"), int):
            data["seq"] += sock.seq_shift
            raw = json.dumps(data)
        if sock.paused:
            sock.held.append(raw)
            return
        frame = Frame(sock.index, "received", raw, 0.0, data, problems)
        for rule in self._rules:
            if rule.remaining > 0 and rule.match(frame):
                rule.remaining -= 1
                if rule.action == "drop":
                    return
                if rule.action == "hold":
                    sock.held.append(raw)
                    return
                if rule.action == "duplicate":
                    self._to_page(sock, raw)
                break
        self._to_page(sock, raw)

    def _to_page(self, sock: RoutedSocket, raw: str | bytes, scripted: bool = False) -> None:
        frame = self.recorder.record(sock.index, "received", raw, scripted)
        if isinstance(frame.seq, int):
            sock.last_seq = max(sock.last_seq, frame.seq)
        sock.route.send(raw)

    def _closed(
        self, sock: RoutedSocket, code: int | None, reason: str | None, from_page: bool
    ) -> None:
        self.recorder.mark_closed(sock.index)
        other = sock.server if from_page else sock.route
        if other is not None:
            other.close(code=code, reason=reason or "")


def envelope(type_: str, payload: dict, seq: int, id_: str, ts: float) -> str:
    """A v1 frame built by a test (unknown types, oversized payloads)."""
    return json.dumps({"v": 1, "type": type_, "seq": seq, "id": id_, "ts": ts, "payload": payload})
