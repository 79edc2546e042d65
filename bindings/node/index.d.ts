// Types for flagwire (Node.js binding). README.md describes the behaviour; docs/design.md in the
// repository is the contract (§3 config, §6 stats, §7 Profile API).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The Segment Profile API settings (docs/design.md §7); camelCase or snake_case keys. */
export interface ProfileOptions {
  /** Required: the Unify space id (docs/design.md §7). */
  spaceId: string;
  /** Required: the Profile API access token, sent as Basic auth and never logged (§7). */
  accessToken: string;
  /** Default 'https://profiles.segment.com'; EU 'https://profiles.euw1.segment.com' (§7). */
  endpoint?: string;
  /** Only these traits become attributes; default all (§7). */
  traits?: string[];
  /** Default false: the profile's group_id as `$opt_bucketing_id` (§7). */
  accountBucketing?: boolean;
  /** Default 120000 (0..86400000): answers served from the cache this long (§7). */
  cacheTtlMs?: number;
  /** Default 100000 (1..1000000): cache bound, allocated as used (§7). */
  cacheMaxEntries?: number;
  /** Default 300 (1..60000): longest a lookup waits (§7). */
  timeoutMs?: number;
  [coreKey: string]: unknown;
}

/** The opt-in dedupe window (docs/design.md §4.4); camelCase or snake_case keys. */
export interface DedupeOptions {
  /** Default 86400000 (1000..604800000): a repeat of the same assignment within this is not sent (§4.4). */
  windowMs?: number;
  /** Default 1000000 (0..10000000): (user, flag) pairs remembered, oldest evicted; 0 = derived ids only (§4.4). */
  maxEntries?: number;
  /** Default true: exposure messageIds are UUID v5 over (source, user, flag, rule, variation, window) (§4.4). */
  deriveMessageIds?: boolean;
  [coreKey: string]: unknown;
}

/** The opt-in disk spool (docs/design.md §5.1); camelCase or snake_case keys. */
export interface SpoolOptions {
  /** Required: the spool directory, created (mode 0700) when missing (§5.1). */
  dir: string;
  /** Default 1073741824 (1 MiB..64 GiB): disk bound in whole 4 KiB blocks; oldest files dropped beyond it (§5.1). */
  maxBytes?: number;
  /** Default 'interval': when written files are fsynced; what a machine crash may take (§5.1). */
  sync?: 'interval' | 'always' | 'never';
  /** Default 1000 (1..60000): with sync 'interval', written files are synced this often (§5.1). */
  syncIntervalMs?: number;
  [coreKey: string]: unknown;
}

/**
 * `writeKey` and the core's config keys (docs/design.md §3), camelCase here and mapped to the
 * core's snake_case (`flushIntervalMs` -> `flush_interval_ms`, in nested objects too); snake_case
 * keys pass unchanged. The core validates every key and value; errors name the key as the core
 * spells it (`max_in_flight`, `spool.max_bytes`).
 */
export interface ClientOptions {
  /** Required: the Segment source write key; Basic auth, never logged (docs/design.md §3). */
  writeKey: string;
  /** Default 'https://api.segment.io'; `/v1/batch` is appended (§3). */
  endpoint?: string;
  /** Default 250 (1..2500): a batch may leave once it holds this many (§3, §5). */
  batchSize?: number;
  /** Default 1000 (1..3600000): longest the oldest waiting event waits before its batch may leave (§3). */
  flushIntervalMs?: number;
  /** Default 200000 (1..10000000): bound on events held, in flight included (§3). */
  maxQueueEvents?: number;
  /** Default 67108864 (32000..4294967296): bound on serialized bytes held (§3). */
  maxQueueBytes?: number;
  /** Default 40 (1..64): requests in flight at once (§3). */
  maxInFlight?: number;
  /** Default 200 (1..100000): request budget, requests started per second (§3). */
  maxRequestsPerSecond?: number;
  /** Default 10 (0..100): attempts after the first, per batch (§3). */
  maxRetries?: number;
  /** Default 100 (1..60000): first backoff (§3). */
  backoffBaseMs?: number;
  /** Default 10000 (1..3600000, at least backoffBaseMs): longest backoff (§3). */
  backoffMaxMs?: number;
  /** Default 10000 (1..600000): per HTTP request (§3). */
  requestTimeoutMs?: number;
  /** Default true: gzip request bodies (§3). */
  gzip?: boolean;
  /** Default 'Experiment Viewed' (§3). */
  eventName?: string;
  /** Default 'both': the exposure's property names (§3, §4). */
  propertyStyle?: 'both' | 'optimizely' | 'segment';
  /** Default true: the Optimizely attributes go into `properties.userAttributes` (§3). */
  includeAttributes?: boolean;
  /** Default false: also emit for delivery (rollout) rules (§3). */
  includeRollouts?: boolean;
  /** Default true: emit for holdout decisions, `ruleType: "holdout"` (§3, §4). */
  includeHoldouts?: boolean;
  /** Default 1000 (0..100000): decisions held while the datafile lacks their rule; 0 = never hold (§3, §4). */
  holdMaxEvents?: number;
  /** Default 1048576 (0..67108864): bytes held likewise (§3). */
  holdMaxBytes?: number;
  /** Default 5000 (1..300000): a held decision then falls back to the no-datafile rule (§3). */
  holdTimeoutMs?: number;
  /** Default 10000 (0..1000000): (flag, rule, variation) counters in stats; more go to overflow (§3, §6). */
  maxExposureCounters?: number;
  /** Default 'userId': where the Optimizely user id goes (§3). */
  userIdField?: 'userId' | 'anonymousId';
  /** Default true: a decision with `decisionEventDispatched: false` is not an exposure (§3, §4). */
  honorDisableDecisionEvent?: boolean;
  /** Default false: plain http:// is refused except to loopback (§3). */
  allowInsecureHttp?: boolean;
  /** Default none: an `http://host:port` proxy for all requests (§3). */
  proxy?: string;
  /** Default none: extra trusted root certificates, PEM text (§3). */
  caCertsPem?: string;
  /** Lines below this level are not produced at all (default 'warn'); 'off' for none (§3, §2.4). */
  logLevel?: LogLevel | 'off';
  /** Default none: the Segment Profile API (§7). */
  profile?: ProfileOptions;
  /** Default none (every exposure sent): the dedupe window (§3, §4.4). */
  dedupe?: DedupeOptions;
  /** Default none (memory only): the disk spool (§3, §5.1). */
  spool?: SpoolOptions;

  /** Receives each log line on the event loop. Default: console.error for errors, else console.warn. */
  onLog?: (level: LogLevel, message: string) => void;
  /** Close on beforeExit and SIGTERM/SIGINT, flush on exit (README "Exit and signals"). Default true. */
  closeOnExit?: boolean;
  /** Deadline of close() and of the exit handling, in ms. Default 5000. */
  closeTimeoutMs?: number;
  [coreKey: string]: unknown;
}

/** One (flag, rule, variation) exposure counter of `Stats.exposures_by_variation` (docs/design.md §6). */
export interface ExposureCount {
  flag_key: string;
  rule_key: string;
  variation_key: string;
  exposures: number;
}

/**
 * The core's counters as the core names them (docs/design.md §6), plus this binding's two.
 * test/stats-types.test.js checks that these are exactly the members stats() returns.
 */
export interface Stats {
  /** Valid notifications seen. */
  decisions: number;
  /** Experiment Viewed events made (holdout ones included). */
  exposures: number;
  /** Decisions that were not exposures. */
  skipped: number;
  /** Messages accepted into the queue, exposures and enqueue() alike. */
  enqueued: number;
  dropped_queue_full: number;
  dropped_invalid: number;
  dropped_too_large: number;
  /** Attribute members strict receivers refuse, dropped from an exposure that is still sent. */
  dropped_attributes: number;
  /** Repeats within the dedupe window, not sent (not in `exposures`). */
  deduplicated: number;
  /** (user, flag) pairs the dedupe table remembers now; 0 without one. */
  dedupe_entries: number;
  /** Acknowledged by a 2xx. */
  delivered: number;
  failed: number;
  retries: number;
  batches: number;
  bytes_sent: number;
  /** HTTP requests made: attempts, split parts, redirect hops. */
  requests: number;
  /** Messages failed alone after their batch was refused (400/413) and split. */
  isolated: number;
  /** Events held: enqueued and not yet delivered or failed (on disk too, with a spool). */
  queue_depth: number;
  /** Batches being sent or waiting to be retried. */
  in_flight: number;
  /** Holdout Experiment Viewed events (also in `exposures`). */
  holdout_exposures: number;
  /** Decisions held for a datafile that did not list their rule. */
  held: number;
  released_by_datafile: number;
  released_by_timeout: number;
  released_by_flush: number;
  /** Held right now: held = the three released_by_* + held_now. */
  held_now: number;
  /** Decisions resolved at once because the hold was full. */
  hold_full: number;
  /** One counter per (flag, rule, variation), sorted, up to maxExposureCounters. */
  exposures_by_variation: ExposureCount[];
  /** Exposures of triples beyond maxExposureCounters. */
  exposure_counts_overflow: number;
  /** Spool (all 0 without one): this process's events put on disk because they could not be sent when due. */
  spooled: number;
  /** Events delivered from a file read back from disk. */
  unspooled: number;
  /** Events found in files this process did not write (an earlier or gone process's). */
  spool_recovered: number;
  /** Events in the oldest files removed for the maxBytes bound or the file cap. */
  spool_dropped: number;
  /** Files skipped as torn or corrupt, and removed. */
  spool_corrupt_files: number;
  /** Events whose batch could not be written: memory only. */
  spool_unwritable: number;
  /** Files held now. */
  spool_files: number;
  /** Bytes held now, in whole 4 KiB blocks. */
  spool_bytes: number;
  /** Events, in queue order, written, delivered or failed: a crash now loses at most enqueued minus this. */
  spool_safe: number;
  /** Decisions the listener could not hand over (refused by the core, or after close). */
  listener_errors: number;
  /** Log lines not delivered to onLog (the event loop fell 4,096 lines behind). */
  log_lines_dropped: number;
}

/** A DECISION notification as @optimizely/optimizely-sdk delivers it. */
export interface DecisionNotification {
  type: string;
  userId: string;
  attributes?: Record<string, unknown>;
  decisionInfo: Record<string, unknown>;
}

/** What the listener did with one decision. null: refused or closed (see stats().listener_errors). */
export type DecisionOutcome = 'ok' | 'skipped' | 'queue_full' | 'too_large' | null;

/** The Optimizely client shape attach() uses (createInstance of @optimizely/optimizely-sdk). */
export interface OptimizelyLike {
  notificationCenter: {
    addNotificationListener(type: string, callback: (payload: any) => void): number;
    removeNotificationListener(id: number): boolean;
  };
  getOptimizelyConfig(): { getDatafile(): string } | null;
}

export interface Attachment {
  /** Removes the listeners; false when already detached. */
  detach(): boolean;
}

export class Client {
  constructor(options: ClientOptions);
  /** Deadline used by close() without an argument and by the exit handling. */
  readonly closeTimeoutMs: number;
  readonly closed: boolean;
  /** The DECISION listener itself, for registering by hand. Never throws. */
  onDecision(notification: DecisionNotification): DecisionOutcome;
  /** Throws FlagwireError code FLAGWIRE_ALREADY_ATTACHED on a second attachment. */
  attach(optimizely: OptimizelyLike): Attachment;
  detach(): boolean;
  setDatafile(datafile: string | object): void;
  /** true queued; false dropped and counted (queue full, over 32 KB). */
  enqueue(message: string | Record<string, unknown>): boolean;
  /** true: everything queued before the call was delivered (or failed); false: deadline (nothing lost). */
  flush(timeoutMs?: number): Promise<boolean>;
  stats(): Stats;
  /** The profile's traits as Optimizely attributes, or null: decide without enrichment. */
  profileAttributes(identifier: string): Promise<Record<string, unknown> | null>;
  /** The profile's canonical user_id, or null. */
  profileUserId(identifier: string): Promise<string | null>;
  /** true: all delivered; false: deadline passed. The same promise on every call. */
  close(timeoutMs?: number): Promise<boolean>;
}

export class FlagwireError extends Error {
  /** The C ABI status (docs/design.md §2.6), or null for the binding's own errors. */
  readonly status: number | null;
  /** "FLAGWIRE_<STATUS>" or "FLAGWIRE_LOAD", "FLAGWIRE_ALREADY_ATTACHED", "FLAGWIRE_ATTACH". */
  readonly code: string;
}

export const STATUS: Readonly<{
  OK: 0;
  SKIPPED: 1;
  NULL_ARGUMENT: 2;
  INVALID_UTF8: 3;
  INVALID_JSON: 4;
  INVALID_CONFIG: 5;
  QUEUE_FULL: 6;
  TOO_LARGE: 7;
  CLOSED: 8;
  TIMEOUT: 9;
  PANIC: 10;
  NOT_FOUND: 11;
  UNAVAILABLE: 12;
  INVALID_ARGUMENT: 13;
}>;
export function statusName(status: number): string;
/** The core library's version, e.g. "0.2.0". */
export const version: string;
/** The C ABI version checked at load: 2. */
export const abiVersion: number;
/** The library loaded (FLAGWIRE_LIBRARY_PATH or the bundled one). */
export const libraryPath: string;
