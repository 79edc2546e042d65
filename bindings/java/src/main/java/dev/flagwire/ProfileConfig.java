package dev.flagwire;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code profile} object of the configuration (docs/design.md §7): the Segment Profile API (Unify)
 * used by {@link FlagwireClient#profileAttributes} and {@link FlagwireClient#profileUserId}.
 *
 * <pre>{@code
 * FlagwireConfig config = FlagwireConfig.builder(writeKey)
 *     .profile(ProfileConfig.builder(System.getenv("SEGMENT_SPACE_ID"), System.getenv("SEGMENT_PROFILE_TOKEN"))
 *         .traits("plan", "logins", "country")   // only these traits become attributes
 *         .accountBucketing(true)                // "$opt_bucketing_id": the user's account (group_id)
 *         .build())
 *     .build();
 * }</pre>
 *
 * <p>As with {@link FlagwireConfig}, only the keys you set are sent, the native library's defaults
 * apply to the others, and it validates every value ({@link FlagwireClient#create} throws
 * {@link FlagwireStatus#INVALID_CONFIG} naming the key). The access token is never logged and
 * never appears in {@link #toString()}.
 */
public final class ProfileConfig {
    private final Map<String, Object> options;

    private ProfileConfig(Builder b) {
        this.options = Collections.unmodifiableMap(new LinkedHashMap<>(b.options));
    }

    /**
     * A builder.
     *
     * @param spaceId     the Unify space id (Unify settings, API access)
     * @param accessToken the Profile API access token (sent as Basic auth, never logged)
     */
    public static Builder builder(String spaceId, String accessToken) {
        return new Builder(spaceId, accessToken);
    }

    /** The keys that were set, as sent to the native library (the access token included). */
    public Map<String, Object> options() {
        return options;
    }

    /** The options with the access token masked. */
    @Override
    public String toString() {
        Map<String, Object> shown = new LinkedHashMap<>(options);
        shown.computeIfPresent("access_token", (k, v) -> "***");
        return "ProfileConfig" + shown;
    }

    /** Builder for {@link ProfileConfig}: one setter per key of the {@code profile} object. */
    public static final class Builder {
        private final Map<String, Object> options = new LinkedHashMap<>();

        private Builder(String spaceId, String accessToken) {
            options.put("space_id", Objects.requireNonNull(spaceId, "spaceId"));
            options.put("access_token", Objects.requireNonNull(accessToken, "accessToken"));
        }

        /**
         * Base URL of the Profile API. Default {@code https://profiles.segment.com}; EU workspaces:
         * {@code https://profiles.euw1.segment.com}. Plain http only to loopback unless
         * {@link FlagwireConfig.Builder#allowInsecureHttp(boolean)}.
         */
        public Builder endpoint(String endpoint) {
            return set("endpoint", Objects.requireNonNull(endpoint, "endpoint"));
        }

        /** Only these traits become attributes (and only they are requested). Default: all scalar traits. */
        public Builder traits(List<String> traits) {
            Objects.requireNonNull(traits, "traits");
            for (String t : traits) {
                Objects.requireNonNull(t, "a trait name");
            }
            return set("traits", List.copyOf(traits));
        }

        /** {@link #traits(List)} with varargs. */
        public Builder traits(String... traits) {
            return traits(List.of(traits));
        }

        /**
         * Add {@code "$opt_bucketing_id": "<group_id>"} (the user's most recently linked account) to
         * the attributes, so every user of an account gets the same variation. Default false.
         */
        public Builder accountBucketing(boolean accountBucketing) {
            return set("account_bucketing", accountBucketing);
        }

        /** How long an answer (found or not found) is served from the cache. Default 120 s. */
        public Builder cacheTtl(Duration ttl) {
            return set("cache_ttl_ms", FlagwireConfig.Builder.millis(ttl, "cacheTtl"));
        }

        /** Cache bound in entries (least recently used evicted first). Default 100,000. */
        public Builder cacheMaxEntries(long entries) {
            return set("cache_max_entries", entries);
        }

        /** The longest a lookup waits on the caller's thread for the Profile API. Default 300 ms. */
        public Builder timeout(Duration timeout) {
            return set("timeout_ms", FlagwireConfig.Builder.millis(timeout, "timeout"));
        }

        /** Any other key of the {@code profile} object, passed through as is. */
        public Builder option(String key, Object value) {
            return set(Objects.requireNonNull(key, "key"), value);
        }

        public ProfileConfig build() {
            return new ProfileConfig(this);
        }

        private Builder set(String key, Object value) {
            options.put(key, value);
            return this;
        }
    }
}
