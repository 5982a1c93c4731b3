"""The Redis cache panel: a TTL set, changed or dropped in the run's real Redis is announced
(cache.ttl_changed / cache.key_expired) and shown. Every test writes keys of its own
(`<prefix>e2e-<uuid>…`) straight to Redis with redis-py and deletes them afterwards, so tests
never mix, in parallel or against a shared staging console."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from playwright.sync_api import expect
from websockets.sync.client import connect

from e2e.pages.cache import CACHE_OPTIONS, CACHE_PANEL, CacheView, row_testid
from e2e.pages.console import ConsolePage
from e2e.support.controls import ConsoleControls
from e2e.support.recorder import Frame, FrameRecorder
from e2e.support.renders import wait_for_render
from harness.pytest_plugin import Endpoints

pytestmark = pytest.mark.cache

# Redis expires a key actively within ~100 ms of its TTL on an idle server; a loaded CI
# machine gets ample room.
EXPIRY_TIMEOUT_MS = 10_000
HOSTILE = "<img src=x onerror=window.__pwned=1>"


@dataclass
class CacheTarget:
    """The Redis the console watches, its watched prefix, and this test's keys."""

    redis: redis.Redis
    prefix: str
    created: list[str] = field(default_factory=list)

    def key(self, suffix: str = "") -> str:
        """A fresh key under the watched prefix, deleted when the test ends."""
        return self.own(f"{self.prefix}e2e-{uuid.uuid4()}{suffix}")

    def own(self, key: str) -> str:
        self.created.append(key)
        return key

    def cleanup(self) -> None:
        if self.created:
            self.redis.delete(*self.created)


@pytest.fixture(scope="session")
def cache_redis(e2e_endpoints: Endpoints) -> Iterator[redis.Redis]:
    if not e2e_endpoints.redis_url:
        pytest.skip(
            "no Redis URL for this console: with --base-url, also pass --redis-url "
            "(or E2E_REDIS_URL) of the Redis that console watches"
        )
    client = redis.Redis.from_url(e2e_endpoints.redis_url, socket_timeout=5)
    yield client
    client.close()


@pytest.fixture
def cache_target(
    cache_redis: redis.Redis, controls: ConsoleControls, e2e_endpoints: Endpoints
) -> Iterator[CacheTarget]:
    """The console's cache panel as its snapshot describes it (skip if it has none)."""
    cache = controls.snapshot()["snapshot"].get("cache")
    if cache is None:
        pytest.skip("this console's snapshot has no cache panel")
    if not cache["available"]:
        message = f"the console does not watch Redis: {cache['detail']}"
        if e2e_endpoints.embedded:
            pytest.fail(message)  # the harness started both: this is a bug, not a setup
        pytest.skip(message)
    target = CacheTarget(cache_redis, cache["prefix"])
    yield target
    target.cleanup()


@pytest.fixture
def cache_view(console: ConsolePage, cache_target: CacheTarget) -> CacheView:
    """The console, live, its cache panel watching."""
    console.open(**CACHE_OPTIONS)
    console.recorder.wait_for("hello")
    console.expect_connection("live")
    view = CacheView(console.page)
    view.expect_available()
    return view


def wait_cache(
    recorder: FrameRecorder,
    type_: str,
    key: str,
    after: int = 0,
    timeout_ms: float = 10_000,
) -> Frame:
    """The first cache event of that type about `key` (at frame index >= after)."""
    frame = recorder.wait_for(
        type_, lambda f: f.payload.get("key") == key, after=after, timeout_ms=timeout_ms
    )
    assert frame.errors == [], frame.errors
    return frame


def wait_announced(base_url: str, key: str, timeout_s: float = 10.0) -> None:
    """Until the console knows `key`: in a hello snapshot, or a ttl_changed after it (the
    console applies and broadcasts in one step, so one of the two always shows it)."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    url = urlunsplit((scheme, parts.netloc, "/ws", "", ""))
    deadline = time.monotonic() + timeout_s
    with connect(url, open_timeout=timeout_s, max_size=None) as ws:
        hello = json.loads(ws.recv(timeout=timeout_s))
        known = hello["payload"]["snapshot"].get("cache", {}).get("keys", [])
        if any(k["key"] == key for k in known):
            return
        while True:
            frame = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
            if frame["type"] == "cache.ttl_changed" and frame["payload"]["key"] == key:
                return


def test_a_new_ttl_is_announced_and_shown(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=60_000)

    frame = wait_cache(console.recorder, "cache.ttl_changed", key)
    sent = frame.payload
    assert 0 < sent["ttl_ms"] <= 60_000
    assert sent["expires_at"] == sent["changed_at"] + sent["ttl_ms"]
    assert sent["cause"] == "expire"
    render = wait_for_render(console.page, frame.id, CACHE_PANEL)
    row = row_testid(key)
    assert render.attr(row, "state") == "live"
    assert render.attr(row, "ttl-ms") == str(sent["ttl_ms"])
    assert render.attr(row, "expires-at") == str(sent["expires_at"])
    assert render.attr(row, "key") == key
    cache_view.expect_live(key, sent["ttl_ms"])
    expect(cache_view.key_text(key)).to_have_text(key)


def test_a_changed_ttl_is_announced_and_counts_down(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    rec = console.recorder
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=60_000)
    first = wait_cache(rec, "cache.ttl_changed", key)
    assert first.payload["ttl_ms"] > 5_000

    mark = len(rec.frames)
    assert cache_target.redis.pexpire(key, 5_000)
    changed = wait_cache(rec, "cache.ttl_changed", key, after=mark)
    assert 0 < changed.payload["ttl_ms"] <= 5_000
    assert changed.payload["cause"] == "expire"
    render = wait_for_render(console.page, changed.id, CACHE_PANEL)
    assert render.attr(row_testid(key), "ttl-ms") == str(changed.payload["ttl_ms"])
    cache_view.expect_live(key, changed.payload["ttl_ms"])
    # The countdown moves on its own, between events.
    shown = cache_view.ttl_text(key).text_content()
    expect(cache_view.ttl_text(key)).not_to_have_text(shown, timeout=3_000)


def test_persist_drops_the_ttl(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    rec = console.recorder
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=60_000)
    wait_cache(rec, "cache.ttl_changed", key)

    mark = len(rec.frames)
    assert cache_target.redis.persist(key)
    frame = wait_cache(rec, "cache.ttl_changed", key, after=mark)
    assert (frame.payload["ttl_ms"], frame.payload["expires_at"]) == (None, None)
    assert frame.payload["cause"] == "persist"
    render = wait_for_render(console.page, frame.id, CACHE_PANEL)
    assert render.attr(row_testid(key), "state") == "persistent"
    cache_view.expect_persistent(key)


def test_an_expired_key_is_announced_and_shown_expired(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=300)

    frame = wait_cache(console.recorder, "cache.key_expired", key, timeout_ms=EXPIRY_TIMEOUT_MS)
    assert frame.payload["reason"] == "expired"
    render = wait_for_render(console.page, frame.id, CACHE_PANEL)
    assert render.attr(row_testid(key), "state") == "expired"
    cache_view.expect_removed(key, "expired")
    assert cache_target.redis.exists(key) == 0


def test_a_deleted_key_is_announced_as_deleted(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    rec = console.recorder
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=60_000)
    wait_cache(rec, "cache.ttl_changed", key)

    mark = len(rec.frames)
    assert cache_target.redis.delete(key) == 1
    frame = wait_cache(rec, "cache.key_expired", key, after=mark)
    assert frame.payload["reason"] == "deleted"
    render = wait_for_render(console.page, frame.id, CACHE_PANEL)
    assert render.attr(row_testid(key), "reason") == "deleted"
    cache_view.expect_removed(key, "deleted")


def test_keys_outside_the_prefix_never_appear(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    prefix, tag = cache_target.prefix, uuid.uuid4()
    outside = [
        cache_target.own(f"e2e-outside-{tag}"),
        # The prefix inside the name, not at its start.
        cache_target.own(f"x{prefix}e2e-outside-{tag}"),
    ]
    for key in outside:
        cache_target.redis.set(key, "v", px=60_000)
    # Redis notifies in command order: once the sentinel's event is here, theirs would be.
    sentinel = cache_target.key()
    cache_target.redis.set(sentinel, "v", px=60_000)
    wait_cache(console.recorder, "cache.ttl_changed", sentinel)
    cache_view.expect_state(sentinel, "live")

    mentioned = {f.payload.get("key") for f in console.recorder.received()}
    assert not mentioned & set(outside)
    for key in outside:
        assert not cache_view.has_row(key), key
    assert not {k["key"] for k in cache_view.rows()} & set(outside)


def test_a_hostile_key_is_shown_as_text(
    cache_view: CacheView, console: ConsolePage, cache_target: CacheTarget
):
    key = cache_target.key(f"-{HOSTILE}")
    cache_target.redis.set(key, "v", px=60_000)

    frame = wait_cache(console.recorder, "cache.ttl_changed", key)
    assert frame.payload["key"] == key
    wait_for_render(console.page, frame.id, CACHE_PANEL)
    expect(cache_view.key_text(key)).to_have_text(key)
    expect(cache_view.row(key)).to_have_attribute("data-key", key)
    assert cache_view.markup_elements() == 0
    assert console.page.evaluate("window.__pwned") is None


def test_the_hello_snapshot_lists_a_key_set_before_the_page_opened(
    console: ConsolePage, cache_target: CacheTarget, base_url: str
):
    key = cache_target.key()
    cache_target.redis.set(key, "v", px=60_000)
    wait_announced(base_url, key)

    console.open(**CACHE_OPTIONS)
    hello = console.recorder.wait_for("hello")
    entries = {k["key"]: k for k in hello.payload["snapshot"]["cache"]["keys"]}
    assert key in entries, sorted(entries)
    entry = entries[key]
    assert 0 < entry["ttl_ms"] <= 60_000
    render = wait_for_render(console.page, hello.id, CACHE_PANEL)
    row = row_testid(key)
    assert render.attr(row, "state") == "live"
    assert render.attr(row, "ttl-ms") == str(entry["ttl_ms"])
    CacheView(console.page).expect_live(key, entry["ttl_ms"])
