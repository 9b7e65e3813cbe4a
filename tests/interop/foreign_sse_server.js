#!/usr/bin/env node
// A plain Server-Sent Events server — not rtev, Node's http module only — sending what
// application back ends send, `data: {"userId":1,"type":"notification","data":{…}}` with `id:`
// lines and no timestamp or timezone, for the CLI's foreign-server tests
// (tests/cli/e2e_foreign.py).
//
//   node foreign_sse_server.js --log FILE [--port N] [--retry MS]
//
// Events are kept in FILE (JSON lines {"id", "event"?, "payload"}), so a server started again
// on the same port with the same file replays what a reconnecting client missed: a request
// with `Last-Event-ID: N` first gets every logged event with an id above N. Lines appended to
// FILE while the server is down count as events it produced meanwhile.
//
//   GET  /events       the stream: `retry: MS`, a `: hello` comment, replay, then live events
//   POST /emit         {"payload": JSON or text, "event"?: name} → logged, sent to every
//                      stream as `id:`, `event:` (if any) and one `data:` line per text line
//   POST /events       an rtev-style publish {type, data, room?, id?}: 202 {id, seq} (type
//   POST /publish      "forbidden…": 403 {"error":{code,message}}), then sent like /emit with
//                      payload {"userId":1,"type","data"}
//
// stdout, one JSON line each: {"ready":true,"port":N}, {"connected":true,"lastEventId":…},
// {"emitted":id}, {"published":{…},"path":…}.
'use strict';
const fs = require('node:fs');
const http = require('node:http');

const args = process.argv.slice(2);
function arg(name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
}
const port = Number(arg('--port', '0'));
const logFile = arg('--log');
const retryMs = Number(arg('--retry', '100'));
if (!logFile) {
  process.stderr.write('usage: foreign_sse_server.js --log FILE [--port N] [--retry MS]\n');
  process.exit(2);
}

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function readLog() {
  if (!fs.existsSync(logFile)) return [];
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

function frame(entry) {
  const text = typeof entry.payload === 'string' ? entry.payload : JSON.stringify(entry.payload);
  let out = `id: ${entry.id}\n`;
  if (entry.event) out += `event: ${entry.event}\n`;
  for (const line of text.split('\n')) out += `data: ${line}\n`;
  return out + '\n';
}

const streams = new Set();

function append(payload, event) {
  const log = readLog();
  const id = log.length ? Number(log[log.length - 1].id) + 1 : 1;
  const entry = { id: String(id), payload };
  if (event) entry.event = event;
  fs.appendFileSync(logFile, JSON.stringify(entry) + '\n');
  for (const res of streams) res.write(frame(entry));
  say({ emitted: entry.id });
  return entry;
}

function body(req) {
  return new Promise((resolve) => {
    let text = '';
    req.on('data', (d) => { text += d; });
    req.on('end', () => resolve(text));
  });
}

function json(res, status, obj) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(obj));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (req.method === 'GET' && url.pathname === '/events') {
    const lastEventId = req.headers['last-event-id'] ?? null;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    res.write(`retry: ${retryMs}\n: hello\n\n`);
    if (lastEventId !== null)
      for (const e of readLog()) if (Number(e.id) > Number(lastEventId)) res.write(frame(e));
    streams.add(res);
    req.on('close', () => streams.delete(res));
    say({
      connected: true,
      lastEventId,
      authorization: req.headers.authorization ?? null,
      trace: req.headers['x-trace'] ?? null,
    });
    return;
  }
  if (req.method === 'POST' && url.pathname === '/emit') {
    const j = JSON.parse(await body(req));
    const e = append(j.payload, j.event);
    return json(res, 200, { id: e.id });
  }
  if (req.method === 'POST' && (url.pathname === '/events' || url.pathname === '/publish')) {
    let p;
    try {
      p = JSON.parse(await body(req));
    } catch (err) {
      return json(res, 400, { error: { code: 'bad_json', message: String(err.message) } });
    }
    say({ published: p, path: url.pathname });
    if (typeof p.type !== 'string' || p.type === '')
      return json(res, 400, { error: { code: 'bad_request', message: 'type: required field is missing' } });
    if (p.type.startsWith('forbidden'))
      return json(res, 403, { error: { code: 'forbidden', message: `${p.type} is not allowed here` } });
    const e = append({ userId: 1, type: p.type, data: p.data ?? {} });
    return json(res, 202, { id: p.id ?? `sse-${e.id}`, seq: Number(e.id) });
  }
  json(res, 404, { error: { code: 'not_found', message: `no ${req.method} ${url.pathname}` } });
});

server.listen(port, '127.0.0.1', () => say({ ready: true, port: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
