// Node's `ws` package (what most Node back ends and test tools use) against rtev serve.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const WebSocket = require('ws');
const { start, publish, nextMessage } = require('./serve');

function open(url, protocols, options) {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url, protocols, options);
    // The first message (authenticated) may arrive right after open: listen from the start.
    const first = nextMessage(s, (m) => m.type === 'authenticated' || m.type === 'auth_error');
    s.once('open', () => resolve({ s, first }));
    s.once('error', reject);
  });
}

test('ws_client_without_subprotocol_connects_like_a_browser', async () => {
  const srv = await start();
  try {
    const { s, first } = await open(srv.ws + '?token=42', undefined, { headers: { Origin: 'http://localhost:3000' } });
    const auth = await first;
    assert.strictEqual(auth.data.user_id, '42');
    assert.strictEqual(s.protocol, '');
    s.send(JSON.stringify({ type: 'subscribe', ref: 'a', data: { room: 'contact:123' } }));
    const ack = await nextMessage(s, (m) => m.type === 'ACK');
    assert.deepStrictEqual([ack.ref, ack.data.op, ack.data.room, ack.data.replayed], ['a', 'SUBSCRIBE', 'contact:123', 0]);
    const got = nextMessage(s, (m) => m.type === 'CONTACT_UPDATED');
    const res = await publish(srv.http, { type: 'CONTACT_UPDATED', room: 'contact:123', data: { id: 123 } });
    assert.strictEqual(res.status, 202);
    const ev = await got;
    assert.strictEqual(ev.seq, res.body.seq);
    assert.strictEqual(ev.room, 'contact:123');
    assert.deepStrictEqual(ev.data, { id: 123 });
    s.close();
  } finally {
    assert.strictEqual(await srv.stop(), 0);
  }
});

test('ws_client_with_rtev_subprotocol_publishes_and_gets_an_ack', async () => {
  const srv = await start();
  try {
    const { s, first } = await open(srv.ws, ['rtev.v1']);
    assert.strictEqual(s.protocol, 'rtev.v1');
    await first;
    s.send(JSON.stringify({ type: 'SUBSCRIBE', ref: 's', data: { room: 'lobby' } }));
    await nextMessage(s, (m) => m.type === 'ACK');
    const live = nextMessage(s, (m) => m.type === 'message_sent');
    s.send(JSON.stringify({ type: 'PUBLISH', ref: 'p', data: { room: 'lobby', type: 'message_sent', id: 'n-1', data: { message_text: 'hi' } } }));
    const ack = await nextMessage(s, (m) => m.type === 'ACK' && m.ref === 'p');
    assert.strictEqual(ack.data.id, 'n-1');
    assert.ok(ack.data.seq > 0);
    const ev = await live;
    assert.strictEqual(ev.id, 'n-1');
    assert.strictEqual(ev.data.message_text, 'hi');
    s.close();
  } finally {
    await srv.stop();
  }
});

test('ws_client_is_closed_with_1001_when_the_server_stops', async () => {
  const srv = await start();
  const { s, first } = await open(srv.ws);
  await first;
  const closed = new Promise((r) => s.once('close', (code) => r(code)));
  const exit = srv.stop('SIGTERM');
  assert.strictEqual(await closed, 1001);
  assert.strictEqual(await exit, 0);
});

test('ws_client_gets_auth_error_and_1008_for_a_bad_token', async () => {
  const srv = await start(['--auth', 'jwt', '--jwt-secret', 'sekrit']);
  try {
    const { s, first } = await open(srv.ws + '?token=not.a.jwt');
    const closed = new Promise((r) => s.once('close', (code) => r(code)));
    const msg = await first;
    assert.strictEqual(msg.type, 'auth_error');
    assert.ok(msg.data.message.length > 0);
    assert.strictEqual(await closed, 1008);
  } finally {
    await srv.stop();
  }
});
