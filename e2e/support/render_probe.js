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
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const at = now();
        if (typeof event.data !== "string" || event.data.length > 65536) return;
        try {
          const id = JSON.parse(event.data).id;
          if (typeof id === "string" && !(id in receipts)) receipts[id] = at;
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
  new MutationObserver((mutations) => {
    const at = now();
    for (const m of mutations) {
      const el = m.target;
      const id = el.getAttribute("data-event-id");
      if (!id || id === m.oldValue) continue;
      const record = { panel: el.dataset.testid, eventId: id, seq: el.getAttribute("data-seq"),
                       domAt: at, frameAt: null, items: snapshot(el) };
      renders.push(record);
      requestAnimationFrame(() => { record.frameAt = now(); });
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-event-id"],
                         attributeOldValue: true });
})();
