// rtev console (docs/console.md) — connections.js: connections, rooms, presence and users (GET
// /api/connections, PRESENCE).
"use strict";

// --- connections, rooms, presence -------------------------------------------------------------

const protocolNames = { rtev: "rtev WebSocket", sse: "SSE", socketio: "Socket.IO" };

const connections = {
  // A presence event while the view is shown: ask again now (once per burst), not at the next
  // 2-second poll.
  soon: null,
  onPresence() {
    if (currentView !== "connections" || !$("login").hidden || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.refresh();
      if ($("pr-list").children.length && $("pr-room").value.trim()) $("presence").requestSubmit();
    }, 100);
  },

  async refresh() {
    // GET /api/connections is the public addition docs/console.md proposes.
    const r = await api("GET", "/api/connections", undefined, true);
    const body = $("c-table").tBodies[0], roomBody = $("r-table").tBodies[0];
    if (!r.ok || !r.json || !Array.isArray(r.json.connections)) {
      $("c-info").textContent = "connections: " + r.error;
      $("online").textContent = "";
      body.replaceChildren();
      roomBody.replaceChildren();
      return;
    }
    // The console's own connection (presence=false, following "*") is listed but marked.
    const conns = r.json.connections;
    const cluster = stats.prev && Array.isArray(stats.prev.s.nodes) ? stats.prev.s : null;
    const total = r.json.connections_total ?? conns.length;
    $("c-info").textContent = (total > conns.length ? "the first " + conns.length + " of " : "") +
      plural(total, "connection") +
      (r.json.node ? " on node " + r.json.node + ", the one this page is served by" +
        (cluster ? " (the cluster: " + plural(cluster.connections, "connection") + " on " +
                   plural(cluster.nodes.length, "node") + ", see Stats)" : "") : "");
    const frag = document.createDocumentFragment();
    for (const c of conns) {
      const tr = el("tr");
      const self = c.id === live.connectionId ? " (this console)" : "";
      tr.append(el("td", "", (c.user_id ?? "(not authenticated)") + (c.presence ? "" : " (no presence)") + self),
                el("td", "", protocolNames[c.protocol] || c.protocol),
                el("td", "", (c.rooms || []).join(" ")),
                el("td", "", showTime(c.connected_at)), el("td", "", String(c.queued ?? "")));
      frag.append(tr);
    }
    body.replaceChildren(frag);
    const online = new Map();
    for (const c of conns)
      if (c.presence && c.user_id) online.set(c.user_id, (online.get(c.user_id) || 0) + 1);
    $("online").textContent = online.size === 0 ? "nobody" : [...online].sort()
      .map(([u, n]) => u + (n > 1 ? " (" + n + ")" : "")).join(", ");
    const rooms = (r.json.rooms || []).slice().sort((a, b) => b.members - a.members || (a.room < b.room ? -1 : 1));
    const rf = document.createDocumentFragment();
    for (const room of rooms) {
      const tr = el("tr");
      tr.append(el("td", "", room.room), el("td", "", String(room.members)));
      rf.append(tr);
    }
    roomBody.replaceChildren(rf);
  },
};

$("c-refresh").addEventListener("click", () => connections.refresh());

$("presence").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await live.request("PRESENCE", { room: $("pr-room").value.trim() });
  const list = $("pr-list");
  list.replaceChildren();
  if (r.type !== "ACK") { list.append(el("li", "error", (r.data && r.data.message) || r.type)); return; }
  const users = (r.data && r.data.users) || [];
  if (!users.length) list.append(el("li", "muted", "nobody"));
  for (const u of users)
    list.append(el("li", "", u.user_id + " (" + u.connections + " connection" + (u.connections === 1 ? ")" : "s)")));
});

$("user").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("u-id").value.trim();
  if (!id) { $("u-result").textContent = "give a user id"; return; }
  const r = await api("GET", "/api/users/" + encodeURIComponent(id), undefined, true);
  $("u-result").textContent = r.ok && r.json
    ? id + (r.json.connected ? " is connected (" + r.json.connections + " connection" +
                               (r.json.connections === 1 ? ")" : "s)") : " is not connected")
    : r.error;
});
