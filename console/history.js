// rtev console (docs/console.md) — history.js: history (GET /api/history) by room and time range,
// and replay into live.
"use strict";

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
    try {
      if ($("h-seq").value !== "") q.since = String($("h-seq").value);
      else if ($("h-from").value) q.since = zonedTime($("h-from").value, zone);
      if ($("h-to").value) q.until = zonedTime($("h-to").value, zone);
    } catch (_) {
      $("h-info").textContent = "this browser does not know the time zone " + zone + ": choose another";
      return null;
    }
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
    if (!r.ok || !r.json) {
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
  const q = hist.readForm();
  if (!q) return;
  hist.query = q;
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
  // Popped only once the page is there: a failed load keeps the way back.
  if (await hist.load(hist.starts[hist.starts.length - 1])) hist.starts.pop();
  $("h-prev").disabled = hist.starts.length === 0;
});
$("h-replay").addEventListener("click", () => hist.replay());
hist.showZone();
