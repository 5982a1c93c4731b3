"""Checks of one socket's event flow against the v1 contract: order, gaps, duplicates."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from e2e.support.recorder import Frame


def flow_problems(frames: Sequence[Frame]) -> list[str]:
    """What is wrong with one connection's received frames, in order; [] when nothing."""
    problems: list[str] = []
    if not frames:
        return ["no frames"]
    if frames[0].type != "hello":
        problems.append(f"first frame is {frames[0].type!r}, not 'hello'")
    seen_ids: set[str] = set()
    expected = 1
    for index, frame in enumerate(frames):
        if frame.errors:
            problems.append(f"frame {index} breaks the contract: {'; '.join(frame.errors)}")
            continue
        if frame.seq != expected:
            kind = "gap" if frame.seq > expected else "repeat or reorder"
            problems.append(f"frame {index}: seq {frame.seq}, expected {expected} ({kind})")
        expected = frame.seq + 1
        if frame.id in seen_ids:
            problems.append(f"frame {index}: duplicate id {frame.id}")
        seen_ids.add(frame.id)
    return problems


def intervals_ms(frames: Sequence[Frame]) -> list[float]:
    """Gaps between consecutive frames by the server's send time."""
    stamps = [f.data["ts"] for f in frames]
    return [b - a for a, b in itertools.pairwise(stamps)]


def cadence_problems(
    beats: Sequence[Frame], interval_ms: float, tolerance: float = 0.5
) -> list[str]:
    """Heartbeats against the announced cadence, by the server's stamps: no gap longer than
    (1 + tolerance) x interval (a missed beat doubles one), no burst shorter than
    (1 - tolerance) x interval, and each beat announcing that interval."""
    problems = [
        f"heartbeat seq {b.seq} announces {b.payload.get('interval_ms')} ms, not {interval_ms}"
        for b in beats
        if b.payload.get("interval_ms") != interval_ms
    ]
    for (a, b), gap in zip(itertools.pairwise(beats), intervals_ms(beats), strict=True):
        if not (1 - tolerance) * interval_ms <= gap <= (1 + tolerance) * interval_ms:
            problems.append(f"heartbeats seq {a.seq}→{b.seq}: {gap:.0f} ms apart")
    return problems
