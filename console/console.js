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

// The credentials form, over every view. `required`: the live connection cannot go on without
// credentials (nothing is shown until they are given); otherwise (the Credentials button) it can
// be cancelled. What is being typed is never reset: the fields are filled only when it opens.
function showLogin(message, required = true) {
  if ($("login").hidden) {
    $("login-key").value = creds.key;
    $("login-token").value = creds.token;
    $("login-key").focus();
  }
  $("login").hidden = false;
  $("login-cancel").hidden = required;
  $("login-error").textContent = message || "";
  for (const v of document.querySelectorAll(".view")) v.hidden = true;
}

function hideLogin() {
  $("login").hidden = true;
  showView(currentView);
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const key = $("login-key").value.trim(), token = $("login-token").value.trim();
  if (!key && !token) return showLogin("give the API key or a token", $("login-cancel").hidden);
  if (key) {
    // The key is checked where it is the only credential taken (GET /api/connections), so a
    // wrong key is named as such — not as whatever the WebSocket makes of it as a token.
    const r = await fetch("/api/connections", { headers: { Authorization: "Bearer " + key }, cache: "no-store" });
    if (r.status === 401 || r.status === 403) {
      let why = "";
      try { why = (await r.json()).error.message; } catch (_) { /* not JSON */ }
      return showLogin("the API key was refused" + (why ? ": " + why : ""), $("login-cancel").hidden);
    }
  }
  creds.save(key, token);
  hideLogin();
  live.reconnect();
});
$("login-cancel").addEventListener("click", hideLogin);
$("credentials").addEventListener("click", () => showLogin("", false));

// Every HTTP call: JSON in, JSON out, the credential as a Bearer header (never in the URL).
// `keyOnly`: the endpoint takes only the API key (publishing, connections, users).
async function api(method, path, body, keyOnly = false) {
  const headers = {};
  if (creds.bearer()) headers.Authorization = "Bearer " + creds.bearer();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, { method, headers, body, cache: "no-store" });
  let json = null;
  try { json = await r.json(); } catch (_) { /* an empty or non-JSON answer */ }
  return { status: r.status, ok: r.ok, json, error: errorText(r.status, json, keyOnly) };
}

// What a refused or failed answer says, for the view that asked. A 401/403 on an endpoint that
// takes only the API key, when this tab has none, says so (the view stays; the Credentials
// button is how to add it) — the server's own words otherwise.
function errorText(status, json, keyOnly) {
  const said = (json && json.error && json.error.message) || "";
  if ((status === 401 || status === 403) && !creds.key && keyOnly)
    return "this needs the API key (rtev serve --api-key): give it with Credentials" + (said ? " — the server said: " + said : "");
  return status + (said ? ": " + said : "");
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
  if (name === "publish" && $("login").hidden) $("p-type").focus();
}
// The tabs as a tab list: arrow keys move between them.
$("tabs").addEventListener("keydown", (e) => {
  if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
  const i = viewNames.indexOf(currentView) + (e.key === "ArrowRight" ? 1 : -1);
  showView(viewNames[(i + viewNames.length) % viewNames.length]);
  document.querySelector('nav button[data-view="' + currentView + '"]').focus();
});
for (const b of document.querySelectorAll("nav button"))
  b.addEventListener("click", () => showView(b.dataset.view));

document.addEventListener("keydown", (e) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
  if (e.key === "Escape" && typing) { e.target.blur(); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if ($("help").open) return;  // the dialog has its own keys (Esc closes it)
  if (e.key >= "1" && e.key <= "5") showView(viewNames[Number(e.key) - 1]);
  else if (e.key === "/") { showView("live"); $("f-text").focus(); }
  else if (e.key === "p") live.togglePause();
  else if (e.key === "j" || e.key === "k") moveRow(e.key === "j" ? 1 : -1);
  else if (e.key === "o") toggleRow();
  else if (e.key === "?") $("help").showModal();
  else return;
  // A shortcut's key is not also typed into the field it may have focused.
  e.preventDefault();
});
$("help-open").addEventListener("click", () => $("help").showModal());
$("help-close").addEventListener("click", () => $("help").close());

// j/k: row by row through the event list of the view shown (live or history), by focus, so
// Enter opens the row natively and the browser scrolls it into view.
function rowList() {
  if (currentView === "live") return $("live-list");
  if (currentView === "history") return $("history-list");
  return null;
}
function moveRow(step) {
  const list = rowList();
  if (!list || list.children.length === 0) return;
  const rows = list.children;
  const at = document.activeElement && document.activeElement.closest("li");
  let i = at && at.parentElement === list ? Array.prototype.indexOf.call(rows, at) + step : 0;
  i = Math.max(0, Math.min(rows.length - 1, i));
  const summary = rows[i].querySelector("summary");
  summary.focus();
  summary.scrollIntoView({ block: "nearest" });
}
function toggleRow() {
  const at = document.activeElement && document.activeElement.closest(".events > li");
  if (at) { const d = at.querySelector("details"); d.open = !d.open; }
}

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
$("relative").checked = localStorage.getItem("rtev.relative") === "1";
// The zone in force: the field's value once it was accepted (an unknown name typed in the field
// leaves the last good one in force, and the field says why).
let zoneChoice = $("zone").value.trim() || "UTC";
if (!["server", "browser"].includes(zoneChoice) && !zoneIsValid(zoneChoice)) zoneChoice = $("zone").value = "UTC";

function zoneLabels() {
  const o = $("zones").querySelector('option[value="server"]');
  if (o) o.label = "server (" + serverZone + ")";
}

function chosenZone() {
  const z = zoneChoice;
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
  const z = $("zone").value.trim() || "UTC";
  const ok = ["server", "browser"].includes(z) || zoneIsValid(z);
  $("zone").setCustomValidity(ok ? "" : "unknown time zone '" + z + "' (times stay in " + chosenZone() + ")");
  $("zone").reportValidity();
  if (!ok) return;
  zoneChoice = z;
  localStorage.setItem("rtev.zone", z);
  live.render();
  hist.render();
  hist.showZone();
});
$("relative").addEventListener("change", () => {
  localStorage.setItem("rtev.relative", $("relative").checked ? "1" : "0");
  live.render();
  hist.render();
});

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

// The envelope as JSON text on the clipboard (the coloured tree is for reading, not copying).
async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (_) {
    // No clipboard permission (a plain-http host that is not localhost): select it to copy.
    const area = el("textarea");
    area.value = text;
    area.rows = Math.min(20, text.split("\n").length);
    button.replaceWith(area);
    area.select();
  }
}

// One event as a list item: time, type, room, seq, then the payload (expand on demand).
function eventItem(ev) {
  const li = el("li");
  if (ev.history || ev.replayed) li.classList.add("replayed");
  const d = el("details");
  const head = el("summary", "ev-head");
  const seq = el("span", "ev-seq", (ev.replayed ? "⟲ " : "") + (ev.seq === undefined ? "" : String(ev.seq)));
  if (ev.replayed) seq.title = "replayed from history";
  head.append(el("span", "ev-time", showTime(ev.timestamp)),
              el("span", "ev-type", ev.type),
              el("span", "ev-room", ev.room === undefined ? "(broadcast)" : ev.room),
              seq,
              el("span", "ev-data muted", JSON.stringify(ev.data ?? null).slice(0, 200)));
  d.append(head);
  // Built when first opened: thousands of rows stay cheap.
  d.addEventListener("toggle", () => {
    if (d.open && d.children.length === 1) {
      const pre = el("div", "json");
      const copy = el("button", "copy", "Copy JSON");
      copy.type = "button";
      copy.addEventListener("click", () => copyText(JSON.stringify(ev, null, 2), copy));
      pre.append(copy, jsonNode(ev, undefined, 0));
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
  // The first 64 KiB of its JSON: a search stays fast and small with megabyte events.
  if (!searchTexts.has(ev)) searchTexts.set(ev, JSON.stringify(ev).slice(0, 65536).toLowerCase());
  return searchTexts.get(ev);
}

// --- live view: the rtev WebSocket protocol ---------------------------------------------------

const MAX_ROWS = 500;  // rows in the page; the rest are kept (up to the cap) and searchable
const FLUSH_MS = 200;  // the live list is redrawn at most this often
const MAX_KEPT_BYTES = 32 * 1048576;  // kept events' JSON, whatever Keep says
const SCREEN_ROWS = 100;  // more new rows than this in one redraw: the list restarts from them

const live = {
  ws: null,
  events: [],          // newest last, at most cap() and MAX_KEPT_BYTES of JSON
  sizes: [],           // each event's JSON length, beside `events`
  bytes: 0,            // their sum
  pending: [],         // arrived since the last frame
  paused: false,
  missed: 0,           // arrived while paused
  filter: currentFilter(),
  lastSeq: null,
  epoch: null,
  retry: 0,
  refs: new Map(),     // ref → resolve, for PRESENCE and the like
  nextRef: 1,

  capValue: 5000,      // the Keep select, read once per change (not once per event)
  cap() { return this.capValue; },

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
          this.connectionId = msg.data.connection_id;
          zoneLabels();
          hist.showZone();
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
          if (msg.ref === "auth-probe" && !authenticated) {
            // Nothing to see without credentials: the form, and no connection left to time out
            // under it (a new one opens when the form is sent).
            this.drop();
            showLogin("this server needs credentials");
            return;
          }
          return this.answer(msg);
        case "auth_error":
          this.drop();
          showLogin("refused: " + ((msg.data && msg.data.message) || "authentication failed"));
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
      if (typeof msg.type === "string" && "data" in msg) this.add(msg, m.data.length);
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

  // Closes the connection without reconnecting (onclose ignores a socket no longer current).
  drop() {
    if (this.ws) { const w = this.ws; this.ws = null; w.close(); }
  },

  reconnect() {
    this.drop();
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

  received: 0,        // live and replayed events added since the page opened

  // `size`: the event's JSON text length (what it costs to keep, roughly).
  add(ev, size) {
    this.received++;
    // The resume point follows live events only: a replayed history page is older news.
    if (typeof ev.seq === "number" && !ev.replayed)
      this.lastSeq = Math.max(this.lastSeq ?? 0, ev.seq);
    if ((ev.type === "user_online" || ev.type === "user_offline") && !ev.replayed)
      connections.onPresence();
    this.events.push(ev);
    const bytes = size ?? JSON.stringify(ev).length;
    this.sizes.push(bytes);
    this.bytes += bytes;
    // Trimmed in steps (one splice per 512 events past the cap, not one per event); flush and
    // render trim to the cap exactly. Past the byte cap at once: one publisher of 1 MB events
    // must not take the tab's memory.
    if (this.events.length > this.cap() + 512 || this.bytes > MAX_KEPT_BYTES) this.trim();
    if (this.paused) this.missed++;
    else this.pending.push(ev);
    if (!this.scheduled) this.schedule();
  },

  // The page is redrawn at most FLUSH_MS apart, in an animation frame: at a few events a second
  // each shows at once; at thousands a second the page does five small redraws a second, not
  // one per event or per frame (docs/performance.md §13).
  lastFlush: 0,
  scheduled: false,
  schedule() {
    this.scheduled = true;
    const wait = Math.max(0, this.lastFlush + FLUSH_MS - performance.now());
    const go = () => requestAnimationFrame(() => { this.scheduled = false; this.flush(); });
    if (wait === 0) go(); else setTimeout(go, wait);
  },

  // Keeps the newest events within both caps: Keep (a number) and MAX_KEPT_BYTES.
  trim() {
    let drop = Math.max(0, this.events.length - this.cap()), freed = 0;
    for (let i = 0; i < drop; i++) freed += this.sizes[i];
    while (drop < this.events.length - 1 && this.bytes - freed > MAX_KEPT_BYTES) freed += this.sizes[drop++];
    if (drop === 0) return;
    this.events.splice(0, drop);
    this.sizes.splice(0, drop);
    this.bytes -= freed;
  },

  clear() {
    this.events = [];
    this.sizes = [];
    this.bytes = 0;
    this.missed = 0;
    this.showMissed();
    this.render();
  },

  // New events go in once per frame, newest at the top, whatever the rate.
  flush() {
    this.lastFlush = performance.now();
    this.trim();
    if (this.paused) { this.showMissed(); this.showCount(); return; }
    const list = $("live-list");
    const frag = document.createDocumentFragment();
    // Only what can be seen: the newest SCREEN_ROWS that pass the filter. More than that since
    // the last redraw (a fast stream) and the list restarts from them — still contiguous, newest
    // first; the rest are kept and come back with a pause or a filter (render).
    let n = 0;
    for (let i = this.pending.length - 1; i >= 0 && n < SCREEN_ROWS; i--)
      if (this.filter(this.pending[i])) { frag.append(eventItem(this.pending[i])); n++; }
    const restart = n === SCREEN_ROWS;
    this.pending = [];
    if (restart) list.replaceChildren(frag);
    else {
      list.prepend(frag);
      while (list.children.length > MAX_ROWS) list.lastChild.remove();
    }
    this.showCount();
  },

  // The whole list again (a filter, a zone, the cap, resuming): the newest MAX_ROWS kept that
  // pass the filter. While paused, what arrived since the pause stays out of sight.
  render() {
    this.trim();
    this.pending = [];
    const list = $("live-list");
    const frag = document.createDocumentFragment();
    let n = 0;
    const last = this.events.length - 1 - (this.paused ? Math.min(this.missed, this.events.length) : 0);
    for (let i = last; i >= 0 && n < MAX_ROWS; i--)
      if (this.filter(this.events[i])) { frag.append(eventItem(this.events[i])); n++; }
    list.replaceChildren(frag);
    this.showCount();
  },

  showCount() {
    $("live-count").textContent = $("live-list").children.length + " shown, " +
      this.events.length + " kept" +
      (this.bytes > MAX_KEPT_BYTES * 0.9 ? " (" + Math.round(this.bytes / 1048576) + " MB: the size cap)" : "");
  },

  // While paused: how many arrived, and how many of those the Keep cap has already let go
  // (they are not lost on the server: stored events are in History).
  showMissed() {
    $("paused-count").hidden = !this.paused;
    const over = Math.max(0, this.missed - this.cap());
    $("paused-count").textContent = this.missed + " new" +
      (over ? ", " + over + " past Keep (in History)" : "");
  },

  togglePause() {
    this.paused = !this.paused;
    $("pause").textContent = this.paused ? "Resume" : "Pause";
    $("pause").setAttribute("aria-pressed", String(this.paused));
    if (!this.paused) { this.missed = 0; this.render(); }
    this.showMissed();
  },
};

for (const id of ["f-type", "f-room", "f-text"])
  $(id).addEventListener("input", () => { live.filter = currentFilter(); live.render(); });
$("pause").addEventListener("click", () => live.togglePause());
$("cap").addEventListener("change", () => { live.capValue = Number($("cap").value); live.render(); });
live.capValue = Number($("cap").value);
$("clear").addEventListener("click", () => live.clear());

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
// A room name and a user id are different things: each target kind keeps its own value, so a
// room typed before switching to "user" is not sent as a user id.
const targetValues = { room: "", user_id: "", broadcast: "" };
let targetShown = "room";
for (const r of document.querySelectorAll("input[name=target]"))
  r.addEventListener("change", () => {
    const k = targetKind();
    targetValues[targetShown] = $("p-target").value;
    $("p-target").value = targetValues[k];
    targetShown = k;
    $("p-target").disabled = k === "broadcast";
    $("p-target").required = k !== "broadcast";
    $("p-target").placeholder = k === "room" ? "room name" : k === "user_id" ? "user id" : "";
  });

$("publish").addEventListener("submit", async (e) => {
  e.preventDefault();
  const out = $("p-result");
  out.textContent = "";  // an earlier result never stands beside a refused form
  if (!checkJson()) return;
  const body = { type: $("p-type").value.trim(), data: JSON.parse($("p-data").value) };
  const k = targetKind();
  if (k === "broadcast") body.broadcast = true;
  else body[k] = $("p-target").value.trim();
  if ($("p-id").value.trim()) body.id = $("p-id").value.trim();
  out.className = "";
  out.textContent = "publishing…";
  try {
    const r = await api("POST", "/api/events", JSON.stringify(body), true);
    if (r.ok && r.json) {
      out.className = "ok";
      out.textContent = "published: id " + r.json.id + ", seq " + r.json.seq +
                        (r.json.duplicate ? " (duplicate id)" : "");
    } else {
      const code = r.json && r.json.error && r.json.error.code;
      out.className = "error";
      out.textContent = (code ? code + " — " : "") + r.error;
    }
  } catch (err) {
    out.className = "error";
    out.textContent = String(err);
  }
});

// --- history: GET /api/history with paging, a time range in the chosen zone -----------------

// The UTC offset of `zone` at the instant `ms`, in milliseconds (Intl has no direct call).
function zoneOffset(ms, zone) {
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
    hour: "numeric", minute: "numeric", second: "numeric",
  }).formatToParts(ms)) parts[p.type] = Number(p.value);
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

// A datetime-local value ("2024-01-15T10:30" or with seconds) read as a wall time in `zone`,
// as an RFC 3339 UTC time for the API. Like Temporal's "compatible": a wall time that occurs
// twice (clocks turned back) is the earlier instant; one that does not occur (clocks turned
// forward) is read with the offset in force before the change.
function zonedTime(value, zone) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
  if (!m) return "";
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  const day = 86400000;
  const before = wall - zoneOffset(wall - day, zone), after = wall - zoneOffset(wall + day, zone);
  const fits = (ms) => wall - zoneOffset(ms, zone) === ms;
  const ms = fits(before) && fits(after) ? Math.min(before, after)
           : fits(before) ? before : fits(after) ? after : before;
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

const hist = {
  events: [],
  next: null,
  query: null,   // the search's parameters, fixed when it is made: paging follows them
  starts: [],    // the `since` of every page shown before this one
  since: "",

  // The form as a query: "After seq" wins over "From"; From/To are wall times in the zone
  // chosen in the header.
  readForm() {
    const q = { room: $("h-room").value.trim(), types: $("h-types").value.trim(),
                limit: $("h-limit").value, since: "", until: "" };
    const zone = chosenZone();
    if ($("h-seq").value !== "") q.since = String($("h-seq").value);
    else if ($("h-from").value) q.since = zonedTime($("h-from").value, zone);
    if ($("h-to").value) q.until = zonedTime($("h-to").value, zone);
    return q;
  },

  async page(since, limit) {
    const q = new URLSearchParams();
    const { room, types, until } = this.query;
    if (room) q.set("room", room);
    if (types) q.set("types", types);
    if (since) q.set("since", since);
    if (until) q.set("until", until);
    q.set("limit", limit);
    const r = await api("GET", "/api/history?" + q);
    if (!r.ok) {
      $("h-info").textContent = r.error;
      return null;
    }
    return r.json;
  },

  async load(since) {
    $("h-info").textContent = "loading…";
    const page = await this.page(since, this.query.limit);
    if (!page) return false;
    this.since = since;
    this.events = page.events || [];
    this.next = page.next;
    this.render();
    $("h-info").textContent = this.events.length + " events" +
      (this.events.length ? ", seq " + this.events[0].seq + "–" + this.events[this.events.length - 1].seq : "") +
      (this.next === null ? " (end)" : "");
    $("h-next").disabled = this.next === null || this.next === undefined;
    $("h-prev").disabled = this.starts.length === 0;
    $("h-replay").disabled = this.events.length === 0;
    return true;
  },

  // Every event of the search's range, from its start (not the page shown) to its end, in
  // pages of 1000, into the live view — at most the live view's cap, the newest kept out.
  async replay() {
    const cap = live.cap(), got = [];
    let since = this.query.since, capped = false;
    $("h-replay").disabled = true;
    for (;;) {
      $("h-info").textContent = "replaying… " + got.length;
      const page = await this.page(since, 1000);
      if (!page) { $("h-replay").disabled = false; return; }
      got.push(...(page.events || []));
      if (got.length >= cap) { capped = got.length > cap || page.next != null; got.length = cap; break; }
      if (page.next === null || page.next === undefined) break;
      since = String(page.next);
    }
    // An event already in the live view (seen live, or replayed before) is not added twice.
    const shown = new Set(live.events.map((e) => e.id).filter((id) => id !== undefined));
    let added = 0;
    for (const ev of got) {
      if (ev.id !== undefined && shown.has(ev.id)) continue;
      // Marked for the list (a "replayed" tag, dimmed), not in the envelope: a copy keeps the
      // flag off the JSON view.
      const copy = Object.assign({}, ev);
      Object.defineProperty(copy, "replayed", { value: true, enumerable: false });
      live.add(copy);
      added++;
    }
    $("h-replay").disabled = false;
    $("h-info").textContent = "replayed " + added + " events into the live view" +
      (added < got.length ? " (" + (got.length - added) + " were already there)" : "") +
      (capped ? " — stopped at its cap of " + cap + " (narrow the range or raise Keep)" : "");
    if (!capped) showView("live");
  },

  render() {
    const frag = document.createDocumentFragment();
    for (const ev of this.events) frag.append(eventItem(ev));
    $("history-list").replaceChildren(frag);
  },

  showZone() { $("h-zone").textContent = "(" + chosenZone() + ")"; },
};

$("history").addEventListener("submit", (e) => {
  e.preventDefault();
  hist.query = hist.readForm();
  hist.starts = [];
  hist.load(hist.query.since);
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
$("h-replay").addEventListener("click", () => hist.replay());
hist.showZone();

const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");

// --- connections, rooms, presence -------------------------------------------------------------

const protocolNames = { rtev: "rtev WebSocket", sse: "SSE", socketio: "Socket.IO" };

const connections = {
  // A presence event while the view is shown: ask again now (once per burst), not at the next
  // 2-second poll.
  soon: null,
  onPresence() {
    if (currentView !== "connections" || this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = null;
      this.refresh();
      if ($("pr-list").children.length) $("presence").requestSubmit();
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
  if (r.type !== "ACK") { list.append(el("li", "error", r.data.message)); return; }
  if (!r.data.users.length) list.append(el("li", "muted", "nobody"));
  for (const u of r.data.users)
    list.append(el("li", "", u.user_id + " (" + u.connections + " connection" + (u.connections === 1 ? ")" : "s)")));
});

$("user").addEventListener("submit", async (e) => {
  e.preventDefault();
  const id = $("u-id").value.trim();
  if (!id) { $("u-result").textContent = "give a user id"; return; }
  const r = await api("GET", "/api/users/" + encodeURIComponent(id), undefined, true);
  $("u-result").textContent = r.ok
    ? id + (r.json.connected ? " is connected (" + r.json.connections + " connection" +
                               (r.json.connections === 1 ? ")" : "s)") : " is not connected")
    : r.error;
});

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
stats.layout();
stats.poll();
setInterval(() => {
  stats.poll();
  if (currentView === "connections") connections.refresh();
}, POLL_MS);
