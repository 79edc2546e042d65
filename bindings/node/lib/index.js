'use strict';
// flagwire for Node.js: Optimizely DECISION notifications to Segment "Experiment Viewed" events,
// through the flagwire native core. README.md is the guide; index.d.ts the types.

const { Client } = require('./client');
const { FlagwireError } = require('./errors');
const { STATUS, statusName } = require('./status');
const native = require('./native');

module.exports = {
  Client,
  FlagwireError,
  STATUS,
  statusName,
  /** The core library's version, e.g. "0.2.0". */
  version: native.libraryVersion,
  /** The C ABI version this package checked at load (2). */
  abiVersion: native.ABI_VERSION,
  /** The library loaded: FLAGWIRE_LIBRARY_PATH, or the one bundled in prebuilds/. */
  libraryPath: native.libraryPath,
};
