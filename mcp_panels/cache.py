"""The Redis cache panel: keyspace notifications turned into cache.* events.

The console watches the Redis of --redis-url for real. On (re)connecting it makes sure
`notify-keyspace-events` includes what it needs (adding its flags to whatever is set, never
clobbering), subscribes to the keyspace channels of the keys under --cache-prefix only (so
Redis itself filters out unrelated keys), then reads the current state of the keys it knows
or finds (a bounded SCAN) and announces what changed. From then on:

- `expire`, `persist`, `rename_to`, `copy_to`, `move_to`, `restore` (a TTL was set, changed
  or removed, or a key arrived with one): the key's PTTL is read now and announced as
  `cache.ttl_changed`;
- `set` (a plain SET drops the TTL): announced only when it dropped a TTL the panel shows
  (SET ... PX also sends `expire`, which announces the new TTL);
- `expired`, `evicted`, `del`, `rename_from`, `move_from`: `cache.key_expired` with a reason.

Notifications that arrive together are coalesced per key (the last one wins) and their
PTTLs read in one pipeline. Whether the panel is watching at all is announced as
`cache.status`: Redis unreachable, or CONFIG not allowed (a managed Redis), make it
unavailable; the watcher keeps retrying with capped, jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from mcp_panels.envelope import CACHE_KEY_EXPIRED, CACHE_STATUS, CACHE_TTL_CHANGED, now_ms

log = logging.getLogger("mcp_panels.cache")

Payload = dict[str, Any]
Publish = Callable[[str, Payload], object]

DEFAULT_PREFIX = "mcp:cache:"
DEFAULT_MAX_KEYS = 200
# K: keyspace channels (__keyspace@<db>__:<key>, which a pattern can filter by key prefix);
# g: generic commands (expire, persist, del, rename, ...); $: SET (which drops a TTL);
# x: expired; e: evicted.
NEEDED_FLAGS = "Kg$xe"
# What the "A" flag stands for (every class but key-miss m and new-key n).
ALIAS_A = "g$lshzxetd"
# Keys longer than this are not shown (their names would dwarf every frame); counted.
MAX_KEY_BYTES = 1024

# Notification (keyspace channel message) -> removal reason of cache.key_expired.
REMOVALS: dict[str, str] = {
    "expired": "expired",
    "evicted": "evicted",
    "del": "deleted",
    "rename_from": "renamed",
    "move_from": "moved",
}
# Notifications after which the key's TTL is read and announced (the cause of ttl_changed).
READS = ("expire", "persist", "rename_to", "copy_to", "move_to", "restore")
CAUSES = (*READS, "set", "resync")
REASONS = (*REMOVALS.values(), "missing")

# Timings, in seconds.
START_WAIT = 3.0  # the console waits this long for the first connection before serving
SETUP_TIMEOUT = 5.0  # CONFIG + PSUBSCRIBE + resync of one connection
READ_TIMEOUT = 1.0  # one wait for a notification
PING_AFTER = 5.0  # silence after which the subscription is pinged
PONG_TIMEOUT = 3.0  # no answer to that ping: the connection is dead
BACKOFF_BASE = 0.1
BACKOFF_MAX = 5.0
CONFIG_DENIED_RETRY = 30.0  # CONFIG not allowed: try again this much later
# Resync: SCAN ... MATCH <prefix>* COUNT SCAN_COUNT, at most SCAN_CALLS calls.
SCAN_COUNT = 500
SCAN_CALLS = 40
BATCH_MAX = 1000  # notifications coalesced at most per round
# A re-read expiry within this of the one shown is the same (PTTL is read at a later ms).
SAME_EXPIRY_MS = 50


class ConfigDenied(RuntimeError):
    """CONFIG GET/SET is not allowed (ACL, renamed command): notifications cannot be set."""


# -- pure helpers ---------------------------------------------------------------------------


def merge_flags(current: str, needed: str = NEEDED_FLAGS) -> str:
    """`current` plus whichever of `needed` it lacks ("A" counts as its classes)."""
    have = set(current)
    if "A" in have:
        have |= set(ALIAS_A)
    return current + "".join(flag for flag in needed if flag not in have)


def glob_escape(text: bytes) -> bytes:
    """text as a literal inside a Redis glob pattern (PSUBSCRIBE, SCAN MATCH)."""
    out = bytearray()
    for byte in text:
        if byte in b"\\*?[]^":
            out += b"\\"
        out.append(byte)
    return bytes(out)


def display_key(raw: bytes) -> str:
    """A key as text: UTF-8, other bytes as \\xNN (distinct keys stay distinct)."""
    return raw.decode("utf-8", "backslashreplace")


def ttl_state(pttl: int, at: int) -> tuple[int | None, int | None]:
    """PTTL answer (-1: no TTL) read at `at` -> (ttl_ms, expires_at)."""
    if pttl < 0:
        return None, None
    return pttl, at + pttl


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- state ----------------------------------------------------------------------------------


class CacheBook:
    """The cache panel's state: whether it watches, and the most recently changed keys.

    Bounded to max_keys keys (the least recently changed go first). Entries are stored as
    built and never mutated, so a snapshot can share them.
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.prefix = prefix
        self.max_keys = max_keys
        self.available = False
        self.detail: str | None = "not connected to Redis yet"
        self._keys: OrderedDict[str, Payload] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def entry(self, key: str) -> Payload | None:
        return self._keys.get(key)

    def key_names(self) -> list[str]:
        return list(self._keys)

    def apply_ttl_changed(self, payload: Payload) -> None:
        key = payload["key"]
        self._keys.pop(key, None)
        self._keys[key] = {
            "key": key,
            "ttl_ms": payload["ttl_ms"],
            "expires_at": payload["expires_at"],
            "changed_at": payload["changed_at"],
        }
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def apply_key_expired(self, payload: Payload) -> None:
        self._keys.pop(payload["key"], None)

    def apply_status(self, payload: Payload) -> None:
        self.available = payload["available"]
        self.detail = payload["detail"]

    def snapshot(self) -> Payload:
        return {
            "available": self.available,
            "prefix": self.prefix,
            "detail": self.detail,
            "max_keys": self.max_keys,
            "keys": list(self._keys.values()),
        }


# -- the watcher ----------------------------------------------------------------------------


class CacheWatcher:
    """One background task: connect, set flags, subscribe, resync, then follow notifications;
    on any failure announce unavailability and start over after a backoff."""

    def __init__(self, redis_url: str, book: CacheBook, publish: Publish) -> None:
        self.redis_url = redis_url
        self.book = book
        self.publish = publish
        self.prefix = book.prefix.encode("utf-8")
        self.db = int(parse_url(redis_url).get("db") or 0)
        self.channel_prefix = f"__keyspace@{self.db}__:".encode()
        self.pattern = self.channel_prefix + glob_escape(self.prefix) + b"*"
        # Shown key -> its bytes in Redis (they differ for keys that are not UTF-8).
        self._raw: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._went_live = False
        self.connections = 0  # sessions that got as far as subscribing (for logs and tests)
        self.skipped_long_keys = 0

    async def start(self, wait: float = START_WAIT) -> None:
        """Start watching; return once the first attempt succeeded or failed (at most `wait`
        seconds), so the first hello already says what the panel shows."""
        self._task = asyncio.create_task(self._run(), name="cache-watcher")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._first_attempt.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- connection lifecycle ---------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            client = aioredis.Redis.from_url(
                self.redis_url,
                socket_timeout=2.0,
                socket_connect_timeout=1.0,
                # Every failure must reach us: a silent reconnect inside redis-py would skip
                # the flags (lost on a restart) and the resync (notifications missed).
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
            )
            delay = BACKOFF_BASE
            self._went_live = False
            try:
                await self._session(client)
            except asyncio.CancelledError:
                raise
            except ConfigDenied as exc:
                self._set_status(False, str(exc))
                delay = CONFIG_DENIED_RETRY
            except (RedisError, OSError, TimeoutError) as exc:
                self._set_status(False, f"Redis unreachable: {_error_text(exc)}")
                delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**failures)
            except Exception as exc:  # a bug must not end the watching for good
                log.exception("cache watcher failed")
                self._set_status(False, f"cache watcher failed: {_error_text(exc)}")
                delay = min(BACKOFF_MAX, BACKOFF_BASE * 2**failures)
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose(close_connection_pool=True)
            self._first_attempt.set()
            # A session that got going resets the backoff; one that never did grows it.
            failures = 0 if self._went_live else failures + 1
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self, client: aioredis.Redis) -> None:
        pubsub = client.pubsub()
        try:
            async with asyncio.timeout(SETUP_TIMEOUT):
                await self._ensure_flags(client)
                await pubsub.psubscribe(self.pattern)
                # Subscribed only once Redis confirms: what happens from here on is heard.
                while True:
                    message = await pubsub.get_message(timeout=READ_TIMEOUT)
                    if message is not None and message["type"] == "psubscribe":
                        break
                self.connections += 1
                await self._resync(client)
            self._set_status(True, None)
            self._went_live = True
            self._first_attempt.set()
            await self._listen(client, pubsub)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _ensure_flags(self, client: aioredis.Redis) -> None:
        try:
            current = (await client.config_get("notify-keyspace-events")).get(
                "notify-keyspace-events", ""
            )
        except ResponseError as exc:
            raise ConfigDenied(
                f"CONFIG GET not allowed ({exc}); allow it, with notify-keyspace-events "
                f"including {NEEDED_FLAGS} set on the server"
            ) from None
        if isinstance(current, bytes):
            current = current.decode()
        wanted = merge_flags(current)
        if wanted == current:
            return
        try:
            await client.config_set("notify-keyspace-events", wanted)
        except ResponseError as exc:
            raise ConfigDenied(
                f"CONFIG SET not allowed ({exc}); set notify-keyspace-events to include "
                f"{NEEDED_FLAGS} on the server (now {current!r})"
            ) from None
        log.info("notify-keyspace-events %r -> %r", current, wanted)

    async def _listen(self, client: aioredis.Redis, pubsub: aioredis.client.PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard = loop.time()
        pinged: float | None = None
        while True:
            message = await pubsub.get_message(timeout=READ_TIMEOUT)
            now = loop.time()
            if message is None:
                if pinged is None and now - heard >= PING_AFTER:
                    await pubsub.ping()
                    pinged = now
                elif pinged is not None and now - pinged > PONG_TIMEOUT:
                    raise ConnectionError(f"subscription silent: no PONG within {PONG_TIMEOUT} s")
                continue
            heard, pinged = now, None
            batch = [message]
            while len(batch) < BATCH_MAX:
                more = await pubsub.get_message(timeout=0)
                if more is None:
                    break
                batch.append(more)
            await self._handle(client, batch)

    def _set_status(self, available: bool, detail: str | None) -> None:
        if (available, detail) == (self.book.available, self.book.detail):
            return
        if available:
            log.info("cache watcher: watching %r in db %d", self.book.prefix, self.db)
        else:
            log.warning("cache watcher: %s", detail)
        self.publish(
            CACHE_STATUS,
            {
                "available": available,
                "prefix": self.book.prefix,
                "detail": detail,
                "changed_at": now_ms(),
            },
        )

    # -- notifications ----------------------------------------------------------------------

    def _key_of(self, channel: bytes) -> bytes | None:
        if not channel.startswith(self.channel_prefix):
            return None
        raw = channel[len(self.channel_prefix) :]
        # Redis filtered by the pattern already; checked again all the same.
        if not raw.startswith(self.prefix):
            return None
        if len(raw) > MAX_KEY_BYTES:
            self.skipped_long_keys += 1
            return None
        return raw

    async def _handle(self, client: aioredis.Redis, batch: Iterable[dict[str, Any]]) -> None:
        latest: dict[bytes, str] = {}
        for message in batch:
            if message.get("type") != "pmessage":
                continue  # a pong, a late subscription confirmation
            raw = self._key_of(message["channel"])
            if raw is None:
                continue
            data = message["data"]
            latest.pop(raw, None)  # the last notification of a key wins, in its order
            latest[raw] = data.decode("ascii", "replace") if isinstance(data, bytes) else data
        if not latest:
            return
        reads = [raw for raw, event in latest.items() if event in READS or event == "set"]
        pttls = await self._pttls(client, reads)
        for raw, event in latest.items():
            key = display_key(raw)
            if event in REMOVALS:
                self._announce_removal(key, REMOVALS[event])
            elif event in READS or event == "set":
                self._announce_read(raw, key, pttls[raw], event)
            await asyncio.sleep(0)  # let the sockets' senders keep up with a burst

    async def _pttls(self, client: aioredis.Redis, raws: list[bytes]) -> dict[bytes, int]:
        if not raws:
            return {}
        pipe = client.pipeline(transaction=False)
        for raw in raws:
            pipe.pttl(raw)
        return dict(zip(raws, (int(v) for v in await pipe.execute()), strict=True))

    def _announce_read(self, raw: bytes, key: str, pttl: int, cause: str) -> None:
        if pttl == -2:
            return  # gone already: its removal notification follows
        shown = self.book.entry(key)
        drops_shown_ttl = pttl == -1 and shown is not None and shown["ttl_ms"] is not None
        if cause == "set" and not drops_shown_ttl:
            return  # a SET that left the TTL alone (or set one: `expire` announces that)
        self._announce_ttl(raw, key, pttl, cause)

    def _announce_ttl(self, raw: bytes, key: str, pttl: int, cause: str) -> None:
        changed_at = now_ms()
        ttl_ms, expires_at = ttl_state(pttl, changed_at)
        self._raw[key] = raw
        self.publish(
            CACHE_TTL_CHANGED,
            {
                "key": key,
                "ttl_ms": ttl_ms,
                "expires_at": expires_at,
                "changed_at": changed_at,
                "cause": cause,
            },
        )
        if len(self._raw) > 2 * self.book.max_keys:
            shown = set(self.book.key_names())
            self._raw = {k: v for k, v in self._raw.items() if k in shown}

    def _announce_removal(self, key: str, reason: str) -> None:
        self._raw.pop(key, None)
        self.publish(CACHE_KEY_EXPIRED, {"key": key, "expired_at": now_ms(), "reason": reason})

    async def _resync(self, client: aioredis.Redis) -> None:
        """After (re)subscribing: what changed while nobody listened. Keys shown are re-read,
        a bounded SCAN finds keys under the prefix not shown yet."""
        found: list[bytes] = []
        seen: set[bytes] = set()
        cursor, calls = 0, 0
        match = glob_escape(self.prefix) + b"*"
        while len(found) < self.book.max_keys and calls < SCAN_CALLS:
            cursor, raws = await client.scan(cursor, match=match, count=SCAN_COUNT)
            calls += 1
            for raw in raws:
                if raw not in seen and len(raw) <= MAX_KEY_BYTES:
                    seen.add(raw)
                    found.append(raw)
            if cursor == 0:
                break
        shown = [self._raw.get(key, key.encode("utf-8")) for key in self.book.key_names()]
        candidates = list(dict.fromkeys([*shown, *found[: self.book.max_keys]]))
        pttls = await self._pttls(client, candidates)
        at = now_ms()
        for raw in candidates:
            key = display_key(raw)
            pttl = pttls[raw]
            entry = self.book.entry(key)
            if pttl == -2:
                if entry is not None:
                    self._announce_removal(key, "missing")
            else:
                _, expires_at = ttl_state(pttl, at)
                if entry is None or not _same_expiry(entry["expires_at"], expires_at):
                    self._announce_ttl(raw, key, pttl, "resync")
            await asyncio.sleep(0)


def _same_expiry(a: int | None, b: int | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= SAME_EXPIRY_MS
