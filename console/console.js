// rtev console (docs/console.md): a page of the server's own public protocols — the rtev
// WebSocket protocol for live events (with presence=false, so the console is nobody's news),
// the HTTP API for publishing, history and stats. No framework, no build step: classic scripts
// loaded in order by index.html, sharing their top-level names —
//   console.js      helpers, credentials, views and keys, time zones, the JSON view, filters
//   live.js         the live view over the WebSocket
//   publish.js      the publish form and the catalog
//   history.js      history by room and time range, replay into live
//   connections.js  connections, rooms, presence, users
//   stats.js        the stats charts
//   start.js        what runs when the page opens
"use strict";

const $ = (id) => document.getElementById(id);
const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
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
  // A form that is up because the connection needs it stays required (Credentials pressed
  // meanwhile must not offer a Cancel that would leave the page with no connection).
  const stillRequired = !$("login").hidden && $("login-cancel").hidden;
  $("login").hidden = false;
  $("login-cancel").hidden = required || stillRequired;
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
    let r;
    try {
      r = await fetch("/api/connections", { headers: { Authorization: "Bearer " + key }, cache: "no-store" });
    } catch (err) {
      return showLogin("the server did not answer (" + err.message + ")", $("login-cancel").hidden);
    }
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
$("login-cancel").addEventListener("click", () => {
  hideLogin();
  if (!live.ws) live.connect();
});
$("credentials").addEventListener("click", () => showLogin("", false));

// Every HTTP call: JSON in, JSON out, the credential as a Bearer header (never in the URL).
// `keyOnly`: the endpoint takes only the API key (publishing, connections, users).
async function api(method, path, body, keyOnly = false) {
  const headers = {};
  if (creds.bearer()) headers.Authorization = "Bearer " + creds.bearer();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(path, { method, headers, body, cache: "no-store" });
  } catch (err) {
    // A server restarting or gone: an answer like any other, for the view to show.
    return { status: 0, ok: false, json: null, error: "the server did not answer (" + err.message + ")" };
  }
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
