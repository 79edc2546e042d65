'use strict';
// The real @optimizely/optimizely-sdk, offline: a static datafile and an event processor that
// forwards impressions in-process (no network), so what Optimizely would count is known.

const fs = require('fs');
const path = require('path');
const optimizely = require('@optimizely/optimizely-sdk');
const { dataDir } = require('./helpers');

function readDatafile(name) {
  return fs.readFileSync(path.join(dataDir, name), 'utf8');
}

/** A ready SDK client; `impressions` collects the events it dispatched. */
async function offlineSdk(datafile) {
  const impressions = [];
  const client = optimizely.createInstance({
    projectConfigManager: optimizely.createStaticProjectConfigManager({ datafile }),
    eventProcessor: optimizely.createForwardingEventProcessor({
      dispatchEvent: async (event) => {
        impressions.push(event);
        return { statusCode: 200 };
      },
    }),
  });
  await client.onReady({ timeout: 5000 });
  return { client, impressions };
}

/** flagKey -> ruleKey -> {experiment, id, variations: {key: id}} from the datafile's own lists. */
function ruleIndex(datafileText) {
  const d = JSON.parse(datafileText);
  const experiments = [...d.experiments, ...d.groups.flatMap((g) => g.experiments)];
  const byId = new Map(experiments.map((e) => [e.id, e]));
  const rollouts = new Map(d.rollouts.map((r) => [r.id, r]));
  const index = {};
  for (const flag of d.featureFlags) {
    const rules = (index[flag.key] = {});
    const add = (rule, experiment) => {
      rules[rule.key] = { experiment, id: rule.id, variations: Object.fromEntries(rule.variations.map((v) => [v.key, v.id])) };
    };
    for (const id of flag.experimentIds) add(byId.get(id), true);
    for (const rule of rollouts.get(flag.rolloutId).experiments) add(rule, false);
  }
  return index;
}

/** [{userId, flagKey, ruleKey, variationKey, experimentId, variationId, enabled, attributes}] an SDK decision implies. */
function expectedExposure(index, userId, attributes, decision, dispatched) {
  const rule = decision.ruleKey && index[decision.flagKey][decision.ruleKey];
  if (!rule || !rule.experiment || !dispatched) return null;
  return {
    userId, flagKey: decision.flagKey, ruleKey: decision.ruleKey, variationKey: decision.variationKey,
    experimentId: rule.id, variationId: rule.variations[decision.variationKey], enabled: decision.enabled, attributes,
  };
}

/** The same fields read back from an "Experiment Viewed" message the collector received. */
function receivedExposure(m) {
  const p = m.properties;
  return {
    userId: m.userId, flagKey: p.flagKey, ruleKey: p.ruleKey, variationKey: p.variationKey,
    experimentId: p.experiment_id, variationId: p.variation_id, enabled: p.enabled, attributes: p.userAttributes,
  };
}

module.exports = { optimizely, readDatafile, offlineSdk, ruleIndex, expectedExposure, receivedExposure };
