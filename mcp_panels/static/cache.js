/* MCP console: the Redis cache panel (cache.ttl_changed / cache.key_expired / cache.status,
 * and the snapshot's optional `cache`). Loaded before app.js, which hands it frames and
 * snapshots through window.mcpCache.
 * Keys are untrusted text: written with textContent/attributes only. A row's test id is
 * "cache-row-" + encodeURIComponent(key), so any key gives a stable, selector-safe id. */
(function () {
  "use strict";

  const params = window.mcpParams;
  const param = params.number;
  const config = Object.freeze({
    // An expired (or deleted, evicted…) key's row stays this long, then goes (0: until the
    // row limit pushes it out).
    expiredKeepMs: param("cache_expired_keep_ms", 60000),
    // At most this many rows; the least recently changed go first.
    maxRows: Math.max(1, Math.floor(param("cache_max_rows", 200))),
    // How often the countdowns are redrawn.
    tickMs: Math.max(50, param("cache_tick_ms", 250)),
  });
  const REMOVED_TEXT = {
    expired: "expired", evicted: "evicted", deleted: "deleted", renamed: "renamed",
    moved: "moved", missing: "missing",
  };

  const stats = { ttlChanged: 0, removed: 0, statusChanges: 0, snapshots: 0, skippedSnapshots: 0 };
  const rows = new Map();  // key -> row model
  let order = 0;  // grows with every change: the newest row has the highest
  let cacheAt = null;  // server time (ms) of the cache state shown
  let availability = { available: null, prefix: null, detail: null };
  let ticker = null;

  // ---- helpers -------------------------------------------------------------------------
  function byTestId(id) {
    return document.querySelector('[data-testid="' + CSS.escape(id) + '"]');
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }
  function isMs(value) { return typeof value === "number" && Number.isFinite(value) && value >= 0; }
  function isMsOrNull(value) { return value === null || isMs(value); }
  function pad2(n) { return String(n).padStart(2, "0"); }

  /* The test-id suffix of a key: encodeURIComponent (a lone surrogate, which it refuses,
   * becomes U+FFFD first). */
  function idOf(key) {
    const text = typeof key.toWellFormed === "function" ? key.toWellFormed() : key;
    try {
      return encodeURIComponent(text);
    } catch (_) {
      return encodeURIComponent(text.replace(/[\uD800-\uDFFF]/g, "\uFFFD"));
    }
  }

  function remainingText(ms) {
    if (ms < 10000) return (Math.max(0, ms) / 1000).toFixed(1) + " s";
    const total = Math.ceil(ms / 1000);
    if (total < 60) return total + " s";
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + pad2(m) + "m";
    return m + "m " + pad2(s) + "s";
  }
  function ttlText(row, now) {
    if (row.state === "expired") return REMOVED_TEXT[row.reason] || row.reason || "expired";
    if (row.state === "persistent") return "no TTL";
    const left = row.deadline - now;
    // Redis says when it is gone (cache.key_expired); until then it is only due.
    return left > 0 ? "expires in " + remainingText(left) : "expiring…";
  }

  // ---- rows ----------------------------------------------------------------------------
  function listEl() { return byTestId("cache-list"); }

  function drawRow(row) {
    const list = listEl();
    if (!list) return;
    const id = idOf(row.key);
    let li = byTestId("cache-row-" + id);
    if (!li) {
      li = el("li", { "data-testid": "cache-row-" + id, class: "cache-row" });
      li.append(
        el("span", { "data-testid": "cache-key-" + id, class: "cache-key" }, row.key),
        el("span", { "data-testid": "cache-ttl-" + id, class: "cache-ttl" }),
      );
    }
    li.dataset.key = row.key;
    li.dataset.state = row.state;
    li.dataset.ttlMs = row.ttlMs === null ? "" : String(row.ttlMs);
    li.dataset.expiresAt = row.expiresAt === null ? "" : String(row.expiresAt);
    li.dataset.reason = row.reason || "";
    li.querySelector(".cache-ttl").textContent = ttlText(row, Date.now());
    // Newest change on top.
    list.prepend(li);
  }
  function dropRow(key) {
    rows.delete(key);
    const li = byTestId("cache-row-" + idOf(key));
    if (li) li.remove();
  }
  function trimRows() {
    if (rows.size <= config.maxRows) return;
    const oldest = Array.from(rows.values()).sort((a, b) => a.order - b.order);
    for (const row of oldest.slice(0, rows.size - config.maxRows)) dropRow(row.key);
  }

  /* A key that is there: with a TTL (live, counting down to a local deadline) or without. */
  function setPresent(key, ttlMs, expiresAt, changedAt, serverNow) {
    const live = ttlMs !== null && expiresAt !== null;
    // Time left on the server's clock, then counted down on ours: no clock skew involved.
    const left = live ? expiresAt - (isMs(serverNow) ? serverNow : changedAt) : 0;
    const row = {
      key, state: live ? "live" : "persistent", ttlMs: live ? ttlMs : null,
      expiresAt: live ? expiresAt : null, changedAt, reason: null,
      deadline: Date.now() + Math.max(0, left), removedLocalAt: null, order: ++order,
    };
    rows.set(key, row);
    drawRow(row);
  }
  function setRemoved(key, reason, at) {
    const shown = rows.get(key);
    const row = {
      key, state: "expired", ttlMs: shown ? shown.ttlMs : null,
      expiresAt: shown ? shown.expiresAt : null, changedAt: at, reason,
      deadline: 0, removedLocalAt: Date.now(), order: ++order,
    };
    rows.set(key, row);
    drawRow(row);
  }

  function tick() {
    const now = Date.now();
    for (const row of Array.from(rows.values())) {
      if (row.state === "expired") {
        if (config.expiredKeepMs > 0 && now - row.removedLocalAt >= config.expiredKeepMs) {
          dropRow(row.key);
        }
        continue;
      }
      if (row.state !== "live") continue;
      const span = byTestId("cache-ttl-" + idOf(row.key));
      if (span) span.textContent = ttlText(row, now);
    }
    finishNotes();
  }
  function ensureTicker() {
    if (rows.size > 0 && ticker === null) {
      ticker = setInterval(tick, config.tickMs);
    } else if (rows.size === 0 && ticker !== null) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  // ---- panel ---------------------------------------------------------------------------
  function setAvailability(available, prefix, detail) {
    availability = { available, prefix, detail };
    const section = byTestId("cache-panel");
    if (section) section.dataset.available = available ? "true" : "false";
    const note = byTestId("cache-unavailable");
    if (note) {
      note.hidden = available;
      note.textContent = available ? "" :
        "notifications unavailable" + (detail ? ": " + detail : "");
    }
    const shown = byTestId("cache-prefix");
    if (shown) shown.textContent = typeof prefix === "string" ? "keys under " + prefix : "";
  }
  function finishNotes() {
    const empty = byTestId("cache-empty");
    if (empty) empty.hidden = rows.size > 0;
    ensureTicker();
  }
  function finishPanel(eventId, seq) {
    trimRows();
    finishNotes();
    // Stamped last, after the content, like the other panels.
    const section = byTestId("cache-panel");
    if (section) {
      section.dataset.eventId = eventId;
      section.dataset.seq = seq === null ? "" : String(seq);
    }
  }

  // ---- applying ------------------------------------------------------------------------
  function validTtlChanged(p) {
    return isObject(p) && typeof p.key === "string" && isMsOrNull(p.ttl_ms) &&
      isMsOrNull(p.expires_at) && isMs(p.changed_at);
  }
  function validKeyExpired(p) {
    return isObject(p) && typeof p.key === "string" && isMs(p.expired_at) &&
      typeof p.reason === "string";
  }
  function validStatus(p) {
    return isObject(p) && typeof p.available === "boolean" && typeof p.prefix === "string" &&
      (p.detail === null || typeof p.detail === "string");
  }
  function validState(c) {
    return validStatus(c) && Array.isArray(c.keys) && c.keys.every(
      (k) => isObject(k) && typeof k.key === "string" && isMsOrNull(k.ttl_ms) &&
        isMsOrNull(k.expires_at) && isMs(k.changed_at));
  }

  /* A cache.* frame; false when its payload is malformed (or the type is not ours). */
  function applyEvent(frame) {
    const p = frame.payload;
    if (frame.type === "cache.ttl_changed") {
      if (!validTtlChanged(p)) return false;
      setPresent(p.key, p.ttl_ms, p.expires_at, p.changed_at, frame.ts);
      stats.ttlChanged += 1;
    } else if (frame.type === "cache.key_expired") {
      if (!validKeyExpired(p)) return false;
      setRemoved(p.key, p.reason, p.expired_at);
      stats.removed += 1;
    } else if (frame.type === "cache.status") {
      if (!validStatus(p)) return false;
      setAvailability(p.available, p.prefix, p.detail);
      stats.statusChanges += 1;
    } else {
      return false;
    }
    cacheAt = frame.ts;
    finishPanel(frame.id, frame.seq);
    return true;
  }

  /* The snapshot's cache (hello, resync, polling). A fetched snapshot not newer than the
   * cache events already shown is skipped. Keys it lacks that are shown as present go;
   * rows of removed keys stay until their time is up. No `cache` at all: this console has
   * no cache panel. */
  function applySnapshot(cache, eventId, seq, fromFrame, generatedAt) {
    if (!fromFrame && cacheAt !== null && typeof generatedAt === "number" &&
        generatedAt <= cacheAt) {
      stats.skippedSnapshots += 1;
      return false;
    }
    if (cache === undefined || cache === null) {
      setAvailability(false, null, "this console has no cache panel");
      for (const key of Array.from(rows.keys())) dropRow(key);
    } else if (!validState(cache)) {
      return false;
    } else {
      setAvailability(cache.available, cache.prefix, cache.detail);
      const incoming = new Map(cache.keys.map((k) => [k.key, k]));
      for (const row of Array.from(rows.values())) {
        if (row.state !== "expired" && !incoming.has(row.key)) dropRow(row.key);
      }
      const newestLast = cache.keys.slice().sort((a, b) => a.changed_at - b.changed_at);
      for (const k of newestLast) {
        setPresent(k.key, k.ttl_ms, k.expires_at, k.changed_at, generatedAt);
      }
    }
    if (typeof generatedAt === "number") cacheAt = generatedAt;
    stats.snapshots += 1;
    finishPanel(eventId, seq);
    return true;
  }

  function keys() {
    return Array.from(rows.values()).sort((a, b) => b.order - a.order).map((row) => ({
      key: row.key, state: row.state, ttlMs: row.ttlMs, expiresAt: row.expiresAt,
      reason: row.reason, testid: "cache-row-" + idOf(row.key),
    }));
  }

  window.mcpCache = Object.freeze({
    config,
    stats,
    applyEvent,
    applySnapshot,
    keys,
    availability: () => Object.assign({}, availability),
    rowTestId: (key) => "cache-row-" + idOf(String(key)),
  });
})();
