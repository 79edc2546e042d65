'use strict';
// Events queued when the process ends are delivered, and it ends as it would have without
// flagwire: same exit code, same signal (README "Exit and signals").

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const { useCollector } = require('./helpers');

const app = path.join(__dirname, 'fixtures', 'exit-app.js');
const collector = useCollector();

/** Runs the app; `whenReady(child)` runs once it printed "ready". Resolves {code, signal, stderr}. */
function run(mode, whenReady = () => {}) {
  const child = spawn(process.execPath, [app, collector.url, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  readline.createInterface({ input: child.stdout }).on('line', (line) => line === 'ready' && whenReady(child));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('exit', (code, signal) => {
    clearTimeout(timer);
    resolve({ code, signal, stderr });
  }));
}

async function assertDelivered(mode) {
  assert.ok(await collector.wait(25, 5000));
  const users = (await collector.messages()).map((m) => m.userId).sort();
  assert.deepEqual(users, Array.from({ length: 25 }, (_, i) => `exit-${mode}-${i}`).sort());
}

test('the loop runs dry: closed on beforeExit, exit code kept', async () => {
  const r = await run('beforeExit');
  assert.deepEqual([r.code, r.signal], [7, null], r.stderr);
  await assertDelivered('beforeExit');
});

test('process.exit(): flushed synchronously on exit, exit code kept', async () => {
  const r = await run('exit');
  assert.deepEqual([r.code, r.signal], [3, null], r.stderr);
  await assertDelivered('exit');
});

test('an uncaught exception: flushed on exit, the process still fails with it', async () => {
  const r = await run('throw');
  assert.deepEqual([r.code, r.signal], [1, null]);
  assert.match(r.stderr, /Error: boom/);
  await assertDelivered('throw');
});

test('SIGTERM with no other listener: closed, then the process dies of SIGTERM as it would have', async () => {
  const r = await run('signal', (child) => child.kill('SIGTERM'));
  assert.deepEqual([r.code, r.signal], [null, 'SIGTERM'], r.stderr);
  await assertDelivered('signal');
});

test('SIGINT likewise', async () => {
  const r = await run('signal', (child) => child.kill('SIGINT'));
  assert.deepEqual([r.code, r.signal], [null, 'SIGINT'], r.stderr);
  await assertDelivered('signal');
});

test('a second SIGTERM while closing stops waiting: the process dies of it', async () => {
  await collector.script([{ hang: true }]); // the close's request never gets an answer
  let poll;
  const r = await run('signal-slow', (child) => {
    child.kill('SIGTERM');
    // Once the close's request is held open, signal again.
    poll = setInterval(async () => {
      if ((await collector.control('/_test/count')).requests > 0 && poll) {
        clearInterval(poll);
        poll = null;
        child.kill('SIGTERM');
      }
    }, 20);
  });
  clearInterval(poll);
  assert.deepEqual([r.code, r.signal], [null, 'SIGTERM'], 'not the harness\'s SIGKILL after 30 s');
});

test('SIGTERM the application handles: flagwire flushes and leaves the exit to it', async () => {
  const r = await run('signal-app', (child) => child.kill('SIGTERM'));
  assert.deepEqual([r.code, r.signal], [0, null], r.stderr);
  await assertDelivered('signal-app');
});
