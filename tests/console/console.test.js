// The browser console (docs/console.md) in a real browser: Debian's chromium, headless, driven
// by puppeteer-core, against a real `rtev serve` on port 0 (tests/interop/serve.js). Every
// wait is on something the page shows, never a sleep. Screenshots go to RTEV_SCREENSHOTS
// (ctest sets it under the build tree).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const puppeteer = require('puppeteer-core');
const { start, publish, RTEV } = require('../interop/serve.js');

const CHROMIUM = process.env.RTEV_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.RTEV_SCREENSHOTS || path.join(__dirname, 'screenshots');
fs.mkdirSync(SHOTS, { recursive: true });

let browser;
test.before(async () => {
  // --no-sandbox: CI containers run as root, where chromium's sandbox cannot start.
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true,
                                     args: ['--no-sandbox', '--disable-gpu'] });
});
test.after(async () => { if (browser) await browser.close(); });

async function openConsole(srv, viewport = { width: 1400, height: 900 }) {
  const page = await browser.newPage();
  await page.setViewport(viewport);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(srv.http + '/console', { waitUntil: 'domcontentloaded' });
  page.errors = errors;
  return page;
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name + '.png') });

// Runs an rtev command; resolves with its stdout once it exits 0.
function rtev(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(RTEV, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`rtev ${args.join(' ')}: ${code} ${err}`))));
  });
}

test('the console is served with the right content types', async () => {
  const srv = await start();
  try {
    for (const [p, type] of [['/', 'text/html'], ['/console', 'text/html'],
                             ['/console/console.css', 'text/css'], ['/console/console.js', 'text/javascript'],
                             ['/console/live.js', 'text/javascript'], ['/console/start.js', 'text/javascript']]) {
      const r = await fetch(srv.http + p);
      assert.strictEqual(r.status, 200, p);
      assert.match(r.headers.get('content-type'), new RegExp('^' + type), p);
    }
    assert.strictEqual((await fetch(srv.http + '/console/nope.js')).status, 404);
  } finally { await srv.stop(); }
  const off = await start(['--console', 'off']);
  try {
    assert.strictEqual((await fetch(off.http + '/console')).status, 404);
    assert.strictEqual((await fetch(off.http + '/')).status, 404);
  } finally { await off.stop(); }
});

test('an event published with rtev publish appears, in the chosen zone, and can be filtered out', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    await page.$eval('#zone', (z) => { z.value = 'Asia/Kolkata'; z.dispatchEvent(new Event('change')); });
    await rtev(['publish', '--url', srv.ws, '--room', 'lobby', 'message_sent',
                '{"message_id":1,"conversation_id":2,"message_text":"hello console"}']);
    const row = await page.waitForSelector('#live-list li');
    const cells = await row.$$eval('.ev-head span', (s) => s.map((x) => x.textContent));
    assert.strictEqual(cells[1], 'message_sent');
    assert.strictEqual(cells[2], 'lobby');
    assert.match(cells[0], /GMT\+5:30/);  // Intl's short name for Asia/Kolkata in en-US
    await publish(srv.http, { type: 'CAMPAIGN_PROGRESS', room: 'campaign:42',
                              data: { campaignId: 42, sentCount: 120, progress: 60, tags: ['a', 'b'] } });
    await page.waitForFunction(() => document.querySelectorAll('#live-list li').length === 2);
    await page.click('#live-list li summary');  // the newest, expanded as coloured JSON
    await page.waitForSelector('#live-list li .json .k');
    await shot(page, 'live');
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'dark' }]);
    await shot(page, 'live-dark');
    await page.type('#f-type', 'CAMPAIGN_*');  // message_sent is filtered out
    await page.waitForFunction(() => document.querySelectorAll('#live-list li').length === 1);
    assert.match(await page.$eval('#live-list', (l) => l.textContent), /CAMPAIGN_PROGRESS/);
    await page.$eval('#f-type', (f) => { f.value = 'NOTHING*'; f.dispatchEvent(new Event('input')); });
    await page.waitForFunction(() => document.querySelectorAll('#live-list li').length === 0);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('pause keeps receiving and counts, resume shows what came', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    await page.keyboard.press('p');
    for (let i = 0; i < 3; i++) await publish(srv.http, { type: 'tick', room: 'clock', data: { i } });
    await page.waitForFunction(() => document.getElementById('paused-count').textContent === '3 new');
    assert.strictEqual(await page.$$eval('#live-list li', (l) => l.length), 0);
    await page.keyboard.press('p');
    await page.waitForFunction(() => document.querySelectorAll('#live-list li').length === 3);
    assert.strictEqual(await page.$eval('#paused-count', (b) => b.hidden), true);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('the cap bounds what is kept and the page shows at most 500 rows', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    await page.select('#cap', '1000');
    const batch = (from) => Array.from({ length: 750 }, (_, i) => ({ type: 'tick', room: 'load', data: { i: from + i } }));
    for (const from of [0, 750]) {
      const r = await fetch(srv.http + '/api/events', { method: 'POST', headers: { 'content-type': 'application/json' },
                                                        body: JSON.stringify(batch(from)) });
      assert.strictEqual(r.status, 202);
    }
    // A burst: the list restarts from the newest screenful (100 rows) — or, when more than Keep
    // came between two frames, is redrawn from what is kept (500 rows) — contiguous, newest first.
    await page.waitForFunction(() => /^(100|500) shown, 1000 kept$/.test(document.getElementById('live-count').textContent));
    const shown = Number((await page.$eval('#live-count', (c) => c.textContent)).split(' ')[0]);
    assert.match(await page.$eval('#live-list li .ev-data', (d) => d.textContent), /"i":1499/);
    assert.match(await page.$eval('#live-list li:last-child .ev-data', (d) => d.textContent),
                 new RegExp('"i":' + (1500 - shown) + '\\b'));
    // Paused and resumed: the page shows its 500 rows of what is kept.
    await page.keyboard.press('p');
    await page.keyboard.press('p');
    await page.waitForFunction(() => document.getElementById('live-count').textContent === '500 shown, 1000 kept');
    assert.match(await page.$eval('#live-list li .ev-data', (d) => d.textContent), /"i":1499/);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('megabyte events: what is kept stays under the size cap', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    const big = 'x'.repeat(900 * 1024);
    for (let i = 0; i < 40; i++) {
      const r = await publish(srv.http, { type: 'blob', room: 'big', data: { i, big } });
      assert.strictEqual(r.status, 202, JSON.stringify(r.body));
    }
    await page.waitForFunction(() => live.received === 40, { timeout: 60000 });
    const kept = await page.evaluate(() => [live.events.length, live.bytes, live.events.at(-1).data.i]);
    assert.ok(kept[0] < 40 && kept[0] >= 30, `kept ${kept[0]}`);
    assert.ok(kept[1] <= 32 * 1048576, `bytes ${kept[1]}`);
    assert.strictEqual(kept[2], 39);  // the newest are the ones kept
    await page.waitForFunction(() => /MB: the size cap/.test(document.getElementById('live-count').textContent));
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('an event published from the form arrives at rtev tail', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    const tail = rtev(['tail', '--url', srv.ws, '--room', 'desk', '--count', '1', '--timeout', '20s',
                       '--format', 'jsonl']);
    // The tail is ready once its connection counts in /api/connections.
    await waitFor(async () => (await (await fetch(srv.http + '/api/connections')).json())
      .connections.some((c) => c.rooms.includes('desk')));
    await page.keyboard.press('2');
    // A catalog type fills the data box with its fields as a template.
    await page.type('#p-type', 'message_sent');
    await page.keyboard.press('Tab');
    await page.waitForFunction(() => /"conversation_id"/.test(document.getElementById('p-data').value));
    await page.$eval('#p-type', (f) => { f.value = ''; });
    await page.type('#p-type', 'system_notification');
    await page.type('#p-target', 'desk');
    await page.$eval('#p-data', (t) => { t.value = '{"title":"from the form"}'; t.dispatchEvent(new Event('input')); });
    await page.click('#publish button[type=submit]');
    await page.waitForFunction(() => /published: id .*, seq \d+/.test(document.getElementById('p-result').textContent));
    const line = JSON.parse((await tail).trim().split('\n')[0]);
    assert.strictEqual(line.type, 'system_notification');
    assert.strictEqual(line.data.title, 'from the form');
    await shot(page, 'publish');
    // Invalid JSON: the browser refuses the form, and the last result does not stand beside it.
    await page.$eval('#p-data', (t) => { t.value = '{"title":'; t.dispatchEvent(new Event('input')); });
    await page.click('#publish button[type=submit]');
    await page.waitForFunction(() => document.getElementById('p-result').textContent === '');
    assert.match(await page.$eval('#p-json', (p) => p.textContent), /JSON/);
  } finally { await page.close(); await srv.stop(); }
});

test('history pages forward and back', async () => {
  const srv = await start();
  for (let i = 1; i <= 45; i++) await publish(srv.http, { type: 'tick', room: 'clock', data: { i } });
  const page = await openConsole(srv);
  try {
    await page.keyboard.press('3');
    await page.type('#h-room', 'clock');
    await page.select('#h-limit', '20');
    await page.click('#history button[type=submit]');
    await page.waitForFunction(() => /^20 events, seq 1–20/.test(document.getElementById('h-info').textContent));
    await page.click('#h-next');
    await page.waitForFunction(() => /^20 events, seq 21–40/.test(document.getElementById('h-info').textContent));
    await page.click('#h-next');
    await page.waitForFunction(() => /^5 events, seq 41–45 \(end\)/.test(document.getElementById('h-info').textContent));
    await page.click('#h-prev');
    await page.waitForFunction(() => /seq 21–40/.test(document.getElementById('h-info').textContent));
    await shot(page, 'history');
    // The whole range goes into the live view (not only the page shown), dimmed as replayed.
    await page.click('#h-replay');
    await page.waitForFunction(() => document.querySelectorAll('#live-list li.replayed').length === 45);
    assert.match(await page.$eval('#live-list li .ev-data', (d) => d.textContent), /"i":45/);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('history takes a time range as wall times in the chosen zone', async () => {
  const srv = await start();
  for (let i = 1; i <= 3; i++) await publish(srv.http, { type: 'tick', room: 'clock', data: { i } });
  const page = await openConsole(srv);
  const asked = [];
  page.on('request', (r) => { if (r.url().includes('/api/history')) asked.push(new URL(r.url()).searchParams); });
  try {
    await page.$eval('#zone', (z) => { z.value = 'Asia/Kolkata'; z.dispatchEvent(new Event('change')); });
    await page.keyboard.press('3');
    assert.strictEqual(await page.$eval('#h-zone', (z) => z.textContent), '(Asia/Kolkata)');
    // A range in 2024: read in Kolkata (UTC+5:30), so 10:30 there is 05:00Z; nothing is in it.
    await page.$eval('#h-from', (f) => { f.value = '2024-01-15T10:30:00'; });
    await page.$eval('#h-to', (f) => { f.value = '2024-01-15T11:30:00'; });
    await page.click('#history button[type=submit]');
    await page.waitForFunction(() => /^0 events \(end\)/.test(document.getElementById('h-info').textContent));
    assert.strictEqual(asked.at(-1).get('since'), '2024-01-15T05:00:00Z');
    assert.strictEqual(asked.at(-1).get('until'), '2024-01-15T06:00:00Z');
    // A range around now, written as Kolkata wall time, finds the three events.
    const kolkata = (ms) => new Date(ms + 5.5 * 3600e3).toISOString().slice(0, 19);
    await page.$eval('#h-from', (f, v) => { f.value = v; }, kolkata(Date.now() - 3600e3));
    await page.$eval('#h-to', (f, v) => { f.value = v; }, kolkata(Date.now() + 3600e3));
    await page.click('#history button[type=submit]');
    await page.waitForFunction(() => /^3 events, seq 1–3 \(end\)/.test(document.getElementById('h-info').textContent));
    // A seq wins over From.
    await page.type('#h-seq', '2');
    await page.click('#history button[type=submit]');
    await page.waitForFunction(() => /^1 events, seq 3–3 \(end\)/.test(document.getElementById('h-info').textContent));
    // Clocks turned forward / back: the DST rules of the zone, not the browser's offset.
    const dst = await page.evaluate(() => [zonedTime('2024-03-10T02:30', 'America/New_York'),
                                           zonedTime('2024-11-03T01:30', 'America/New_York'),
                                           zonedTime('2024-07-01T12:00', 'Europe/Berlin')]);
    assert.deepStrictEqual(dst, ['2024-03-10T07:30:00Z', '2024-11-03T05:30:00Z', '2024-07-01T10:00:00Z']);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('the keyboard moves row by row, opens a row and shows its help', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    for (let i = 1; i <= 3; i++) await publish(srv.http, { type: 'tick', room: 'clock', data: { i } });
    await page.waitForFunction(() => document.querySelectorAll('#live-list li').length === 3);
    const focused = () => page.evaluate(() => document.activeElement.closest('li')?.querySelector('.ev-data').textContent);
    await page.keyboard.press('j');
    assert.match(await focused(), /"i":3/);
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('j');  // stays on the last row
    assert.match(await focused(), /"i":1/);
    await page.keyboard.press('k');
    assert.match(await focused(), /"i":2/);
    await page.keyboard.press('Enter');  // the row opens: its JSON
    await page.waitForFunction(() => document.activeElement.closest('li').querySelector('.json .k'));
    await page.keyboard.press('o');  // and closes
    await page.waitForFunction(() => !document.activeElement.closest('details').open);
    await page.keyboard.press('?');
    await page.waitForFunction(() => document.getElementById('help').open);
    await shot(page, 'help');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.getElementById('help').open);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('a connection appears in the connections view', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    const tail = spawn(RTEV, ['tail', '--url', srv.ws + '?token=alice', '--room', 'ops'], { stdio: ['ignore', 'ignore', 'inherit'] });
    try {
      await page.keyboard.press('4');
      await page.waitForFunction(() => /alice/.test(document.getElementById('c-table').textContent));
      assert.match(await page.$eval('#r-table', (t) => t.textContent), /ops\s*1/);
      assert.match(await page.$eval('#c-table', (t) => t.textContent), /alicertev WebSocket/);
      assert.strictEqual(await page.$eval('#online', (o) => o.textContent), 'alice');
      // A second user arrives: the user_online event refreshes the view.
      const bob = spawn(RTEV, ['tail', '--url', srv.http + '/api/events?token=bob', '--room', 'ops'],
                        { stdio: ['ignore', 'ignore', 'inherit'] });
      try {
        await page.waitForFunction(() => document.getElementById('online').textContent === 'alice, bob');
        assert.match(await page.$eval('#c-table', (t) => t.textContent), /bobSSE/);
      } finally { bob.kill(); }
      await shot(page, 'connections');
      assert.deepStrictEqual(page.errors, []);
    } finally { tail.kill(); }
  } finally { await page.close(); await srv.stop(); }
});

test('with --auth jwt and an API key, nothing is shown without the key', async () => {
  const secret = 'console-test-secret';
  const srv = await start(['--auth', 'jwt', '--jwt-secret', secret, '--api-key', 'k3y']);
  const page = await openConsole(srv);
  try {
    await page.waitForSelector('#login:not([hidden])');
    for (const v of ['live', 'publish', 'history', 'connections', 'stats'])
      assert.strictEqual(await page.$eval('#view-' + v, (e) => e.hidden), true, v);
    await shot(page, 'login');
    assert.match(await page.$eval('#status', (s) => s.textContent), /needs credentials/);
    // Credentials pressed while the form is required: still no Cancel (it would leave the page
    // with no connection).
    await page.click('#credentials');
    assert.strictEqual(await page.$eval('#login-cancel', (b) => b.hidden), true);
    // The key alone: the WebSocket takes it as the operator.
    await page.type('#login-key', 'k3y');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    assert.match(await page.$eval('#status', (s) => s.textContent), /following every room/);
    assert.strictEqual((await fetch(srv.http + '/api/connections')).status, 401);
    const c = await fetch(srv.http + '/api/connections', { headers: { authorization: 'Bearer k3y' } });
    assert.strictEqual(c.status, 200);
    // The console's own connection does not count for presence.
    const conns = (await c.json()).connections;
    assert.deepStrictEqual(conns.map((x) => [x.user_id, x.presence]), [['api-key', false]]);
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

test('with --auth jwt, an admin token alone shows the live view; publishing asks for the key', async () => {
  const secret = 'console-test-secret';
  const srv = await start(['--auth', 'jwt', '--jwt-secret', secret, '--api-key', 'k3y']);
  const page = await openConsole(srv);
  try {
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login-token', jwt({ sub: 'ops', role: 'admin' }, secret));
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => /following every room/.test(document.getElementById('status').textContent));
    await publish(srv.http, { type: 'tick', room: 'clock', data: {} }, { authorization: 'Bearer k3y' });
    await page.waitForSelector('#live-list li');
    await page.keyboard.press('2');
    await page.type('#p-type', 'tick');
    await page.type('#p-target', 'clock');
    await page.click('#publish button[type=submit]');
    // The view stays; the form says what is missing (the key), and Credentials adds it.
    await page.waitForFunction(() => /needs the API key/.test(document.getElementById('p-result').textContent));
    assert.strictEqual(await page.$eval('#login', (e) => e.hidden), true);
    await page.keyboard.press('4');
    await page.waitForFunction(() => /connections: this needs the API key/.test(document.getElementById('c-info').textContent));
    await page.click('#credentials');
    await page.waitForSelector('#login:not([hidden])');
    await page.type('#login-key', 'wrong');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => /the API key was refused: the API key is not valid/.test(document.getElementById('login-error').textContent));
    // What was typed stays while the form is up (the 2 s refresh of the view behind it, too).
    assert.strictEqual(await page.$eval('#login-key', (e) => e.value), 'wrong');
    await page.$eval('#login-key', (e) => { e.value = ''; });
    await page.type('#login-key', 'k3y');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => /live as ops|following every room/.test(document.getElementById('status').textContent));
    await page.waitForFunction(() => /connections? on|^\d+ connections?$/.test(document.getElementById('c-info').textContent));
    await page.keyboard.press('2');
    await page.click('#publish button[type=submit]');
    await page.waitForFunction(() => /published: id .*, seq \d+/.test(document.getElementById('p-result').textContent));
  } finally { await page.close(); await srv.stop(); }
});

test('the stats view draws live charts', async () => {
  const srv = await start();
  const page = await openConsole(srv);
  try {
    await page.keyboard.press('5');
    for (let i = 0; i < 30; i++) await publish(srv.http, { type: 'tick', room: 'clock', data: { i } });
    // Two polls make a rate: the events/s chart has a line.
    await page.waitForFunction(() => [...document.querySelectorAll('.chart')].some((c) =>
      /events\/s/.test(c.textContent) && c.querySelector('polyline').getAttribute('points')));
    await shot(page, 'stats');
    assert.deepStrictEqual(page.errors, []);
  } finally { await page.close(); await srv.stop(); }
});

function jwt(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = b64({ alg: 'HS256', typ: 'JWT' }) + '.' + b64(claims);
  return body + '.' + crypto.createHmac('sha256', secret).update(body).digest('base64url');
}

async function waitFor(check, ms = 10000) {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}
