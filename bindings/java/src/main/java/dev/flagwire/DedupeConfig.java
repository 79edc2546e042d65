package dev.flagwire;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code dedupe} object of the configuration (docs/design.md §3, §4.4): the opt-in dedupe
 * window. With it, within the window only the first exposure per (user id, flag) with a given
 * (rule, variation) is sent; a repeat returns {@link FlagwireStatus#SKIPPED} and counts in the
 * {@code deduplicated} stat. Without it every exposure is sent.
 *
 * <pre>{@code
 * FlagwireConfig config = FlagwireConfig.builder(writeKey)
 *     .dedupe(DedupeConfig.builder().window(Duration.ofHours(1)).build())
 *     .build();
 * }</pre>
 *
 * <p>As with {@link FlagwireConfig}, only the keys you set are sent, the native library's defaults
 * apply to the others, and it checks every range ({@link FlagwireClient#create} throws
 * {@link FlagwireStatus#INVALID_CONFIG} naming the key, e.g. {@code dedupe.window_ms}).
 * {@code DedupeConfig.builder().build()} turns dedupe on with every default.
 */
public final class DedupeConfig {
    private final Map<String, Object> options;

    private DedupeConfig(Builder b) {
        this.options = Collections.unmodifiableMap(new LinkedHashMap<>(b.options));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The keys that were set, as sent to the native library. */
    public Map<String, Object> options() {
        return options;
    }

    @Override
    public String toString() {
        return "DedupeConfig" + options;
    }

    /** Builder for {@link DedupeConfig}: one setter per key of the {@code dedupe} object. */
    public static final class Builder {
        private final Map<String, Object> options = new LinkedHashMap<>();

        private Builder() {}

        /**
         * A repeat of the same assignment within this long is not sent ({@code window_ms}).
         * Default 24 h (Segment collapses repeated messageIds over about as long); 1 s..7 days.
         */
        public Builder window(Duration window) {
            return set("window_ms", FlagwireConfig.Builder.millis(window, "window"));
        }

        /**
         * (user, flag) pairs remembered, about 90 bytes each, oldest evicted at the bound
         * ({@code max_entries}). Default 1,000,000; 0..10,000,000; 0 keeps no local table (derived
         * messageIds only). docs/design.md §4.4.
         */
        public Builder maxEntries(long entries) {
            return set("max_entries", entries);
        }

        /**
         * Derive each exposure's messageId (UUID v5 over the source, user, flag, rule, variation and
         * the window) instead of a random one, so processes sharing a write key send the same id and
         * Segment keeps one ({@code derive_message_ids}). Default true. docs/design.md §4.4.
         */
        public Builder deriveMessageIds(boolean derive) {
            return set("derive_message_ids", derive);
        }

        /** Any other key of the {@code dedupe} object, passed through as is. */
        public Builder option(String key, Object value) {
            return set(Objects.requireNonNull(key, "key"), value);
        }

        public DedupeConfig build() {
            return new DedupeConfig(this);
        }

        private Builder set(String key, Object value) {
            options.put(key, value);
            return this;
        }
    }
}
