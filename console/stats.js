// rtev console (docs/console.md) — stats.js: the server's stats (GET /api/stats, /health) as small
// live charts.
"use strict";

// --- stats: /api/stats polled into small SVG charts -------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const POINTS = 60;
const POLL_MS = 2000;

const stats = {
  prev: null,
  series: {},
  charts: {},

  chart(name, label) {
    if (this.charts[name]) return this.charts[name];
    const box = el("div", "chart");
    const title = el("div", "muted", label), value = el("div", "value", "–");
    const scale = el("div", "muted scale", "");
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + (POINTS - 1) + " 100");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
    box.append(title, value, svg, scale);
    $("charts").append(box);
    this.series[name] = [];
    return (this.charts[name] = { value, line, scale });
  },

  push(name, label, v, unit) {
    const c = this.chart(name, label);
    const s = this.series[name];
    s.push(v);
    if (s.length > POINTS) s.shift();
    const max = Math.max(1, ...s);
    // The newest point on the right edge; the line grows from the right as points come.
    const x0 = POINTS - s.length;
    c.line.setAttribute("points", s.map((y, i) => (x0 + i) + "," + (100 - (y / max) * 95).toFixed(1)).join(" "));
    const show = (n) => (Number.isInteger(n) ? String(n) : n.toFixed(1)) + (unit || "");
    c.value.textContent = show(v);
    c.scale.textContent = "peak " + show(Math.max(...s)) + " in the last " +
                          Math.round((s.length * POLL_MS) / 1000) + " s (top of the chart)";
  },

  // The cards in a fixed order from the start (a rate needs two polls to have a value).
  layout() {
    for (const [name, label] of [["pub", "events/s"], ["del", "deliveries/s"], ["drop", "drops/s"],
                                 ["conn", "connections"], ["users", "users"], ["rooms", "rooms"],
                                 ["store", "stored events"]])
      this.chart(name, label);
  },

  async poll() {
    try {
      const [r, h] = await Promise.all([api("GET", "/api/stats"), api("GET", "/health")]);
      if (!r.ok || !r.json) return;
      const s = r.json, now = performance.now();
      if (this.prev) {
        const dt = (now - this.prev.at) / 1000;
        const rate = (k) => Math.max(0, (s[k] - this.prev.s[k]) / dt);
        this.push("pub", "events/s", rate("events_published"));
        this.push("del", "deliveries/s", rate("events_delivered"));
        this.push("drop", "drops/s", rate("events_dropped"));
      }
      this.push("conn", "connections", s.connections);
      this.push("users", "users", s.users);
      this.push("rooms", "rooms", s.rooms);
      if (h.ok && h.json && h.json.services && h.json.services.history)
        this.push("store", "stored events", h.json.services.history.events);
      this.prev = { s, at: now };
      if (currentView === "stats") $("stats-raw").textContent = JSON.stringify(s, null, 2);
    } catch (e) {
      // A server restarting: the WebSocket status says so. Anything else is a bug to see.
      if (!(e instanceof TypeError && /fetch/i.test(e.message))) console.error(e);
    }
  },
};
