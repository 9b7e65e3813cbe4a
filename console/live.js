// rtev console (docs/console.md) — live.js: the live view — the rtev WebSocket protocol, following
// every room.
"use strict";

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
          const zoneBefore = serverZone;
          serverZone = msg.data.timezone || "UTC";
          if (serverZone !== zoneBefore && zoneChoice === "server") { this.render(); hist.render(); }
          // A new store (another epoch) numbers its events from 1 again: the old position means
          // nothing there.
          if (this.epoch !== msg.data.epoch) this.lastSeq = null;
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
            setStatus("needs credentials", "bad");
            showLogin("this server needs credentials");
            return;
          }
          return this.answer(msg);
        case "auth_error":
          this.drop();
          setStatus("credentials refused", "bad");
          showLogin("refused: " + ((msg.data && msg.data.message) || "authentication failed"));
          return;
        case "ACK":
          if (msg.ref === "live") setStatus("live: following every room", "ok");
          return this.answer(msg);
        case "ERROR":
          if (msg.ref === "live") setStatus("cannot follow every room: " + (msg.data && msg.data.message), "bad");
          return this.answer(msg);
        case "server_status":
          if (!msg.data) return;
          setStatus("server " + msg.data.status + (msg.data.reason ? ": " + msg.data.reason : ""),
                    msg.data.status === "ok" ? "ok" : "bad");
          return;
      }
      if (typeof msg.type === "string" && "data" in msg) this.add(msg, m.data.length);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failRequests();
      // (Refused credentials never get here: drop() let go of that socket and the form is up.)
      const wait = Math.min(10000, 500 * 2 ** this.retry++) * (0.5 + Math.random() / 2);
      setStatus("disconnected (" + e.code + "), retrying in " + Math.round(wait / 1000) + " s", "bad");
      setTimeout(() => { if (!this.ws) this.connect(); }, wait);
    };
  },

  // Closes the connection without reconnecting (onclose ignores a socket no longer current).
  drop() {
    if (this.ws) { const w = this.ws; this.ws = null; w.close(); }
    this.failRequests();
  },

  // Requests waiting for an answer on a socket that is gone get one: "not connected".
  failRequests() {
    for (const resolve of this.refs.values()) resolve({ type: "ERROR", data: { message: "not connected" } });
    this.refs.clear();
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
    else if (this.pending.push(ev) > this.cap()) {
      // No frame has come for a while (a hidden tab gets none): the next one redraws from what
      // is kept instead of holding every event that arrived meanwhile.
      this.pending = [];
      this.stale = true;
    }
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
    if (this.stale) { this.stale = false; this.render(); return; }
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
    else list.prepend(frag);
    // A row holds its event: no more rows than events kept (the byte cap may keep only a few).
    const rows = Math.min(MAX_ROWS, this.events.length);
    while (list.children.length > rows) list.lastChild.remove();
    this.showCount();
  },

  // The whole list again (a filter, a zone, the cap, resuming): the newest MAX_ROWS kept that
  // pass the filter. While paused, what arrived since the pause stays out of sight.
  render() {
    this.trim();
    this.pending = [];
    this.stale = false;
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
