// A real `socket.io` server (tests/interop/node_modules, pinned) for the SDK's Socket.IO client
// tests. Prints "LISTENING <port>" once ready. Options (argv): --port N (0: any), --ping-interval
// MS, --ping-timeout MS, --websocket-only (the server refuses polling), --no-upgrade (polling
// only), --silent-pings (never pings: the client must give up).
//
// What a test can ask of it:
//   namespace "/"       anyone; `whoami` (ack) → {auth, authorization, x_test, cookie, transport,
//                       nsp, query}; `echo` (ack) → the same arguments back; `join`/`leave`
//                       {room} (ack {room, last_seq: 0, replayed: 0, recovered: false});
//                       `publish` {room, type, data, id} (ack {id, seq} or {error}) → the room
//                       gets `type`(data, {id, seq, room, timestamp, timezone}); `shout` {n} →
//                       the sender gets `args` with n arguments (0…); `kick` → server
//                       disconnect; `authenticate` {token} → `authenticated` {userId} or
//                       `auth_error` {message} + disconnect; `ask` → the server emits `question`
//                       with an ack and reports the answer as `answered`; `acked_message`
//                       (ack {ok, id: "srv-1"}), `refused_message` (ack {error}),
//                       `chat_message` (no handler: never acknowledged).
//   namespace "/admin"  CONNECT needs auth {token: "secret"} (else connect_error "not
//                       authorized"); the CONNECT answer carries {user_id, epoch} as rtev
//                       serve's does.
//   namespace "/strict" a server that authenticates asynchronously: `authenticate` {token,
//                       answer} is done 150 ms later — answer "event" (default): `authenticated`
//                       {userId}; "ack": the ack {ok: true} only; "custom": `auth_ok` only;
//                       "none": nothing at all. Until then `join` is refused (ack {error:
//                       {code: "not_authenticated"}}); afterwards it is acknowledged {room}.
//                       Prints `AUTHED <nsp>` when done.
//   Upgrades are announced to the client as an `upgraded` event {transport}.
//   Every event received is also logged to stdout as `GOT <nsp> <name> <json args>`.
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const flag = (name) => argv.includes(name);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: Number(opt('--ping-interval', 25000)),
  pingTimeout: Number(opt('--ping-timeout', 20000)),
  transports: flag('--websocket-only') ? ['websocket'] : flag('--no-upgrade') ? ['polling']
                                                                                  : ['polling', 'websocket'],
});
if (flag('--silent-pings')) {
  // Engine.IO sockets schedule their pings themselves: make the schedule never fire.
  io.engine.on('connection', (s) => { s.schedulePing = () => {}; clearTimeout(s.pingIntervalTimer); });
}

let seq = 0;
function setup(nsp) {
  nsp.on('connection', (socket) => {
    socket.conn.on('upgrade', () => socket.emit('upgraded', { transport: socket.conn.transport.name }));
    socket.onAny((name, ...args) => {
      const shown = args.map((a) => (typeof a === 'function' ? '<ack>' : a));
      console.log(`GOT ${nsp.name} ${name} ${JSON.stringify(shown)}`);
    });
    socket.on('whoami', (ack) => ack({
      auth: socket.handshake.auth,
      authorization: socket.handshake.headers['authorization'] || null,
      x_test: socket.handshake.headers['x-test'] || null,
      transport: socket.conn.transport.name,
      nsp: nsp.name,
      query: socket.handshake.query,
    }));
    socket.on('echo', (...args) => {
      const ack = args.pop();
      if (typeof ack === 'function') ack(...args);
    });
    socket.on('join', (arg, ack) => {
      socket.join(arg.room);
      if (typeof ack === 'function') ack({ room: arg.room, last_seq: 0, replayed: 0, recovered: false });
    });
    socket.on('leave', (arg) => socket.leave(arg.room));
    socket.on('publish', (arg, ack) => {
      if (!arg || typeof arg.room !== 'string' || arg.room === 'forbidden') {
        if (typeof ack === 'function') ack({ error: { code: 'forbidden', message: 'no publishing there' } });
        return;
      }
      seq += 1;
      const meta = { id: arg.id, seq, room: arg.room, timestamp: new Date().toISOString(), timezone: 'UTC' };
      nsp.to(arg.room).emit(arg.type, arg.data, meta);
      if (typeof ack === 'function') ack({ id: arg.id, seq });
    });
    socket.on('shout', (arg) => {
      const all = [{ k: 'first' }, 'second', 3, { fourth: true }];
      socket.emit('args', ...all.slice(0, arg.n));
    });
    socket.on('kick', () => socket.disconnect(true));
    socket.on('authenticate', (arg) => {
      if (arg && arg.token === 'good') {
        socket.emit('authenticated', { userId: 'u1' });
      } else {
        socket.emit('auth_error', { message: 'bad token' });
        setImmediate(() => socket.disconnect(true));
      }
    });
    socket.on('ask', () => {
      socket.emit('question', 'ready?', (...answer) => socket.emit('answered', answer));
    });
    socket.on('acked_message', (data, ack) => {
      if (typeof ack === 'function') ack({ ok: true, id: 'srv-1' });
    });
    socket.on('refused_message', (data, ack) => {
      if (typeof ack === 'function') ack({ error: { code: 'forbidden', message: 'not here' } });
    });
  });
}
setup(io.of('/'));

io.of('/strict').on('connection', (socket) => {
  let authed = false;
  socket.onAny((name, ...args) => {
    const shown = args.map((a) => (typeof a === 'function' ? '<ack>' : a));
    console.log(`GOT /strict ${name} ${JSON.stringify(shown)}`);
  });
  socket.on('authenticate', (arg, ack) => {
    setTimeout(() => {
      if (!arg || arg.token !== 'good') {
        socket.emit('auth_error', { message: 'bad token' });
        setImmediate(() => socket.disconnect(true));
        return;
      }
      authed = true;
      console.log('AUTHED /strict');
      const answer = arg.answer || 'event';
      if (answer === 'event') socket.emit('authenticated', { userId: 'u1' });
      if (answer === 'custom') socket.emit('auth_ok', { userId: 'u1' });
      if (answer === 'ack' && typeof ack === 'function') ack({ ok: true });
    }, 150);
  });
  socket.on('join', (arg, ack) => {
    const reply = typeof ack === 'function' ? ack : () => {};
    if (!authed) {
      reply({ error: { code: 'not_authenticated', message: 'authenticate first' } });
      return;
    }
    socket.join(arg.room);
    reply({ room: arg.room });
  });
});
const admin = io.of('/admin');
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === 'secret') return next();
  next(new Error('not authorized'));
});
setup(admin);

httpServer.listen(Number(opt('--port', 0)), '127.0.0.1', () => {
  console.log(`LISTENING ${httpServer.address().port}`);
});
process.on('SIGTERM', () => {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
});
