'use strict';
// Loads the addon and the core library bundled in prebuilds/<platform>-<arch>/ (or the library
// named by FLAGWIRE_LIBRARY_PATH) and checks the ABI version (docs/design.md §2.1).

const path = require('path');
const { FlagwireError } = require('./errors');
const { STATUS } = require('./status');

/** The C ABI this package is written for. */
const ABI_VERSION = 2;

const platform = `${process.platform}-${process.arch}`;
const prebuilds = path.join(__dirname, '..', 'prebuilds', platform);

function loadError(message) {
  return new FlagwireError(null, `flagwire: ${message}`, 'FLAGWIRE_LOAD');
}

let addon;
try {
  addon = require(path.join(prebuilds, 'flagwire.node'));
} catch (e) {
  throw loadError(`no native addon for ${platform} (${path.join(prebuilds, 'flagwire.node')}): ${e.message}`);
}

const libraryPath = process.env.FLAGWIRE_LIBRARY_PATH || path.join(prebuilds, 'libflagwire.so');
let loaded;
try {
  loaded = addon.load(libraryPath);
} catch (e) {
  throw loadError(e.message);
}
if (loaded.abi !== ABI_VERSION) {
  throw loadError(`${libraryPath} has C ABI version ${loaded.abi}; this package needs ${ABI_VERSION}`);
}

/**
 * Turns a native result into a status: OK and SKIPPED arrive as numbers; any other status arrives
 * as [status, message] and is returned when its bit is in `tolerate`, else thrown with this
 * call's own message (the addon has already freed the library's string).
 */
function checked(result, tolerate) {
  if (typeof result === 'number') return result;
  const status = result[0];
  if ((tolerate & (1 << status)) !== 0) return status;
  throw new FlagwireError(status, result[1] ? `flagwire: ${result[1]}` : undefined);
}

/** Bit mask for `checked`: dropping an event (counted by the core) is an outcome, not an error. */
const DROPPED = (1 << STATUS.QUEUE_FULL) | (1 << STATUS.TOO_LARGE);

module.exports = {
  addon,
  checked,
  DROPPED,
  ABI_VERSION,
  libraryPath,
  libraryVersion: loaded.version,
};
