'use strict';
// Loading: the bundled library, FLAGWIRE_LIBRARY_PATH, the ABI check, and the status table
// against include/flagwire.h.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const flagwire = require('..');
const { repo } = require('./helpers');

const packageDir = path.resolve(__dirname, '..');

test('the status table is the header\'s', () => {
  const header = fs.readFileSync(path.join(repo, 'include', 'flagwire.h'), 'utf8');
  const fromHeader = {};
  for (const [, name, number] of header.matchAll(/FLAGWIRE_STATUS_([A-Z0-9_]+) = (\d+),/g)) fromHeader[name] = Number(number);
  assert.ok(Object.keys(fromHeader).length >= 14, 'parsed the header');
  assert.deepEqual({ ...flagwire.STATUS }, fromHeader);
  assert.equal(flagwire.statusName(6), 'QUEUE_FULL');
});

test('the record layout constants are the header\'s', () => {
  const header = fs.readFileSync(path.join(repo, 'include', 'flagwire.h'), 'utf8');
  const define = (name) => Number(header.match(new RegExp(`#define ${name} (\\d+)`))[1]);
  const record = require('../lib/record');
  assert.equal(record.HEADER_LEN, define('FLAGWIRE_RECORD_HEADER_LEN'));
  assert.equal(record.FORMAT_FLAG_DECISION, define('FLAGWIRE_RECORD_FORMAT_FLAG_DECISION'));
});

test('loads the bundled library and checks ABI 2', () => {
  assert.equal(flagwire.abiVersion, 2);
  assert.equal(flagwire.version, '0.2.0');
  assert.equal(flagwire.libraryPath, path.join(packageDir, 'prebuilds', `${process.platform}-${process.arch}`, 'libflagwire.so'));
  const header = fs.readFileSync(path.join(repo, 'include', 'flagwire.h'), 'utf8');
  assert.match(header, new RegExp(`#define FLAGWIRE_ABI_VERSION ${flagwire.abiVersion}\\b`));
});

/** Requires the package in a child process with FLAGWIRE_LIBRARY_PATH set; returns its result. */
function loadWith(libraryPath) {
  const r = spawnSync(process.execPath, ['-e', `
    try { const f = require(${JSON.stringify(packageDir)}); console.log(JSON.stringify({ path: f.libraryPath, version: f.version })); }
    catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }`],
  { env: { ...process.env, FLAGWIRE_LIBRARY_PATH: libraryPath }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('FLAGWIRE_LIBRARY_PATH overrides the bundled library', () => {
  const lib = path.join(repo, 'target', 'release', 'libflagwire.so');
  assert.deepEqual(loadWith(lib), { path: lib, version: '0.2.0' });
});

test('a missing or foreign library is refused with a clear message', () => {
  const missing = loadWith('/nonexistent/libflagwire.so');
  assert.equal(missing.code, 'FLAGWIRE_LOAD');
  assert.match(missing.message, /cannot load \/nonexistent\/libflagwire.so/);
  const libc = execFileSync('gcc', ['-print-file-name=libc.so.6'], { encoding: 'utf8' }).trim();
  const foreign = loadWith(libc);
  assert.equal(foreign.code, 'FLAGWIRE_LOAD');
  assert.match(foreign.message, /is not a flagwire library: no symbol flagwire_abi_version/);
});

test('a library of another ABI version is refused', () => {
  // A stand-in exporting every symbol the addon looks up, reporting ABI 3.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flagwire-abi-'));
  try {
    const names = ['version', 'init', 'set_log_callback', 'set_datafile_json', 'on_decision_record',
      'on_notification_json', 'enqueue_json', 'profile_lookup', 'flush', 'stats', 'string_free', 'shutdown'];
    const source = ['unsigned flagwire_abi_version(void) { return 3; }',
      ...names.map((n) => `void flagwire_${n}(void) {}`)].join('\n');
    fs.writeFileSync(path.join(dir, 'abi3.c'), source);
    execFileSync('gcc', ['-shared', '-fPIC', '-o', path.join(dir, 'libabi3.so'), path.join(dir, 'abi3.c')]);
    const r = loadWith(path.join(dir, 'libabi3.so'));
    assert.equal(r.code, 'FLAGWIRE_LOAD');
    assert.match(r.message, /has C ABI version 3; this package needs 2/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
