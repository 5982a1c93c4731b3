/* MCP console: the alerts panel and its toasts (alert.fired / alert.resolved, snapshot alerts).
 * Loaded before app.js, which hands it frames and snapshots through window.mcpAlerts.
 * Everything an alert carries is untrusted: written with textContent/attributes only, and a
 * runbook_url becomes a link only when it is an http(s) URL. */
(function () {
  "use strict";

  const params = window.mcpParams;
  const param = params.number;
  const config = Object.freeze({
    // Non-critical and resolved toasts leave after this long (0: never); criticals stay
    // until resolved or dismissed.
    toastTimeoutMs: param("toast_timeout_ms", 10000),
    // At most this many toasts at once; the oldest resolved/non-critical go first.
    toastMax: Math.max(1, Math.floor(param("toast_max", 5))),
  });
  const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };
  const TOASTED_MAX = 2000;

  const stats = { fired: 0, resolved: 0, repeats: 0, toasts: 0, unsafeRunbooks: 0 };
  const active = new Map();  // fingerprint -> alert (firing)
  const toasted = new Set();  // fingerprint@starts_at that already got a firing toast
  const toastedOrder = [];
  const truncated = new Map();  // group_key -> truncatedAlerts of its latest notification
  let omitted = 0;  // firing alerts the latest snapshot left out (an alert storm)
  let alertsAt = null;  // server time (ms) of the alert state shown
  let seeded = false;  // the first snapshot (page load) shows what fires, without toasts
  const timers = new WeakMap();  // toast element -> its dismissal timer

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
  function isStringMap(value) {
    return isObject(value) && Object.values(value).every((v) => typeof v === "string");
  }
  function pad2(n) { return String(n).padStart(2, "0"); }
  function clock(ms) {
    const d = new Date(ms);
    return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds());
  }
  function keyOf(alert) { return alert.fingerprint + "@" + alert.starts_at; }
  function rank(severity) {
    return Object.prototype.hasOwnProperty.call(SEVERITY_RANK, severity)
      ? SEVERITY_RANK[severity] : 3;
  }
  function validAlert(a) {
    return isObject(a) && typeof a.fingerprint === "string" && a.fingerprint !== "" &&
      (a.status === "firing" || a.status === "resolved") && isStringMap(a.labels) &&
      isStringMap(a.annotations) && typeof a.starts_at === "number" &&
      typeof a.severity === "string" && typeof a.alertname === "string";
  }
  function summaryOf(alert) {
    return alert.annotations.summary || alert.annotations.description || alert.alertname ||
      alert.fingerprint;
  }
  function labelText(alert) {
    const skip = new Set(["alertname", "severity"]);
    return Object.keys(alert.labels).sort().filter((k) => !skip.has(k))
      .map((k) => k + "=" + alert.labels[k]).join("  ");
  }
  /* The runbook as a link when it is an absolute http(s) URL, else as inert text. */
  function runbook(alert, testid) {
    const raw = alert.annotations.runbook_url;
    if (typeof raw !== "string" || raw === "") return null;
    let url = null;
    try { url = new URL(raw); } catch (_) { url = null; }
    if (url && (url.protocol === "http:" || url.protocol === "https:")) {
      return el("a", {
        "data-testid": testid, class: "runbook", href: url.href, target: "_blank",
        rel: "noopener noreferrer",
      }, "runbook");
    }
    stats.unsafeRunbooks += 1;
    return el("span", {
      "data-testid": testid, class: "runbook runbook-unsafe", "data-unsafe": "true",
      title: "not an http(s) URL: not linked",
    }, "runbook (not linked): " + raw);
  }

  // ---- rows ----------------------------------------------------------------------------
  function renderRow(alert) {
    const list = byTestId("alerts-list");
    if (!list) return;
    const fp = alert.fingerprint;
    const row = el("li", {
      "data-testid": "alert-row-" + fp, class: "alert-row", "data-fingerprint": fp,
      "data-severity": alert.severity, "data-status": alert.status,
      "data-alertname": alert.alertname, "data-starts-at": String(alert.starts_at),
    });
    const head = el("div", { class: "alert-head" });
    head.append(
      el("span", { "data-testid": "alert-severity-" + fp, class: "severity" }, alert.severity),
      el("span", { "data-testid": "alert-name-" + fp, class: "alertname" }, alert.alertname),
      el("time", { "data-testid": "alert-since-" + fp, class: "since",
                   datetime: new Date(alert.starts_at).toISOString() },
         "since " + clock(alert.starts_at)),
    );
    row.append(head, el("p", { "data-testid": "alert-summary-" + fp, class: "summary" },
                        summaryOf(alert)));
    if (alert.annotations.description && alert.annotations.summary) {
      row.append(el("p", { "data-testid": "alert-description-" + fp, class: "description" },
                    alert.annotations.description));
    }
    const labels = labelText(alert);
    if (labels) row.append(el("p", { "data-testid": "alert-labels-" + fp, class: "labels" }, labels));
    const link = runbook(alert, "alert-runbook-" + fp);
    if (link) row.append(link);
    const old = byTestId("alert-row-" + fp);
    if (old) old.replaceWith(row); else list.append(row);
  }
  function removeRow(fingerprint) {
    const row = byTestId("alert-row-" + fingerprint);
    if (row) row.remove();
  }
  function sortRows() {
    const list = byTestId("alerts-list");
    if (!list) return;
    const rows = Array.from(list.children);
    const at = (row) => Number(row.dataset.startsAt) || 0;
    rows.sort((a, b) => rank(a.dataset.severity) - rank(b.dataset.severity) || at(b) - at(a));
    for (const row of rows) list.append(row);
  }
  function finishPanel(eventId, seq) {
    sortRows();
    const empty = byTestId("alerts-empty");
    if (empty) empty.hidden = active.size > 0;
    const note = byTestId("alerts-truncated");
    if (note) {
      let left = 0;
      for (const n of truncated.values()) left += n;
      const parts = [];
      if (left > 0) parts.push(left + " more alert(s) left out by Alertmanager");
      if (omitted > 0) parts.push(omitted + " more firing alert(s) not listed by the console");
      note.hidden = parts.length === 0;
      note.textContent = parts.join("; ");
    }
    // Stamped last, after the content, like the other panels.
    const section = byTestId("alerts-panel");
    if (section) {
      section.dataset.eventId = eventId;
      section.dataset.seq = seq === null ? "" : String(seq);
    }
  }

  // ---- toasts --------------------------------------------------------------------------
  function toastContainer() { return byTestId("toasts"); }
  function dismiss(fingerprint) {
    const toast = byTestId("toast-" + fingerprint);
    if (!toast) return;
    clearTimeout(timers.get(toast));
    toast.remove();
  }
  function schedule(toast, fingerprint) {
    clearTimeout(timers.get(toast));
    const sticky = toast.dataset.status === "firing" && toast.dataset.severity === "critical";
    if (sticky || config.toastTimeoutMs === 0) return;
    const timer = setTimeout(() => {
      if (byTestId("toast-" + fingerprint) === toast) toast.remove();
    }, config.toastTimeoutMs);
    timers.set(toast, timer);
  }
  function evict(container) {
    const toasts = Array.from(container.children);  // newest first
    let excess = toasts.length - config.toastMax;
    const order = [
      (t) => t.dataset.status === "resolved",
      (t) => t.dataset.severity !== "critical",
      () => true,
    ];
    for (const pick of order) {
      for (const toast of toasts.slice().reverse()) {
        if (excess <= 0) return;
        if (toast.isConnected && pick(toast)) { toast.remove(); excess -= 1; }
      }
    }
  }
  function showToast(alert, status) {
    const container = toastContainer();
    if (!container) return;
    const fp = alert.fingerprint;
    const critical = alert.severity === "critical" && status === "firing";
    const toast = el("div", {
      "data-testid": "toast-" + fp, class: "toast", role: critical ? "alert" : "status",
      "data-severity": alert.severity, "data-status": status, "data-alertname": alert.alertname,
    });
    const title = (status === "resolved" ? "resolved" : alert.severity) + " · " + alert.alertname;
    toast.append(
      el("strong", { "data-testid": "toast-title-" + fp, class: "toast-title" }, title),
      el("span", { "data-testid": "toast-summary-" + fp, class: "toast-summary" },
         summaryOf(alert)),
    );
    const link = runbook(alert, "toast-runbook-" + fp);
    if (link) toast.append(link);
    const close = el("button", {
      type: "button", class: "toast-dismiss", "data-testid": "toast-dismiss-" + fp,
      "aria-label": "Dismiss",
    }, "×");
    close.addEventListener("click", () => dismiss(fp));
    toast.append(close);
    const old = byTestId("toast-" + fp);
    if (old) { clearTimeout(timers.get(old)); old.remove(); }
    container.prepend(toast);
    stats.toasts += 1;
    schedule(toast, fp);
    evict(container);
  }
  function toastFiring(alert) {
    const key = keyOf(alert);
    if (toasted.has(key)) return;  // one toast per firing, however often it is re-sent
    toasted.add(key);
    toastedOrder.push(key);
    while (toastedOrder.length > TOASTED_MAX) toasted.delete(toastedOrder.shift());
    showToast(alert, "firing");
  }

  // ---- applying ------------------------------------------------------------------------
  function fire(alert, toast) {
    const shown = active.get(alert.fingerprint);
    if (shown && shown.starts_at === alert.starts_at) { stats.repeats += 1; return; }
    active.set(alert.fingerprint, alert);
    renderRow(alert);
    stats.fired += 1;
    if (toast) toastFiring(alert);
  }
  function resolve(alert, toast) {
    const shown = active.get(alert.fingerprint);
    if (!shown || shown.starts_at !== alert.starts_at) { stats.repeats += 1; return; }
    active.delete(alert.fingerprint);
    removeRow(alert.fingerprint);
    stats.resolved += 1;
    if (toast) showToast(alert, "resolved");
  }

  /* An alert.fired / alert.resolved frame; false when its payload is malformed. */
  function applyEvent(frame) {
    const p = frame.payload;
    if (!isObject(p) || !Array.isArray(p.alerts) || !p.alerts.every(validAlert)) return false;
    const resolved = frame.type === "alert.resolved";
    for (const alert of p.alerts) {
      if (resolved) resolve(alert, true); else fire(alert, true);
    }
    if (typeof p.group_key === "string" && Number.isInteger(p.truncated_alerts)) {
      if (p.truncated_alerts > 0) truncated.set(p.group_key, p.truncated_alerts);
      else truncated.delete(p.group_key);
    }
    alertsAt = frame.ts;
    seeded = true;
    finishPanel(frame.id, frame.seq);
    return true;
  }

  /* Snapshot alerts (hello, resync, polling). A fetched snapshot older than the alert
   * events already shown is skipped; alerts it adds or drops after the first render toast
   * like events would, so fallback polling still notifies. A snapshot that left alerts out
   * (`alertsOmitted` > 0, an alert storm) cannot tell that a missing one resolved: those
   * rows stay. */
  function applySnapshot(alerts, eventId, seq, fromFrame, generatedAt, alertsOmitted) {
    if (!Array.isArray(alerts)) return false;
    if (!fromFrame && alertsAt !== null && typeof generatedAt === "number" &&
        generatedAt <= alertsAt) {
      return false;
    }
    const incoming = new Map();
    for (const alert of alerts) {
      if (validAlert(alert) && alert.status === "firing") incoming.set(alert.fingerprint, alert);
    }
    const complete = !(Number.isInteger(alertsOmitted) && alertsOmitted > 0);
    for (const [fp, alert] of Array.from(active)) {
      const next = incoming.get(fp);
      if (next ? next.starts_at !== alert.starts_at : complete) resolve(alert, seeded);
    }
    for (const alert of incoming.values()) {
      if (!seeded) toasted.add(keyOf(alert));  // already firing at page load: no toast
      fire(alert, seeded);
    }
    if (typeof generatedAt === "number") alertsAt = generatedAt;
    omitted = complete ? 0 : alertsOmitted;
    seeded = true;
    finishPanel(eventId, seq);
    return true;
  }

  window.mcpAlerts = Object.freeze({
    config,
    stats,
    applyEvent,
    applySnapshot,
    alerts: () => Array.from(active.values()),
  });
})();
