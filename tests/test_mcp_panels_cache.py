"""Self-tests of the console's Redis cache panel (mcp_panels.cache) against real processes:
redis-server, the console under uvicorn, a real WebSocket client. Keyspace notifications are
Redis's own; nothing is mocked, nothing sleeps (waits are on frames, with deadlines)."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import redis
from jsonschema import Draft202012Validator
from playwright.sync_api import Locator, WebSocketRoute, expect
from websockets.sync.client import ClientConnection, connect

from e2e.support.schemas import validator
from harness.process import Service, start_process
from harness.services import start_console, start_redis
from mcp_panels.cache import CacheBook, display_key, glob_escape, merge_flags

PREFIX = "mcp:cache:"
NEEDED = set("Kg$xe")


FRAME = validator("frame.schema.json")
SNAPSHOT_RESPONSE = validator("snapshot-response.schema.json")


def assert_valid(v: Draft202012Validator, doc: Any) -> None:
    errors = [f"{e.json_path}: {e.message}" for e in v.iter_errors(doc)]
    assert not errors, errors


# -- a WebSocket client that keeps every frame ----------------------------------------------


class CacheFrames:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.frames: list[dict[str, Any]] = []
        self.taken: set[int] = set()  # indices of frames cache() returned
        self.hello = self.next()
        assert self.hello["type"] == "hello"

    def next(self, timeout: float = 5.0) -> dict[str, Any]:
        frame = json.loads(self.conn.recv(timeout=timeout))
        assert_valid(FRAME, frame)
        self.frames.append(frame)
        return frame

    def until(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(f["type"], f["payload"]) for f in self.frames[-5:]]
                raise AssertionError(f"no matching frame within {timeout} s; last: {seen}")
            frame = self.next(timeout=remaining)
            if predicate(frame):
                return frame

    def cache(self, type_: str, key: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first cache event of that type about key not returned yet (received already,
        while waiting for another, or still to come); returns its payload."""

        def match(index: int) -> bool:
            f = self.frames[index]
            return index not in self.taken and f["type"] == type_ and f["payload"].get("key") == key

        index = next((i for i in range(len(self.frames)) if match(i)), None)
        if index is None:
            self.until(lambda _f: match(len(self.frames) - 1), timeout)
            index = len(self.frames) - 1
        self.taken.add(index)
        return self.frames[index]["payload"]

    def status(self, available: bool, timeout: float = 5.0) -> dict[str, Any]:
        frame = self.until(
            lambda f: f["type"] == "cache.status" and f["payload"]["available"] is available,
            timeout,
        )
        return frame["payload"]

    def mentioned(self) -> set[str]:
        return {
            f["payload"]["key"]
            for f in self.frames
            if f["type"].startswith("cache.") and "key" in f["payload"]
        }


def ws_url(service: Service) -> str:
    return service.url.replace("http://", "ws://", 1) + "/ws"


@pytest.fixture
def open_client() -> Iterator[Callable[[Service], CacheFrames]]:
    with contextlib.ExitStack() as stack:

        def _open(service: Service) -> CacheFrames:
            conn = connect(ws_url(service), proxy=None, open_timeout=5, close_timeout=2)
            return CacheFrames(stack.enter_context(conn))

        yield _open


def snapshot_of(service: Service) -> dict[str, Any]:
    body = httpx.get(service.url + "/api/snapshot", timeout=5, trust_env=False).json()
    assert_valid(SNAPSHOT_RESPONSE, body)
    return body["snapshot"]


def cached_keys(service: Service) -> dict[str, dict[str, Any]]:
    return {k["key"]: k for k in snapshot_of(service)["cache"]["keys"]}


# -- services ------------------------------------------------------------------------------


@dataclass
class Stack:
    redis_service: Service
    console: Service
    client: redis.Redis
    flags_before: str  # what someone else had set before the console started
    before: str  # a key under the prefix set before the console started
    outside_before: str


def start_stack(workdir: Path, *console_args: str, flags: str = "El") -> Stack:
    redis_service = start_redis(workdir)
    client = redis.Redis.from_url(redis_service.url, socket_timeout=5)
    client.config_set("notify-keyspace-events", flags)
    tag = uuid.uuid4()
    before, outside = f"{PREFIX}before-{tag}", f"outside-before-{tag}"
    client.set(before, "v", px=600_000)
    client.set(outside, "v", px=600_000)
    try:
        console = start_console(
            workdir,
            redis_service.url,
            heartbeat_interval=0.5,
            health_interval=60,
            metrics_interval=60,
            extra_args=console_args,
        )
    except Exception:
        redis_service.stop()
        raise
    return Stack(redis_service, console, client, flags, before, outside)


def stop_stack(stack: Stack) -> None:
    alive = stack.console.alive()
    stack.console.stop()
    stack.redis_service.stop()
    stack.client.close()
    assert alive, stack.console.log_tail()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("cache"))
    yield s
    stop_stack(s)


def new_key(suffix: str = "") -> str:
    return f"{PREFIX}t-{uuid.uuid4()}{suffix}"


# -- pure parts ----------------------------------------------------------------------------


def test_flags_are_added_to_what_is_set():
    assert merge_flags("") == "Kg$xe"
    assert merge_flags("lE") == "lEKg$xe"
    assert merge_flags("g$xeK") == "g$xeK"
    assert merge_flags("AK") == "AK"  # A includes g, $, x, e
    assert merge_flags("AE") == "AEK"
    assert merge_flags("KEA") == "KEA"


def test_glob_escape_and_display_key():
    assert glob_escape(b"a*b?[c]\\^") == b"a\\*b\\?\\[c\\]\\\\\\^"
    assert display_key(b"mcp:cache:\xff\xfex") == "mcp:cache:\\xff\\xfex"
    assert display_key("mcp:cache:ünï".encode()) == "mcp:cache:ünï"


def test_book_is_bounded_and_keeps_the_most_recent():
    book = CacheBook("p:", max_keys=2)
    for i in range(3):
        book.apply_ttl_changed(
            {"key": f"p:{i}", "ttl_ms": 10, "expires_at": 20, "changed_at": 10, "cause": "expire"}
        )
    book.apply_ttl_changed(
        {"key": "p:1", "ttl_ms": None, "expires_at": None, "changed_at": 11, "cause": "persist"}
    )
    assert [k["key"] for k in book.snapshot()["keys"]] == ["p:2", "p:1"]
    book.apply_key_expired({"key": "p:2", "expired_at": 12, "reason": "expired"})
    assert book.snapshot()["keys"] == [
        {"key": "p:1", "ttl_ms": None, "expires_at": None, "changed_at": 11}
    ]


# -- start-up ------------------------------------------------------------------------------


def test_config_flags_are_merged_not_clobbered(stack: Stack):
    flags = stack.client.config_get("notify-keyspace-events")["notify-keyspace-events"]
    assert set(stack.flags_before) | NEEDED <= set(flags), flags


def test_first_snapshot_has_the_keys_found_at_start(stack: Stack, open_client):
    cache = open_client(stack.console).hello["payload"]["snapshot"]["cache"]
    assert (cache["available"], cache["prefix"], cache["detail"]) == (True, PREFIX, None)
    assert cache["max_keys"] == 200
    keys = {k["key"]: k for k in cache["keys"]}
    assert stack.before in keys
    assert stack.outside_before not in keys
    entry = keys[stack.before]
    assert 0 < entry["ttl_ms"] <= 600_000
    assert entry["expires_at"] == entry["changed_at"] + entry["ttl_ms"]


# -- events --------------------------------------------------------------------------------


def test_ttl_set_changed_persisted_and_dropped_by_set(stack: Stack, open_client):
    ws, r, key = open_client(stack.console), stack.client, new_key()

    r.set(key, "v", px=60_000)
    p = ws.cache("cache.ttl_changed", key)
    assert p["cause"] == "expire"
    assert 59_000 < p["ttl_ms"] <= 60_000
    assert p["expires_at"] == p["changed_at"] + p["ttl_ms"]
    assert cached_keys(stack.console)[key]["ttl_ms"] == p["ttl_ms"]

    r.pexpire(key, 5_000)
    p = ws.cache("cache.ttl_changed", key)
    assert (p["cause"], 0 < p["ttl_ms"] <= 5_000) == ("expire", True)

    r.persist(key)
    p = ws.cache("cache.ttl_changed", key)
    assert (p["cause"], p["ttl_ms"], p["expires_at"]) == ("persist", None, None)
    assert cached_keys(stack.console)[key]["ttl_ms"] is None

    r.set(key, "v", ex=100)
    assert ws.cache("cache.ttl_changed", key)["ttl_ms"] > 99_000
    r.set(key, "w")  # a plain SET drops the TTL
    p = ws.cache("cache.ttl_changed", key)
    assert (p["cause"], p["ttl_ms"]) == ("set", None)
    # KEEPTTL keeps it, and a SET of a key without TTL changes nothing: neither is announced.
    r.set(key, "x", keepttl=True)
    sentinel = new_key()
    r.set(sentinel, "v", px=60_000)
    ws.cache("cache.ttl_changed", sentinel)
    about_key = [f for f in ws.frames if f["payload"].get("key") == key]
    assert [f["payload"]["cause"] for f in about_key] == [
        "expire",
        "expire",
        "persist",
        "expire",
        "set",
    ]
    r.delete(key, sentinel)


def test_expiry_is_announced_and_leaves_the_snapshot(stack: Stack, open_client):
    ws, r, key = open_client(stack.console), stack.client, new_key()
    r.set(key, "v", px=300)
    p = ws.cache("cache.key_expired", key, timeout=10)
    assert p["reason"] == "expired"
    assert key not in cached_keys(stack.console)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("del", "deleted"),
        ("unlink", "deleted"),
        ("getdel", "deleted"),
        ("expire-in-the-past", "deleted"),
        ("rename", "renamed"),
        ("move", "moved"),
    ],
)
def test_removals_carry_their_reason(stack: Stack, open_client, how: str, reason: str):
    ws, r, key = open_client(stack.console), stack.client, new_key()
    r.set(key, "v", px=60_000)
    ws.cache("cache.ttl_changed", key)
    renamed = new_key("-renamed")
    {
        "del": lambda: r.delete(key),
        "unlink": lambda: r.unlink(key),
        "getdel": lambda: r.getdel(key),
        "expire-in-the-past": lambda: r.pexpire(key, -1),
        "rename": lambda: r.rename(key, renamed),
        "move": lambda: r.move(key, 1),
    }[how]()
    p = ws.cache("cache.key_expired", key)
    assert p["reason"] == reason
    assert key not in cached_keys(stack.console)
    if how == "rename":
        # The new name arrives with the TTL the key had.
        q = ws.cache("cache.ttl_changed", renamed)
        assert (q["cause"], 0 < q["ttl_ms"] <= 60_000) == ("rename_to", True)
        assert renamed in cached_keys(stack.console)
        r.delete(renamed)
        assert ws.cache("cache.key_expired", renamed)["reason"] == "deleted"
    if how == "move":
        with redis.Redis.from_url(stack.redis_service.url.replace("/0", "/1")) as db1:
            db1.delete(key)


def test_only_keys_under_the_prefix_are_announced(stack: Stack, open_client):
    ws, r, tag = open_client(stack.console), stack.client, uuid.uuid4()
    outside = [f"outside-{tag}", f"x{PREFIX}{tag}", f"{PREFIX[:-1]}-{tag}"]
    for key in outside:
        r.set(key, "v", px=60_000)
        r.persist(key)
        r.delete(key)
    sentinel = new_key()
    r.set(sentinel, "v", px=60_000)
    ws.cache("cache.ttl_changed", sentinel)
    assert not ws.mentioned() & set(outside)
    assert not cached_keys(stack.console).keys() & set(outside)
    r.delete(sentinel)


def test_any_key_bytes_are_text_and_stay_distinct(stack: Stack, open_client):
    ws, r, tag = open_client(stack.console), stack.client, uuid.uuid4()
    raw = f"{PREFIX}{tag}-".encode() + b"\xff\xfe<b>"
    hostile = f"{PREFIX}{tag}-<img src=x onerror=alert(1)>\"'\\ ü"
    r.set(raw, "v", px=60_000)
    r.set(hostile, "v", px=60_000)
    shown = display_key(raw)
    assert shown.endswith("-\\xff\\xfe<b>")
    assert ws.cache("cache.ttl_changed", shown)["ttl_ms"] > 0
    assert ws.cache("cache.ttl_changed", hostile)["ttl_ms"] > 0
    # The console read the TTL of the real bytes, and follows them to the end.
    r.delete(raw)
    assert ws.cache("cache.key_expired", shown)["reason"] == "deleted"
    r.delete(hostile)
    assert ws.cache("cache.key_expired", hostile)["reason"] == "deleted"


def test_eviction_is_announced(tmp_path, open_client):
    stack = start_stack(tmp_path)
    try:
        ws, r = open_client(stack.console), stack.client
        keys = [new_key() for _ in range(3)]
        for key in keys:
            r.set(key, "v" * 100, px=600_000)
            ws.cache("cache.ttl_changed", key)
        r.config_set("maxmemory-policy", "allkeys-random")
        r.config_set("maxmemory", "1")  # evicts every key at once
        r.config_set("maxmemory", "0")
        for key in keys:
            assert ws.cache("cache.key_expired", key)["reason"] == "evicted"
    finally:
        stop_stack(stack)


# -- options -------------------------------------------------------------------------------


def test_snapshot_is_bounded_and_prefix_globs_are_literal(stack: Stack, tmp_path, open_client):
    tag = uuid.uuid4().hex[:8]
    prefix = f"t:[ab]*{tag}?:"
    console = start_console(
        tmp_path,
        stack.redis_service.url,
        heartbeat_interval=0.5,
        extra_args=["--cache-prefix", prefix, "--cache-max-keys", "3"],
    )
    try:
        ws, r = open_client(console), stack.client
        assert ws.hello["payload"]["snapshot"]["cache"]["prefix"] == prefix
        # Match the prefix as a glob, not literally: never announced.
        lookalike = f"t:aXX{tag}Y:k"
        r.set(lookalike, "v", px=60_000)
        keys = [f"{prefix}{i}" for i in range(5)]
        for key in keys:
            r.set(key, "v", px=60_000)
            ws.cache("cache.ttl_changed", key)
        cache = snapshot_of(console)["cache"]
        assert cache["max_keys"] == 3
        assert [k["key"] for k in cache["keys"]] == keys[-3:]
        assert lookalike not in ws.mentioned()
        r.delete(lookalike, *keys)
    finally:
        console.stop()


def _acl_console(stack: Stack, workdir: Path, user: str, rules: list[str]) -> Service:
    stack.client.acl_setuser(
        user, enabled=True, passwords=["+pw"], keys=["*"], channels=["*"], commands=rules
    )
    url = stack.redis_service.url.replace("redis://", f"redis://{user}:pw@", 1)
    return start_console(workdir, url, heartbeat_interval=0.5)


def test_config_not_allowed_makes_the_panel_unavailable(stack: Stack, tmp_path):
    console = _acl_console(stack, tmp_path, f"nocfg-{uuid.uuid4().hex[:6]}", ["+@all", "-config"])
    try:
        cache = snapshot_of(console)["cache"]
        assert cache["available"] is False
        assert "CONFIG GET not allowed" in cache["detail"], cache["detail"]
        assert httpx.get(console.url + "/healthz", timeout=5, trust_env=False).status_code == 200
        assert "cache watcher: CONFIG GET not allowed" in console.log_tail(80)
    finally:
        console.stop()
    assert console.process.returncode == 0


def test_config_get_suffices_when_the_flags_are_already_set(stack: Stack, tmp_path, open_client):
    user = f"getonly-{uuid.uuid4().hex[:6]}"
    console = _acl_console(stack, tmp_path, user, ["+@all", "-config|set"])
    try:
        ws = open_client(console)
        assert ws.hello["payload"]["snapshot"]["cache"]["available"] is True
        key = new_key()
        stack.client.set(key, "v", px=60_000)
        assert ws.cache("cache.ttl_changed", key)["ttl_ms"] > 0
        stack.client.delete(key)
    finally:
        console.stop()


# -- Redis going away ----------------------------------------------------------------------


def test_console_survives_a_redis_restart_and_resyncs(tmp_path, open_client):
    stack = start_stack(tmp_path)
    replacement: Service | None = None
    try:
        ws, api = open_client(stack.console), stack.console.url
        key = new_key()
        stack.client.set(key, "v", px=600_000)
        ws.cache("cache.ttl_changed", key)
        argv = list(stack.redis_service.process.args)

        stack.redis_service.stop()
        down = ws.status(False)
        assert down["detail"].startswith("Redis unreachable: "), down
        assert httpx.get(api + "/healthz", timeout=5, trust_env=False).status_code == 200
        sent = httpx.post(api + "/api/test/emit", json={"type": "health.check"}, timeout=5)
        health = ws.until(lambda f: f["id"] == sent.json()["id"])["payload"]
        redis_row = next(c for c in health["components"] if c["name"] == "redis")
        assert redis_row["status"] == "down", redis_row
        cache = snapshot_of(stack.console)["cache"]
        assert (cache["available"], cache["detail"]) == (False, down["detail"])

        # A new, empty Redis on the same port (no persistence: every key is gone).
        replacement = start_process(
            "redis",
            argv,
            stack.redis_service.url,
            _pings(stack.redis_service.url),
            tmp_path / "redis-again.log",
        )
        missing = ws.cache("cache.key_expired", key, timeout=15)
        assert missing["reason"] == "missing"
        ws.status(True, timeout=15)
        flags = stack.client.config_get("notify-keyspace-events")["notify-keyspace-events"]
        assert set(flags) >= NEEDED, flags  # set again on the new server
        again = new_key()
        stack.client.set(again, "v", px=60_000)
        assert ws.cache("cache.ttl_changed", again)["ttl_ms"] > 0
        assert stack.console.alive()
    finally:
        if replacement is not None:
            replacement.stop()
        stop_stack(stack)


def _pings(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    return probe


# -- the page's cache panel (cache.js), with scripted frames --------------------------------


def _frame(seq: int, event_type: str, payload: dict[str, Any]) -> str:
    now = int(time.time() * 1000)
    return json.dumps(
        {
            "v": 1,
            "type": event_type,
            "seq": seq,
            "id": str(uuid.uuid4()),
            "ts": now,
            "payload": payload,
        }
    )


def _ttl(key: str, ttl_ms: int | None) -> dict[str, Any]:
    now = int(time.time() * 1000)
    expires_at = None if ttl_ms is None else now + ttl_ms
    return {
        "key": key,
        "ttl_ms": ttl_ms,
        "expires_at": expires_at,
        "changed_at": now,
        "cause": "expire" if ttl_ms is not None else "persist",
    }


def test_page_applies_cache_events_and_snapshots(page, stack: Stack):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sockets: list[WebSocketRoute] = []
    page.route_web_socket(re.compile(r"/ws$"), lambda ws: sockets.append(ws))
    page.goto(
        stack.console.url
        + "/?heartbeat_timeout_ms=60000&cache_expired_keep_ms=300&cache_max_rows=3"
    )
    page.wait_for_function("() => window.mcpCache !== undefined && window.mcpConsole")
    expect(page.get_by_test_id("connection-badge")).not_to_have_attribute("data-state", "live")
    (ws,) = sockets

    def row(key: str) -> Locator:
        return page.get_by_test_id("cache-row-" + quote(key, safe="-_.!~*'()"))

    body = httpx.get(stack.console.url + "/api/snapshot", timeout=5, trust_env=False).json()
    snap = body["snapshot"]
    snap["cache"]["keys"] = [
        {
            "key": "s:live",
            "ttl_ms": 60_000,
            "expires_at": snap["generated_at"] + 60_000,
            "changed_at": snap["generated_at"] - 5,
        },
        {
            "key": "s:persistent",
            "ttl_ms": None,
            "expires_at": None,
            "changed_at": snap["generated_at"] - 10,
        },
    ]
    hello = {"server": body["server"], "heartbeat_interval_ms": 20_000, "snapshot": snap}
    ws.send(_frame(1, "hello", hello))
    expect(row("s:live")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("cache-ttl-s%3Alive")).to_have_text(re.compile(r"^expires in "))
    expect(row("s:persistent")).to_have_attribute("data-state", "persistent")
    expect(page.get_by_test_id("cache-panel")).to_have_attribute("data-seq", "1")
    expect(page.get_by_test_id("cache-prefix")).to_have_text(f"keys under {PREFIX}")
    expect(page.get_by_test_id("cache-unavailable")).to_be_hidden()

    # A lone surrogate cannot be URI-encoded: it becomes U+FFFD in the id.
    ws.send(_frame(2, "cache.ttl_changed", _ttl("s:\ud800x", 1_000)))
    expect(page.get_by_test_id("cache-row-s%3A%EF%BF%BDx")).to_have_attribute("data-ttl-ms", "1000")
    # Malformed payloads change nothing and are counted.
    ws.send(_frame(3, "cache.ttl_changed", {**_ttl("s:bad", 5), "ttl_ms": "5"}))
    ws.send(_frame(4, "cache.key_expired", {"key": "s:bad"}))
    page.wait_for_function("() => window.mcpConsole.stats.malformed >= 2")
    assert row("s:bad").count() == 0

    # A removal says why, and the row goes after cache_expired_keep_ms.
    ws.send(_frame(5, "cache.key_expired", {"key": "s:live", "expired_at": 1, "reason": "evicted"}))
    expect(row("s:live")).to_have_attribute("data-reason", "evicted")
    expect(page.get_by_test_id("cache-ttl-s%3Alive")).to_have_text("evicted")
    expect(row("s:live")).to_have_count(0)

    # At most cache_max_rows rows: the least recently changed go.
    for seq, key in enumerate(["s:a", "s:b", "s:c"], start=6):
        ws.send(_frame(seq, "cache.ttl_changed", _ttl(key, None)))
    expect(row("s:c")).to_have_attribute("data-state", "persistent")
    expect(page.get_by_test_id("cache-list").locator("li")).to_have_count(3)
    assert [r["key"] for r in page.evaluate("window.mcpCache.keys()")] == ["s:c", "s:b", "s:a"]

    ws.send(
        _frame(
            9,
            "cache.status",
            {
                "available": False,
                "prefix": PREFIX,
                "detail": "Redis unreachable: x",
                "changed_at": 1,
            },
        )
    )
    note = page.get_by_test_id("cache-unavailable")
    expect(note).to_have_text("notifications unavailable: Redis unreachable: x")
    expect(page.get_by_test_id("cache-panel")).to_have_attribute("data-available", "false")

    # A console without a cache panel (its snapshot has no cache).
    del snap["cache"]
    ws.send(_frame(10, "hello", hello))
    expect(note).to_have_text("notifications unavailable: this console has no cache panel")
    expect(page.get_by_test_id("cache-list").locator("li")).to_have_count(0)
    assert errors == []
