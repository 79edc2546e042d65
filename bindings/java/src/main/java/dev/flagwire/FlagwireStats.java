package dev.flagwire;

import java.util.Map;

/**
 * Counters since the client was created, in this process (docs/design.md §6). Once flushed,
 * {@code enqueued == delivered + failed}.
 *
 * @param decisions        valid decision notifications seen
 * @param exposures        Experiment Viewed events made
 * @param skipped          decisions that were not exposures
 * @param enqueued         messages accepted into the queue (exposures and {@code enqueue} alike)
 * @param droppedQueueFull messages dropped because the queue was full
 * @param droppedInvalid   messages refused as invalid
 * @param droppedTooLarge  messages over 32,000 bytes
 * @param delivered        messages acknowledged by a 2xx
 * @param failed           messages given up on (non-retryable status, or retries exhausted)
 * @param retries          request retries
 * @param batches          batch requests that completed
 * @param bytesSent        request body bytes sent
 * @param queueDepth       messages waiting now
 */
public record FlagwireStats(
        long decisions,
        long exposures,
        long skipped,
        long enqueued,
        long droppedQueueFull,
        long droppedInvalid,
        long droppedTooLarge,
        long delivered,
        long failed,
        long retries,
        long batches,
        long bytesSent,
        long queueDepth) {

    /** Builds the record from the native library's JSON keys; a missing key reads as 0. */
    static FlagwireStats fromMap(Map<String, Long> m) {
        return new FlagwireStats(
                m.getOrDefault("decisions", 0L),
                m.getOrDefault("exposures", 0L),
                m.getOrDefault("skipped", 0L),
                m.getOrDefault("enqueued", 0L),
                m.getOrDefault("dropped_queue_full", 0L),
                m.getOrDefault("dropped_invalid", 0L),
                m.getOrDefault("dropped_too_large", 0L),
                m.getOrDefault("delivered", 0L),
                m.getOrDefault("failed", 0L),
                m.getOrDefault("retries", 0L),
                m.getOrDefault("batches", 0L),
                m.getOrDefault("bytes_sent", 0L),
                m.getOrDefault("queue_depth", 0L));
    }
}
