// Starts `rtev serve --port 0` as a child process and resolves once it prints RTEV_URL=…
// (readiness, never a sleep). Used by every Node interop test.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const RTEV = process.env.RTEV_BINARY || path.resolve(__dirname, '../../build/cli/rtev');

function start(args = [], { port = 0, db } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtev-interop-'));
  const dbPath = db || path.join(dir, 'events.db');
  const child = spawn(RTEV, ['serve', '--port', String(port), '--db', dbPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('rtev serve did not start: ' + stderr)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /RTEV_URL=(ws:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        const ws = m[1];
        const http = ws.replace(/^ws:/, 'http:').replace(/\/events\/ws\/connect$/, '');
        const port = Number(new URL(ws).port);
        resolve({
          child, ws, http, port, dbPath, dir,
          stop(signal = 'SIGTERM') {
            return new Promise((res) => {
              if (child.exitCode !== null) return res(child.exitCode);
              child.once('exit', (code, sig) => {
                // A failed exit is easier to diagnose with what the server said.
                if (code !== 0) process.stderr.write(`rtev serve exited ${code ?? sig}:\n${stderr}\n`);
                res(code ?? sig);
              });
              child.kill(signal);
            });
          },
          stderr: () => stderr,
        });
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`rtev serve exited ${code}: ${stderr}`)); });
  });
}

async function publish(http, body, headers = {}) {
  const res = await fetch(http + '/api/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// Resolves with the next message of a `ws` client that satisfies `pred`.
function nextMessage(socket, pred = () => true, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off('message', on); reject(new Error('timed out waiting for a message')); }, timeoutMs);
    function on(data) {
      const msg = JSON.parse(data.toString());
      if (pred(msg)) { clearTimeout(timer); socket.off('message', on); resolve(msg); }
    }
    socket.on('message', on);
  });
}

module.exports = { start, publish, nextMessage, RTEV };
