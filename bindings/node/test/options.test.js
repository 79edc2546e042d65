'use strict';
// The core's newer config keys under their camelCase names, nested objects (`spool`, `dedupe`)
// included: each reaches the core as it spells it, as behaviour over HTTP shows.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client, FlagwireError } = require('..');
const { useCollector, clientOptions } = require('./helpers');

const collector = useCollector();

const flagDecision = (userId, variationKey = 'treatment', variationId = '5002') => ({
  type: 'flag', userId, attributes: { plan: 'pro' },
  decisionInfo: { flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey, enabled: true,
    decisionEventDispatched: true, experimentId: '2001', variationId, variables: {}, reasons: [] },
});

const isUuidV5 = (id) => /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id);

test('spool given in camelCase: the directory is made, a batch refused with 503 waits on disk, then arrives', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flagwire-spool-'));
  const dir = path.join(tmp, 'nested', 'spool'); // does not exist yet: the core makes it
  try {
    await collector.script([{ status: 503 }]);
    const lines = [];
    const fw = new Client(clientOptions(collector, {
      maxRetries: 0, backoffBaseMs: 10, backoffMaxMs: 50, onLog: (level, message) => lines.push(`${level} ${message}`),
      spool: { dir, maxBytes: 2 * 1024 * 1024, sync: 'always', syncIntervalMs: 50 },
    }));
    assert.ok(fs.statSync(dir).isDirectory(), 'spool.dir created');
    assert.ok(fs.existsSync(path.join(dir, 'LOCK')), 'the client owns the directory');
    for (const u of ['s-1', 's-2', 's-3']) assert.equal(fw.onDecision(flagDecision(u)), 'ok');
    assert.equal(await fw.flush(10_000), true); // waits for this process's events on disk too
    const messages = await collector.messages();
    assert.deepEqual(messages.map((m) => m.userId).sort(), ['s-1', 's-2', 's-3']);
    const s = fw.stats();
    // No retries allowed: without the spool the 503 would have failed the batch.
    assert.equal(s.failed, 0);
    assert.equal(s.spooled, 3, 'the refused batch was kept on disk');
    assert.equal(s.unspooled, 3, 'and delivered from its file');
    assert.equal(s.delivered, 3);
    assert.equal(s.spool_files, 0);
    assert.equal(await fw.close(), true);
    assert.ok(lines.some((l) => /^warn .*kept in the spool/.test(l)), lines.join('\n'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('dedupe given in camelCase: an identical repeated exposure is delivered once, with a derived messageId', async () => {
  const fw = new Client(clientOptions(collector, { dedupe: { windowMs: 60_000, maxEntries: 100, deriveMessageIds: true } }));
  assert.equal(fw.onDecision(flagDecision('d-1')), 'ok');
  assert.equal(fw.onDecision(flagDecision('d-1')), 'skipped'); // the same assignment again
  assert.equal(fw.onDecision(flagDecision('d-1', 'control', '5001')), 'ok'); // a new variation is a new exposure
  assert.equal(await fw.flush(), true);
  const messages = await collector.messages();
  assert.deepEqual(messages.map((m) => m.properties.variationKey), ['treatment', 'control']);
  assert.ok(messages.every((m) => isUuidV5(m.messageId)), messages.map((m) => m.messageId).join(' '));
  const s = fw.stats();
  assert.equal(s.deduplicated, 1);
  assert.equal(s.dedupe_entries, 1); // one (user, flag) pair
  assert.equal(s.exposures, 2);
  await fw.close();
});

test('dedupe maxEntries 0 and deriveMessageIds false reach the core as max_entries and derive_message_ids', async () => {
  const idsOnly = new Client(clientOptions(collector, { dedupe: { maxEntries: 0 } }));
  assert.equal(idsOnly.onDecision(flagDecision('e-1')), 'ok');
  assert.equal(idsOnly.onDecision(flagDecision('e-1')), 'ok'); // no local table: sent again...
  assert.equal(await idsOnly.flush(), true);
  let [a, b] = await collector.messages();
  assert.equal(a.messageId, b.messageId); // ...with the same derived id, which Segment collapses
  assert.ok(isUuidV5(a.messageId));
  assert.deepEqual([idsOnly.stats().deduplicated, idsOnly.stats().dedupe_entries], [0, 0]);
  await idsOnly.close();

  await collector.reset();
  const randomIds = new Client(clientOptions(collector, { dedupe: { deriveMessageIds: false } }));
  assert.equal(randomIds.onDecision(flagDecision('e-2')), 'ok');
  assert.equal(randomIds.onDecision(flagDecision('e-2')), 'skipped');
  assert.equal(await randomIds.flush(), true);
  [a] = await collector.messages();
  assert.ok(!isUuidV5(a.messageId), a.messageId);
  assert.equal(randomIds.stats().deduplicated, 1);
  await randomIds.close();
});

test('maxExposureCounters and maxInFlight reach the core: one counter, the rest in overflow', async () => {
  const fw = new Client(clientOptions(collector, { maxExposureCounters: 1, maxInFlight: 1, maxRequestsPerSecond: 1000 }));
  assert.equal(fw.onDecision(flagDecision('c-1')), 'ok');
  assert.equal(fw.onDecision(flagDecision('c-2', 'control', '5001')), 'ok');
  assert.equal(fw.onDecision(flagDecision('c-3', 'control', '5001')), 'ok');
  assert.equal(await fw.flush(), true);
  assert.equal((await collector.messages()).length, 3);
  const s = fw.stats();
  assert.deepEqual(s.exposures_by_variation, [{ flag_key: 'checkout_flow', rule_key: 'checkout_ab', variation_key: 'treatment', exposures: 1 }]);
  assert.equal(s.exposure_counts_overflow, 2);
  await fw.close();
});

test('out-of-range or mistyped camelCase values are refused, naming the key as the core spells it', () => {
  const refused = (options, key) => assert.throws(() => new Client({ writeKey: 'k', closeOnExit: false, ...options }), (e) => {
    assert.ok(e instanceof FlagwireError && e.code === 'FLAGWIRE_INVALID_CONFIG', String(e));
    assert.ok(e.message.includes(`\`${key}\``), `${e.message} names ${key}`);
    return true;
  });
  refused({ maxInFlight: 0 }, 'max_in_flight');
  refused({ maxInFlight: 65 }, 'max_in_flight');
  refused({ maxRequestsPerSecond: 0 }, 'max_requests_per_second');
  refused({ includeHoldouts: 1 }, 'include_holdouts');
  refused({ holdMaxEvents: 100_001 }, 'hold_max_events');
  refused({ holdMaxBytes: 64 * 1024 * 1024 + 1 }, 'hold_max_bytes');
  refused({ holdTimeoutMs: 0 }, 'hold_timeout_ms');
  refused({ maxExposureCounters: 1_000_001 }, 'max_exposure_counters');
  refused({ dedupe: { windowMs: 999 } }, 'dedupe.window_ms');
  refused({ dedupe: { maxEntries: 10_000_001 } }, 'dedupe.max_entries');
  refused({ spool: { dir: os.tmpdir(), maxBytes: 1 } }, 'spool.max_bytes');
  refused({ spool: { dir: os.tmpdir(), syncIntervalMs: 0 } }, 'spool.sync_interval_ms');
  refused({ spool: { maxBytes: 1 << 20 } }, 'spool.dir');
  assert.throws(() => new Client({ writeKey: 'k', spool: { dir: os.tmpdir(), sync: 'sometimes' } }), { code: 'FLAGWIRE_INVALID_CONFIG', message: /spool.*sometimes/s });
  assert.throws(() => new Client({ writeKey: 'k', dedupe: { windowMsec: 1000 } }), { code: 'FLAGWIRE_INVALID_CONFIG', message: /window_msec/ });
});

test('snake_case keys inside nested objects pass unchanged', async () => {
  const fw = new Client(clientOptions(collector, { dedupe: { window_ms: 60_000, max_entries: 10, derive_message_ids: false } }));
  assert.equal(fw.onDecision(flagDecision('n-1')), 'ok');
  assert.equal(fw.onDecision(flagDecision('n-1')), 'skipped');
  assert.equal(await fw.flush(), true);
  assert.equal((await collector.messages()).length, 1);
  assert.equal(fw.stats().deduplicated, 1);
  await fw.close();
});
