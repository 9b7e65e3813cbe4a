#!/usr/bin/env node
// Socket.IO fan-out benchmark against rtev serve's /socket.io/ door: 1 publisher → N
// socket.io-client subscribers of one room, M events of ~200 bytes, each publish acknowledged.
// Reports acknowledged publishes/s, deliveries/s, and the server's RSS per idle Socket.IO
// connection (WebSocket transport, like io(url, {transports: ['websocket']})).
// usage: node bench/socketio_fanout.js [subscribers=100] [events=5000] [idle=500]
// (uses the pinned socket.io-client from tests/interop: run `./dev test` or `npm ci` there)
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const { io } = require(path.join(__dirname, '../tests/interop/node_modules/socket.io-client'));
const { start } = require(path.join(__dirname, '../tests/interop/serve'));

const SUBS = Number(process.argv[2] || 100);
const EVENTS = Number(process.argv[3] || 5000);
const IDLE = Number(process.argv[4] || 500);

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function connect(url) {
  return new Promise((resolve, reject) => {
    const s = io(url, { transports: ['websocket'], reconnection: false });
    s.once('authenticated', () => resolve(s));
    s.once('connect_error', reject);
  });
}

const join = (s, room) => new Promise((resolve) => s.emit('join', { room }, resolve));

(async () => {
  const srv = await start(['--send-queue-max', String(EVENTS + 10),
                           '--rate-limit', '1000000/s', '--max-connections', '100000'], { db: ':memory:' });
  const pid = srv.child.pid;
  const base = rssKb(pid);

  const idle = [];
  for (let i = 0; i < IDLE; i++) idle.push(await connect(srv.http));
  const perIdle = IDLE ? (rssKb(pid) - base) / IDLE : 0;

  const subs = [];
  for (let i = 0; i < SUBS; i++) {
    const s = await connect(srv.http);
    await join(s, 'bench');
    subs.push(s);
  }
  const pub = await connect(srv.http);
  const payload = { message_text: 'x'.repeat(120), platform: 'bench' };

  let delivered = 0;
  const total = SUBS * EVENTS;
  const done = new Promise((resolve) => {
    for (const s of subs) s.on('message_sent', () => { if (++delivered === total) resolve(); });
  });
  let acked = 0;
  const t0 = process.hrtime.bigint();
  const allAcked = new Promise((resolve, reject) => {
    for (let i = 0; i < EVENTS; i++)
      pub.emit('publish', { room: 'bench', type: 'message_sent', data: payload }, (ack) => {
        if (ack && ack.error) return reject(new Error(JSON.stringify(ack.error)));
        if (++acked === EVENTS) resolve();
      });
  });
  await allAcked;
  const tAck = Number(process.hrtime.bigint() - t0) / 1e9;
  await done;
  const t = Number(process.hrtime.bigint() - t0) / 1e9;

  console.log(JSON.stringify({
    protocol: 'socket.io (websocket)', subscribers: SUBS, events: EVENTS, idle_connections: IDLE,
    publish_ack_per_s: Math.round(EVENTS / tAck),
    deliveries_per_s: Math.round(total / t),
    seconds: +t.toFixed(3),
    server_rss_kb_per_idle_connection: +perIdle.toFixed(2),
  }));
  for (const s of [...idle, ...subs, pub]) s.disconnect();
  await srv.stop();
})().catch((e) => { console.error(e); process.exit(1); });
