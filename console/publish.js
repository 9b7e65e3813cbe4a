// rtev console (docs/console.md) — publish.js: the publish form (POST /api/events) and the event
// catalog.
"use strict";

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
// The browser refuses a form with invalid JSON before the submit handler runs: the previous
// result must not stand beside it.
$("p-data").addEventListener("invalid", () => { $("p-result").textContent = ""; });

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
