"""Open sockets, each with its own seq and send queue, and fan-out of events to all of them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocket

from mcp_panels.envelope import Event

log = logging.getLogger("mcp_panels.ws")

# Close code for a client that cannot keep up ("try again later").
CLOSE_TRY_AGAIN_LATER = 1013
_CLOSE_FRAME_TIMEOUT = 1.0
# A socket whose oldest unsent frame is older than this is not keeping up; nobody waits
# for its deliveries (it still gets every frame, until its queue overflows).
STALL_AFTER = 0.25


class Connection:
    """One client socket.

    Frames get their seq when queued, and one sender task per socket sends them in queue
    order, so seq is contiguous on the wire and a slow socket only delays itself.
    """

    def __init__(self, conn_id: int, websocket: WebSocket, queue_size: int) -> None:
        self.id = conn_id
        self.websocket = websocket
        self.seq = 0
        self.frames_sent = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self.closing = False
        self.hello_id = ""
        # Set when the server itself ends the socket with a code (a test control).
        self.server_close = False
        # Each item carries a future resolved once the frame was handed to the socket.
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[bool]]] = asyncio.Queue(queue_size)
        # Enqueue times of frames not yet handed to the socket, oldest first.
        self._unsent: deque[float] = deque()
        self.finished = asyncio.Event()

    @property
    def peer(self) -> str:
        client = self.websocket.client
        return f"{client.host}:{client.port}" if client else "?"

    def stalled(self) -> bool:
        return bool(self._unsent) and time.monotonic() - self._unsent[0] > STALL_AFTER

    def offer(self, event: Event) -> asyncio.Future[bool] | None:
        """Queue event with this connection's next seq; None if the queue is full."""
        if self.closing:
            return None
        if self._queue.full():
            return None
        self.seq += 1
        delivered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event.frame(self.seq), delivered))
        self._unsent.append(time.monotonic())
        return delivered

    async def send_loop(self, on_sent: Callable[[], None]) -> None:
        """Send queued frames in order until the socket fails or the task is cancelled."""
        while True:
            text, delivered = await self._queue.get()
            try:
                await self.websocket.send_text(text)
            except Exception as exc:
                _resolve(delivered, False)
                self.finish(1006, f"send failed: {type(exc).__name__}")
                return
            self._unsent.popleft()
            self.frames_sent += 1
            on_sent()
            _resolve(delivered, True)

    def finish(self, code: int, reason: str) -> None:
        """Record why the connection ends (first reason wins) and wake its handler."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self.closing = True
        self.finished.set()

    def discard_pending(self) -> None:
        """Frames that will never be sent: let whoever waits on them stop waiting."""
        while not self._queue.empty():
            _, delivered = self._queue.get_nowait()
            _resolve(delivered, False)


def _resolve(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class Broadcaster:
    """The set of live connections; the only place frames are queued."""

    def __init__(self, queue_size: int) -> None:
        self._queue_size = queue_size
        self._connections: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        # hello ids name connections for the test controls (each hello is per socket).
        self._by_hello: dict[str, Connection] = {}
        self.frames_sent_total = 0

    def __len__(self) -> int:
        return len(self._connections)

    def _count_sent(self) -> None:
        self.frames_sent_total += 1

    def broadcast(self, event: Event) -> list[asyncio.Future[bool]]:
        """Queue event on every connection, without awaiting anything; return the deliveries
        worth waiting for (those of sockets that keep up).

        Synchronous on purpose: together with the state change before it, no connection
        can open in between, so a client either has the change in its hello snapshot or
        receives this event. A client whose queue is full is dropped, not waited for.
        """
        futures = []
        for conn in list(self._connections.values()):
            stalled = conn.stalled()
            delivered = conn.offer(event)
            if delivered is None:
                self._drop_slow(conn)
            elif not stalled:
                futures.append(delivered)
        return futures

    async def serve(self, websocket: WebSocket, hello: Callable[[], Event]) -> None:
        """Run one accepted socket until it closes: hello first, then every broadcast."""
        conn = Connection(next(self._ids), websocket, self._queue_size)
        # hello is queued and the connection registered in one synchronous step, so hello
        # is seq 1 and its snapshot is exactly the state the following events build on.
        first = hello()
        conn.hello_id = first.id
        conn.offer(first)
        self._connections[conn.id] = conn
        self._by_hello[first.id] = conn
        log.info("ws open conn=%d peer=%s clients=%d", conn.id, conn.peer, len(self))
        sender = asyncio.create_task(conn.send_loop(self._count_sent))
        reader = asyncio.create_task(self._read_until_disconnect(conn))
        try:
            await conn.finished.wait()
        finally:
            self._connections.pop(conn.id, None)
            self._by_hello.pop(conn.hello_id, None)
            for task in (sender, reader):
                task.cancel()
            await asyncio.gather(sender, reader, return_exceptions=True)
            conn.discard_pending()
            if conn.close_code == CLOSE_TRY_AGAIN_LATER or conn.server_close:
                await _send_close(conn)
            log.info(
                "ws close conn=%d peer=%s code=%s reason=%s frames_sent=%d clients=%d",
                conn.id,
                conn.peer,
                conn.close_code,
                conn.close_reason or "-",
                conn.frames_sent,
                len(self),
            )

    async def _read_until_disconnect(self, conn: Connection) -> None:
        # Clients have nothing to say in v1; reading is how we learn they left.
        try:
            while True:
                message = await conn.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    conn.finish(int(message.get("code") or 1005), message.get("reason") or "")
                    return
        except Exception as exc:
            conn.finish(1006, f"receive failed: {type(exc).__name__}")

    def close(self, hello_id: str, code: int, reason: str) -> bool:
        """End the socket whose hello had this id with a close frame of that code."""
        conn = self._by_hello.get(hello_id)
        if conn is None:
            return False
        conn.server_close = True
        conn.finish(code, reason)
        return True

    def _drop_slow(self, conn: Connection) -> None:
        # Unregistered at once so ws_clients and further broadcasts no longer see it.
        self._connections.pop(conn.id, None)
        conn.finish(CLOSE_TRY_AGAIN_LATER, "send queue overflow")


async def _send_close(conn: Connection) -> None:
    """Best-effort close frame; a client that reads nothing never lets it out, so bounded.
    Returning from the handler afterwards makes the server close the transport."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_CLOSE_FRAME_TIMEOUT):
            await conn.websocket.close(code=conn.close_code or 1000, reason=conn.close_reason)
