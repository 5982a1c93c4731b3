"""Event → screen latency on the reference console, and the frame recorder's own overhead.

Runs the real console (harness), real Redis and Debian's Chromium; drives events through the
test-control endpoint at a bounded rate and count. Prints two tables:

1. per event type: p50/p95/p99 of server send → shown on screen, next to the baseline of
   server send → the page's WebSocket receipt, measured on the same events (ratio = shown/recv);
2. a fixed scenario (open the console, see N events rendered, every recorded frame
   schema-checked) with the frame recorder off (baseline) and on, in back-to-back pairs: the
   median of the pairs' ratios (drift of a shared machine cancels within a pair), and their
   spread.

    .venv/bin/python -m bench.ws_latency [--events 150] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

from e2e.support import renders
from e2e.support.recorder import FrameRecorder
from harness.chromium import launch_overrides
from harness.services import start_console, start_redis

EVENT_TYPES = ("heartbeat", "health.check", "metrics.push")
TARGET_P95_MS = 50.0
TARGET_OVERHEAD = 1.05


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def emit_all(client: httpx.Client, count: int, pace_s: float = 0.0) -> list[str]:
    """count events of each type, round robin; each emit returns once every socket has it.
    pace_s spaces them out like a live console would (0: back to back)."""
    ids = []
    for i in range(count * len(EVENT_TYPES)):
        ids.append(client.post("/api/test/emit", json={"type": EVENT_TYPES[i % 3]}).json()["id"])
        if pace_s:
            time.sleep(pace_s)  # a bench's load shape, not a test wait
    return ids


def measure_latency(browser: Browser, base_url: str, count: int) -> dict[str, dict[str, list]]:
    """Page-side clocks only (render probe): no recorder, no Playwright traffic per frame."""
    page = browser.new_page()
    renders.install(page)
    page.goto(base_url + "/")
    page.wait_for_function("() => window.mcpConsole && window.mcpConsole.state().badge === 'live'")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        ids = emit_all(client, count, pace_s=0.02)
    page.wait_for_function(
        "ids => ids.every(id => window.__e2eRenders.some(r => r.eventId === id && r.frameAt))",
        arg=ids,
        timeout=60_000,
    )
    sent = page.evaluate("window.__e2eSent")
    receipts = renders.receipts(page)
    first_render = {}
    for render in renders.all_renders(page):
        first_render.setdefault(render.event_id, render)
    out: dict[str, dict[str, list]] = {t: {"shown": [], "received": []} for t in EVENT_TYPES}
    for event_id in ids:
        ts, type_ = sent[event_id]["ts"], sent[event_id]["type"]
        out[type_]["shown"].append(first_render[event_id].frame_at_ms - ts)
        out[type_]["received"].append(receipts[event_id] - ts)
    page.close()
    return out


def scenario_seconds(browser: Browser, base_url: str, events: int, record: bool) -> float:
    """Open the console and see `events` emitted events rendered; wall time."""
    started = time.perf_counter()
    page = browser.new_page()
    renders.install(page)
    recorder = FrameRecorder(page) if record else None
    page.goto(base_url + "/")
    page.wait_for_function("() => window.mcpConsole && window.mcpConsole.state().badge === 'live'")
    with httpx.Client(base_url=base_url, timeout=10) as client:
        ids = emit_all(client, events // len(EVENT_TYPES))
    page.wait_for_function(
        "ids => ids.every(id => window.__e2eRenders.some(r => r.eventId === id))",
        arg=ids,
        timeout=60_000,
    )
    if recorder is not None:
        # Every frame schema-checked, as each test's teardown does (the latency timelines).
        assert not [f.errors for f in recorder.frames if f.errors]
    page.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150, help="events per type (max 1000)")
    parser.add_argument("--rounds", type=int, default=15, help="off/on pairs (max 40)")
    args = parser.parse_args()
    count, rounds = min(args.events, 1000), min(args.rounds, 40)
    workdir = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    # Slow periodic events so the measured ones are the bench's own.
    with (
        start_redis(workdir) as rds,
        start_console(
            workdir, rds.url, heartbeat_interval=30, health_interval=30, metrics_interval=30
        ) as console,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(**launch_overrides(pw.chromium.executable_path))
        latency = measure_latency(browser, console.url, count)
        timings = {False: [], True: []}
        for _ in range(rounds):
            for record in (False, True):
                timings[record].append(scenario_seconds(browser, console.url, 60, record))
        browser.close()

    print(f"\nEvent → screen latency, reference console, {count} events per type (ms)")
    print(
        f"{'event type':<14}{'n':>5}{'recv p50':>10}{'p50':>8}{'p95':>8}{'p99':>8}"
        f"{'p95/recv p95':>14}{'target p95':>12}"
    )
    for type_, series in latency.items():
        shown, received = series["shown"], series["received"]
        p95, recv95 = percentile(shown, 95), percentile(received, 95)
        verdict = "ok" if p95 <= TARGET_P95_MS else "OVER"
        print(
            f"{type_:<14}{len(shown):>5}{percentile(received, 50):>10.1f}"
            f"{percentile(shown, 50):>8.1f}{p95:>8.1f}{percentile(shown, 99):>8.1f}"
            f"{p95 / max(recv95, 0.001):>13.2f}x{f'≤{TARGET_P95_MS:.0f} {verdict}':>12}"
        )
    off, on = statistics.median(timings[False]), statistics.median(timings[True])
    ratios = sorted(b / a for a, b in zip(timings[False], timings[True], strict=True))
    ratio = statistics.median(ratios)
    print(
        f"\nFrame recorder overhead: open console + 60 events rendered, {rounds} off/on pairs"
    )
    print(f"{'recorder':<10}{'seconds':>10}{'ratio':>8}")
    print(f"{'off':<10}{off:>10.3f}{1.0:>8.2f}  (baseline, median)")
    verdict = "ok" if ratio <= TARGET_OVERHEAD else "OVER"
    print(
        f"{'on':<10}{on:>10.3f}{ratio:>8.2f}  median of pair ratios "
        f"(spread {ratios[0]:.2f} to {ratios[-1]:.2f}); target ≤{TARGET_OVERHEAD:.2f} {verdict}"
    )


if __name__ == "__main__":
    main()
