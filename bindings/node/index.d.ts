// Types for flagwire (Node.js binding). README.md describes the behaviour; docs/design.md in the
// repository is the contract (§3 config, §6 stats, §7 Profile API).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The Segment Profile API settings (docs/design.md §7); camelCase or snake_case keys. */
export interface ProfileOptions {
  spaceId: string;
  accessToken: string;
  endpoint?: string;
  traits?: string[];
  accountBucketing?: boolean;
  cacheTtlMs?: number;
  cacheMaxEntries?: number;
  timeoutMs?: number;
  [coreKey: string]: unknown;
}

/**
 * `writeKey` and the core's config keys (docs/design.md §3), camelCase here and mapped to the
 * core's snake_case (`flushIntervalMs` -> `flush_interval_ms`); snake_case keys pass unchanged.
 * The core validates every key and value; errors name the key as the core spells it.
 */
export interface ClientOptions {
  writeKey: string;
  endpoint?: string;
  batchSize?: number;
  flushIntervalMs?: number;
  maxQueueEvents?: number;
  maxQueueBytes?: number;
  maxRetries?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  requestTimeoutMs?: number;
  gzip?: boolean;
  eventName?: string;
  propertyStyle?: 'both' | 'optimizely' | 'segment';
  includeAttributes?: boolean;
  includeRollouts?: boolean;
  userIdField?: 'userId' | 'anonymousId';
  honorDisableDecisionEvent?: boolean;
  allowInsecureHttp?: boolean;
  proxy?: string;
  caCertsPem?: string;
  /** Lines below this level are not produced at all (default 'warn'); 'off' for none. */
  logLevel?: LogLevel | 'off';
  profile?: ProfileOptions;

  /** Receives each log line on the event loop. Default: console.error for errors, else console.warn. */
  onLog?: (level: LogLevel, message: string) => void;
  /** Close on beforeExit and SIGTERM/SIGINT, flush on exit (README "Exit and signals"). Default true. */
  closeOnExit?: boolean;
  /** Deadline of close() and of the exit handling, in ms. Default 5000. */
  closeTimeoutMs?: number;
  [coreKey: string]: unknown;
}

/** The core's counters (docs/design.md §6) plus this binding's. */
export interface Stats {
  decisions: number;
  exposures: number;
  skipped: number;
  enqueued: number;
  dropped_queue_full: number;
  dropped_invalid: number;
  dropped_too_large: number;
  delivered: number;
  failed: number;
  retries: number;
  batches: number;
  bytes_sent: number;
  queue_depth: number;
  /** Decisions the listener could not hand over (refused by the core, or after close). */
  listener_errors: number;
  /** Log lines not delivered to onLog (the event loop fell 4,096 lines behind). */
  log_lines_dropped: number;
  [counter: string]: number;
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
