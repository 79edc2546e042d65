'use strict';
// Options, enqueue, flush off the event loop, close, stats, listener failures.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Client, FlagwireError, STATUS } = require('..');
const { useCollector, clientOptions } = require('./helpers');

const collector = useCollector();

const flagDecision = (userId, extra = {}) => ({
  type: 'flag', userId, attributes: { plan: 'pro' },
  decisionInfo: { flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey: 'treatment', enabled: true,
    decisionEventDispatched: true, experimentId: '2001', variationId: '5002', variables: {}, reasons: [], ...extra },
});

/** Polls `condition` (may be async) on the event loop, at most `tries` times 10 ms apart. */
async function eventually(condition, tries = 500) {
  for (let i = 0; i < tries; i++) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return condition();
}

test('options: camelCase is mapped to the core\'s keys, which it validates and names', () => {
  assert.throws(() => new Client({ writeKey: 'k', batchSize: 0 }), (e) => e instanceof FlagwireError &&
    e.code === 'FLAGWIRE_INVALID_CONFIG' && e.status === STATUS.INVALID_CONFIG && /`batch_size` must be an integer in 1\.\.=2500/.test(e.message));
  assert.throws(() => new Client({ writeKey: 'k', noSuchOption: 1 }), { code: 'FLAGWIRE_INVALID_CONFIG', message: /`no_such_option`/ });
  assert.throws(() => new Client({ writeKey: 'k', profile: { spaceId: 'spa', accessToken: 'secret-tok', timeoutMs: 0 } }),
    (e) => /profile/.test(e.message) && !/secret-tok/.test(e.message));
  assert.throws(() => new Client({}), { code: 'FLAGWIRE_INVALID_CONFIG', message: /write_key/ });
  assert.throws(() => new Client({ writeKey: 'k', onLog: 'no' }), TypeError);
  assert.throws(() => new Client({ writeKey: 'k', closeTimeoutMs: -1 }), RangeError);
});

test('enqueue: queued and delivered, invalid refused with the reason, too large dropped and counted', async () => {
  const fw = new Client(clientOptions(collector, { snake_case_key_passes: undefined, max_retries: 2 }));
  assert.equal(fw.enqueue({ type: 'track', userId: 'u-1', event: 'Order Completed', properties: { revenue: 42 } }), true);
  assert.equal(fw.enqueue(JSON.stringify({ type: 'identify', userId: 'u-1', traits: { plan: 'pro' } })), true);
  assert.throws(() => fw.enqueue({ type: 'track', event: 'No User' }), { code: 'FLAGWIRE_INVALID_JSON', message: /userId/ });
  assert.throws(() => fw.enqueue('{not json'), { code: 'FLAGWIRE_INVALID_JSON' });
  assert.equal(fw.enqueue({ type: 'track', userId: 'u-1', event: 'Big', properties: { blob: 'x'.repeat(40_000) } }), false);
  assert.equal(await fw.flush(), true);
  const messages = await collector.messages();
  assert.deepEqual(messages.map((m) => [m.type, m.event, m.userId]), [['track', 'Order Completed', 'u-1'], ['identify', undefined, 'u-1']]);
  assert.equal(messages[0].properties.revenue, 42);
  const s = fw.stats();
  assert.equal(s.enqueued, 2);
  assert.equal(s.dropped_invalid, 2);
  assert.equal(s.dropped_too_large, 1);
  assert.equal(s.delivered, 2);
  await fw.close();
});

test('flush never blocks the event loop: timers keep firing while a slow collector answers', async () => {
  const fw = new Client(clientOptions(collector));
  await collector.script([{ status: 200, delay_ms: 1500 }]);
  fw.enqueue({ type: 'track', userId: 'slow', event: 'Slow' });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  let settled = false;
  const flushed = fw.flush(10_000).finally(() => (settled = true));
  // Timers run while the flush waits; if the flush held the thread they could not.
  assert.equal(await eventually(() => ticks >= 10 || settled), true);
  assert.equal(settled, false, 'the flush was still waiting on the 1.5 s response');
  assert.equal(await flushed, true);
  clearInterval(timer);
  assert.equal((await collector.messages()).length, 1);
  await fw.close();
});

test('flush resolves false at its deadline; nothing is lost', async () => {
  const fw = new Client(clientOptions(collector));
  await collector.script([{ status: 200, delay_ms: 1500 }]);
  fw.enqueue({ type: 'track', userId: 'u', event: 'E' });
  assert.equal(await fw.flush(100), false);
  assert.equal(await fw.flush(10_000), true);
  assert.equal((await collector.messages()).length, 1);
  await fw.close();
});

test('close: detaches, delivers, the same promise every time; afterwards calls are refused', async () => {
  const fw = new Client(clientOptions(collector, { onLog: () => {} }));
  for (let i = 0; i < 50; i++) assert.equal(fw.onDecision(flagDecision(`u${i}`)), 'ok');
  const closing = fw.close();
  assert.equal(fw.close(), closing);
  assert.equal(fw.closed, true);
  assert.equal(await closing, true);
  assert.equal((await collector.messages()).length, 50);
  assert.throws(() => fw.enqueue({ type: 'track', userId: 'u', event: 'E' }), { code: 'FLAGWIRE_CLOSED', status: STATUS.CLOSED });
  await assert.rejects(fw.flush(), { code: 'FLAGWIRE_CLOSED' });
  await assert.rejects(fw.profileAttributes('user_id:u'), { code: 'FLAGWIRE_CLOSED' });
  assert.throws(() => fw.stats(), { code: 'FLAGWIRE_CLOSED' });
  assert.equal(fw.onDecision(flagDecision('late')), null, 'the listener ignores decisions after close');
});

test('close with a collector that hangs returns false at its deadline', async () => {
  const fw = new Client(clientOptions(collector, { logLevel: 'off' }));
  await collector.script([{ hang: true }]);
  fw.enqueue({ type: 'track', userId: 'u', event: 'E' });
  const started = Date.now();
  assert.equal(await fw.close(300), false);
  assert.ok(Date.now() - started < 5000, 'bounded by the deadline, not the hung request');
});

test('close waits for a flush in flight', async () => {
  const fw = new Client(clientOptions(collector));
  await collector.script([{ status: 200, delay_ms: 500 }]);
  fw.enqueue({ type: 'track', userId: 'u', event: 'E' });
  const flushed = fw.flush(10_000);
  const closed = fw.close();
  assert.equal(await flushed, true);
  assert.equal(await closed, true);
});

test('the listener: outcomes, and failures counted, warned once, never thrown', async () => {
  const lines = [];
  const fw = new Client(clientOptions(collector, { onLog: (level, message) => lines.push([level, message]) }));
  assert.equal(fw.onDecision(flagDecision('u1')), 'ok');
  assert.equal(fw.onDecision(flagDecision('u2', { ruleKey: null, variationKey: null })), 'skipped');
  assert.equal(fw.onDecision(flagDecision('u3', { decisionEventDispatched: false })), 'skipped');
  assert.equal(fw.onDecision(flagDecision('')), null, 'an empty user id is refused by the core');
  assert.equal(fw.onDecision({ type: 'flag', userId: 'u4' }), null, 'no decisionInfo');
  assert.equal(fw.onDecision(null), null);
  const circular = { plan: 'pro' };
  circular.self = circular;
  assert.equal(fw.onDecision({ ...flagDecision('u5'), attributes: circular }), null);
  // Legacy types go whole, as JSON.
  const legacy = { type: 'feature', userId: 'u6', attributes: {},
    decisionInfo: { featureKey: 'checkout_flow', featureEnabled: true, source: 'feature-test', sourceInfo: { experimentKey: 'checkout_ab', variationKey: 'treatment' } } };
  assert.equal(fw.onDecision(legacy), 'ok');
  assert.equal(fw.onDecision({ ...legacy, decisionInfo: { ...legacy.decisionInfo, source: 'rollout', sourceInfo: {} } }), 'skipped');
  assert.equal(await fw.flush(), true);
  const s = fw.stats();
  assert.equal(s.listener_errors, 4);
  assert.equal(s.dropped_invalid, 1);
  assert.deepEqual((await collector.messages()).map((m) => m.userId).sort(), ['u1', 'u6']);
  await fw.close();
  const warnings = lines.filter(([level, m]) => level === 'warn' && /DECISION listener/.test(m));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0][1], /user id|user_id|userId/);
});

test('queue full: the decision is dropped and counted, the caller never waits', async () => {
  // One request at a time, held open by the collector: nothing leaves while the queue fills.
  // logLevel off: the sender left in that request (close leaves it to finish) stays quiet.
  const fw = new Client(clientOptions(collector, { maxQueueEvents: 5, batchSize: 1, maxInFlight: 1, logLevel: 'off' }));
  await collector.script([{ hang: true }]);
  fw.onDecision(flagDecision('first'));
  assert.equal(await eventually(async () => (await collector.control('/_test/count')).requests === 1), true);
  // The bound counts what is held, the event in the hung request included: 4 more fit.
  const outcomes = [];
  for (let i = 0; i < 8; i++) outcomes.push(fw.onDecision(flagDecision(`u${i}`)));
  assert.deepEqual(outcomes, ['ok', 'ok', 'ok', 'ok', 'queue_full', 'queue_full', 'queue_full', 'queue_full']);
  assert.equal(fw.stats().dropped_queue_full, 4);
  assert.equal(fw.enqueue({ type: 'track', userId: 'u', event: 'E' }), false);
  await fw.close(200);
});

test('setDatafile: an invalid datafile is refused, the previous one kept', async () => {
  const fw = new Client(clientOptions(collector));
  assert.throws(() => fw.setDatafile('{"version": '), { code: 'FLAGWIRE_INVALID_JSON', message: /previous datafile is kept/ });
  fw.setDatafile({ version: '4', experiments: [], featureFlags: [], rollouts: [], groups: [] });
  await fw.close();
});
