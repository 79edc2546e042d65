'use strict';
// flagwire vs a hand-written listener calling analytics.track() with @segment/analytics-node:
//  1. caller cost per DECISION: the listener as the SDK calls it, and decide() with it attached;
//  2. delivered events/s to the same local collector at 0, 20, 50 and 200 ms per request.
// Both libraries run in this process, rounds interleaved, against one collector. In Node the
// caller is the main thread, and it also pays for whatever a library does later on it (Segment
// batches, serializes and sends on the event loop; flagwire on its own threads), so the caller
// cost is the main thread's CPU from the first call until everything was delivered, per
// decision. The part inside the calls alone is reported too. CPU time, not wall time: on a
// shared machine wall time mostly measures the other processes.
// Usage: node --expose-gc bench/bench.js [--rounds N] [--calls N] [--events N] [--latencies 0,20,50,200] [--json PATH]

const fs = require('node:fs');
const path = require('node:path');
const optimizelySdk = require('@optimizely/optimizely-sdk');
const { Analytics } = require('@segment/analytics-node');
const flagwire = require('..');
const { startCollector } = require('../test/helpers');
const { readDatafile } = require('../test/sdk');
const { mainThreadCpuNs, nowNs, summary, quiet } = require('./measure');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const ROUNDS = Number(args.rounds || 7);
const CALLS = Number(args.calls || 20000);
const EVENTS = Number(args.events || 20000);
const LATENCIES = (args.latencies || '0,20,50,200').split(',').map(Number);

const USERS = 1024;
const ATTRIBUTES = { plan: 'pro', seats: 12 };

function newSdk(datafile) {
  const client = optimizelySdk.createInstance({
    projectConfigManager: optimizelySdk.createStaticProjectConfigManager({ datafile }),
    // Impressions go nowhere: the same for every scenario, and no network.
    eventProcessor: optimizelySdk.createForwardingEventProcessor({ dispatchEvent: async () => ({ statusCode: 200 }) }),
    logger: undefined,
  });
  return client;
}

/**
 * What teams write today (the integration guides' listener): flag decisions with a rule whose
 * impression was dispatched (Optimizely's own advice for matching what it counts), then
 * analytics.track. On the minimal datafile (sendFlagDecisions off) that sends exactly the
 * exposures flagwire sends.
 */
function segmentListener(analytics) {
  return ({ type, userId, attributes, decisionInfo }) => {
    if (type !== 'flag' || !decisionInfo.ruleKey || !decisionInfo.decisionEventDispatched) return;
    analytics.track({
      userId,
      event: 'Experiment Viewed',
      properties: {
        flagKey: decisionInfo.flagKey, ruleKey: decisionInfo.ruleKey, variationKey: decisionInfo.variationKey,
        enabled: decisionInfo.enabled, userAttributes: attributes,
        experiment_id: decisionInfo.experimentId, experiment_name: decisionInfo.ruleKey,
        variation_id: decisionInfo.variationId, variation_name: decisionInfo.variationKey,
      },
    });
  };
}

const newFlagwire = (url) => new flagwire.Client({ writeKey: 'bench', endpoint: url, closeOnExit: false, logLevel: 'error' });
const newSegment = (url) => new Analytics({ writeKey: 'bench', host: url });

/** One round: `calls` listener calls, then wait until delivered. Returns ns per call. */
async function listenerRound(collector, lib, notifications, calls) {
  await collector.reset();
  await quiet();
  let listener, drain, done;
  if (lib === 'flagwire') {
    const fw = newFlagwire(collector.url);
    listener = (n) => fw.onDecision(n);
    drain = () => fw.flush(120_000);
    done = () => fw.close();
  } else {
    const analytics = newSegment(collector.url);
    listener = segmentListener(analytics);
    drain = () => analytics.flush({ timeout: 120_000 });
    done = () => analytics.closeAndFlush();
  }
  const cpu0 = mainThreadCpuNs();
  for (let i = 0; i < calls; i++) listener(notifications[i % notifications.length]);
  const syncNs = mainThreadCpuNs() - cpu0;
  await drain();
  const cpuNs = mainThreadCpuNs() - cpu0;
  await done();
  if (!(await collector.wait(calls, 30_000))) throw new Error(`${lib}: not every event arrived`);
  return { sync: syncNs / calls, cpu: cpuNs / calls };
}

/** decide() for `calls` decisions with the listener attached (or none); main-thread CPU until delivered. */
async function decideRound(collector, lib, datafile, calls) {
  await collector.reset();
  await quiet();
  const sdk = newSdk(datafile);
  await sdk.onReady();
  let drain = async () => {};
  let done = async () => {};
  if (lib === 'flagwire') {
    const fw = newFlagwire(collector.url);
    fw.attach(sdk);
    drain = () => fw.flush(120_000);
    done = () => fw.close();
  } else if (lib === 'analytics-node') {
    const analytics = newSegment(collector.url);
    sdk.notificationCenter.addNotificationListener('DECISION', segmentListener(analytics));
    drain = () => analytics.flush({ timeout: 120_000 });
    done = () => analytics.closeAndFlush();
  }
  const users = Array.from({ length: USERS }, (_, i) => sdk.createUserContext(`user${i}`, ATTRIBUTES));
  const cpu0 = mainThreadCpuNs();
  for (let i = 0; i < calls; i++) users[i % USERS].decide('checkout_flow');
  await drain();
  const cpuNs = mainThreadCpuNs() - cpu0;
  await done();
  await sdk.close();
  return 1e9 / (cpuNs / calls);
}

/** Sends `events` exposures as fast as the caller can; events/s until all were delivered. */
async function deliveryRound(collector, lib, notifications, events) {
  await collector.reset();
  await quiet();
  const t0 = nowNs();
  if (lib === 'flagwire') {
    const fw = newFlagwire(collector.url);
    for (let i = 0; i < events; i++) fw.onDecision(notifications[i % notifications.length]);
    if (!(await fw.flush(300_000))) throw new Error('flagwire: flush timed out');
    await fw.close();
  } else {
    const analytics = newSegment(collector.url);
    const listener = segmentListener(analytics);
    for (let i = 0; i < events; i++) listener(notifications[i % notifications.length]);
    await analytics.closeAndFlush({ timeout: 300_000 });
  }
  const seconds = (nowNs() - t0) / 1e9;
  const { count } = await collector.control('/_test/count');
  if (count !== events) throw new Error(`${lib}: ${count} of ${events} events arrived`);
  return events / seconds;
}

/** Exposure notifications exactly as the SDK delivers them (captured from real decisions). */
async function captureNotifications(datafile) {
  const sdk = newSdk(datafile);
  await sdk.onReady();
  const exposures = [];
  const rollouts = [];
  sdk.notificationCenter.addNotificationListener('DECISION', (n) => (n.decisionInfo.ruleKey === 'checkout_ab' ? exposures : rollouts).push(n));
  for (let i = 0; exposures.length < USERS; i++) sdk.createUserContext(`user${i}`, ATTRIBUTES).decide('checkout_flow');
  await sdk.close();
  return { exposures, rollouts };
}

async function interleaved(rounds, libs, run) {
  const results = Object.fromEntries(libs.map((l) => [l, []]));
  for (let r = 0; r < rounds; r++) for (const lib of libs) results[lib].push(await run(lib));
  return results;
}

function line(name, fw, peer, unit) {
  const cell = (s) => `${s.median.toFixed(unit === 'ns' ? 0 : 0).padStart(9)} [${s.min.toFixed(0)}..${s.max.toFixed(0)}]`;
  console.log(`${name.padEnd(64)} flagwire ${cell(fw)}  ${peer ? `analytics-node ${cell(peer)}  ratio ${(fw.median / peer.median).toFixed(3)}` : ''} ${unit}`);
}

async function main() {
  const datafile = readDatafile('minimal-datafile.json');
  const { exposures, rollouts } = await captureNotifications(datafile);
  const collector = await startCollector();
  const measures = [];
  try {
    console.log(`node ${process.version}, ${ROUNDS} rounds x ${CALLS} calls, ${EVENTS} events per delivery run, flagwire ${flagwire.version}`);

    // 1. Caller cost: exposures (every call sends an event with both libraries).
    const lr = await interleaved(ROUNDS, ['flagwire', 'analytics-node'], (lib) => listenerRound(collector, lib, exposures, CALLS));
    const cpu = (lib) => summary(lr[lib].map((r) => r.cpu));
    const sync = (lib) => summary(lr[lib].map((r) => r.sync));
    line('listener, exposure: main-thread CPU per decision until delivered', cpu('flagwire'), cpu('analytics-node'), 'ns');
    line('listener, exposure: inside the calls only (main-thread CPU)', sync('flagwire'), sync('analytics-node'), 'ns');
    const peerCpu = cpu('analytics-node');
    measures.push({
      name: 'Node: DECISION listener, exposure (main-thread CPU per decision, until delivered)', unit: 'ns', better: 'lower',
      goal: '<= 1/5 of analytics-node', goal_value: peerCpu.median / 5, goal_kind: 'absolute', headline: 'caller',
      flagwire: cpu('flagwire'), peer: { name: 'analytics-node', ...peerCpu },
      note: 'the listener as @optimizely/optimizely-sdk calls it, plus the main-thread work each library does afterwards until the events are delivered (Segment batches and sends on the event loop, flagwire on its own threads)',
    });
    measures.push({
      name: 'Node: DECISION listener, exposure (inside the call only, main-thread CPU)', unit: 'ns', better: 'lower',
      goal: '<= 1/5 of analytics-node', goal_value: sync('analytics-node').median / 5, goal_kind: 'absolute',
      flagwire: sync('flagwire'), peer: { name: 'analytics-node', ...sync('analytics-node') },
    });

    // Rollout decisions: flagwire hands them to the core, which skips them; the hand-written
    // listener returns before any work (sendFlagDecisions is off), so no peer figure.
    const rr = [];
    for (let r = 0; r < ROUNDS; r++) {
      await quiet();
      const fw = newFlagwire(collector.url);
      const cpu0 = mainThreadCpuNs();
      for (let i = 0; i < CALLS; i++) fw.onDecision(rollouts[i % rollouts.length]);
      rr.push((mainThreadCpuNs() - cpu0) / CALLS);
      await fw.close();
    }
    line('listener, rollout (skipped by the core), main-thread CPU', summary(rr), null, 'ns');
    measures.push({ name: 'Node: DECISION listener, rollout skipped (main-thread CPU)', unit: 'ns', better: 'lower', flagwire: summary(rr), peer: null });

    // decide() with the listener attached, main-thread CPU until delivered.
    const dr = await interleaved(Math.max(3, Math.ceil(ROUNDS / 2)), ['none', 'flagwire', 'analytics-node'], (lib) => decideRound(collector, lib, datafile, CALLS));
    const rate = (lib) => summary(dr[lib]);
    line('decide() alone, decides/s', rate('none'), null, '/s');
    line('decide() with the listener, decides/s', rate('flagwire'), rate('analytics-node'), '/s');
    measures.push({
      name: 'Node: decide() with the listener attached (main-thread CPU, until delivered)', unit: 'decides/s', better: 'higher',
      goal: '> analytics-node', goal_kind: 'vs_peer', headline: 'decide',
      flagwire: rate('flagwire'), peer: { name: 'analytics-node', ...rate('analytics-node') },
      note: `the SDK alone: ${rate('none').median.toFixed(0)} decides/s; about half of the decisions are exposures, sent by both`,
    });

    // 2. Delivered events/s at per-request latency.
    for (const latency of LATENCIES) {
      await collector.control('/_test/latency', { latency_ms: latency, jitter_ms: 0 });
      const d = await interleaved(3, ['flagwire', 'analytics-node'], (lib) => deliveryRound(collector, lib, exposures, EVENTS));
      line(`delivered events/s, ${latency} ms per request`, summary(d.flagwire), summary(d['analytics-node']), '/s');
      measures.push({
        name: `Node: delivered events/s, ${latency} ms per request`, unit: 'events/s', better: 'higher',
        goal: '> analytics-node', goal_kind: 'vs_peer', headline: 'throughput',
        flagwire: summary(d.flagwire), peer: { name: 'analytics-node', ...summary(d['analytics-node']) },
        note: `${EVENTS} exposures from the listener as fast as the caller goes, until the collector (answering after ${latency} ms) has them all; both libraries with their defaults`,
      });
    }
  } finally {
    collector.stop();
  }

  if (args.json) {
    // Read from node_modules: the SDK's "exports" does not list its package.json.
    const pkg = (name) => JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'node_modules', name, 'package.json'), 'utf8')).version;
    const doc = {
      language: 'node',
      versions: { node: process.version, '@segment/analytics-node': pkg('@segment/analytics-node'), '@optimizely/optimizely-sdk': pkg('@optimizely/optimizely-sdk') },
      commands: [`bindings/node/bench.sh --rounds ${ROUNDS} --calls ${CALLS} --events ${EVENTS} --latencies ${LATENCIES.join(',')}`],
      measures,
    };
    fs.writeFileSync(args.json, JSON.stringify(doc, null, 1));
    console.log(`wrote ${args.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
