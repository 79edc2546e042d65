'use strict';
// Why this binding is a Node-API addon and not koffi (README "Why Node-API"): the same record
// path through both, main-thread CPU per call, and what each does when flagwire logs from its
// own thread while the event loop is busy. koffi is a devDependency for this comparison only.
// Usage: node bench/ffi-choice.js [--calls N] [--rounds N]

const koffi = require('koffi');
const { addon, libraryPath } = require('../lib/native');
const { RecordWriter } = require('../lib/record');
const { startCollector } = require('../test/helpers');
const { mainThreadCpuNs, summary, quiet } = require('./measure');

const argv = process.argv.slice(2);
const arg = (name, fallback) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback);
const CALLS = arg('calls', 200_000);
const ROUNDS = arg('rounds', 7);

// koffi, declared from include/flagwire.h.
const lib = koffi.load(libraryPath);
koffi.opaque('FlagwireClient');
const k = {
  init: lib.func('int flagwire_init(const char *config, _Out_ FlagwireClient **client, _Out_ char **err)'),
  record: lib.func('int flagwire_on_decision_record(FlagwireClient *c, const uint8_t *record, size_t len, _Out_ char **err)'),
  enqueue: lib.func('int flagwire_enqueue_json(FlagwireClient *c, const uint8_t *json, size_t len, _Out_ char **err)'),
  stats: lib.func('char *flagwire_stats(FlagwireClient *c)'),
  logCallback: koffi.proto('void FlagwireLogCallback(void *user_data, int level, const char *message, size_t len)'),
  shutdown: lib.func('int flagwire_shutdown(FlagwireClient *c, uint32_t timeout_ms)'),
};
k.setLog = lib.func('int flagwire_set_log_callback(FlagwireClient *c, FlagwireLogCallback *cb, void *user_data)');

function koffiClient(config) {
  const out = [null];
  const err = [null];
  if (k.init(JSON.stringify(config), out, err) !== 0) throw new Error(`koffi: init failed: ${err[0]}`);
  return out[0];
}

function perCall(fn) {
  const cpu = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = mainThreadCpuNs();
    for (let i = 0; i < CALLS; i++) fn(i);
    cpu.push((mainThreadCpuNs() - c0) / CALLS);
  }
  return summary(cpu);
}

const users = Array.from({ length: 1024 }, (_, i) => `user-${100000 + i}`);
const exposure = { flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey: 'treatment', enabled: true, decisionEventDispatched: true, experimentId: '2001', variationId: '5002' };
const rollout = { flagKey: 'checkout_flow', ruleKey: 'checkout_delivery', variationKey: 'on', enabled: true, decisionEventDispatched: false, experimentId: '6001', variationId: '7001' };
const attributes = '{"plan":"pro","seats":12}';

async function main() {
  const collector = await startCollector();
  const config = { write_key: 'bench', endpoint: collector.url, log_level: 'off', max_queue_events: 10_000_000, max_queue_bytes: 2 ** 32 };
  const writer = new RecordWriter((b) => addon.setRecordBuffer(b));
  const napiClient = addon.init(JSON.stringify(config));
  if (Array.isArray(napiClient)) throw new Error(`init: ${napiClient[1]}`);
  const kClient = koffiClient(config);
  const results = [];
  const row = (name, napi, ko) => {
    results.push([name, napi, ko]);
    console.log(`${name.padEnd(46)} Node-API ${napi.median.toFixed(0).padStart(5)} ns [${napi.min.toFixed(0)}..${napi.max.toFixed(0)}]   koffi ${ko.median.toFixed(0).padStart(5)} ns [${ko.min.toFixed(0)}..${ko.max.toFixed(0)}]`);
  };
  console.log(`main-thread CPU per call, ${ROUNDS} rounds x ${CALLS} calls (koffi ${koffi.version})`);
  await quiet();
  const skipLen = writer.flagRecord('user-1', rollout, attributes);
  row('record call, rollout (skipped by the core)', perCall(() => addon.onDecisionRecord(napiClient, skipLen)), perCall(() => k.record(kClient, writer.buffer, skipLen, null)));
  await quiet();
  row('encode + record call, exposure', perCall((i) => addon.onDecisionRecord(napiClient, writer.flagRecord(users[i & 1023], exposure, attributes))),
    perCall((i) => k.record(kClient, writer.buffer, writer.flagRecord(users[i & 1023], exposure, attributes), null)));
  await addon.shutdown(napiClient, 30_000);
  k.shutdown(kClient, 30_000);

  // A log line from flagwire's thread while the event loop is busy: koffi's registered callback
  // makes that thread wait for the loop; the addon queues the line and returns.
  console.log('\none event, log_level debug, then the main thread busy for 2 s: when is it delivered?');
  const debug = { ...config, log_level: 'debug' };
  const busyUntilDelivered = (delivered) => {
    const t0 = Date.now();
    while (Date.now() - t0 < 2000) if (delivered()) return `${Date.now() - t0} ms (during the busy loop)`;
    return 'not while the loop was busy (the sender waited for the event loop to log)';
  };
  const text = Buffer.from(JSON.stringify({ type: 'track', userId: 'u', event: 'E' }));
  const kc = koffiClient(debug);
  const cb = koffi.register(() => {}, koffi.pointer(k.logCallback));
  k.setLog(kc, cb, null);
  k.enqueue(kc, text, text.length, null);
  console.log(`  koffi:    ${busyUntilDelivered(() => JSON.parse(k.stats(kc)).delivered === 1)}`);
  // Off the main thread: a synchronous shutdown here would deadlock (the sender, inside a log
  // call, waits for the loop; the loop would wait for the sender).
  await new Promise((resolve, reject) => k.shutdown.async(kc, 5000, (err) => (err ? reject(err) : resolve())));
  koffi.unregister(cb);
  const nc = addon.init(JSON.stringify(debug));
  const sink = addon.setLogger(nc, () => {});
  addon.enqueueJson(nc, text, text.length);
  console.log(`  Node-API: ${busyUntilDelivered(() => JSON.parse(addon.stats(nc)).delivered === 1)}`);
  await addon.shutdown(nc, 5000);
  await addon.releaseLogger(sink);
  collector.stop();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
