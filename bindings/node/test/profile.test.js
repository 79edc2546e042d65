'use strict';
// Segment Profile API lookups (docs/design.md §7) against the collector's fixture routes: async,
// on the thread pool, never blocking the event loop.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client } = require('..');
const { startCollector, clientOptions } = require('./helpers');

const FIXTURE = {
  space_id: 'spa_test', access_token: 'tok_test',
  profiles: [
    { external_ids: [{ type: 'user_id', id: 'u1' }, { type: 'anonymous_id', id: 'anon-1' }],
      traits: { plan: 'pro', seats: 12, beta: true, 'Zürich': '✓' },
      links: [{ type: 'group_id', id: 'acme' }] },
    { external_ids: [{ type: 'anonymous_id', id: 'anon-2' }], traits: { plan: 'free' } },
  ],
};

let collector;
before(async () => {
  collector = await startCollector();
  await collector.control('/_test/profiles', FIXTURE);
});
after(() => collector.stop());

const profileClient = (profile = {}, options = {}) => new Client(clientOptions(collector, {
  profile: { spaceId: 'spa_test', accessToken: 'tok_test', endpoint: collector.url, timeoutMs: 2000, ...profile }, ...options,
}));

test('attributes and the canonical user id', async () => {
  const fw = profileClient();
  assert.deepEqual(await fw.profileAttributes('user_id:u1'), { plan: 'pro', seats: 12, beta: true, 'Zürich': '✓' });
  assert.equal(await fw.profileUserId('anonymous_id:anon-1'), 'u1');
  await fw.close();
});

test('account bucketing and the trait list (nested options mapped too)', async () => {
  const fw = profileClient({ accountBucketing: true, traits: ['plan'] });
  assert.deepEqual(await fw.profileAttributes('user_id:u1'), { plan: 'pro', $opt_bucketing_id: 'acme' });
  await fw.close();
});

test('no profile, no user_id, or the API unavailable: null, and the loop keeps running', async () => {
  const lines = [];
  const fw = profileClient({ timeoutMs: 300 }, { onLog: (level, message) => lines.push(`${level} ${message}`) });
  assert.equal(await fw.profileAttributes('user_id:nobody'), null);
  assert.equal(await fw.profileUserId('anonymous_id:anon-2'), null);
  await collector.control('/_test/profile_script', [{ status: 503 }, { hang: true }]);
  assert.equal(await fw.profileAttributes('user_id:fresh-1'), null);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  assert.equal(await fw.profileAttributes('user_id:fresh-2'), null); // waits out timeoutMs
  clearInterval(timer);
  assert.ok(ticks > 0, 'timers ran during the lookup');
  await fw.close();
  assert.ok(lines.some((l) => /^warn profile "user_id:fresh-1": .*503/.test(l)), lines.join('\n'));
});

test('errors: no profile configured, a malformed identifier, not a string', async () => {
  const plain = new Client(clientOptions(collector));
  await assert.rejects(plain.profileAttributes('user_id:u1'), { code: 'FLAGWIRE_INVALID_CONFIG', message: /profile/ });
  await plain.close();
  const fw = profileClient();
  await assert.rejects(fw.profileAttributes('no-colon'), { code: 'FLAGWIRE_INVALID_JSON' });
  await assert.rejects(fw.profileUserId(42), TypeError);
  await fw.close();
});

test('many lookups in flight at once, then close', async () => {
  const fw = profileClient();
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => fw.profileUserId(i % 2 ? 'anonymous_id:anon-1' : 'user_id:u1')));
  assert.deepEqual(new Set(results), new Set(['u1']));
  const pending = fw.profileAttributes('user_id:u1');
  assert.equal(await fw.close(), true); // waits for the lookup in flight
  assert.equal((await pending).plan, 'pro');
});
