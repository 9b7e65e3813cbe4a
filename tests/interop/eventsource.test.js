// The `eventsource` npm package (the EventSource API outside browsers) against rtev serve.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const EventSource = require('eventsource');
const { start, publish } = require('./serve');

function collect(es, n, kind = 'message', timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} events`)), timeoutMs);
    es.addEventListener(kind, (e) => {
      got.push({ id: e.lastEventId, data: JSON.parse(e.data) });
      if (got.length === n) { clearTimeout(timer); resolve(got); }
    });
  });
}

function opened(es) {
  return new Promise((resolve, reject) => { es.onopen = resolve; es.onerror = (e) => reject(e); });
}

test('eventsource_onmessage_receives_envelopes_with_seq_ids', async () => {
  const srv = await start();
  try {
    const es = new EventSource(srv.http + '/api/events?rooms=lobby');
    await opened(es);
    const got = collect(es, 2);
    await publish(srv.http, { type: 'notification', room: 'lobby', data: { n: 1 } });
    await publish(srv.http, { type: 'notification', room: 'lobby', data: { n: 2 } });
    const events = await got;
    assert.deepStrictEqual(events.map((e) => e.data.data.n), [1, 2]);
    for (const e of events) assert.strictEqual(e.id, String(e.data.seq));
    es.close();
  } finally {
    await srv.stop();
  }
});

test('eventsource_named_events_fire_their_type_listener', async () => {
  const srv = await start();
  try {
    const es = new EventSource(srv.http + '/api/events?rooms=lobby&named=1');
    await opened(es);
    const got = collect(es, 1, 'new_message');
    await publish(srv.http, { type: 'new_message', room: 'lobby', data: { message: { id: 7 } } });
    const [e] = await got;
    assert.strictEqual(e.data.type, 'new_message');
    es.close();
  } finally {
    await srv.stop();
  }
});

test('eventsource_resumes_after_a_server_restart_without_missing_events', async () => {
  let srv = await start();
  const { port, dbPath } = srv;
  const es = new EventSource(srv.http + '/api/events?rooms=feed');
  try {
    await opened(es);
    const all = collect(es, 6, 'message', 30000);
    // Once the client has the first three, restart the server on the same port with the same
    // store and publish three more while the client is reconnecting.
    const firstThree = new Promise((resolve) => {
      let n = 0;
      es.addEventListener('message', function seen() { if (++n === 3) { es.removeEventListener('message', seen); resolve(); } });
    });
    for (let i = 1; i <= 3; i++) await publish(srv.http, { type: 'tick', room: 'feed', data: { i } });
    await firstThree;
    assert.strictEqual(await srv.stop(), 0);
    srv = await start([], { port, db: dbPath });
    for (let i = 4; i <= 6; i++) await publish(srv.http, { type: 'tick', room: 'feed', data: { i } });
    const events = await all;
    assert.deepStrictEqual(events.map((e) => e.data.data.i), [1, 2, 3, 4, 5, 6]);
    const seqs = events.map((e) => Number(e.id));
    assert.deepStrictEqual([...seqs].sort((a, b) => a - b), seqs);
  } finally {
    es.close();
    await srv.stop();
  }
});

test('eventsource_named_stream_cannot_be_forged_through_an_event_type', async () => {
  const srv = await start();
  try {
    const es = new EventSource(srv.http + '/api/events?rooms=lobby&named=1');
    await opened(es);
    const forged = [];
    es.addEventListener('forged', (e) => forged.push(e.lastEventId));
    const got = collect(es, 1, 'legit');
    // Line feeds in the type used to end the event: line and start an event of the sender's
    // choosing, with lastEventId 999999.
    const refused = await publish(srv.http, {
      type: 'x\nid: 999999\nevent: forged\ndata: {}\n\nevent: y', room: 'lobby', data: {},
    });
    assert.strictEqual(refused.status, 400);
    assert.strictEqual(refused.body.error.code, 'bad_request');
    assert.match(refused.body.error.message, /^type: contains a control character \(U\+000A\)/);
    const ok = await publish(srv.http, { type: 'legit', room: 'lobby', data: { n: 1 } });
    assert.strictEqual(ok.status, 202);
    const [e] = await got;
    // Events arrive in order: a forged one would have come first.
    assert.deepStrictEqual(forged, []);
    assert.strictEqual(e.id, String(ok.body.seq));
    const metrics = await (await fetch(srv.http + '/metrics')).text();
    assert.match(metrics, /rtev_events_published_by_type_total\{type="legit"\} 1\n/);
    es.close();
  } finally {
    await srv.stop();
  }
});
