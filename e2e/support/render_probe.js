// Installed with page.add_init_script before the console loads. Records, for every panel,
// each time it is stamped with a new data-event-id: when (DOM changed, next frame) and what it
// then showed. The console stamps the id after the content, and a MutationObserver runs after
// the task that changed the DOM, so each record is the panel as that event rendered it.
(() => {
  if (window.__e2eRenders) return;
  const renders = [];
  window.__e2eRenders = renders;
  const now = () => performance.timeOrigin + performance.now();
  // Receipt time of each event id, from a listener added when the socket is constructed, so
  // it runs before the console's own handler.
  const receipts = {};
  window.__e2eReceipts = receipts;
  const sentAt = {};  // id -> {type, ts}: what the frame said, for measuring without Python
  window.__e2eSent = sentAt;
  // Every socket the page opened, with how it ended: the page's own view, including sockets
  // a route mocked (which page.on("websocket") never reports).
  const sockets = [];
  window.__e2eSockets = sockets;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      // openedAt/closedAt (epoch ms): a reconnect's delay is the next socket's openedAt minus
      // this closedAt (this listener runs before the console's own close handler).
      const record = {
        url: String(args[0]), open: true, code: null, wasClean: null,
        openedAt: now(), closedAt: null,
      };
      sockets.push(record);
      this.addEventListener("close", (event) => {
        Object.assign(record, {
          open: false, code: event.code, wasClean: event.wasClean, closedAt: now(),
        });
      });
      this.addEventListener("message", (event) => {
        const at = now();
        if (typeof event.data !== "string" || event.data.length > 65536) return;
        try {
          const frame = JSON.parse(event.data);
          if (typeof frame.id === "string" && !(frame.id in receipts)) {
            receipts[frame.id] = at;
            sentAt[frame.id] = { type: frame.type, ts: frame.ts };
          }
        } catch (_) { /* malformed frames are the console's business */ }
      });
    }
  };
  const snapshot = (panel) => {
    const items = {};
    for (const el of panel.querySelectorAll("[data-testid]")) {
      const attrs = {};
      for (const a of el.attributes) {
        if (a.name.startsWith("data-") && a.name !== "data-testid") attrs[a.name.slice(5)] = a.value;
      }
      items[el.dataset.testid] = { text: el.textContent, attrs };
    }
    return items;
  };
  // Transitions of state attributes (a panel going stale, the badge's state): brief ones too,
  // which a polling assertion could miss.
  const transitions = [];
  window.__e2eTransitions = transitions;
  new MutationObserver((mutations) => {
    const at = now();
    for (const m of mutations) {
      const el = m.target;
      if (m.attributeName !== "data-event-id") {
        const value = el.getAttribute(m.attributeName);
        if (value === m.oldValue) continue;
        const note = document.querySelector(`[data-testid="${el.dataset.testid}-stale"]`);
        transitions.push({ testid: el.dataset.testid, attr: m.attributeName.slice(5), value,
                           at, note: note ? note.textContent : null });
        continue;
      }
      const id = el.getAttribute("data-event-id");
      if (!id || id === m.oldValue) continue;
      const record = { panel: el.dataset.testid, eventId: id, seq: el.getAttribute("data-seq"),
                       domAt: at, frameAt: null, items: snapshot(el) };
      renders.push(record);
      requestAnimationFrame(() => { record.frameAt = now(); });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-event-id", "data-stale", "data-state"],
                         attributeOldValue: true });
})();
