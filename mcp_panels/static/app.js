/* MCP operations console client: one WebSocket, v1 frames, snapshot polling as fallback.
 * Plain browser JS, no build step. Data is only ever written with textContent/attributes. */
(function () {
  "use strict";

  // ---- tunables (URL query parameters, so tests can shrink the timings) ----------------
  const params = window.mcpParams;
  const param = params.number;
  const config = Object.freeze({
    backoffBaseMs: param("backoff_base_ms", 250),
    backoffMaxMs: param("backoff_max_ms", 5000),
    fallbackAfter: Math.max(1, Math.floor(param("fallback_after", 3))),
    pollIntervalMs: Math.max(50, param("poll_interval_ms", 2000)),
    // null: 3 x the server's heartbeat interval, once hello told us what it is.
    heartbeatTimeoutMs: params.has("heartbeat_timeout_ms")
      ? Math.max(50, param("heartbeat_timeout_ms", 6000)) : null,
    // Frames above this size are refused unparsed: one hostile frame must not stall the page.
    maxFrameBytes: Math.max(1024, param("max_frame_bytes", 1048576)),
    // Another port of this same host for the socket (a relay in front of the console).
    wsUrl: sameHostSocketUrl(params.get("ws_url")),
  });
  function sameHostSocketUrl(raw) {
    if (!raw) return null;
    try {
      const url = new URL(raw);
      if ((url.protocol === "ws:" || url.protocol === "wss:") &&
          url.hostname === window.location.hostname) return url.href;
    } catch (_) { /* not a URL */ }
    console.warn("[mcp-console] ignored ws_url (must be ws(s) on this host):", raw);
    return null;
  }
  const DEFAULT_HEARTBEAT_TIMEOUT_MS = 6000;
  const SEEN_IDS_MAX = 1000;
  const SNAPSHOT_URL = "/api/snapshot";

  const stats = {
    framesReceived: 0, applied: 0, duplicates: 0, outOfOrder: 0, gaps: 0, resyncs: 0,
    unknownTypes: 0, malformed: 0, oversized: 0, reconnects: 0, polls: 0, pollFailures: 0,
  };

  const state = {
    badge: "connecting",
    serverVersion: null,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs || DEFAULT_HEARTBEAT_TIMEOUT_MS,
    connection: 0,        // counts sockets opened; frames of older sockets are ignored
    lastSeq: 0,           // per connection
    gotHello: false,      // on the current socket
    failures: 0,          // consecutive sockets that closed before hello
    polling: false,
    pollFailed: false,
    health: null,
    metrics: null,
    lastFreshAt: null,    // ms: last time live data arrived (frame or snapshot)
    staleSince: null,     // ms: set while panels are stale
  };

  let socket = null;
  let reconnectTimer = null;
  let watchdogTimer = null;
  let staleTimer = null;
  let pollTimer = null;
  let pollGeneration = 0;
  let resyncInFlight = false;
  const seenIds = new Set();
  const seenOrder = [];

  // ---- DOM helpers ---------------------------------------------------------------------
  function byTestId(id) {
    return document.querySelector('[data-testid="' + CSS.escape(id) + '"]');
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function warn(...args) {
    try { console.warn("[mcp-console]", ...args); } catch (_) { /* no console */ }
  }
  function pad2(n) { return String(n).padStart(2, "0"); }
  function clock(ms) {
    const d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  }
  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // ---- connection badge ----------------------------------------------------------------
  const BADGE_HISTORY_MAX = 50;
  const badgeHistory = [];
  function setBadge(next) {
    if (next !== state.badge) {
      // Transitions can be brief (reconnecting -> fallback); keep them for tests/debugging.
      badgeHistory.push(next);
      if (badgeHistory.length > BADGE_HISTORY_MAX) badgeHistory.shift();
    }
    state.badge = next;
    const badge = byTestId("connection-badge");
    if (!badge) return;
    badge.dataset.state = next;
    badge.textContent = next;
  }

  // ---- freshness -----------------------------------------------------------------------
  const STALE_PANELS = ["health", "metrics", "cache"];
  function markFresh() {
    state.lastFreshAt = Date.now();
    state.staleSince = null;
    for (const panel of STALE_PANELS) setPanelStale(panel, null);
    clearTimeout(staleTimer);
    // While polling, fresh data comes once per poll interval, not per heartbeat.
    const staleAfter = state.polling
      ? Math.max(state.heartbeatTimeoutMs, 2 * config.pollIntervalMs + 1000)
      : state.heartbeatTimeoutMs;
    staleTimer = setTimeout(markStale, staleAfter);
  }
  function markStale() {
    clearTimeout(staleTimer);
    staleTimer = null;
    if (state.staleSince !== null) return;
    state.staleSince = state.lastFreshAt === null ? Date.now() : state.lastFreshAt;
    for (const panel of STALE_PANELS) setPanelStale(panel, state.staleSince);
  }
  function setPanelStale(panel, since) {
    const section = byTestId(panel + "-panel");
    const note = byTestId(panel + "-panel-stale");
    if (section) section.dataset.stale = since === null ? "false" : "true";
    if (!note) return;
    note.hidden = since === null;
    note.textContent = since === null ? "" : "stale since " + clock(since);
  }

  // ---- rendering -----------------------------------------------------------------------
  function stamp(panel, eventId, seq) {
    const section = byTestId(panel + "-panel");
    if (!section) return;
    section.dataset.eventId = eventId;
    section.dataset.seq = seq === null ? "" : String(seq);
  }

  function validHealth(health) {
    return isObject(health) && Array.isArray(health.components) &&
      health.components.every((c) => isObject(c) && typeof c.name === "string" && c.name);
  }
  function validMetrics(metrics) {
    return isObject(metrics) && isObject(metrics.values);
  }

  function renderHealth(health) {
    const list = byTestId("health-list");
    if (!list) return;
    const keep = new Set();
    for (const component of health.components) {
      const name = component.name;
      keep.add(name);
      let row = byTestId("health-row-" + name);
      if (!row) {
        row = el("li", { "data-testid": "health-row-" + name, class: "health-row" });
        row.append(
          el("span", { class: "component" }, name),
          el("span", { "data-testid": "health-status-" + name, class: "status" }),
          el("span", { "data-testid": "health-detail-" + name, class: "detail" }),
        );
        list.append(row);
      }
      const status = typeof component.status === "string" ? component.status : "unknown";
      row.dataset.status = status;
      row.querySelector(".status").textContent = status;
      let detail = typeof component.detail === "string" ? component.detail : "";
      if (typeof component.latency_ms === "number" && !detail) {
        detail = component.latency_ms.toFixed(1) + " ms";
      }
      row.querySelector(".detail").textContent = detail;
    }
    for (const row of Array.from(list.children)) {
      const name = (row.dataset.testid || "").replace(/^health-row-/, "");
      if (!keep.has(name)) row.remove();
    }
    state.health = health;
  }

  const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  function humanBytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = n;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
    return (unit === 0 ? integer.format(value) : value.toFixed(1)) + " " + units[unit];
  }
  function humanSeconds(n) {
    if (n < 60) return decimal.format(n) + " s";
    const total = Math.floor(n);
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + s + "s";
  }
  function formatMetric(name, value) {
    if (typeof value !== "number" || !Number.isFinite(value)) return String(value);
    if (name.endsWith("_bytes")) return humanBytes(value);
    if (name.endsWith("_seconds")) return humanSeconds(value);
    if (name.endsWith("_per_sec")) return decimal.format(value) + "/s";
    return Number.isInteger(value) ? integer.format(value) : decimal.format(value);
  }

  function renderMetrics(metrics) {
    const list = byTestId("metrics-list");
    if (!list) return;
    const names = Object.keys(metrics.values).sort();
    const keep = new Set(names);
    for (const name of names) {
      const value = metrics.values[name];
      let dd = byTestId("metric-" + name);
      if (!dd) {
        const row = el("div", { class: "metric", "data-metric": name });
        dd = el("dd", { "data-testid": "metric-" + name });
        row.append(el("dt", {}, name), dd);
        list.append(row);
      }
      dd.dataset.value = String(value);
      dd.textContent = formatMetric(name, value);
    }
    for (const row of Array.from(list.children)) {
      if (!keep.has(row.dataset.metric)) row.remove();
    }
    // Keep rows in name order regardless of arrival order.
    for (const name of names) {
      const dd = byTestId("metric-" + name);
      if (dd) list.append(dd.parentElement);
    }
    state.metrics = metrics;
  }

  // The alerts panel and its toasts live in alerts.js (loaded first, as window.mcpAlerts).
  const alertsView = window.mcpAlerts || null;
  function renderAlerts(alerts, eventId, seq, fromFrame, generatedAt, omitted) {
    if (alertsView) {
      alertsView.applySnapshot(alerts, eventId, seq, fromFrame, generatedAt, omitted);
    }
  }
  // The Redis cache panel lives in cache.js (loaded first, as window.mcpCache).
  const cacheView = window.mcpCache || null;
  function renderCache(cache, eventId, seq, fromFrame, generatedAt) {
    if (!cacheView) return;
    if (!cacheView.applySnapshot(cache, eventId, seq, fromFrame, generatedAt) && fromFrame) {
      warn("ignored the snapshot's malformed cache");
    }
  }

  function timestampOf(panelState, key) {
    return isObject(panelState) && typeof panelState[key] === "number" ? panelState[key] : null;
  }

  /* Render a whole Snapshot. From hello it replaces everything; from GET /api/snapshot
   * (resync, polling) a panel is skipped when what is shown is newer, since frames that
   * arrived while the request was in flight may already be ahead of it. */
  function renderSnapshot(snapshot, eventId, seq, fromFrame) {
    if (!isObject(snapshot) || !validHealth(snapshot.health) || !validMetrics(snapshot.metrics)) {
      return false;
    }
    const newer = (shown, incoming, key) => {
      const a = timestampOf(shown, key);
      const b = timestampOf(incoming, key);
      return a !== null && b !== null && a > b;
    };
    if (fromFrame || !newer(state.health, snapshot.health, "checked_at")) {
      renderHealth(snapshot.health);
      stamp("health", eventId, seq);
    }
    if (fromFrame || !newer(state.metrics, snapshot.metrics, "at")) {
      renderMetrics(snapshot.metrics);
      stamp("metrics", eventId, seq);
    }
    renderAlerts(snapshot.alerts, eventId, seq, fromFrame, snapshot.generated_at,
                 snapshot.alerts_omitted);
    renderCache(snapshot.cache, eventId, seq, fromFrame, snapshot.generated_at);
    return true;
  }

  // ---- frames --------------------------------------------------------------------------
  function parseFrame(data) {
    if (typeof data !== "string") return { error: "binary frame" };
    // UTF-16 length is a lower bound of the UTF-8 size; enough to refuse before parsing.
    if (data.length > config.maxFrameBytes) {
      stats.oversized += 1;
      return { error: "oversized frame (" + data.length + " chars)" };
    }
    let frame;
    try { frame = JSON.parse(data); } catch (err) { return { error: "not JSON" }; }
    if (!isObject(frame)) return { error: "not an object" };
    if (frame.v !== 1) return { error: "unsupported v " + JSON.stringify(frame.v) };
    if (typeof frame.type !== "string" || !frame.type) return { error: "missing type" };
    if (!Number.isInteger(frame.seq) || frame.seq < 1) return { error: "bad seq" };
    if (typeof frame.id !== "string" || !frame.id) return { error: "missing id" };
    if (typeof frame.ts !== "number") return { error: "missing ts" };
    if (!isObject(frame.payload)) return { error: "missing payload" };
    return { frame };
  }

  function remember(id) {
    seenIds.add(id);
    seenOrder.push(id);
    while (seenOrder.length > SEEN_IDS_MAX) seenIds.delete(seenOrder.shift());
  }

  const handlers = {
    hello(frame) {
      const p = frame.payload;
      if (!isObject(p.snapshot) || !renderSnapshot(p.snapshot, frame.id, frame.seq, true)) {
        return false;
      }
      if (isObject(p.server) && typeof p.server.version === "string") {
        state.serverVersion = p.server.version;
        const version = byTestId("server-version");
        if (version) version.textContent = p.server.version;
      }
      if (config.heartbeatTimeoutMs === null && Number.isFinite(p.heartbeat_interval_ms) &&
          p.heartbeat_interval_ms > 0) {
        state.heartbeatTimeoutMs = 3 * p.heartbeat_interval_ms;
      }
      state.gotHello = true;
      state.failures = 0;
      stopPolling();
      setBadge("live");
      return true;
    },
    heartbeat(frame) {
      // Liveness only (the watchdog was already fed); the badge shows which beat it saw.
      const badge = byTestId("connection-badge");
      if (badge) badge.dataset.eventId = frame.id;
      return true;
    },
    "health.check"(frame) {
      if (!validHealth(frame.payload)) return false;
      renderHealth(frame.payload);
      stamp("health", frame.id, frame.seq);
      return true;
    },
    "metrics.push"(frame) {
      if (!validMetrics(frame.payload)) return false;
      renderMetrics(frame.payload);
      stamp("metrics", frame.id, frame.seq);
      return true;
    },
    "alert.fired"(frame) { return alertsView ? alertsView.applyEvent(frame) : false; },
    "alert.resolved"(frame) { return alertsView ? alertsView.applyEvent(frame) : false; },
    "cache.ttl_changed"(frame) { return cacheView ? cacheView.applyEvent(frame) : false; },
    "cache.key_expired"(frame) { return cacheView ? cacheView.applyEvent(frame) : false; },
    "cache.status"(frame) { return cacheView ? cacheView.applyEvent(frame) : false; },
  };

  function onMessage(data) {
    stats.framesReceived += 1;
    const parsed = parseFrame(data);
    if (parsed.error) {
      stats.malformed += 1;
      warn("ignored malformed frame:", parsed.error);
      return;
    }
    try {
      applyFrame(parsed.frame);
    } finally {
      // Any well-formed frame proves the stream is alive (after hello may have changed
      // the heartbeat timeout).
      feedWatchdog();
      markFresh();
    }
  }

  function applyFrame(frame) {
    if (seenIds.has(frame.id)) {
      stats.duplicates += 1;
      if (frame.seq > state.lastSeq) advanceSeq(frame.seq);
      return;
    }
    if (frame.seq <= state.lastSeq) {
      stats.outOfOrder += 1;
      return;
    }
    advanceSeq(frame.seq);

    const handler = Object.prototype.hasOwnProperty.call(handlers, frame.type)
      ? handlers[frame.type] : null;
    if (!handler) {
      stats.unknownTypes += 1;
      warn("ignored unknown event type:", frame.type);
      return;
    }
    remember(frame.id);
    if (handler(frame)) {
      stats.applied += 1;
    } else {
      stats.malformed += 1;
      warn("ignored " + frame.type + " with a malformed payload");
    }
  }

  function advanceSeq(seq) {
    if (seq > state.lastSeq + 1) {
      stats.gaps += 1;
      warn("seq gap: expected " + (state.lastSeq + 1) + ", got " + seq + "; resyncing");
      resync();
    }
    state.lastSeq = seq;
  }

  // ---- snapshot (resync + polling) -----------------------------------------------------
  async function fetchSnapshot() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(1000, config.pollIntervalMs));
    try {
      const response = await fetch(SNAPSHOT_URL, {
        cache: "no-store", signal: controller.signal, headers: { Accept: "application/json" },
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.json();
      if (!isObject(body) || !isObject(body.snapshot)) throw new Error("not a snapshot");
      return body.snapshot;
    } finally {
      clearTimeout(timer);
    }
  }

  function snapshotId(snapshot) {
    return "snapshot:" + String(snapshot.generated_at);
  }

  async function resync() {
    if (resyncInFlight) return;
    resyncInFlight = true;
    try {
      const snapshot = await fetchSnapshot();
      if (renderSnapshot(snapshot, snapshotId(snapshot), null, false)) stats.resyncs += 1;
    } catch (err) {
      warn("resync failed:", String(err));
    } finally {
      resyncInFlight = false;
    }
  }

  function startPolling() {
    if (state.polling) return;
    state.polling = true;
    state.pollFailed = false;
    pollGeneration += 1;
    setBadge("fallback");
    poll(pollGeneration);
  }
  function stopPolling() {
    state.polling = false;
    state.pollFailed = false;
    clearTimeout(pollTimer);
    pollTimer = null;
  }
  // A poll still in flight when polling stops (and maybe restarts) must end its chain.
  function pollCurrent(generation) {
    return state.polling && generation === pollGeneration;
  }
  async function poll(generation) {
    pollTimer = null;
    if (!pollCurrent(generation)) return;
    try {
      const snapshot = await fetchSnapshot();
      if (!pollCurrent(generation)) return;  // a hello arrived meanwhile; live data wins
      if (!renderSnapshot(snapshot, snapshotId(snapshot), null, false)) {
        throw new Error("not a snapshot");
      }
      stats.polls += 1;
      state.pollFailed = false;
      markFresh();
      setBadge("fallback");
    } catch (err) {
      if (!pollCurrent(generation)) return;
      stats.pollFailures += 1;
      state.pollFailed = true;
      warn("snapshot poll failed:", String(err));
      setBadge("offline");
      markStale();
    }
    if (pollCurrent(generation)) {
      pollTimer = setTimeout(() => poll(generation), config.pollIntervalMs);
    }
  }

  // ---- socket --------------------------------------------------------------------------
  function socketUrl() {
    if (config.wsUrl) return config.wsUrl;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws";
  }

  function connect() {
    reconnectTimer = null;
    // One socket at a time: never open another while one is connecting or open.
    if (socket && (socket.readyState === WebSocket.CONNECTING ||
                   socket.readyState === WebSocket.OPEN)) {
      return;
    }
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (err) {
      warn("cannot open WebSocket:", String(err));
      socket = null;
      socketDown();
      return;
    }
    socket = ws;
    state.connection += 1;
    state.lastSeq = 0;
    state.gotHello = false;
    // Also bounds a connect that hangs: no frame in time counts as a dead socket.
    feedWatchdog();
    ws.onmessage = (event) => {
      if (ws !== socket) return;
      try { onMessage(event.data); } catch (err) { warn("frame handling failed:", err); }
    };
    ws.onclose = () => {
      if (ws !== socket) return;
      socket = null;
      socketDown();
    };
    ws.onerror = () => { /* a close event always follows */ };
  }

  function feedWatchdog() {
    clearTimeout(watchdogTimer);
    watchdogTimer = setTimeout(onWatchdog, state.heartbeatTimeoutMs);
  }

  function onWatchdog() {
    watchdogTimer = null;
    const ws = socket;
    if (!ws) return;
    warn("no frame for " + state.heartbeatTimeoutMs + " ms; reconnecting");
    markStale();
    // Forget it first: a dead peer can keep the close handshake pending for long.
    socket = null;
    try { ws.close(4000, "heartbeat timeout"); } catch (_) { /* already closing */ }
    socketDown();
  }

  function socketDown() {
    clearTimeout(watchdogTimer);
    watchdogTimer = null;
    const wasLive = state.gotHello;
    state.gotHello = false;
    if (!wasLive) state.failures += 1;
    if (state.failures >= config.fallbackAfter) {
      startPolling();
    } else if (!state.polling) {
      setBadge("reconnecting");
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer !== null) return;
    // Full jitter: uniform in [0, min(max, base * 2^attempt)].
    const cap = Math.min(config.backoffMaxMs, config.backoffBaseMs * Math.pow(2, state.failures));
    const delay = Math.random() * cap;
    stats.reconnects += 1;
    reconnectTimer = setTimeout(connect, delay);
  }

  // ---- test hook -----------------------------------------------------------------------
  window.mcpConsole = Object.freeze({
    stats,
    config,
    state: () => ({
      badge: state.badge,
      badgeHistory: ["connecting"].concat(badgeHistory).slice(-BADGE_HISTORY_MAX),
      serverVersion: state.serverVersion,
      heartbeatTimeoutMs: state.heartbeatTimeoutMs,
      connection: state.connection,
      lastSeq: state.lastSeq,
      failures: state.failures,
      polling: state.polling,
      socketState: socket ? socket.readyState : null,
      stale: state.staleSince !== null,
      staleSince: state.staleSince,
      health: state.health,
      metrics: state.metrics,
      alerts: alertsView ? alertsView.alerts() : [],
      cache: cacheView ? cacheView.keys() : [],
    }),
  });

  function start() {
    setBadge("connecting");
    connect();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start, { once: true });
  } else {
    start();
  }
})();
