#!/usr/bin/env node
// A FastAPI-style WebSocket server — not rtev — built with Node `ws` the way the first system rtev
// was drawn from behaves, for the SDK's and the CLI's tests of foreign WebSocket servers
// (tests/sdk/client_foreign_ws_test.cpp, tests/cli/e2e_foreign_ws.py):
//
//   node foreign_ws_server.js [--port N] [--silent]
//
// - `ws://HOST:PORT/events/ws/connect?token=TOKEN`: any token but "bad"; no token or "bad" is
//   refused before the upgrade with HTTP 403 (as Starlette answers a close before accept()).
//   Other paths: 404. No subprotocol is chosen, whatever the client offers (FastAPI's accept()).
// - It never sends rtev's `authenticated`. Unless --silent it greets every connection with
//   {"type":"connection_established","timestamp":"2024-01-15T10:30:45.123456",
//    "timezone":"Asia/Kolkata","data":{"user_id":TOKEN}} — a naive timestamp (no offset) in the
//   named zone, no id, no seq.
// - Client messages: {"type":"ping"} is answered {"type":"pong",…}; anything else (an unknown
//   type, rtev's own requests, text that is not JSON) gets {"type":"error",…,"data":{"message"}}.
//
// Prints one JSON line per thing that happens, on stdout, so a test can wait on it:
//   {"ready":true,"port":N}
//   {"connection":"/events/ws/connect","token":"u1","query":"token=u1","protocol":"rtev.v1",
//    "host":"127.0.0.1:PORT","origin":"http://127.0.0.1:PORT"}
//   {"refused":"/events/ws/connect","status":403,"query":"…"}
//   {"received":"<text>","token":"u1"}
//   {"closed":"u1","code":1000}
//
// Test controls, plain HTTP on the same port:
//   POST /emit  {"payload": <any JSON>} or {"text": "<raw text>"} → sent to every connection,
//               answered {"sent": n}
//   POST /drop  every connection is cut (no close frame), answered {"dropped": n}
'use strict';
const http = require('node:http');
const { WebSocketServer } = require('ws');

const argv = process.argv.slice(2);
const portArg = argv.indexOf('--port');
const port = portArg >= 0 ? Number(argv[portArg + 1]) : 0;
const silent = argv.includes('--silent');

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// A naive ISO timestamp of now in UTC: what datetime.utcnow().isoformat() gives.
function naiveNow() {
  return new Date().toISOString().replace('Z', '000');
}

function message(type, data, timezone = 'UTC') {
  return JSON.stringify({ type, timestamp: naiveNow(), timezone, data });
}

const clients = new Set();
const wss = new WebSocketServer({ noServer: true, handleProtocols: () => false });

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    const reply = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.method === 'POST' && req.url === '/emit') {
      let j;
      try {
        j = JSON.parse(body);
      } catch (e) {
        return reply(400, { error: 'body is not JSON' });
      }
      const text = typeof j.text === 'string' ? j.text : JSON.stringify(j.payload);
      for (const ws of clients) ws.send(text);
      return reply(200, { sent: clients.size });
    }
    if (req.method === 'POST' && req.url === '/drop') {
      const n = clients.size;
      for (const ws of clients) ws.terminate();
      return reply(200, { dropped: n });
    }
    reply(404, { detail: 'Not Found' });
  });
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://localhost');
  const token = url.searchParams.get('token');
  const refuse = (status, text) => {
    log({ refused: url.pathname, status, query: url.search.slice(1) });
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  };
  if (url.pathname !== '/events/ws/connect') return refuse(404, 'Not Found');
  if (!token || token === 'bad') return refuse(403, 'Forbidden');
  wss.handleUpgrade(req, socket, head, (ws) => {
    clients.add(ws);
    log({
      connection: url.pathname,
      token,
      query: url.search.slice(1),
      protocol: req.headers['sec-websocket-protocol'] || null,
      host: req.headers.host || null,
      origin: req.headers.origin || null,
    });
    if (!silent)
      ws.send(JSON.stringify({
        type: 'connection_established',
        timestamp: '2024-01-15T10:30:45.123456',
        timezone: 'Asia/Kolkata',
        data: { user_id: token },
      }));
    ws.on('message', (raw, isBinary) => {
      const text = raw.toString();
      log({ received: text, token });
      if (isBinary) return ws.send(message('error', { message: 'Binary messages are not supported' }));
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        return ws.send(message('error', { message: 'Invalid JSON' }));
      }
      if (msg && msg.type === 'ping') return ws.send(message('pong', {}));
      const type = msg && typeof msg.type === 'string' ? msg.type : '(none)';
      ws.send(message('error', { message: `Unknown message type: ${type}` }));
    });
    ws.on('close', (code) => {
      clients.delete(ws);
      log({ closed: token, code });
    });
  });
});

server.listen(port, '127.0.0.1', () => log({ ready: true, port: server.address().port }));
process.on('SIGTERM', () => process.exit(0));
