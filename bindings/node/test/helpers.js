'use strict';
// Shared by the tests and benchmarks: the project's Segment-compatible collector binary
// (target/release/flagwire-collector, 127.0.0.1 only) and its /_test/ control routes.

const { before, after, beforeEach } = require('node:test');
const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');

const repo = path.resolve(__dirname, '..', '..', '..');
const collectorBin = process.env.FLAGWIRE_COLLECTOR || path.join(repo, 'target', 'release', 'flagwire-collector');
const dataDir = path.join(repo, 'tests', 'data');

/** Starts the collector; resolves with {url, control, stop}. Extra args go to the binary. */
function startCollector(args = []) {
  const child = spawn(collectorBin, ['--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  // Never outlive this process, whatever ends it.
  process.once('exit', () => child.kill());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('collector: no URL within 10 s')), 10_000);
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`collector exited (${code}) before printing its URL`)));
    readline.createInterface({ input: child.stdout }).once('line', (url) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve(new Collector(url.trim(), child));
    });
  });
}

class Collector {
  constructor(url, child) {
    this.url = url;
    this.child = child;
  }

  async control(route, body) {
    const res = await fetch(this.url + route, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
    const json = await res.json();
    if (!res.ok) throw new Error(`${route}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  /** Every accepted message, in arrival order. */
  async messages() {
    return (await this.control('/_test/messages')).messages;
  }

  /** Waits (bounded) until `count` messages arrived; returns whether they did. */
  async wait(count, timeoutMs = 10_000) {
    return (await this.control(`/_test/wait?count=${count}&timeout_ms=${timeoutMs}`)).ok;
  }

  reset() {
    return this.control('/_test/reset', {});
  }

  /** Appends fault-script steps, e.g. [{status: 200, delay_ms: 1500}]. */
  script(steps) {
    return this.control('/_test/script', steps);
  }

  stop() {
    this.child.kill();
  }
}

/** One collector for the calling test file, reset before each test (filled in by `before`). */
function useCollector() {
  const collector = new Collector(null, null);
  before(async () => {
    const started = await startCollector();
    collector.url = started.url;
    collector.child = started.child;
  });
  after(() => collector.stop());
  beforeEach(() => collector.reset());
  return collector;
}

/** Options for a client sending to `collector` quickly. */
function clientOptions(collector, extra = {}) {
  return { writeKey: 'node-test-key', endpoint: collector.url, flushIntervalMs: 50, closeOnExit: false, ...extra };
}

module.exports = { startCollector, useCollector, clientOptions, repo, dataDir };
