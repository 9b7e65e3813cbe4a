// rtev console (docs/console.md): a page of the server's own public protocols — the rtev
// WebSocket protocol for live events (with presence=false, so the console is nobody's news),
// the HTTP API for publishing, history and stats. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// --- credentials: kept in this tab only -------------------------------------------------------

const creds = {
  key: sessionStorage.getItem("rtev.key") || "",
  token: sessionStorage.getItem("rtev.token") || "",
  save(key, token) {
    this.key = key;
    this.token = token;
    sessionStorage.setItem("rtev.key", key);
    sessionStorage.setItem("rtev.token", token);
  },
  // The HTTP API takes the API key; /api/history also takes a user's token.
  bearer() { return this.key || this.token; },
  // The WebSocket takes a user's token, or the API key in `authenticate` (the operator:
  // docs/protocol.md §4.1).
  wsToken() { return this.token || this.key; },
};

function showLogin(message) {
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
  $("login-key").value = creds.key;
  $("login-token").value = creds.token;
  $("login-key").focus();
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  creds.save($("login-key").value.trim(), $("login-token").value.trim());
  $("login").hidden = true;
  showView(currentView);
  live.reconnect();
});

// Every HTTP call: JSON in, JSON out, the credential as a Bearer header (never in the URL).
async function api(method, path, body) {
  const headers = {};
  if (creds.bearer()) headers.Authorization = "Bearer " + creds.bearer();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body, cache: "no-store" });
  let json = null;
  try { json = await r.json(); } catch (_) { /* an empty or non-JSON answer */ }
  // 401: no credential; 403 without a key: the token is not the API key this endpoint needs.
  if (r.status === 401 || (r.status === 403 && !creds.key))
    showLogin((json && json.error && json.error.message) || "unauthorized");
  return { status: r.status, ok: r.ok, json };
}

// --- views and keys ---------------------------------------------------------------------------

let currentView = "live";
const viewNames = ["live", "publish", "history", "connections", "stats"];

function showView(name) {
  currentView = name;
  for (const b of document.querySelectorAll("nav button"))
    b.setAttribute("aria-selected", String(b.dataset.view === name));
  for (const v of viewNames) $("view-" + v).hidden = v !== name || !$("login").hidden;
  if (name === "connections") connections.refresh();
}
for (const b of document.querySelectorAll("nav button"))
  b.addEventListener("click", () => showView(b.dataset.view));

document.addEventListener("keydown", (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === "Escape" && typing) { e.target.blur(); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key >= "1" && e.key <= "5") showView(viewNames[Number(e.key) - 1]);
  else if (e.key === "/") { e.preventDefault(); showView("live"); $("f-text").focus(); }
  else if (e.key === "p") live.togglePause();
});

// --- time: any IANA zone through Intl ---------------------------------------------------------

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
let serverZone = "UTC";
const formatters = new Map();

function zoneNames() {
  const all = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
  return ["UTC", "server", "browser", ...all.filter((z) => z !== "UTC")];
}
for (const z of zoneNames()) {
  const o = el("option");
  o.value = z;
  if (z === "browser") o.label = "browser (" + browserZone + ")";
  $("zones").append(o);
}
$("zone").value = localStorage.getItem("rtev.zone") || "UTC";

function chosenZone() {
  const z = $("zone").value.trim();
  if (z === "server") return serverZone;
  if (z === "browser") return browserZone;
  return z || "UTC";
}

function formatter(zone) {
  if (!formatters.has(zone)) {
    formatters.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "short", day: "numeric", hour: "numeric",
      minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, timeZoneName: "short",
    }));
  }
  return formatters.get(zone);
}

function zoneIsValid(zone) {
  try { formatter(zone); return true; } catch (_) { formatters.delete(zone); return false; }
}

$("zone").addEventListener("change", () => {
  const ok = zoneIsValid(chosenZone());
  $("zone").setCustomValidity(ok ? "" : "unknown time zone");
  $("zone").reportValidity();
  if (!ok) return;
  localStorage.setItem("rtev.zone", $("zone").value.trim());
  live.render();
  hist.render();
});
$("relative").addEventListener("change", () => { live.render(); hist.render(); });

// RFC 3339 with up to 9 fractional digits; Date takes milliseconds.
function parseTime(text) {
  if (typeof text !== "string") return NaN;
  return Date.parse(text.replace(/(\.\d{3})\d+/, "$1"));
}

function relative(ms) {
  const s = Math.trunc((Date.now() - ms) / 1000);
  const a = Math.abs(s);
  if (a < 60) return "just now";
  const [n, u] = a < 3600 ? [a / 60, "m"] : a < 86400 ? [a / 3600, "h"] : [a / 86400, "d"];
  return s > 0 ? Math.trunc(n) + u + " ago" : "in " + Math.trunc(n) + u;
}

function showTime(text) {
  const ms = parseTime(text);
  if (Number.isNaN(ms)) return String(text ?? "");
  if ($("relative").checked) return relative(ms);
  try { return formatter(chosenZone()).format(ms); } catch (_) { return text; }
}

// --- JSON: collapsible and coloured, built with textContent (payloads are untrusted) ----------

function jsonNode(value, key, depth) {
  const wrap = el("div");
  const keyNodes = () => (key === undefined ? [] : [el("span", "k", JSON.stringify(key)), ": "]);
  if (value === null || typeof value !== "object") {
    wrap.append(...keyNodes());
    const cls = typeof value === "string" ? "s" : typeof value === "number" ? "n" : "l";
    wrap.append(el("span", cls, JSON.stringify(value)));
    return wrap;
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [undefined, v, i]) : Object.entries(value);
  const [open, close] = isArray ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) { wrap.append(...keyNodes(), open + close); return wrap; }
  // The key and the opening bracket are the summary: `"data": {` on one line, or when
  // closed `"tags": [ 2 items ]`.
  const d = el("details");
  d.open = depth < 2;
  const s = el("summary");
  const fold = el("span");
  const label = () => open + (d.open ? "" : " " + entries.length + (isArray ? " items " : " keys ") + close);
  fold.textContent = label();
  d.addEventListener("toggle", () => { fold.textContent = label(); });
  s.append(...keyNodes(), fold);
  d.append(s);
  for (const [k, v] of entries) d.append(jsonNode(v, isArray ? undefined : k, depth + 1));
  d.append(close);
  wrap.append(d);
  return wrap;
}

// One event as a list item: time, type, room, seq, then the payload (expand on demand).
function eventItem(ev) {
  const li = el("li");
  if (ev.history || ev.replayed) li.classList.add("replayed");
  const d = el("details");
  const head = el("summary", "ev-head");
  head.append(el("span", "ev-time", showTime(ev.timestamp)),
              el("span", "ev-type", ev.type),
              el("span", "ev-room", ev.room === undefined ? "(broadcast)" : ev.room),
              el("span", "ev-seq", ev.seq === undefined ? "" : String(ev.seq)),
              el("span", "ev-data muted", JSON.stringify(ev.data ?? null).slice(0, 200)));
  d.append(head);
  // Built when first opened: thousands of rows stay cheap.
  d.addEventListener("toggle", () => {
    if (d.open && d.children.length === 1) {
      const pre = el("div", "json");
      pre.append(jsonNode(ev, undefined, 0));
      d.append(pre);
    }
  });
  li.append(d);
  li.dataset.ts = ev.timestamp || "";
  return li;
}

// --- filters ----------------------------------------------------------------------------------

function globRegex(glob) {
  const body = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
  return new RegExp("^" + body + "$");
}

function currentFilter() {
  const type = $("f-type").value.trim(), room = $("f-room").value.trim();
  const text = $("f-text").value.trim().toLowerCase();
  const t = type ? globRegex(type) : null, r = room ? globRegex(room) : null;
  return (ev) => (!t || t.test(ev.type)) &&
                 (!r || r.test(ev.room === undefined ? "" : ev.room)) &&
                 (!text || searchText(ev).includes(text));
}

// The text a search looks in, made once per event.
const searchTexts = new WeakMap();
function searchText(ev) {
  if (!searchTexts.has(ev)) searchTexts.set(ev, JSON.stringify(ev).toLowerCase());
  return searchTexts.get(ev);
}

// --- live view: the rtev WebSocket protocol ---------------------------------------------------

const MAX_ROWS = 500;  // rows in the page; the rest are kept (up to the cap) and searchable

const live = {
  ws: null,
  events: [],          // newest last, at most cap()
  pending: [],         // arrived since the last frame
  paused: false,
  missed: 0,           // arrived while paused
  filter: currentFilter(),
  lastSeq: null,
  epoch: null,
  retry: 0,
  refs: new Map(),     // ref → resolve, for PRESENCE and the like
  nextRef: 1,

  cap() { return Number($("cap").value); },

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // presence=false: the console's own connection causes no user_online/user_offline.
    const ws = new WebSocket(scheme + "//" + location.host + "/ws?presence=false");
    this.ws = ws;
    let authenticated = false;
    setStatus("connecting…");
    ws.onopen = () => {
      if (creds.wsToken())
        ws.send(JSON.stringify({ type: "authenticate",
                                 data: { token: creds.wsToken(), presence: false } }));
      else ws.send(JSON.stringify({ type: "PING", ref: "auth-probe" }));
    };
    ws.onmessage = (m) => {
      let msg;
      try { msg = JSON.parse(m.data); } catch (_) { return; }
      switch (msg.type) {
        case "authenticated": {
          authenticated = true;
          this.retry = 0;
          serverZone = msg.data.timezone || "UTC";
          const resume = this.epoch === msg.data.epoch && this.lastSeq !== null;
          this.epoch = msg.data.epoch;
          const sub = { room: "*" };
          if (resume) Object.assign(sub, { since: this.lastSeq, epoch: this.epoch });
          ws.send(JSON.stringify({ type: "SUBSCRIBE", ref: "live", data: sub }));
          setStatus("live as " + msg.data.user_id, "ok");
          return;
        }
        case "PONG":
          // In token and jwt modes the server answers PING before it authenticates anyone.
          if (msg.ref === "auth-probe" && !authenticated) showLogin("");
          return this.answer(msg);
        case "auth_error":
          showLogin(msg.data && msg.data.message);
          return;
        case "ACK":
          if (msg.ref === "live") setStatus("live: following every room", "ok");
          return this.answer(msg);
        case "ERROR":
          if (msg.ref === "live") setStatus("cannot follow every room: " + msg.data.message, "bad");
          return this.answer(msg);
        case "server_status":
          setStatus("server " + msg.data.status + (msg.data.reason ? ": " + msg.data.reason : ""),
                    msg.data.status === "ok" ? "ok" : "bad");
          return;
      }
      if (typeof msg.type === "string" && "data" in msg) this.add(msg);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      // Refused credentials: the login form is up, and a new attempt starts from it. (A 1008
      // for a ping time-out is not about credentials: reconnect.)
      if (e.code === 1008 && !$("login").hidden) return;
      const wait = Math.min(10000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      setStatus("disconnected (" + e.code + "), retrying in " + Math.round(wait / 1000) + " s", "bad");
      setTimeout(() => { if (!this.ws) this.connect(); }, wait);
    };
  },

  reconnect() {
    if (this.ws) { const w = this.ws; this.ws = null; w.close(); }
    this.connect();
  },

  request(type, data) {
    return new Promise((resolve) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN)
        return resolve({ type: "ERROR", data: { message: "not connected" } });
      const ref = "c" + this.nextRef++;
      this.refs.set(ref, resolve);
      this.ws.send(JSON.stringify({ type, ref, data }));
    });
  },

  answer(msg) {
    const f = this.refs.get(msg.ref);
    if (f) { this.refs.delete(msg.ref); f(msg); }
  },

  add(ev) {
    // The resume point follows live events only: a replayed history page is older news.
    if (typeof ev.seq === "number" && !ev.replayed)
      this.lastSeq = Math.max(this.lastSeq ?? 0, ev.seq);
    this.events.push(ev);
    if (this.events.length > this.cap()) this.events.splice(0, this.events.length - this.cap());
    if (this.paused) { this.missed++; this.showMissed(); return; }
    if (this.pending.push(ev) === 1) requestAnimationFrame(() => this.flush());
  },

  // New events go in once per frame, newest at the top, whatever the rate.
  flush() {
    const list = $("live-list");
    const frag = document.createDocumentFragment();
    for (let i = this.pending.length - 1; i >= 0; i--)
      if (this.filter(this.pending[i])) frag.append(eventItem(this.pending[i]));
    this.pending = [];
    list.prepend(frag);
    while (list.children.length > MAX_ROWS) list.lastChild.remove();
    this.showCount();
  },

  render() {
    this.pending = [];
    const list = $("live-list");
    const frag = document.createDocumentFragment();
    let n = 0;
    for (let i = this.events.length - 1; i >= 0 && n < MAX_ROWS; i--)
      if (this.filter(this.events[i])) { frag.append(eventItem(this.events[i])); n++; }
    list.replaceChildren(frag);
    this.showCount();
  },

  showCount() {
    $("live-count").textContent = $("live-list").children.length + " shown, " +
                                  this.events.length + " kept";
  },

  showMissed() {
    $("paused-count").hidden = !this.paused;
    $("paused-count").textContent = this.missed + " new";
  },

  togglePause() {
    this.paused = !this.paused;
    $("pause").textContent = this.paused ? "Resume" : "Pause";
    if (!this.paused) { this.missed = 0; this.render(); }
    this.showMissed();
  },
};

for (const id of ["f-type", "f-room", "f-text"])
  $(id).addEventListener("input", () => { live.filter = currentFilter(); live.render(); });
$("pause").addEventListener("click", () => live.togglePause());
$("cap").addEventListener("change", () => {
  if (live.events.length > live.cap()) live.events.splice(0, live.events.length - live.cap());
  live.render();
});
$("clear").addEventListener("click", () => { live.events = []; live.render(); });

function setStatus(text, cls) {
  $("status").textContent = text;
  $("status").className = "status " + (cls || "");
}

// Relative times age: refresh them now and then.
setInterval(() => {
  if (!$("relative").checked) return;
  for (const span of document.querySelectorAll("li[data-ts] .ev-time"))
    span.textContent = showTime(span.closest("li").dataset.ts);
}, 10000);

// --- publish: POST /api/events ----------------------------------------------------------------

const catalog = new Map();  // type → [{name, type, required}]

async function loadCatalog() {
  // GET /api/catalog is proposed in docs/console.md; without it the type is free text.
  try {
    const r = await api("GET", "/api/catalog");
    if (!r.ok || !r.json || !Array.isArray(r.json.types)) return;
    for (const t of r.json.types) {
      catalog.set(t.name, t.fields || []);
      const o = el("option");
      o.value = t.name;
      o.label = t.family || "";
      $("types").append(o);
    }
  } catch (_) { /* no catalog: fine */ }
}

const templateValue = { id: 1, string: "", integer: 0, number: 0, boolean: false, object: {},
                        array: [], any: null, timestamp: "" };

$("p-type").addEventListener("change", () => {
  const fields = catalog.get($("p-type").value.trim());
  if (!fields) return;
  const current = $("p-data").value.trim();
  if (current !== "" && current !== "{}") return;  // never overwrite what was typed
  const data = {};
  for (const f of fields) data[f.name] = templateValue[f.type] ?? null;
  $("p-data").value = JSON.stringify(data, null, 2);
  checkJson();
});

function checkJson() {
  try {
    JSON.parse($("p-data").value);
    $("p-json").textContent = "valid JSON";
    $("p-json").className = "ok";
    $("p-data").setCustomValidity("");
    return true;
  } catch (e) {
    $("p-json").textContent = e.message;
    $("p-json").className = "error";
    $("p-data").setCustomValidity(e.message);
    return false;
  }
}
$("p-data").addEventListener("input", checkJson);

function targetKind() { return document.querySelector("input[name=target]:checked").value; }
for (const r of document.querySelectorAll("input[name=target]"))
  r.addEventListener("change", () => {
    const k = targetKind();
    $("p-target").disabled = k === "broadcast";
    $("p-target").placeholder = k === "room" ? "room name" : k === "user_id" ? "user id" : "";
  });

$("publish").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!checkJson()) return;
  const body = { type: $("p-type").value.trim(), data: JSON.parse($("p-data").value) };
  const k = targetKind();
  if (k === "broadcast") body.broadcast = true;
  else body[k] = $("p-target").value.trim();
  if ($("p-id").value.trim()) body.id = $("p-id").value.trim();
  const out = $("p-result");
  out.className = "";
  out.textContent = "publishing…";
  try {
    const r = await api("POST", "/api/events", JSON.stringify(body));
    if (r.ok && r.json) {
      out.className = "ok";
      out.textContent = "published: id " + r.json.id + ", seq " + r.json.seq +
                        (r.json.duplicate ? " (duplicate id)" : "");
    } else {
      const err = (r.json && r.json.error) || {};
      out.className = "error";
      out.textContent = r.status + " " + (err.code || "") + ": " + (err.message || "");
    }
  } catch (err) {
    out.className = "error";
    out.textContent = String(err);
  }
});

// --- history: GET /api/history with paging ----------------------------------------------------

const hist = {
  events: [],
  next: null,
  starts: [],    // the `since` of every page shown before this one
  since: "",

  async load(since) {
    const q = new URLSearchParams();
    const room = $("h-room").value.trim(), types = $("h-types").value.trim();
    const until = $("h-until").value.trim();
    if (room) q.set("room", room);
    if (types) q.set("types", types);
    if (since) q.set("since", since);
    if (until) q.set("until", until);
    q.set("limit", $("h-limit").value);
    $("h-info").textContent = "loading…";
    const r = await api("GET", "/api/history?" + q);
    if (!r.ok) {
      $("h-info").textContent = r.status + ": " + ((r.json && r.json.error && r.json.error.message) || "");
      return false;
    }
    this.since = since;
    this.events = r.json.events || [];
    this.next = r.json.next;
    this.render();
    $("h-info").textContent = this.events.length + " events" +
      (this.events.length ? ", seq " + this.events[0].seq + "–" + this.events[this.events.length - 1].seq : "") +
      (this.next === null ? " (end)" : "");
    $("h-next").disabled = this.next === null || this.next === undefined;
    $("h-prev").disabled = this.starts.length === 0;
    $("h-replay").disabled = this.events.length === 0;
    return true;
  },

  render() {
    const frag = document.createDocumentFragment();
    for (const ev of this.events) frag.append(eventItem(ev));
    $("history-list").replaceChildren(frag);
  },
};

$("history").addEventListener("submit", (e) => {
  e.preventDefault();
  hist.starts = [];
  hist.load($("h-since").value.trim());
});
$("h-next").addEventListener("click", async () => {
  const from = hist.since;
  if (await hist.load(String(hist.next))) {
    hist.starts.push(from);
    $("h-prev").disabled = false;
  }
});
$("h-prev").addEventListener("click", async () => {
  const from = hist.starts.pop();
  await hist.load(from);
  $("h-prev").disabled = hist.starts.length === 0;
});
$("h-replay").addEventListener("click", () => {
  // Marked for the list (dimmed), not in the envelope: a copy keeps the flag off the JSON view.
  for (const ev of hist.events) {
    const copy = Object.assign({}, ev);
    Object.defineProperty(copy, "replayed", { value: true, enumerable: false });
    live.add(copy);
  }
  showView("live");
});

// --- connections, rooms, presence -------------------------------------------------------------

const connections = {
  async refresh() {
    // GET /api/connections is the public addition docs/console.md proposes.
    const r = await api("GET", "/api/connections");
    const body = $("c-table").tBodies[0], roomBody = $("r-table").tBodies[0];
    if (!r.ok || !r.json || !Array.isArray(r.json.connections)) {
      $("c-info").textContent = r.status === 404
        ? "this server has no GET /api/connections yet (docs/console.md)"
        : "connections: " + r.status;
      body.replaceChildren();
      roomBody.replaceChildren();
      return;
    }
    // The console's own connection (presence=false, following "*") is listed but marked.
    const conns = r.json.connections;
    $("c-info").textContent = conns.length + " connections" + (r.json.node ? " on node " + r.json.node : "");
    const frag = document.createDocumentFragment();
    for (const c of conns) {
      const tr = el("tr");
      tr.append(el("td", "", (c.user_id ?? "(not authenticated)") + (c.presence ? "" : " (no presence)")),
                el("td", "", c.protocol),
                el("td", "", (c.rooms || []).join(" ")),
                el("td", "", showTime(c.connected_at)), el("td", "", String(c.queued ?? "")));
      frag.append(tr);
    }
    body.replaceChildren(frag);
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
  if (r.type !== "ACK") { list.append(el("li", "error", r.data.message)); return; }
  if (!r.data.users.length) list.append(el("li", "muted", "nobody"));
  for (const u of r.data.users)
    list.append(el("li", "", u.user_id + " (" + u.connections + " connection" + (u.connections === 1 ? ")" : "s)")));
});

$("user").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("u-id").value.trim();
  const r = await api("GET", "/api/users/" + encodeURIComponent(id));
  $("u-result").textContent = r.ok
    ? id + (r.json.connected ? " is connected (" + r.json.connections + ")" : " is not connected")
    : r.status + ": " + ((r.json && r.json.error && r.json.error.message) || "");
});

// --- stats: /api/stats polled into small SVG charts -------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const POINTS = 60;

const stats = {
  prev: null,
  series: {},
  charts: {},

  chart(name, label) {
    if (this.charts[name]) return this.charts[name];
    const box = el("div", "chart");
    const title = el("div", "muted", label), value = el("div", "value", "–");
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + (POINTS - 1) + " 100");
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
    box.append(title, value, svg);
    $("charts").append(box);
    this.series[name] = [];
    return (this.charts[name] = { value, line });
  },

  push(name, label, v, unit) {
    const c = this.chart(name, label);
    const s = this.series[name];
    s.push(v);
    if (s.length > POINTS) s.shift();
    const max = Math.max(1, ...s);
    c.line.setAttribute("points", s.map((y, i) => i + "," + (100 - (y / max) * 95).toFixed(1)).join(" "));
    c.value.textContent = (Number.isInteger(v) ? v : v.toFixed(1)) + (unit || "");
  },

  async poll() {
    try {
      const [r, h] = await Promise.all([api("GET", "/api/stats"), api("GET", "/health")]);
      if (!r.ok) return;
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
      if (h.ok && h.json.services && h.json.services.history)
        this.push("store", "stored events", h.json.services.history.events);
      this.prev = { s, at: now };
      if (currentView === "stats") $("stats-raw").textContent = JSON.stringify(s, null, 2);
    } catch (e) {
      // A server restarting: the WebSocket status says so. Anything else is a bug to see.
      if (!(e instanceof TypeError && /fetch/i.test(e.message))) console.error(e);
    }
  },
};

// --- start ------------------------------------------------------------------------------------

checkJson();
loadCatalog();
live.connect();
stats.poll();
setInterval(() => {
  stats.poll();
  if (currentView === "connections") connections.refresh();
}, 2000);
