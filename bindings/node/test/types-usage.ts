// Type-checked by test/package.test.js (tsc --noEmit --strict) against index.d.ts: the README's
// usage, as a TypeScript user writes it.
import { Client, FlagwireError, STATUS, version, type Stats, type DecisionOutcome } from 'flagwire';
import { createInstance, createStaticProjectConfigManager } from '@optimizely/optimizely-sdk';

async function main(datafile: string): Promise<void> {
  const optimizely = createInstance({ projectConfigManager: createStaticProjectConfigManager({ datafile }) });
  const flagwire = new Client({
    writeKey: 'key',
    flushIntervalMs: 500,
    logLevel: 'debug',
    profile: { spaceId: 'spa', accessToken: 'tok', timeoutMs: 300 },
    maxInFlight: 8,
    maxRequestsPerSecond: 100,
    includeHoldouts: false,
    holdMaxEvents: 0,
    maxExposureCounters: 100,
    dedupe: { windowMs: 3_600_000, maxEntries: 10_000, deriveMessageIds: true },
    spool: { dir: '/var/lib/app/flagwire', maxBytes: 1 << 30, sync: 'always', syncIntervalMs: 1000 },
    onLog: (level, message) => console.log(level.toUpperCase(), message),
  });
  const attachment = flagwire.attach(optimizely);
  const attributes = (await flagwire.profileAttributes('user_id:u1')) ?? {};
  optimizely.createUserContext('u1', attributes as Record<string, string>).decide('checkout_flow');
  const outcome: DecisionOutcome = flagwire.onDecision({ type: 'flag', userId: 'u1', decisionInfo: {} });
  const queued: boolean = flagwire.enqueue({ type: 'track', userId: 'u1', event: 'Order Completed' });
  const delivered: boolean = await flagwire.flush(2000);
  const stats: Stats = flagwire.stats();
  const n: number = stats.dropped_queue_full + stats.listener_errors + stats.deduplicated + stats.spool_safe;
  const treatment: number = stats.exposures_by_variation.find((c) => c.variation_key === 'treatment')?.exposures ?? 0;
  attachment.detach();
  try {
    flagwire.setDatafile(datafile);
  } catch (e) {
    if (e instanceof FlagwireError && e.status === STATUS.INVALID_JSON) console.log(e.code);
  }
  const closed: boolean = await flagwire.close();
  console.log(version, outcome, queued, delivered, n, treatment, closed);
}
void main;
