'use strict';
// The C ABI's statuses (docs/design.md §2.6): stable numbers, only ever appended.
// test/native.test.js checks this table against include/flagwire.h.

const STATUS = Object.freeze({
  OK: 0,
  SKIPPED: 1,
  NULL_ARGUMENT: 2,
  INVALID_UTF8: 3,
  INVALID_JSON: 4,
  INVALID_CONFIG: 5,
  QUEUE_FULL: 6,
  TOO_LARGE: 7,
  CLOSED: 8,
  TIMEOUT: 9,
  PANIC: 10,
  NOT_FOUND: 11,
  UNAVAILABLE: 12,
  INVALID_ARGUMENT: 13,
});

const NAMES = [];
for (const [name, number] of Object.entries(STATUS)) NAMES[number] = name;

/** The status's name (e.g. "QUEUE_FULL"), or "STATUS_<n>" for a number this table lacks. */
function statusName(status) {
  return NAMES[status] || `STATUS_${status}`;
}

module.exports = { STATUS, statusName };
