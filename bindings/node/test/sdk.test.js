'use strict';
// The real @optimizely/optimizely-sdk deciding offline for thousands of users, flagwire attached:
// exactly the exposures the SDK's own decisions imply arrive at the collector, once each.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { Client } = require('..');
const { useCollector, clientOptions } = require('./helpers');
const { optimizely, readDatafile, offlineSdk, ruleIndex, expectedExposure, receivedExposure } = require('./sdk');

const collector = useCollector();

const ATTRIBUTES = [
  {},
  { plan: 'pro', seats: 12 },
  { plan: 'free', beta: true, score: 1.5, city: 'Zürich' },
];

/** Decides `flags` for users [from, to); returns the exposures those decisions imply. */
function decideUsers(sdk, index, flags, from, to, { disableEvery = 0 } = {}) {
  const expected = [];
  let decisions = 0;
  for (let i = from; i < to; i++) {
    const userId = `user${i}`;
    const attributes = ATTRIBUTES[i % ATTRIBUTES.length];
    const disabled = disableEvery > 0 && i % disableEvery === 0;
    const options = disabled ? [optimizely.OptimizelyDecideOption.DISABLE_DECISION_EVENT] : [];
    const user = sdk.createUserContext(userId, attributes);
    for (const decision of Object.values(user.decideForKeys(flags, options))) {
      decisions++;
      const e = expectedExposure(index, userId, Object.keys(attributes).length ? attributes : undefined, decision, !disabled);
      if (e) expected.push(e);
    }
  }
  return { expected, decisions };
}

/** The SDK's own impressions for experiment rules: what Optimizely counts. */
function experimentImpressions(impressions) {
  const out = [];
  for (const event of impressions) {
    for (const visitor of event.params.visitors) {
      for (const snapshot of visitor.snapshots) {
        for (const d of snapshot.decisions) {
          if (d.metadata.rule_type !== 'rollout') out.push(`${visitor.visitor_id}|${d.metadata.flag_key}|${d.metadata.rule_key}|${d.metadata.variation_key}`);
        }
      }
    }
  }
  return out.sort();
}

const key = (e) => JSON.stringify(e);

async function assertDelivered(expected) {
  assert.ok(await collector.wait(expected.length, 20_000), `collector did not get ${expected.length} messages`);
  const messages = await collector.messages();
  assert.equal(messages.length, expected.length, 'no extra events');
  for (const m of messages) assert.equal(m.event, 'Experiment Viewed');
  assert.deepEqual(messages.map((m) => key(receivedExposure(m))).sort(), expected.map(key).sort());
  assert.equal(new Set(messages.map((m) => m.messageId)).size, messages.length, 'unique messageIds');
  return messages;
}

test('3,000 users on the minimal datafile: every exposure once, no rollout, no disabled decision', async () => {
  const text = readDatafile('minimal-datafile.json');
  const { client: sdk, impressions } = await offlineSdk(text);
  const fw = new Client(clientOptions(collector));
  fw.attach(sdk);
  const { expected, decisions } = decideUsers(sdk, ruleIndex(text), ['checkout_flow'], 0, 3000, { disableEvery: 7 });
  assert.ok(expected.length > 1000 && expected.length < decisions, `a mix of exposures and not (${expected.length} of ${decisions})`);
  // Ground truth twice: the rule index, and the impressions the SDK itself dispatched.
  assert.deepEqual(expected.map((e) => `${e.userId}|${e.flagKey}|${e.ruleKey}|${e.variationKey}`).sort(), experimentImpressions(impressions));
  assert.equal(await fw.flush(10_000), true);
  await assertDelivered(expected);
  const stats = fw.stats();
  assert.equal(stats.decisions, decisions);
  assert.equal(stats.exposures, expected.length);
  assert.equal(stats.delivered, expected.length);
  assert.equal(stats.listener_errors, 0);
  assert.equal(await fw.close(), true);
  await sdk.close();
});

test('rule keys repeated across flags, sendFlagDecisions on: classified by flag from the datafile', async () => {
  const text = readDatafile('datafile-repeated-rule-keys.json');
  const { client: sdk, impressions } = await offlineSdk(text);
  const fw = new Client(clientOptions(collector));
  fw.attach(sdk);
  const flags = ['flag_a', 'flag_b', 'flag_c', 'flag_d'];
  const { expected } = decideUsers(sdk, ruleIndex(text), flags, 0, 2000);
  // Rollouts dispatch impressions here too (sendFlagDecisions), yet are not exposures.
  const rolloutImpressions = impressions.filter((e) => e.params.visitors[0].snapshots[0].decisions[0].metadata.rule_type === 'rollout');
  assert.ok(rolloutImpressions.length > 0);
  assert.ok(expected.some((e) => e.flagKey === 'flag_a' && e.ruleKey === 'shared_rule'));
  assert.ok(!expected.some((e) => e.flagKey === 'flag_b'));
  assert.equal(await fw.flush(10_000), true);
  await assertDelivered(expected);
  await fw.close();
  await sdk.close();
});

test('attach twice is refused; detach stops events; attach again works', async () => {
  const text = readDatafile('minimal-datafile.json');
  const { client: sdk } = await offlineSdk(text);
  const fw = new Client(clientOptions(collector));
  const other = new Client(clientOptions(collector));
  const attachment = fw.attach(sdk);
  assert.throws(() => fw.attach(sdk), { code: 'FLAGWIRE_ALREADY_ATTACHED' });
  assert.throws(() => other.attach(sdk), { code: 'FLAGWIRE_ALREADY_ATTACHED' });
  const { expected } = decideUsers(sdk, ruleIndex(text), ['checkout_flow'], 0, 100);
  assert.equal(attachment.detach(), true);
  assert.equal(fw.detach(), false);
  decideUsers(sdk, ruleIndex(text), ['checkout_flow'], 100, 200); // not sent
  other.attach(sdk);
  const again = decideUsers(sdk, ruleIndex(text), ['checkout_flow'], 200, 300).expected;
  await fw.flush();
  await other.flush();
  await assertDelivered([...expected, ...again]);
  await Promise.all([fw.close(), other.close()]);
  assert.throws(() => fw.attach(sdk), { code: 'FLAGWIRE_CLOSED' });
  await sdk.close();
});

test('OPTIMIZELY_CONFIG_UPDATE pushes the datafile that arrives after attach', async () => {
  // The SDK polls its datafile over HTTP; here from 127.0.0.1.
  const text = readDatafile('datafile-repeated-rule-keys.json');
  const server = http.createServer((req, res) => res.end(text));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sdk = optimizely.createInstance({
    projectConfigManager: optimizely.createPollingProjectConfigManager({
      sdkKey: 'node-test', autoUpdate: false, urlTemplate: `http://127.0.0.1:${server.address().port}/%s.json`,
    }),
    eventProcessor: optimizely.createForwardingEventProcessor({ dispatchEvent: async () => ({ statusCode: 200 }) }),
  });
  const fw = new Client(clientOptions(collector));
  try {
    assert.equal(sdk.getOptimizelyConfig(), null, 'attached before the SDK had a datafile');
    fw.attach(sdk);
    await sdk.onReady({ timeout: 5000 });
    // flag_b's "shared_rule" is a rollout rule that dispatches: without the datafile the core
    // would take it for an experiment (rule and variation keys set); with it, it is skipped.
    const { expected } = decideUsers(sdk, ruleIndex(text), ['flag_a', 'flag_b'], 0, 400);
    assert.ok(expected.length > 0);
    await fw.flush();
    await assertDelivered(expected);
    assert.ok(fw.stats().skipped >= 400, 'every flag_b decision skipped');
  } finally {
    await fw.close();
    await sdk.close();
    server.close();
  }
});

test('ids without a datafile come from the notification', async () => {
  const text = readDatafile('minimal-datafile.json');
  const { client: sdk } = await offlineSdk(text);
  const fw = new Client(clientOptions(collector));
  // Registered by hand, and no datafile given to flagwire.
  const id = sdk.notificationCenter.addNotificationListener('DECISION', (n) => fw.onDecision(n));
  const { expected } = decideUsers(sdk, ruleIndex(text), ['checkout_flow'], 0, 300);
  sdk.notificationCenter.removeNotificationListener(id);
  await fw.flush();
  const messages = await assertDelivered(expected);
  assert.ok(messages.every((m) => m.properties.experiment_id === '2001' && /^500[12]$/.test(m.properties.variation_id)));
  await fw.close();
  await sdk.close();
});

test('NUL bytes and non-ASCII in ids and attributes are data: the exposure is sent', async () => {
  const text = readDatafile('minimal-datafile.json');
  const { client: sdk } = await offlineSdk(text);
  const fw = new Client(clientOptions(collector));
  fw.attach(sdk);
  const index = ruleIndex(text);
  const expected = [];
  for (let i = 0; i < 200; i++) {
    const userId = [`nul\u0000user${i}`, `ユーザー${i}`, `emoji🎉${i}`, `\u0000${i}`][i % 4];
    const attributes = { note: `a\u0000b${i}`, 'kéy': 'välue' };
    const decision = sdk.createUserContext(userId, attributes).decide('checkout_flow');
    const e = expectedExposure(index, userId, attributes, decision, true);
    if (e) expected.push(e);
  }
  assert.ok(expected.length > 50);
  await fw.flush();
  await assertDelivered(expected);
  assert.equal(fw.stats().dropped_invalid, 0);
  await fw.close();
  await sdk.close();
});
