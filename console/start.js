// rtev console (docs/console.md) — start.js: what runs when the page opens (every other script is
// loaded by now).
"use strict";

checkJson();
loadCatalog();
live.connect();
stats.layout();
stats.poll();
setInterval(() => {
  stats.poll();
  if (currentView === "connections" && $("login").hidden) connections.refresh();
}, POLL_MS);
