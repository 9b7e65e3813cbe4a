#!/usr/bin/env node
// A plain Socket.IO v4 server — not rtev — written the way application back ends are, for the
// CLI's foreign-server tests (tests/cli/e2e_foreign.py): `rtev tail --protocol socketio` must
// read what such a server sends.
//
//   node foreign_socketio_server.js [--port N]
//
// Prints one JSON line per thing that happens, on stdout, so a test can wait on it:
//   {"ready":true,"port":N}                        listening (port 0 picks a free one)
//   {"connection":"/","transport":"polling","auth":{…}}
//   {"upgrade":"/","transport":"websocket"}        the polling → WebSocket upgrade finished (the
//                                                  client then gets `upgraded` {transport})
//   {"received":"join","nsp":"/","args":[…]}      every event a client emits
//   {"disconnect":"/","reason":"…"}
//
// Namespaces and what they send:
//   "/"        on connection: `notification` {title} (data only), `envelope` (an rtev-like
//              envelope with its own type/timestamp/timezone/id), `move` 3, 4 (two arguments),
//              `text` "plain words" (a string). `authenticate` {token}: "secret" is answered by
//              `authenticated` {userId:"7"} then `private_message`; anything else by
//              `auth_error` {message} and a disconnect. `join` {room} (ack: {room}) joins and
//              sends `room_event` to the room. `publish` {room,type,data,id} (ack: {id,seq} or
//              {error:{code,message}}) sends `type` with `data` to the room (or everyone).
//              Events as their own clients emit them: `new_message` data (ack {ok, id}) is
//              sent to everyone as `new_message` data; `refused_message` is refused (ack
//              {error}); `silent_message` has no handler (never acknowledged). `enter` {room}
//              joins like `join` (for --join-event); `exit` {room} is only logged.
//   "/chat"    on connection: `chat_message` {text}.
//   "/secure"  CONNECT needs auth {token:"secret"} (else connect_error "invalid token"); on
//              connection: `secure_hello` {user:"7"}.
//   "/sync", "/async", "/async-ack", "/async-custom"
//              servers that authenticate by event and refuse everything before: `authenticate`
//              {token:"secret"} (else `auth_error` and a disconnect) is done at once (/sync:
//              `authenticated` and the ack {ok}) or 300 ms later (/async: `authenticated`;
//              /async-ack: the ack {ok} only; /async-custom: `auth_ok` only), then prints
//              {"authed":nsp}. Until then `join` and `new_message` are refused (ack {error:
//              {code:"not_authenticated",message:"authenticate first"}}); afterwards `join`
//              {room} is acknowledged {room} and the room gets `room_event` {room, text},
//              `new_message` is acknowledged {ok} and sent to everyone.
'use strict';
const http = require('node:http');
const { Server } = require('socket.io');

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0;

function log(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const httpServer = http.createServer();
const io = new Server(httpServer);
let seq = 0;

function common(socket) {
  const nsp = socket.nsp.name;
  log({ connection: nsp, transport: socket.conn.transport.name, auth: socket.handshake.auth });
  socket.conn.once('upgrade', (t) => {
    log({ upgrade: nsp, transport: t.name });
    socket.emit('upgraded', { transport: t.name });
  });
  socket.onAny((name, ...a) => log({ received: name, nsp, args: a.filter((x) => typeof x !== 'function') }));
  socket.on('disconnect', (reason) => log({ disconnect: nsp, reason }));
}

io.of('/').on('connection', (socket) => {
  common(socket);
  socket.emit('notification', { title: 'welcome' });
  socket.emit('envelope', {
    type: 'order_created',
    id: 'o-42',
    timestamp: '2026-01-15T10:00:00.000000+01:00',
    timezone: 'Europe/Paris',
    data: { order: 42 },
  });
  socket.emit('move', 3, 4);
  socket.emit('text', 'plain words');

  socket.on('authenticate', (payload) => {
    if (payload && payload.token === 'secret') {
      socket.emit('authenticated', { userId: '7' });
      socket.emit('private_message', { text: 'only for user 7' });
    } else {
      socket.emit('auth_error', { message: 'bad token' });
      socket.disconnect(true);
    }
  });
  socket.on('join', (payload, ack) => {
    const room = payload && payload.room;
    if (typeof room !== 'string') {
      if (typeof ack === 'function') ack({ error: { code: 'bad_request', message: 'room is required' } });
      return;
    }
    socket.join(room);
    if (typeof ack === 'function') ack({ room });
    io.of('/').to(room).emit('room_event', { room, text: `joined ${room}` });
  });
  socket.on('publish', (p, ack) => {
    const reply = typeof ack === 'function' ? ack : () => {};
    if (!p || typeof p.type !== 'string' || p.type === '') {
      reply({ error: { code: 'bad_request', message: 'type is required' } });
      return;
    }
    if (p.type.startsWith('forbidden')) {
      reply({ error: { code: 'forbidden', message: `${p.type} is not allowed here` } });
      return;
    }
    seq += 1;
    reply({ id: p.id, seq });
    const target = p.room ? io.of('/').to(p.room) : io.of('/');
    target.emit(p.type, p.data);
  });
  socket.on('new_message', (data, ack) => {
    if (typeof ack === 'function') ack({ ok: true, id: `m-${++seq}` });
    io.of('/').emit('new_message', data);
  });
  socket.on('refused_message', (data, ack) => {
    if (typeof ack === 'function') ack({ error: { code: 'forbidden', message: 'refused_message is not allowed here' } });
  });
  socket.on('enter', (payload, ack) => {
    const room = payload && payload.room;
    socket.join(room);
    if (typeof ack === 'function') ack({ room });
    io.of('/').to(room).emit('room_event', { room, text: `entered ${room}` });
  });
});

io.of('/chat').on('connection', (socket) => {
  common(socket);
  socket.emit('chat_message', { text: 'hello from /chat' });
});

io.of('/secure').use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.token === 'secret') return next();
  log({ refused: '/secure', auth });
  return next(new Error('invalid token'));
});
io.of('/secure').on('connection', (socket) => {
  common(socket);
  socket.emit('secure_hello', { user: '7' });
});

// Servers that authenticate by event, at once or asynchronously, and refuse what comes first.
function authenticatingNamespace(name, { delay, answer }) {
  const nsp = io.of(name);
  nsp.on('connection', (socket) => {
    common(socket);
    let authed = false;
    const refuse = (ack) => {
      if (typeof ack === 'function') ack({ error: { code: 'not_authenticated', message: 'authenticate first' } });
    };
    socket.on('authenticate', (payload, ack) => {
      const done = () => {
        // A client that has gone (a refused join, a finished test) is not authenticated late: its
        // timer would log {"authed"} into the next test's window.
        if (!socket.connected) return;
        if (!payload || payload.token !== 'secret') {
          socket.emit('auth_error', { message: 'bad token' });
          socket.disconnect(true);
          return;
        }
        authed = true;
        log({ authed: name });
        if (answer === 'event' || answer === 'both') socket.emit('authenticated', { userId: '7' });
        if (answer === 'custom') socket.emit('auth_ok', { userId: '7' });
        if ((answer === 'ack' || answer === 'both') && typeof ack === 'function') ack({ ok: true });
      };
      if (delay > 0) setTimeout(done, delay);
      else done();
    });
    socket.on('join', (payload, ack) => {
      if (!authed) return refuse(ack);
      const room = payload && payload.room;
      socket.join(room);
      if (typeof ack === 'function') ack({ room });
      nsp.to(room).emit('room_event', { room, text: `joined ${room}` });
    });
    socket.on('new_message', (data, ack) => {
      if (!authed) return refuse(ack);
      if (typeof ack === 'function') ack({ ok: true });
      nsp.emit('new_message', data);
    });
  });
}
authenticatingNamespace('/sync', { delay: 0, answer: 'both' });
authenticatingNamespace('/async', { delay: 300, answer: 'event' });
authenticatingNamespace('/async-ack', { delay: 300, answer: 'ack' });
authenticatingNamespace('/async-custom', { delay: 300, answer: 'custom' });

httpServer.listen(port, '127.0.0.1', () => log({ ready: true, port: httpServer.address().port }));
process.on('SIGTERM', () => process.exit(0));
