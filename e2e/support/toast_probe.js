// Installed with page.add_init_script before the console loads. Records, per toast and status,
// when it first appeared in the toasts container: DOM time, and the next animation frame (what
// the alert -> toast latency uses). Times are the page's clock, epoch ms.
(() => {
  if (window.__e2eToasts) return;
  const seen = {};
  window.__e2eToasts = seen;
  const now = () => performance.timeOrigin + performance.now();
  const note = (node, at) => {
    if (node.nodeType !== 1) return;
    const testid = node.getAttribute("data-testid") || "";
    const parent = node.parentElement;
    if (!testid.startsWith("toast-") || !parent || parent.dataset.testid !== "toasts") return;
    const status = node.getAttribute("data-status") || "";
    const key = testid + "|" + status;
    if (key in seen) return;
    const record = { testid, status, domAt: at, frameAt: null };
    seen[key] = record;
    requestAnimationFrame(() => { record.frameAt = now(); });
  };
  new MutationObserver((mutations) => {
    const at = now();
    for (const m of mutations) {
      if (m.type === "childList") m.addedNodes.forEach((node) => note(node, at));
      else note(m.target, at);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true,
                         attributeFilter: ["data-status"] });
})();
