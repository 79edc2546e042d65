'use strict';
// Timing helpers for bench/bench.js.

const fs = require('node:fs');

// The main thread's own CPU time in ns (schedstat: time on CPU), not the process's: flagwire's
// sender threads and libuv's pool are not the caller's cost.
const schedstat = `/proc/self/task/${process.pid}/schedstat`;
function mainThreadCpuNs() {
  return Number(fs.readFileSync(schedstat, 'latin1').split(' ')[0]);
}

function nowNs() {
  return Number(process.hrtime.bigint());
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function summary(values) {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), samples: values.length };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Full GC between rounds when node runs with --expose-gc, so one library's garbage is not the other's cost. */
async function quiet() {
  if (global.gc) global.gc();
  await settle();
}

module.exports = { mainThreadCpuNs, nowNs, median, summary, settle, quiet };
