'use strict';
// Log lines from flagwire's threads reach onLog on the event loop (docs/design.md §2.4).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Client } = require('..');
const { useCollector, clientOptions } = require('./helpers');

const collector = useCollector();

const decision = (userId) => ({
  type: 'flag', userId, attributes: {},
  decisionInfo: { flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey: 'control', enabled: false,
    decisionEventDispatched: true, experimentId: '2001', variationId: '5001' },
});

test('onLog gets a debug line naming the messageId the collector received', async () => {
  const lines = [];
  const fw = new Client(clientOptions(collector, { logLevel: 'debug', onLog: (level, message) => lines.push({ level, message }) }));
  assert.equal(fw.onDecision(decision('log-user-1')), 'ok');
  assert.equal(await fw.flush(), true);
  const [message] = await collector.messages();
  assert.ok(message.messageId);
  // close resolves after every queued line was delivered.
  await fw.close();
  const sent = lines.filter((l) => l.level === 'debug' && l.message.includes(message.messageId));
  assert.equal(sent.length, 1, `one debug line with ${message.messageId}`);
  assert.match(sent[0].message, /log-user-1/);
});

test('the level filter is the core\'s: nothing below logLevel reaches onLog', async () => {
  const lines = [];
  const fw = new Client(clientOptions(collector, { logLevel: 'warn', onLog: (level, message) => lines.push(level) }));
  fw.onDecision(decision('quiet'));
  await fw.flush();
  await fw.close();
  assert.deepEqual(lines, []);
});

test('an onLog that throws loses its line and nothing else', async () => {
  let calls = 0;
  const fw = new Client(clientOptions(collector, { logLevel: 'debug', onLog: () => { calls++; throw new Error('logger down'); } }));
  for (let i = 0; i < 20; i++) fw.onDecision(decision(`t${i}`));
  assert.equal(await fw.flush(), true);
  assert.equal(await fw.close(), true);
  assert.ok(calls > 0);
  assert.equal((await collector.messages()).length, 20);
});

test('the default logger writes to stderr through console, nothing to stdout', () => {
  const script = `
    const { Client } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const fw = new Client({ writeKey: 'k', endpoint: ${JSON.stringify(collector.url)}, logLevel: 'debug', closeOnExit: false });
    fw.enqueue({ type: 'track', userId: 'stderr-user', event: 'E' });
    fw.close().then((ok) => process.exit(ok ? 0 : 1));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^flagwire DEBUG: (?=.*"messageId":"[0-9a-f-]{36}")(?=.*stderr-user)/m);
});
