package dev.flagwire;

/**
 * The status codes of the flagwire C ABI (docs/design.md §2.6), with their stable numbers; a
 * test checks them against include/flagwire.h.
 *
 * <p>{@link #OK} and {@link #SKIPPED} are successes: SKIPPED means the decision was valid but is
 * not an experiment exposure (a rollout, no rule, a disabled decision event). {@link #QUEUE_FULL}
 * and {@link #TOO_LARGE} mean the event was dropped and counted in {@link FlagwireStats}; the
 * caller is never blocked. The others are errors and surface as {@link FlagwireException}.
 */
public enum FlagwireStatus {
    /** Success (for a decision: an Experiment Viewed event was queued). */
    OK(0),
    /** A valid decision that is not an exposure. Not an error. */
    SKIPPED(1),
    /** A required argument was null. */
    NULL_ARGUMENT(2),
    /** A string was not valid UTF-8. */
    INVALID_UTF8(3),
    /** Malformed JSON, or not the expected shape (for example a Segment message without a user). */
    INVALID_JSON(4),
    /** The configuration was refused; the message names the key. */
    INVALID_CONFIG(5),
    /** The queue is full: the event was dropped and counted. */
    QUEUE_FULL(6),
    /** One message over 32,000 bytes: dropped and counted. */
    TOO_LARGE(7),
    /** The client is closed. */
    CLOSED(8),
    /** A deadline passed; nothing was lost, events stay queued. */
    TIMEOUT(9),
    /** An internal bug was caught at the native boundary; the client keeps working. */
    PANIC(10),
    /** Profile API: no such profile. */
    NOT_FOUND(11),
    /** Profile API: error or timeout, and nothing cached. */
    UNAVAILABLE(12),
    /** A malformed binary argument (a decision record whose lengths do not add up); a binding bug. ABI 2. */
    INVALID_ARGUMENT(13),
    /** A number this binding does not know (a newer native library); treated as an error. */
    UNKNOWN(-1);

    private static final FlagwireStatus[] BY_CODE = {
        OK, SKIPPED, NULL_ARGUMENT, INVALID_UTF8, INVALID_JSON, INVALID_CONFIG, QUEUE_FULL,
        TOO_LARGE, CLOSED, TIMEOUT, PANIC, NOT_FOUND, UNAVAILABLE, INVALID_ARGUMENT,
    };

    private final int code;

    FlagwireStatus(int code) {
        this.code = code;
    }

    /** The number used by the C ABI ({@code -1} for {@link #UNKNOWN}). */
    public int code() {
        return code;
    }

    /** The status for a C ABI number; {@link #UNKNOWN} for numbers this binding does not know. */
    public static FlagwireStatus fromCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : UNKNOWN;
    }

    /** True for {@link #OK} and {@link #SKIPPED}. */
    public boolean isSuccess() {
        return this == OK || this == SKIPPED;
    }

    /** True when the event was dropped and counted ({@link #QUEUE_FULL}, {@link #TOO_LARGE}). */
    public boolean isDropped() {
        return this == QUEUE_FULL || this == TOO_LARGE;
    }
}
