'use strict';
// The npm package: `npm pack` carries the addon and the library, installs into a clean project
// with nothing from a registry, and delivers; its TypeScript types check against a usage file.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { startCollector } = require('./helpers');

const packageDir = path.resolve(__dirname, '..');
const platform = `${process.platform}-${process.arch}`;
let collector;
let tmp;
before(async () => {
  collector = await startCollector();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flagwire-pack-'));
});
after(() => {
  collector.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 120_000 });

test('npm pack: the tarball installs into a clean project and delivers', async () => {
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', tmp], packageDir));
  const files = packed.files.map((f) => f.path).sort();
  for (const f of ['index.d.ts', 'lib/index.js', 'package.json', 'README.md', `prebuilds/${platform}/flagwire.node`, `prebuilds/${platform}/libflagwire.so`]) {
    assert.ok(files.includes(f), `${f} in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('node_modules/')));

  const project = path.join(tmp, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // --offline: the package has no dependencies, so nothing may come from a registry.
  npm(['install', '--offline', path.join(tmp, packed.filename)], project);
  const script = `
    const flagwire = require('flagwire');
    const fw = new flagwire.Client({ writeKey: 'packed', endpoint: process.argv[1], closeOnExit: false });
    fw.onDecision({ type: 'flag', userId: 'packed-user', attributes: { plan: 'pro' }, decisionInfo: {
      flagKey: 'checkout_flow', ruleKey: 'checkout_ab', variationKey: 'treatment', enabled: true,
      decisionEventDispatched: true, experimentId: '2001', variationId: '5002' } });
    fw.close().then((ok) => console.log(JSON.stringify({ ok, path: flagwire.libraryPath, version: flagwire.version })));`;
  const env = { ...process.env };
  delete env.FLAGWIRE_LIBRARY_PATH;
  const r = spawnSync(process.execPath, ['-e', script, collector.url], { cwd: project, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out, { ok: true, path: path.join(fs.realpathSync(project), 'node_modules', 'flagwire', 'prebuilds', platform, 'libflagwire.so'), version: '0.2.0' });
  const [m] = await collector.messages();
  assert.equal(m.userId, 'packed-user');
  assert.equal(m.properties.variation_id, '5002');
});

test('TypeScript: index.d.ts checks against the README usage', () => {
  // Resolve 'flagwire' to this package, as an installed dependency would.
  const config = {
    compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022',
      types: [], skipLibCheck: true, paths: { flagwire: ['./index.d.ts'] } },
    files: ['test/types-usage.ts'],
  };
  const configPath = path.join(packageDir, 'tsconfig.test.json');
  fs.writeFileSync(configPath, JSON.stringify(config));
  try {
    const r = spawnSync(path.join(packageDir, 'node_modules', '.bin', 'tsc'), ['-p', configPath], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  } finally {
    fs.rmSync(configPath, { force: true });
  }
});
