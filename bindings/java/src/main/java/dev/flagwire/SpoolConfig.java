package dev.flagwire;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code spool} object of the configuration (docs/design.md §3, §5.1): the opt-in disk spool.
 * With it, batches go through files in {@code dir}, so a crash, a deploy or an outage longer than
 * the retries and the memory bound loses nothing that was written. Without it every promise ends
 * at process memory.
 *
 * <pre>{@code
 * FlagwireConfig config = FlagwireConfig.builder(writeKey)
 *     .spool(SpoolConfig.builder("/var/lib/myapp/flagwire")
 *         .maxBytes(256L << 20)
 *         .sync(SpoolConfig.Sync.ALWAYS)
 *         .build())
 *     .build();
 * }</pre>
 *
 * <p>A directory belongs to one Segment source (the write key is never written to disk). One
 * process owns it (flock on {@code <dir>/LOCK}); another client on it takes its own subdirectory
 * (§5.1, "Sharing the directory"). As with {@link FlagwireConfig}, only the keys you set are sent
 * and the native library checks every range ({@link FlagwireStatus#INVALID_CONFIG} naming the key,
 * e.g. {@code spool.max_bytes}).
 */
public final class SpoolConfig {

    /**
     * When written spool files are forced to the disk (docs/design.md §5.1). A process crash
     * loses nothing written whatever the policy; it decides what a machine crash may take.
     */
    public enum Sync {
        /** Files written in the last {@code sync_interval_ms} are synced together (the default). */
        INTERVAL("interval"),
        /** Each file and its directory are synced before the file counts as written. */
        ALWAYS("always"),
        /** Never: the operating system writes back when it chooses. */
        NEVER("never");

        final String json;

        Sync(String json) {
            this.json = json;
        }
    }

    private final Map<String, Object> options;

    private SpoolConfig(Builder b) {
        this.options = Collections.unmodifiableMap(new LinkedHashMap<>(b.options));
    }

    /** A builder; {@code dir} is the spool directory ({@code dir}, required; made if missing). */
    public static Builder builder(String dir) {
        return new Builder(dir);
    }

    /** The keys that were set, as sent to the native library. */
    public Map<String, Object> options() {
        return options;
    }

    @Override
    public String toString() {
        return "SpoolConfig" + options;
    }

    /** Builder for {@link SpoolConfig}: one setter per key of the {@code spool} object. */
    public static final class Builder {
        private final Map<String, Object> options = new LinkedHashMap<>();

        private Builder(String dir) {
            options.put("dir", Objects.requireNonNull(dir, "dir"));
        }

        /**
         * Disk bound in bytes, counted in whole 4 KiB blocks; beyond it the oldest files are dropped
         * (counted in {@code spool_dropped}) ({@code max_bytes}). Default 1 GiB; 1 MiB..64 GiB.
         */
        public Builder maxBytes(long bytes) {
            return set("max_bytes", bytes);
        }

        /** When written files are synced ({@code sync}). Default {@link Sync#INTERVAL}. */
        public Builder sync(Sync sync) {
            return set("sync", Objects.requireNonNull(sync, "sync").json);
        }

        /**
         * With {@link Sync#INTERVAL}, how often written files are synced ({@code sync_interval_ms}).
         * Default 1 s; 1 ms..60 s.
         */
        public Builder syncInterval(Duration interval) {
            return set("sync_interval_ms", FlagwireConfig.Builder.millis(interval, "syncInterval"));
        }

        /** Any other key of the {@code spool} object, passed through as is. */
        public Builder option(String key, Object value) {
            return set(Objects.requireNonNull(key, "key"), value);
        }

        public SpoolConfig build() {
            return new SpoolConfig(this);
        }

        private Builder set(String key, Object value) {
            options.put(key, value);
            return this;
        }
    }
}
