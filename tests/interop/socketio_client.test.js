// The real `socket.io-client` (what browser and Node front ends use) against rtev serve's
// /socket.io/ front door: polling with the upgrade, websocket-only, both auth flows, rooms,
// events from `rtev publish`, acknowledgements, errors, replay and shutdown.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { execFile } = require('node:child_process');
const { io } = require('socket.io-client');
const { start, publish, RTEV } = require('./serve');

const WS_ONLY = { transports: ['websocket'] };

// Resolves with the arguments of the next `name` event (rejects after a time-out, never sleeps).
function once(socket, name, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off(name, on); reject(new Error(`timed out waiting for '${name}'`)); }, timeoutMs);
    timer.unref();  // a wait nobody awaits any more must not keep the test process alive
    function on(...args) { clearTimeout(timer); resolve(args); }
    socket.once(name, on);
  });
}

// A client that is connected and, where the server says so, authenticated.
async function connect(url, options = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, ...options });
  const authenticated = once(socket, 'authenticated').catch(() => null);
  await Promise.race([
    once(socket, 'connect'),
    once(socket, 'connect_error').then(([err]) => { throw err; }),
  ]);
  return { socket, authenticated };
}

function emitAck(socket, name, payload) {
  return socket.timeout(10000).emitWithAck(name, payload);
}

function rtevPublish(srv, args) {
  return new Promise((resolve, reject) => {
    execFile(RTEV, ['publish', '--url', srv.ws, ...args], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`rtev publish failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

test('socketio_default_options_poll_then_upgrade_to_websocket', async () => {
  const srv = await start();
  try {
    const socket = io(srv.http, { reconnection: false, forceNew: true });
    const upgraded = once(socket.io, 'open').then(() => once(socket.io.engine, 'upgrade'));
    await once(socket, 'connect');  // none mode, no token: anonymous at once (no `authenticated` event)
    const [transport] = await upgraded;
    assert.strictEqual(transport.name, 'websocket');
    assert.strictEqual(socket.io.engine.transport.name, 'websocket');
    assert.ok(socket.connected);
    // The session keeps working on the new transport.
    const ack = await emitAck(socket, 'join', { room: 'lobby' });
    assert.strictEqual(ack.room, 'lobby');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_polling_only_receives_events_and_acks', async () => {
  const srv = await start();
  try {
    const { socket } = await connect(srv.http, { transports: ['polling'] });
    assert.strictEqual(socket.io.engine.transport.name, 'polling');
    await emitAck(socket, 'subscribe', { room: 'lobby' });
    const got = once(socket, 'notice');
    await publish(srv.http, { type: 'notice', room: 'lobby', data: { n: 1 } });
    const [data, meta] = await got;
    assert.deepStrictEqual(data, { n: 1 });
    assert.strictEqual(meta.room, 'lobby');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_websocket_only_auth_payload_joins_and_receives_rtev_publish', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    const { socket, authenticated } = await connect(srv.http, { ...WS_ONLY, auth: { token: 'alice' } });
    assert.strictEqual(socket.io.engine.transport.name, 'websocket');
    const [auth] = await authenticated;
    assert.strictEqual(auth.userId, 'alice');
    assert.strictEqual(auth.anonymous, false);
    const ack = await emitAck(socket, 'join', { room: 'contact:123' });
    assert.deepStrictEqual([ack.room, ack.replayed, ack.recovered], ['contact:123', 0, true]);
    assert.strictEqual(typeof ack.last_seq, 'number');

    const got = once(socket, 'CONTACT_UPDATED');
    await rtevPublish(srv, ['--token', 'publisher', '--room', 'contact:123', 'CONTACT_UPDATED', '{"id":123,"name":"Ada"}']);
    const [data, meta] = await got;
    assert.deepStrictEqual(data, { id: 123, name: 'Ada' });
    assert.strictEqual(meta.room, 'contact:123');
    assert.strictEqual(typeof meta.seq, 'number');
    assert.match(meta.id, /.+/);
    assert.match(meta.timestamp, /^\d{4}-\d\d-\d\dT/);
    assert.strictEqual(meta.timezone, 'UTC');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_authenticate_event_after_connect', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    // Default options (polling first) and no auth payload: connected, not yet authenticated.
    const { socket } = await connect(srv.http);
    const refused = await emitAck(socket, 'join', { room: 'lobby' });
    assert.strictEqual(refused.error.code, 'not_authenticated');
    const event = once(socket, 'authenticated');
    const ack = await emitAck(socket, 'authenticate', { token: 'bob' });
    assert.strictEqual(ack.userId, 'bob');
    const [auth] = await event;
    assert.strictEqual(auth.userId, 'bob');
    assert.ok(auth.epoch.length > 0);
    const joined = await emitAck(socket, 'join', { room: 'lobby' });
    assert.strictEqual(joined.room, 'lobby');
    // Without an ack the event is answered too.
    const plain = once(socket, 'authenticated');
    socket.emit('authenticate', { token: 'bob' });
    assert.strictEqual((await plain)[0].user_id, 'bob');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_authenticate_event_is_answered_in_none_mode', async () => {
  const srv = await start();
  try {
    // The usual Socket.IO pattern: authenticate on `connect`, listen for `authenticated`. The
    // anonymous connect itself is not announced, so the one `authenticated` names the token.
    const socket = io(srv.http, { ...WS_ONLY, reconnection: false, forceNew: true });
    const heard = [];
    socket.on('authenticated', (a) => heard.push(a.userId));
    socket.on('connect', () => socket.emit('authenticate', { token: 'carol' }));
    const [auth] = await once(socket, 'authenticated');
    assert.strictEqual(auth.userId, 'carol');
    assert.strictEqual(auth.anonymous, false);
    // Still connected as carol: the ack of a later call says so, and nothing else was announced.
    const again = await emitAck(socket, 'authenticate', { token: 'carol' });
    assert.strictEqual(again.user_id, 'carol');
    assert.deepStrictEqual(heard, ['carol', 'carol']);
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_wrong_token_in_auth_payload_gets_connect_error', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    for (const transports of [['polling', 'websocket'], ['websocket']]) {
      const socket = io(srv.http, { reconnection: false, forceNew: true, transports, auth: { token: 'not a valid id!' } });
      const [err] = await once(socket, 'connect_error');
      assert.match(err.message, /.+/);
      assert.strictEqual(err.data.code, 'unauthorized');
      assert.strictEqual(socket.connected, false);
      socket.close();
    }
  } finally {
    await srv.stop();
  }
});

test('socketio_wrong_token_in_authenticate_event_gets_auth_error_then_disconnect', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    const { socket } = await connect(srv.http, WS_ONLY);
    const authError = once(socket, 'auth_error');
    const disconnected = once(socket, 'disconnect');
    socket.emit('authenticate', { token: 'not a valid id!' });
    const [err] = await authError;
    assert.match(err.message, /.+/);
    const [reason] = await disconnected;
    assert.strictEqual(reason, 'io server disconnect');  // not retried by socket.io-client
  } finally {
    await srv.stop();
  }
});

test('socketio_publish_with_ack_reaches_a_second_client', async () => {
  const srv = await start();
  try {
    const { socket: a } = await connect(srv.http, WS_ONLY);
    const { socket: b } = await connect(srv.http);  // polling + upgrade
    await emitAck(b, 'join', 'chat:1');  // a bare string names the room
    const got = once(b, 'new_message');
    const ack = await emitAck(a, 'publish', { room: 'chat:1', type: 'new_message', data: { text: 'hi' }, id: 'm-1' });
    assert.strictEqual(ack.id, 'm-1');
    assert.strictEqual(typeof ack.seq, 'number');
    const [data, meta] = await got;
    assert.deepStrictEqual(data, { text: 'hi' });
    assert.strictEqual(meta.seq, ack.seq);
    assert.strictEqual(meta.id, 'm-1');
    // The same id again is stored once.
    const dup = await emitAck(a, 'publish', { room: 'chat:1', type: 'new_message', data: { text: 'hi' }, id: 'm-1' });
    assert.deepStrictEqual([dup.seq, dup.duplicate], [ack.seq, true]);
    // A refused publish is answered with an error in the ack.
    const bad = await emitAck(a, 'publish', { room: 'chat:1' });
    assert.strictEqual(bad.error.code, 'bad_request');
    assert.match(bad.error.message, /type/);
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_unknown_event_gets_error_event_and_stays_connected', async () => {
  const srv = await start();
  try {
    const { socket } = await connect(srv.http, WS_ONLY);
    const err = once(socket, 'error');
    socket.emit('frobnicate', { x: 1 });
    const [e] = await err;
    assert.strictEqual(e.code, 'unknown_event');
    assert.match(e.message, /frobnicate/);
    const bad = once(socket, 'error');
    socket.emit('join', 42);
    assert.strictEqual((await bad)[0].code, 'bad_request');
    assert.ok(socket.connected);
    const ack = await emitAck(socket, 'join', { room: 'still-here' });
    assert.strictEqual(ack.room, 'still-here');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_typing_reaches_a_room_member', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    const { socket: a } = await connect(srv.http, { ...WS_ONLY, auth: { token: 'ann' } });
    const { socket: b } = await connect(srv.http, { ...WS_ONLY, auth: { token: 'ben' } });
    await emitAck(a, 'join', { room: 'chat:7' });
    await emitAck(b, 'join', { room: 'chat:7' });
    const got = once(b, 'typing_indicator');
    a.emit('typing', { room: 'chat:7', is_typing: true });
    const [data, meta] = await got;
    assert.deepStrictEqual(data, { user_id: 'ann', room: 'chat:7', is_typing: true });
    assert.strictEqual(meta.room, 'chat:7');
    a.close();
    b.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_join_with_since_replays_stored_events_before_the_ack', async () => {
  const srv = await start();
  try {
    for (let i = 1; i <= 3; i++) await publish(srv.http, { type: 'tick', room: 'feed', data: { i } });
    const { socket } = await connect(srv.http, WS_ONLY);
    const seen = [];
    socket.on('tick', (data, meta) => seen.push([data.i, meta.seq]));
    const ack = await emitAck(socket, 'join', { room: 'feed', since: 'beginning' });
    assert.deepStrictEqual(seen.map((s) => s[0]), [1, 2, 3]);
    assert.deepStrictEqual([ack.replayed, ack.recovered], [3, true]);
    // Resuming after the second event brings only the third, and then live ones.
    const { socket: again } = await connect(srv.http);
    const later = [];
    again.on('tick', (data) => later.push(data.i));
    const ack2 = await emitAck(again, 'subscribe', { room: 'feed', since: seen[1][1], epoch: ack.epoch });
    assert.deepStrictEqual([later, ack2.replayed], [[3], 1]);
    const live = once(again, 'tick');
    await publish(srv.http, { type: 'tick', room: 'feed', data: { i: 4 } });
    assert.strictEqual((await live)[0].i, 4);
    socket.close();
    again.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_other_namespace_is_refused', async () => {
  const srv = await start();
  try {
    const socket = io(srv.http + '/admin', { reconnection: false, forceNew: true });
    const [err] = await once(socket, 'connect_error');
    assert.strictEqual(err.message, 'Invalid namespace');
    socket.close();
  } finally {
    await srv.stop();
  }
});

test('socketio_unknown_sid_and_bad_version_get_engine_io_errors', async () => {
  const srv = await start();
  try {
    let res = await fetch(srv.http + '/socket.io/?EIO=4&transport=polling&sid=nope');
    assert.strictEqual(res.status, 400);
    assert.deepStrictEqual(await res.json(), { code: 1, message: 'Session ID unknown' });
    res = await fetch(srv.http + '/socket.io/?EIO=3&transport=polling');
    assert.deepStrictEqual([res.status, (await res.json()).code], [400, 5]);
    res = await fetch(srv.http + '/socket.io/?EIO=4&transport=polling');
    const open = await res.text();
    assert.strictEqual(open[0], '0');
    const handshake = JSON.parse(open.slice(1));
    assert.deepStrictEqual(handshake.upgrades, ['websocket']);
    assert.ok(handshake.pingInterval > 0 && handshake.pingTimeout > 0 && handshake.maxPayload > 0);
  } finally {
    await srv.stop();
  }
});

test('socketio_connections_count_in_stats_and_see_a_disconnect_at_shutdown', async () => {
  const srv = await start();
  const { socket: a } = await connect(srv.http, WS_ONLY);
  const { socket: b } = await connect(srv.http, { transports: ['polling'] });
  const stats = await (await fetch(srv.http + '/api/stats')).json();
  assert.strictEqual(stats.connections, 2);
  const health = await (await fetch(srv.http + '/health')).json();
  assert.strictEqual(health.services.socketio.connections, 2);
  const gone = [once(a, 'disconnect'), once(b, 'disconnect')];
  assert.strictEqual(await srv.stop(), 0);
  const reasons = (await Promise.all(gone)).map(([r]) => r);
  for (const r of reasons) assert.match(r, /transport (close|error)/);  // socket.io-client would reconnect
});

test('socketio_engine_io_pings_keep_both_transports_alive', async () => {
  const srv = await start(['--ping-interval', '100ms', '--ping-timeout', '5s']);
  try {
    for (const transports of [['polling'], ['websocket']]) {
      const { socket } = await connect(srv.http, { transports });
      // Three server pings answered (socket.io-client pongs each): the session outlives them.
      for (let i = 0; i < 3; i++) await once(socket.io, 'ping');
      assert.ok(socket.connected);
      const ack = await emitAck(socket, 'join', { room: 'alive' });
      assert.strictEqual(ack.room, 'alive');
      socket.close();
    }
  } finally {
    await srv.stop();
  }
});

test('socketio_unauthenticated_socket_is_disconnected_at_the_auth_timeout', async () => {
  const srv = await start(['--auth', 'token', '--auth-timeout', '300ms']);
  try {
    // Listening from the start: the time-out may come in the same poll response as the ack.
    const socket = io(srv.http, { reconnection: false, forceNew: true });
    const authError = once(socket, 'auth_error');
    const disconnected = once(socket, 'disconnect');
    await once(socket, 'connect');
    assert.match((await authError)[0].message, /timed out/);
    assert.strictEqual((await disconnected)[0], 'io server disconnect');
  } finally {
    await srv.stop();
  }
});

test('socketio_kicked_user_sees_a_server_disconnect', async () => {
  const srv = await start(['--auth', 'token']);
  try {
    const { socket } = await connect(srv.http, { auth: { token: 'mallory' } });
    const disconnected = once(socket, 'disconnect');
    const res = await fetch(srv.http + '/api/users/mallory/disconnect', { method: 'POST' });
    assert.deepStrictEqual((await res.json()).disconnected, 1);
    assert.strictEqual((await disconnected)[0], 'io server disconnect');
  } finally {
    await srv.stop();
  }
});
