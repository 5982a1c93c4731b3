"""Per event the page saw: server send (ts) → browser receipt → on screen, in epoch ms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e2e.support.recorder import Frame
from e2e.support.renders import Render


@dataclass(frozen=True)
class EventTimeline:
    event_type: str
    event_id: str
    seq: int
    traceparent: str | None
    sent_ms: float
    received_ms: float | None  # in the page (WebSocket message event), None if not seen
    shown_ms: float  # first paint frame after the DOM showed it (DOM time if no frame ran)

    @property
    def latency_s(self) -> float:
        """Server send → shown on screen, in seconds (same-host clocks; see the guide)."""
        return max(self.shown_ms - self.sent_ms, 0.0) / 1000


def timelines(
    frames: Sequence[Frame], renders: Sequence[Render], receipts: dict[str, float]
) -> list[EventTimeline]:
    """One timeline per received event that some panel rendered (its first render)."""
    first_render: dict[str, Render] = {}
    for render in renders:
        first_render.setdefault(render.event_id, render)
    out: list[EventTimeline] = []
    seen: set[str] = set()
    for frame in frames:
        # What a test scripted says nothing about the server's latency.
        if frame.direction != "received" or frame.errors or frame.scripted or frame.id in seen:
            continue
        render = first_render.get(frame.id)
        if render is None:
            continue
        seen.add(frame.id)
        out.append(
            EventTimeline(
                event_type=frame.type,
                event_id=frame.id,
                seq=frame.seq,
                traceparent=frame.data.get("traceparent"),
                sent_ms=float(frame.data["ts"]),
                received_ms=receipts.get(frame.id),
                shown_ms=render.frame_at_ms or render.dom_at_ms,
            )
        )
    return out
