// Smoke run of bench/console --quick: the console's live view in chromium under rtev bench's
// load — the run completes, every sample is taken, everything published reached the page, the
// page stayed within its row limit and logged no error. No figure is judged: speed and memory
// are for the benchmark (docs/performance.md), not the suite.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

test('bench/console --quick runs and the console keeps up', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtev-console-bench-'));
  const json = path.join(dir, 'console.json');
  const out = await new Promise((resolve, reject) => {
    execFile(path.join(__dirname, '../../bench/console'), ['--quick', '--json', json],
             { timeout: 120000 }, (err, stdout, stderr) =>
               (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(out, /published \d+, received by the console \d+/);
  const r = JSON.parse(fs.readFileSync(json, 'utf8'));
  assert.ok(r.published > 0, 'rtev bench published');
  assert.ok(r.received >= r.published, `the console received ${r.received} of ${r.published}`);
  assert.ok(r.samples.length >= 4, `samples: ${r.samples.length}`);
  for (const s of r.samples) {
    assert.ok(s.heapMB > 0 && s.domNodes > 0, JSON.stringify(s));
    assert.ok(s.rows <= 500, `rows in the page: ${s.rows}`);
  }
  assert.ok(r.samples.slice(1).every((s) => s.busy !== null && s.busy >= 0 && s.script >= 0 &&
                                             s.layout >= 0 && s.style >= 0), 'main thread sampled');
  assert.ok(r.busy_mean > 0 && r.script_mean > 0, 'the page did work');
  assert.deepStrictEqual(r.page_errors, []);
  fs.rmSync(dir, { recursive: true, force: true });
});
