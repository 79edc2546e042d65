'use strict';
// The Client: options in, decisions and messages to the core, blocking calls off the event loop.
// It only converts (docs/design.md §8): what is an exposure, the event, batching, retries and
// validation are the core's.

const { addon, checked, DROPPED } = require('./native');
const { STATUS, statusName } = require('./status');
const { FlagwireError, closedError } = require('./errors');
const { RecordWriter } = require('./record');
const { attach } = require('./attach');
const { consoleLog, safeLogger, dispatcher } = require('./logging');
const exitHooks = require('./exit');

// One writer per thread; every client encodes into it between two synchronous calls.
const writer = new RecordWriter((buffer) => addon.setRecordBuffer(buffer));

const PROFILE_ATTRIBUTES = 1; // FLAGWIRE_PROFILE_FIELD_ATTRIBUTES
const PROFILE_USER_ID = 2; // FLAGWIRE_PROFILE_FIELD_USER_ID
const OUTCOMES = ['ok', 'skipped'];
OUTCOMES[STATUS.QUEUE_FULL] = 'queue_full';
OUTCOMES[STATUS.TOO_LARGE] = 'too_large';

/** Options this binding keeps; every other option goes to the core (docs/design.md §3). */
const BINDING_OPTIONS = new Set(['onLog', 'closeOnExit', 'closeTimeoutMs']);

class Client {
  #handle; // the native client; null once close() started
  #sink = null; // the addon's log sink, when lines go to JS
  #log; // (level, message) => void, never throws
  #attachment = null;
  #inFlight = new Set(); // promises of blocking calls on the thread pool
  #closing = null;
  #closeOnExit;
  #listenerErrors = 0;
  #warnedListener = false;

  /**
   * @param {object} options `writeKey` and any core config key (docs/design.md §3), camelCase
   *   (`flushIntervalMs`) or as the core spells it (`flush_interval_ms`); plus this binding's
   *   `onLog(level, message)`, `closeOnExit` (true) and `closeTimeoutMs` (5000).
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('flagwire: new Client(options) needs an object');
    const { onLog, closeOnExit = true, closeTimeoutMs = 5000 } = options;
    if (onLog !== undefined && typeof onLog !== 'function') throw new TypeError('flagwire: onLog must be a function');
    this.closeTimeoutMs = timeout(closeTimeoutMs, 'closeTimeoutMs');
    this.#closeOnExit = closeOnExit !== false;
    this.#log = safeLogger(onLog || consoleLog);

    const config = {};
    for (const [key, value] of Object.entries(options)) {
      if (!BINDING_OPTIONS.has(key) && value !== undefined) config[snakeCase(key)] = snakeKeys(value);
    }
    const result = addon.init(JSON.stringify(config));
    if (Array.isArray(result)) checked(result, 0); // throws INVALID_CONFIG naming the key
    this.#handle = result;
    const sink = addon.setLogger(this.#handle, dispatcher(this.#log));
    if (typeof sink === 'number') {
      addon.shutdown(this.#handle, 0);
      throw new FlagwireError(sink, `flagwire: set_log_callback: ${statusName(sink)}`);
    }
    this.#sink = sink;
    if (this.#closeOnExit) exitHooks.register(this);
  }

  /**
   * The one call helper (docs/design.md §8): closed check, call, status check. Returns the status
   * (OK, SKIPPED, or one whose bit is in `tolerate`); throws FlagwireError otherwise.
   */
  #call(fn, a, b, tolerate = 0) {
    const handle = this.#handle;
    if (handle === null) throw closedError();
    return checked(fn(handle, a, b), tolerate);
  }

  /** The same for the blocking calls, which run on libuv's thread pool; close() waits for them. */
  async #callAsync(fn, a, b) {
    const handle = this.#handle;
    if (handle === null) throw closedError();
    const pending = fn(handle, a, b);
    this.#inFlight.add(pending);
    try {
      return await pending;
    } finally {
      this.#inFlight.delete(pending);
    }
  }

  /**
   * The DECISION listener: one notification of @optimizely/optimizely-sdk. A `flag` decision goes
   * to the core as one decision record, any other type as JSON. Returns 'ok' (an event was
   * queued), 'skipped' (not an exposure), 'queue_full' / 'too_large' (dropped, counted), or null
   * (refused or closed; counted in stats().listener_errors). Never throws.
   */
  onDecision(notification) {
    try {
      let status;
      if (notification.type === 'flag') {
        const info = notification.decisionInfo;
        const len = writer.flagRecord(notification.userId, info, attributesJson(notification.attributes));
        status = this.#call(addon.onDecisionRecord, len, undefined, DROPPED);
      } else {
        const len = writer.text(JSON.stringify(notification)); // may grow writer.buffer
        status = this.#call(addon.onNotificationJson, writer.buffer, len, DROPPED);
      }
      return OUTCOMES[status];
    } catch (e) {
      this.#listenerError(e);
      return null;
    }
  }

  #listenerError(e) {
    this.#listenerErrors++;
    if (!this.#warnedListener) {
      this.#warnedListener = true;
      this.#log('warn', `DECISION listener: a decision was not sent (${e && e.message}); counted in stats().listener_errors, warned once`);
    }
  }

  /**
   * Registers the DECISION listener and a config-update listener that pushes the datafile (now,
   * and on every update) on the Optimizely client's notification center. Throws
   * FLAGWIRE_ALREADY_ATTACHED when this client, or any flagwire client, is attached to it already.
   * @returns {{detach(): boolean}}
   */
  attach(optimizely) {
    if (this.#handle === null) throw closedError();
    if (this.#attachment !== null && this.#attachment.active) {
      throw new FlagwireError(null, 'flagwire: this client is already attached; detach() first', 'FLAGWIRE_ALREADY_ATTACHED');
    }
    this.#attachment = attach(optimizely, (n) => this.onDecision(n), (datafile) => this.#pushDatafile(datafile));
    return this.#attachment;
  }

  /** Removes the listeners attach() registered; false when not attached. */
  detach() {
    return this.#attachment !== null && this.#attachment.detach();
  }

  #pushDatafile(datafile) {
    try {
      if (datafile !== null) this.setDatafile(datafile);
    } catch (e) {
      this.#log('warn', `datafile not taken (${e.message}); the previous one is kept`);
    }
  }

  /** Gives the core the Optimizely datafile (what attach() does). Throws INVALID_JSON (the previous one is kept). */
  setDatafile(datafile) {
    const text = typeof datafile === 'string' ? datafile : JSON.stringify(datafile);
    const len = writer.text(text); // may grow writer.buffer
    this.#call(addon.setDatafileJson, writer.buffer, len);
  }

  /**
   * Queues any Segment message (track, identify, page, screen, group, alias), validated as
   * Segment's libraries do. true: queued; false: dropped and counted (queue full, over 32 KB).
   * Throws INVALID_JSON with the reason.
   */
  enqueue(message) {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    const len = writer.text(text); // may grow writer.buffer
    return this.#call(addon.enqueueJson, writer.buffer, len, DROPPED) === STATUS.OK;
  }

  /** Resolves true once everything queued before the call is delivered (or failed), false at the deadline (nothing lost). */
  async flush(timeoutMs = 5000) {
    const status = await this.#callAsync(addon.flush, timeout(timeoutMs, 'timeoutMs'));
    if (status === STATUS.OK || status === STATUS.TIMEOUT) return status === STATUS.OK;
    throw new FlagwireError(status);
  }

  /** The core's counters (docs/design.md §6) plus this binding's listener_errors and log_lines_dropped. */
  stats() {
    if (this.#handle === null) throw closedError();
    const stats = JSON.parse(addon.stats(this.#handle));
    stats.listener_errors = this.#listenerErrors;
    stats.log_lines_dropped = addon.logDropped(this.#sink);
    return stats;
  }

  /** Segment Profile API: the profile's traits as Optimizely attributes, or null (no profile, API unavailable). */
  async profileAttributes(identifier) {
    const value = await this.#profileLookup(PROFILE_ATTRIBUTES, identifier);
    return value === null ? null : JSON.parse(value);
  }

  /** Segment Profile API: the profile's canonical user_id, or null. */
  profileUserId(identifier) {
    return this.#profileLookup(PROFILE_USER_ID, identifier);
  }

  async #profileLookup(field, identifier) {
    if (typeof identifier !== 'string') throw new TypeError('flagwire: the identifier is a string "<type>:<value>", e.g. "user_id:abc"');
    const [status, value, message] = await this.#callAsync(addon.profileLookup, field, identifier);
    if (status === STATUS.OK) return value;
    if (status === STATUS.NOT_FOUND || status === STATUS.UNAVAILABLE) return null;
    throw new FlagwireError(status, message && `flagwire: ${message}`);
  }

  /**
   * Detaches, waits for blocking calls in flight, delivers what is queued within `timeoutMs`,
   * stops the sender and frees the client. Resolves true when everything was delivered (or failed
   * for good), false when the deadline passed (the rest is dropped, and logged). Every call
   * returns the same promise.
   */
  close(timeoutMs = this.closeTimeoutMs) {
    if (this.#closing === null) this.#closing = this.#close(timeout(timeoutMs, 'timeoutMs'));
    return this.#closing;
  }

  async #close(timeoutMs) {
    this.detach();
    const handle = this.#handle;
    this.#handle = null;
    if (this.#closeOnExit) exitHooks.unregister(this);
    await Promise.allSettled([...this.#inFlight]);
    const status = await addon.shutdown(handle, timeoutMs);
    // The core calls the log callback no more: deliver the lines still queued, then free the sink.
    await addon.releaseLogger(this.#sink);
    return status === STATUS.OK;
  }

  /** True once close() was called. */
  get closed() {
    return this.#handle === null;
  }

  /** The process is exiting with no loop left: flush synchronously, logs to stderr (lib/exit.js). */
  [exitHooks.FLUSH_AT_EXIT]() {
    if (this.#handle === null) return;
    addon.logToStderr(this.#handle);
    addon.flushSync(this.#handle, this.closeTimeoutMs);
  }
}

/** JSON of the user's attributes, or undefined when there are none. */
function attributesJson(attributes) {
  if (attributes === null || typeof attributes !== 'object') return undefined;
  for (const _ in attributes) return JSON.stringify(attributes);
  return undefined;
}

/** flushIntervalMs -> flush_interval_ms; keys already in snake_case are unchanged. */
function snakeCase(key) {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Nested option objects (`profile`) get the same key mapping; arrays and values are kept. */
function snakeKeys(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) out[snakeCase(k)] = snakeKeys(v);
  return out;
}

function timeout(ms, name) {
  if (!Number.isInteger(ms) || ms < 0 || ms > 0xffffffff) throw new RangeError(`flagwire: ${name} must be an integer number of milliseconds, 0..2^32-1`);
  return ms;
}

module.exports = { Client };
