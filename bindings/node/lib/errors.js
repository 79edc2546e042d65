'use strict';
const { STATUS, statusName } = require('./status');

/**
 * Every error flagwire throws or rejects with. `status` is the C ABI status (docs/design.md §2.6)
 * or null for the binding's own errors; `code` is "FLAGWIRE_<STATUS NAME>" or, for the binding's
 * own, "FLAGWIRE_LOAD" / "FLAGWIRE_ALREADY_ATTACHED".
 */
class FlagwireError extends Error {
  constructor(status, message, code) {
    super(message || (status === null ? 'flagwire error' : `flagwire: ${statusName(status)}`));
    this.name = 'FlagwireError';
    this.status = status;
    this.code = code || `FLAGWIRE_${statusName(status)}`;
  }
}

function closedError() {
  return new FlagwireError(STATUS.CLOSED, 'flagwire: the client is closed');
}

module.exports = { FlagwireError, closedError };
