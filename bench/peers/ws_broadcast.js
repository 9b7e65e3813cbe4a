#!/usr/bin/env node
// The side-by-side's Node peer: a plain WebSocket broadcast server on `ws` (pinned by
// tests/interop/package-lock.json), in the two forms people write.
//
//   node bench/peers/ws_broadcast.js PORT [--corked] [--amplify K]
//
// Connections say what they are in the query: `?role=sub` receives every message a
// `?role=pub` connection sends; each publish is answered by one frame "a" to its sender (the
// acknowledgement `rtev bench --server-kind ws-broadcast` keeps its window with); `?role=idle`
// only holds the connection. Prints "listening PORT" once it accepts connections.
//
// naive:   for every message, ws.send() to every subscriber — one write per frame per client.
// --corked: messages that arrive in one event-loop turn are framed once, and each subscriber's
//          socket is corked, written all of them, and uncorked — one write per client per turn.
// --amplify K (with --corked): every message goes to each subscriber K times. Not a server
//          anyone runs: it is how bench/side-by-side measures the load generator's own ceiling
//          (the frames are built once and written in large pieces, so the reader is the limit).
'use strict';
const http = require('node:http');
const path = require('node:path');
const { WebSocketServer, Sender } = require(path.join(__dirname, '../../tests/interop/node_modules/ws'));

const port = Number(process.argv[2]);
const corked = process.argv.includes('--corked');
const amplifyAt = process.argv.indexOf('--amplify');
const amplify = amplifyAt > 0 ? Number(process.argv[amplifyAt + 1]) : 1;
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(amplify) || amplify < 1 ||
    (amplify > 1 && !corked)) {
  console.error('usage: ws_broadcast.js PORT [--corked [--amplify K]]');
  process.exit(2);
}

const server = http.createServer((req, res) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('a WebSocket broadcast server: connect with ?role=sub|pub|idle\n');
});
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1 << 20 });
const subs = new Set();

let pending = [];      // corked: messages of this turn
let acks = new Map();  // corked: publisher → acknowledgements owed this turn
let scheduled = false;
const frameOpts = { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false };

function flush() {
  scheduled = false;
  const once = pending.flatMap((d) => Sender.frame(d, { ...frameOpts }));
  const frames = Buffer.concat(amplify > 1 ? Array.from({ length: amplify }, () => once).flat() : once);
  pending = [];
  for (const s of subs) {
    const sock = s._socket;
    sock.cork();
    sock.write(frames);
    process.nextTick(() => sock.uncork());
  }
  for (const [pub, n] of acks) {
    const sock = pub._socket;
    sock.write(Buffer.concat(Array.from({ length: n }, () => Buffer.concat(Sender.frame(Buffer.from('a'), { ...frameOpts })))));
  }
  acks = new Map();
}

wss.on('connection', (ws, req) => {
  const role = new URL(req.url, 'http://x').searchParams.get('role') || 'idle';
  if (role === 'sub') {
    subs.add(ws);
    ws.on('close', () => subs.delete(ws));
  } else if (role === 'pub') {
    ws.on('message', (data) => {
      if (!corked) {
        for (const s of subs) s.send(data, { binary: false });
        ws.send('a');
        return;
      }
      pending.push(data);
      acks.set(ws, (acks.get(ws) || 0) + 1);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  }
  ws.on('error', () => {});
});

server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
