/* The page's tunables: URL query parameters, so tests (and operators) can shrink timings.
 * Loaded before the panel modules, which read them through window.mcpParams. */
(function () {
  "use strict";
  const params = new URLSearchParams(window.location.search);
  window.mcpParams = Object.freeze({
    // A non-negative number, or the fallback when absent or not one.
    number(name, fallback) {
      if (!params.has(name)) return fallback;
      const value = Number(params.get(name));
      return Number.isFinite(value) && value >= 0 ? value : fallback;
    },
    has: (name) => params.has(name),
    get: (name) => params.get(name),
  });
})();
