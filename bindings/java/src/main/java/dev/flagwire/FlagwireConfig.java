package dev.flagwire;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The configuration of a {@link FlagwireClient} (docs/design.md §3).
 *
 * <p>Only the keys you set are sent to the native library, so its defaults apply to everything
 * else, and it validates every value (an invalid one fails {@link FlagwireClient#create} with
 * {@link FlagwireStatus#INVALID_CONFIG} and a message naming the key).
 *
 * <pre>{@code
 * FlagwireConfig config = FlagwireConfig.builder(System.getenv("SEGMENT_WRITE_KEY"))
 *     .endpoint("https://events.eu1.segmentapis.com")
 *     .flushInterval(Duration.ofMillis(500))
 *     .build();
 * }</pre>
 */
public final class FlagwireConfig {

    /** Which property names the Experiment Viewed event carries. */
    public enum PropertyStyle {
        /** flagKey, ruleKey, variationKey, enabled, optimizelyUserId, experimentId, variationId. */
        OPTIMIZELY("optimizely"),
        /** Segment's A/B testing spec: experiment_id, experiment_name, variation_id, variation_name. */
        SEGMENT("segment"),
        /** Both sets (the default). */
        BOTH("both");

        final String json;

        PropertyStyle(String json) {
            this.json = json;
        }
    }

    /** Where the Optimizely user id goes in the Segment message. */
    public enum UserIdField {
        USER_ID("userId"),
        ANONYMOUS_ID("anonymousId");

        final String json;

        UserIdField(String json) {
            this.json = json;
        }
    }

    /** The native library's log level: lines at or above it go to the client's {@link System.Logger}. DEBUG shows each event as sent. */
    public enum LogLevel {
        OFF("off"), ERROR("error"), WARN("warn"), INFO("info"), DEBUG("debug");

        final String json;

        LogLevel(String json) {
            this.json = json;
        }
    }

    /** Default deadline of {@link FlagwireClient#close()}. */
    public static final Duration DEFAULT_CLOSE_TIMEOUT = Duration.ofSeconds(5);

    private final Map<String, Object> options;
    private final Duration closeTimeout;
    private final boolean closeOnShutdown;
    private final System.Logger logger;

    private FlagwireConfig(Builder b) {
        this.options = Collections.unmodifiableMap(new LinkedHashMap<>(b.options));
        this.closeTimeout = b.closeTimeout;
        this.closeOnShutdown = b.closeOnShutdown;
        this.logger = b.logger != null ? b.logger : System.getLogger("dev.flagwire");
    }

    /** A builder; {@code writeKey} is the Segment source's write key (required, never logged). */
    public static Builder builder(String writeKey) {
        return new Builder(writeKey);
    }

    /** The JSON object given to {@code flagwire_init}: only the keys that were set. */
    public String toJson() {
        return Json.write(options);
    }

    /** The keys that were set, as sent to the native library (the write key included). */
    public Map<String, Object> options() {
        return options;
    }

    /** How long {@link FlagwireClient#close()} waits for queued events. */
    public Duration closeTimeout() {
        return closeTimeout;
    }

    /** Whether the client is closed (flushed) by a JVM shutdown hook when still open. */
    public boolean closeOnShutdown() {
        return closeOnShutdown;
    }

    /** Where the library's log lines and the listeners' failures go. */
    public System.Logger logger() {
        return logger;
    }

    /** The options with the write key and proxy credentials masked. */
    @Override
    public String toString() {
        Map<String, Object> shown = new LinkedHashMap<>(options);
        shown.computeIfPresent("write_key", (k, v) -> "***");
        shown.computeIfPresent("ca_certs_pem", (k, v) -> "<" + String.valueOf(v).length() + " chars>");
        shown.computeIfPresent("proxy", (k, v) -> String.valueOf(v).replaceAll("//[^/@]*@", "//***@"));
        shown.computeIfPresent("profile", (k, v) -> {
            if (!(v instanceof Map<?, ?> m)) {
                return "{...}";
            }
            Map<Object, Object> p = new LinkedHashMap<>(m);
            p.computeIfPresent("access_token", (k2, v2) -> "***");
            return p;
        });
        return "FlagwireConfig" + shown + " closeTimeout=" + closeTimeout + " closeOnShutdown=" + closeOnShutdown;
    }

    /** Builder for {@link FlagwireConfig}. Setters map one to one onto docs/design.md §3's keys. */
    public static final class Builder {
        private final Map<String, Object> options = new LinkedHashMap<>();
        private Duration closeTimeout = DEFAULT_CLOSE_TIMEOUT;
        private boolean closeOnShutdown = true;
        private System.Logger logger;

        private Builder(String writeKey) {
            options.put("write_key", Objects.requireNonNull(writeKey, "writeKey"));
        }

        /** Base URL; {@code /v1/batch} is appended. Default {@code https://api.segment.io}. */
        public Builder endpoint(String endpoint) {
            return set("endpoint", Objects.requireNonNull(endpoint, "endpoint"));
        }

        /** A batch may leave once it holds this many messages, 1..2500. Default: the library's (docs/design.md §3). */
        public Builder batchSize(int batchSize) {
            return set("batch_size", batchSize);
        }

        /** Longest time an event waits before a send starts. Default 1 s. */
        public Builder flushInterval(Duration interval) {
            return set("flush_interval_ms", millis(interval, "flushInterval"));
        }

        /** Bound on events held (waiting, batching, in flight). Default: the library's (docs/design.md §3). */
        public Builder maxQueueEvents(long events) {
            return set("max_queue_events", events);
        }

        /** Bound on serialized bytes held, likewise. Default: the library's (docs/design.md §3). */
        public Builder maxQueueBytes(long bytes) {
            return set("max_queue_bytes", bytes);
        }

        /**
         * Requests in flight at once, over reused keep-alive connections ({@code max_in_flight}).
         * Default 40; 1..64. docs/design.md §3, §5.
         */
        public Builder maxInFlight(int requests) {
            return set("max_in_flight", requests);
        }

        /**
         * Request budget: requests started per second, taken right before each request goes out;
         * under pressure batches grow instead of requests multiplying ({@code max_requests_per_second}).
         * Default 200; 1..100,000. docs/design.md §3, §5.
         */
        public Builder maxRequestsPerSecond(int requests) {
            return set("max_requests_per_second", requests);
        }

        /** Attempts after the first, per batch. Default 10. */
        public Builder maxRetries(int retries) {
            return set("max_retries", retries);
        }

        /** First backoff step (exponential, full jitter). Default 100 ms. */
        public Builder backoffBase(Duration base) {
            return set("backoff_base_ms", millis(base, "backoffBase"));
        }

        /** Largest backoff step. Default 10 s. */
        public Builder backoffMax(Duration max) {
            return set("backoff_max_ms", millis(max, "backoffMax"));
        }

        /** Per HTTP request. Default 10 s. */
        public Builder requestTimeout(Duration timeout) {
            return set("request_timeout_ms", millis(timeout, "requestTimeout"));
        }

        /** gzip request bodies. Default true. */
        public Builder gzip(boolean gzip) {
            return set("gzip", gzip);
        }

        /** The track event's name. Default "Experiment Viewed". */
        public Builder eventName(String name) {
            return set("event_name", Objects.requireNonNull(name, "name"));
        }

        /** Default {@link PropertyStyle#BOTH}. */
        public Builder propertyStyle(PropertyStyle style) {
            return set("property_style", Objects.requireNonNull(style, "style").json);
        }

        /** Copy the Optimizely user attributes into properties.userAttributes. Default true. */
        public Builder includeAttributes(boolean include) {
            return set("include_attributes", include);
        }

        /** Also emit events for delivery (rollout) rules. Default false. */
        public Builder includeRollouts(boolean include) {
            return set("include_rollouts", include);
        }

        /**
         * Emit Experiment Viewed for holdout decisions ({@code ruleType: "holdout"}; Optimizely
         * counts a holdout impression for each) ({@code include_holdouts}). Default true.
         * docs/design.md §3, §4.
         */
        public Builder includeHoldouts(boolean include) {
            return set("include_holdouts", include);
        }

        /**
         * Decisions held while the datafile does not list their rule, at most; 0 = never hold
         * ({@code hold_max_events}). Default 1,000; 0..100,000. docs/design.md §3, §4 rule 4.
         */
        public Builder holdMaxEvents(int events) {
            return set("hold_max_events", events);
        }

        /**
         * Bytes of held decisions, at most ({@code hold_max_bytes}). Default 1 MiB; 0..64 MiB.
         * docs/design.md §3, §4 rule 4.
         */
        public Builder holdMaxBytes(long bytes) {
            return set("hold_max_bytes", bytes);
        }

        /**
         * A held decision is resolved by the no-datafile rule after this long, checked on each
         * sender wake ({@code hold_timeout_ms}). Default 5 s; 1 ms..300 s. docs/design.md §3, §4 rule 4.
         */
        public Builder holdTimeout(Duration timeout) {
            return set("hold_timeout_ms", millis(timeout, "holdTimeout"));
        }

        /**
         * Distinct (flag, rule, variation) exposure counters kept in stats; exposures of further
         * triples count in {@code exposure_counts_overflow} ({@code max_exposure_counters}).
         * Default 10,000; 0..1,000,000. docs/design.md §3, §6.
         */
        public Builder maxExposureCounters(int counters) {
            return set("max_exposure_counters", counters);
        }

        /**
         * The opt-in dedupe window (docs/design.md §4.4): repeats of an assignment within the window
         * are not sent. Default: none (every exposure is sent).
         */
        public Builder dedupe(DedupeConfig dedupe) {
            return set("dedupe", Objects.requireNonNull(dedupe, "dedupe").options());
        }

        /**
         * The opt-in disk spool (docs/design.md §5.1): batches go through files in a directory,
         * so a crash, a deploy or a long outage loses nothing written. Default: none (memory only).
         */
        public Builder spool(SpoolConfig spool) {
            return set("spool", Objects.requireNonNull(spool, "spool").options());
        }

        /** Default {@link UserIdField#USER_ID}. */
        public Builder userIdField(UserIdField field) {
            return set("user_id_field", Objects.requireNonNull(field, "field").json);
        }

        /** A decision with decisionEventDispatched=false is not an exposure. Default true. */
        public Builder honorDisableDecisionEvent(boolean honor) {
            return set("honor_disable_decision_event", honor);
        }

        /** Allow plain http:// to hosts other than loopback. Default false. */
        public Builder allowInsecureHttp(boolean allow) {
            return set("allow_insecure_http", allow);
        }

        /** {@code http://host:port} proxy for all requests. */
        public Builder proxy(String proxyUrl) {
            return set("proxy", Objects.requireNonNull(proxyUrl, "proxyUrl"));
        }

        /** Extra trusted root certificates, PEM text. */
        public Builder caCertsPem(String pem) {
            return set("ca_certs_pem", Objects.requireNonNull(pem, "pem"));
        }

        /** The native library's log level; its lines go to {@link #logger}. Default WARN. */
        public Builder logLevel(LogLevel level) {
            return set("log_level", Objects.requireNonNull(level, "level").json);
        }

        /**
         * The Segment Profile API (docs/design.md §7), for {@link FlagwireClient#profileAttributes} and
         * {@link FlagwireClient#profileUserId}. Default: none (those calls then throw
         * {@link FlagwireStatus#INVALID_CONFIG}).
         */
        public Builder profile(ProfileConfig profile) {
            return set("profile", Objects.requireNonNull(profile, "profile").options());
        }

        /**
         * Any other key, passed through as is (for keys newer than this binding). The native
         * library refuses unknown keys, naming them.
         */
        public Builder option(String key, Object value) {
            return set(Objects.requireNonNull(key, "key"), value);
        }

        /** How long {@link FlagwireClient#close()} waits for queued events. Default 5 s. */
        public Builder closeTimeout(Duration timeout) {
            millis(timeout, "closeTimeout");
            this.closeTimeout = timeout;
            return this;
        }

        /**
         * Close (and so flush) the client from a JVM shutdown hook if it is still open then.
         * Default true. The hook holds only a weak reference to the client.
         */
        public Builder closeOnShutdown(boolean close) {
            this.closeOnShutdown = close;
            return this;
        }

        /**
         * (binding) Where the library's log lines (docs/design.md §2.4, at or above
         * {@link #logLevel}) and the listeners' failures go. Default
         * {@code System.getLogger("dev.flagwire")}, which java.util.logging, SLF4J and Log4j bridge.
         * Its methods are called on flagwire's own threads, possibly concurrently.
         */
        public Builder logger(System.Logger logger) {
            this.logger = Objects.requireNonNull(logger, "logger");
            return this;
        }

        public FlagwireConfig build() {
            return new FlagwireConfig(this);
        }

        private Builder set(String key, Object value) {
            options.put(key, value);
            return this;
        }

        static long millis(Duration d, String name) {
            Objects.requireNonNull(d, name);
            if (d.isNegative()) {
                throw new IllegalArgumentException(name + " must not be negative: " + d);
            }
            try {
                return d.toMillis();
            } catch (ArithmeticException e) {
                return Long.MAX_VALUE;
            }
        }
    }
}
