'use strict';
// attach(): the DECISION listener and the datafile push on @optimizely/optimizely-sdk's notification
// center (docs/design.md §8). The SDK accepts the same callback twice, so the refusal of a second
// attachment (the integration guides' "duplicate events" pitfall) is kept here.

const { FlagwireError } = require('./errors');

// NOTIFICATION_TYPES.DECISION and .OPTIMIZELY_CONFIG_UPDATE of @optimizely/optimizely-sdk 5.x and
// 6.x (lib/notification_center/type.ts); the SDK is not a dependency of this package.
const DECISION = 'DECISION';
const CONFIG_UPDATE = 'OPTIMIZELY_CONFIG_UPDATE';

/** Optimizely client -> the Attachment on it, across every flagwire client in this process. */
const attachments = new WeakMap();

class Attachment {
  constructor(optimizely, ids) {
    this.optimizely = optimizely;
    this.ids = ids;
    this.active = true;
  }

  /** Removes both listeners; false when already detached. */
  detach() {
    if (!this.active) return false;
    this.active = false;
    attachments.delete(this.optimizely);
    for (const id of this.ids) this.optimizely.notificationCenter.removeNotificationListener(id);
    return true;
  }
}

/**
 * Registers `onDecision` for DECISION and `pushDatafile` for OPTIMIZELY_CONFIG_UPDATE, and pushes
 * the current datafile when the SDK has one (a static or cached datafile is set before any
 * listener could hear the update).
 */
function attach(optimizely, onDecision, pushDatafile) {
  const center = optimizely && optimizely.notificationCenter;
  if (!center || typeof center.addNotificationListener !== 'function') {
    throw new TypeError('flagwire: attach() needs an Optimizely client (createInstance of @optimizely/optimizely-sdk)');
  }
  if (attachments.has(optimizely)) {
    throw new FlagwireError(null, 'flagwire: a flagwire client is already attached to this Optimizely client (a second listener would send every exposure twice)', 'FLAGWIRE_ALREADY_ATTACHED');
  }
  const ids = [];
  const add = (type, fn) => {
    const id = center.addNotificationListener(type, fn);
    if (typeof id !== 'number' || id < 0) {
      for (const added of ids) center.removeNotificationListener(added);
      throw new FlagwireError(null, `flagwire: the SDK refused the ${type} listener (${id})`, 'FLAGWIRE_ATTACH');
    }
    ids.push(id);
  };
  add(DECISION, onDecision);
  add(CONFIG_UPDATE, () => pushDatafile(currentDatafile(optimizely)));
  const attachment = new Attachment(optimizely, ids);
  attachments.set(optimizely, attachment);
  const datafile = currentDatafile(optimizely);
  if (datafile !== null) pushDatafile(datafile);
  return attachment;
}

/** The SDK's datafile text, or null before its config is ready. */
function currentDatafile(optimizely) {
  const config = typeof optimizely.getOptimizelyConfig === 'function' ? optimizely.getOptimizelyConfig() : null;
  return config && typeof config.getDatafile === 'function' ? config.getDatafile() : null;
}

module.exports = { attach, Attachment };
