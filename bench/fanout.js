#!/usr/bin/env node
// Fan-out benchmark: 1 publisher → N WebSocket subscribers of one room, M events of ~200 bytes.
// Reports publish rate, deliveries/s, and the server's RSS per idle connection.
// usage: node bench/fanout.js [subscribers=100] [events=5000] [idle=1000]
// (uses the pinned `ws` from tests/interop: run `./dev test` or `npm ci` there first)
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const WebSocket = require(path.join(__dirname, '../tests/interop/node_modules/ws'));
const { start } = require(path.join(__dirname, '../tests/interop/serve'));

const SUBS = Number(process.argv[2] || 100);
const EVENTS = Number(process.argv[3] || 5000);
const IDLE = Number(process.argv[4] || 1000);

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

function connect(url) {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url);
    s.once('message', () => resolve(s));  // "authenticated"
    s.once('error', reject);
  });
}

(async () => {
  const srv = await start(['--send-queue-max', String(EVENTS + 10),
                           '--rate-limit', '1000000/s', '--max-connections', '100000'], { db: ':memory:' });
  const pid = srv.child.pid;
  const base = rssKb(pid);

  const idle = [];
  for (let i = 0; i < IDLE; i++) idle.push(await connect(srv.ws));
  const perIdle = IDLE ? (rssKb(pid) - base) / IDLE : 0;

  const subs = [];
  for (let i = 0; i < SUBS; i++) {
    const s = await connect(srv.ws);
    await new Promise((r) => { s.once('message', r); s.send(JSON.stringify({ type: 'SUBSCRIBE', data: { room: 'bench' } })); });
    subs.push(s);
  }
  const pub = await connect(srv.ws);
  const payload = { message_text: 'x'.repeat(120), platform: 'bench' };

  let delivered = 0;
  const total = SUBS * EVENTS;
  const done = new Promise((resolve) => {
    for (const s of subs) s.on('message', () => { if (++delivered === total) resolve(); });
  });
  let acked = 0;
  const allAcked = new Promise((resolve) => pub.on('message', () => { if (++acked === EVENTS) resolve(); }));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++)
    pub.send(JSON.stringify({ type: 'PUBLISH', data: { room: 'bench', type: 'message_sent', data: payload } }));
  await allAcked;
  const tAck = Number(process.hrtime.bigint() - t0) / 1e9;
  await done;
  const t = Number(process.hrtime.bigint() - t0) / 1e9;

  console.log(JSON.stringify({
    subscribers: SUBS, events: EVENTS, idle_connections: IDLE,
    publish_ack_per_s: Math.round(EVENTS / tAck),
    deliveries_per_s: Math.round(total / t),
    seconds: +t.toFixed(3),
    server_rss_kb_per_idle_connection: +perIdle.toFixed(2),
  }));
  for (const s of [...idle, ...subs, pub]) s.terminate();
  await srv.stop();
})().catch((e) => { console.error(e); process.exit(1); });
