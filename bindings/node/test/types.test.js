'use strict';
// index.d.ts cannot silently lag the core: the members of Stats are exactly those stats()
// returns, and every key of the core's config structs has a typed camelCase option.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('..');
const { useCollector, clientOptions, repo } = require('./helpers');

const collector = useCollector();
const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');

/** Member names of `export interface <name> { ... }` in index.d.ts (index signatures left out). */
function interfaceMembers(name) {
  const match = new RegExp(`^export interface ${name} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(dts);
  assert.ok(match, `interface ${name} in index.d.ts`);
  return [...match[1].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1]);
}

/** Field names of `pub struct <name>` in the core's Rust source, without #[serde(skip)] ones. */
function coreFields(file, name) {
  const text = fs.readFileSync(path.join(repo, file), 'utf8');
  const match = new RegExp(`^pub struct ${name} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(text);
  assert.ok(match, `struct ${name} in ${file}`);
  return [...match[1].matchAll(/((?:^ *#\[.*\]\n)*)^ *pub (\w+):/gm)].filter((m) => !/serde\(skip\)/.test(m[1])).map((m) => m[2]);
}

const camelCase = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

const flagDecision = (userId, variationKey) => ({
  type: 'flag', userId, attributes: { plan: 'pro' },
  decisionInfo: { flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey, enabled: true,
    decisionEventDispatched: true, experimentId: '2001', variationId: variationKey === 'control' ? '5001' : '5002' },
});

test('stats(): every member is declared in index.d.ts Stats, and every declared member is returned', async () => {
  const declared = interfaceMembers('Stats');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flagwire-stats-'));
  try {
    // Plain, and with every optional part of the core on: the members must not depend on the options.
    for (const extra of [{}, { dedupe: { windowMs: 60_000 }, spool: { dir: tmp, sync: 'never' } }]) {
      const fw = new Client(clientOptions(collector, extra));
      fw.onDecision(flagDecision('t-1', 'treatment'));
      fw.onDecision(flagDecision('t-2', 'control'));
      assert.equal(await fw.flush(), true);
      const stats = fw.stats();
      const returned = Object.keys(stats);
      assert.deepEqual(returned.filter((k) => !declared.includes(k)), [], 'returned by stats() but not declared in Stats');
      assert.deepEqual(declared.filter((k) => !returned.includes(k)), [], 'declared in Stats but not returned');
      for (const k of returned) {
        if (k === 'exposures_by_variation') continue;
        assert.equal(typeof stats[k], 'number', k);
      }
      assert.equal(stats.exposures_by_variation.length, 2);
      const counterShape = interfaceMembers('ExposureCount');
      for (const row of stats.exposures_by_variation) assert.deepEqual(Object.keys(row).sort(), [...counterShape].sort());
      assert.equal(stats.delivered, 2);
      await fw.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('options: every key of the core\'s config structs has a typed camelCase member that maps back to it', () => {
  const structs = [
    ['src/config.rs', 'Config', 'ClientOptions'],
    ['src/config.rs', 'DedupeConfig', 'DedupeOptions'],
    ['src/spool/config.rs', 'SpoolConfig', 'SpoolOptions'],
    ['src/profile.rs', 'ProfileConfig', 'ProfileOptions'],
  ];
  for (const [file, struct, iface] of structs) {
    const keys = coreFields(file, struct);
    assert.ok(keys.length >= 3, `${struct}: fields parsed (${keys})`);
    const members = interfaceMembers(iface);
    const missing = keys.filter((k) => !members.includes(camelCase(k)));
    assert.deepEqual(missing, [], `${struct} keys without a typed member of ${iface}`);
    // The binding's mapping (capital letter -> `_` + lower case) takes each name back to the core's.
    for (const k of keys) assert.equal(camelCase(k).replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), k);
  }
  // And every member of ClientOptions is a core key or one of this binding's own options.
  const core = coreFields('src/config.rs', 'Config').map(camelCase);
  const own = ['onLog', 'closeOnExit', 'closeTimeoutMs'];
  assert.deepEqual(interfaceMembers('ClientOptions').filter((m) => !core.includes(m) && !own.includes(m)), []);
});

test('each optional member of the option interfaces has a one-line JSDoc naming its default', () => {
  for (const iface of ['ClientOptions', 'DedupeOptions', 'SpoolOptions', 'ProfileOptions']) {
    const body = new RegExp(`^export interface ${iface} \\{\\n([\\s\\S]*?)^\\}`, 'm').exec(dts)[1];
    for (const m of body.matchAll(/^ {2}(\w+)(\??):/gm)) {
      const before = body.slice(0, m.index).trimEnd().split('\n').pop();
      assert.match(before, /^\s*\/\*\*.*\*\/$/, `${iface}.${m[1]}: JSDoc on the line above`);
      if (m[2] === '?') assert.match(before, /[Dd]efault/, `${iface}.${m[1]}: its default`);
    }
  }
});
