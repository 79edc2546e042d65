package dev.flagwire;

import com.google.gson.JsonObject;
import com.optimizely.ab.notification.DecisionNotification;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.flagwire.ClientTest.exposure;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ABI 2 decision path (docs/design.md §2.2) end to end over HTTP: every flag decision as a
 * decision record, on the calling thread ({@code onFlagDecision}, {@code onDecision}) and through
 * the listener's hand-over off the deciding thread ({@link RecordBatcher}).
 */
class RecordsTest extends CollectorTests {
    static FlagwireClient client() {
        return FlagwireClient.create(config().maxQueueEvents(100_000).build());
    }

    static JsonObject props(JsonObject message) {
        return message.getAsJsonObject("properties");
    }

    @Test
    void nulBytesInEveryStringAreDataAndTheExposureIsSent() throws Exception {
        Map<String, Object> attrs = new LinkedHashMap<>();
        attrs.put("k\0ey", "v\0al");
        try (FlagwireClient client = client()) {
            // On the calling thread, and through the listener's hand-over.
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u\0ser", "f\0lag", "r\0ule", "v\0ar", "e\0xp", "v\0id",
                    true, true, attrs));
            client.decisionHandler().handle(exposure("l\0istener", "f\0lag", "r\0ule", "v\0ar", attrs));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(0, client.handlerErrors());
            List<JsonObject> msgs = collector.messages();
            assertEquals(2, msgs.size());
            JsonObject first = msgs.get(0);
            assertEquals("u\0ser", first.get("userId").getAsString());
            JsonObject p = props(first);
            assertEquals("f\0lag", p.get("flagKey").getAsString());
            assertEquals("r\0ule", p.get("ruleKey").getAsString());
            assertEquals("v\0ar", p.get("variationKey").getAsString());
            assertEquals("e\0xp", p.get("experiment_id").getAsString());
            assertEquals("v\0id", p.get("variation_id").getAsString());
            assertEquals("v\0al", p.getAsJsonObject("userAttributes").get("k\0ey").getAsString());
            JsonObject second = msgs.get(1);
            assertEquals("l\0istener", second.get("userId").getAsString());
            assertEquals("exp-r\0ule", props(second).get("experiment_id").getAsString());
            assertEquals("v\0al", props(second).getAsJsonObject("userAttributes").get("k\0ey").getAsString());
        }
    }

    @Test
    void idsAreCarriedWithoutADatafile() throws Exception {
        try (FlagwireClient client = client()) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u1", "checkout_flow", "checkout_ab", "treatment",
                    "2001", "5002", true, true, null));
            DecisionNotification n = exposure("u2", "checkout_flow", "checkout_ab", "control", Map.of());
            assertEquals(FlagwireStatus.OK, client.onDecision(n));
            client.decisionHandler().handle(exposure("u3", "checkout_flow", "checkout_ab", "control", Map.of()));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, JsonObject> byUser = new LinkedHashMap<>();
            for (JsonObject m : collector.messages()) {
                byUser.put(m.get("userId").getAsString(), props(m));
            }
            assertEquals(Set.of("u1", "u2", "u3"), byUser.keySet());
            assertEquals("2001", byUser.get("u1").get("experiment_id").getAsString());
            assertEquals("5002", byUser.get("u1").get("variation_id").getAsString());
            assertEquals("exp-checkout_ab", byUser.get("u2").get("experiment_id").getAsString());
            assertEquals("var-control", byUser.get("u2").get("variation_id").getAsString());
            assertEquals("exp-checkout_ab", byUser.get("u3").get("experiment_id").getAsString());
            assertEquals("var-control", byUser.get("u3").get("variation_id").getAsString());
            assertEquals(3, client.stats().exposures());
        }
    }

    @Test
    void theRecordsAtMsIsTheEventsTimestamp() throws Exception {
        try (FlagwireClient client = client()) {
            // A record with a decision time in the past: the library stamps the event with it.
            DecisionRecord r = new DecisionRecord().encode("u-past", "f", "r", "v", null, null, true, 1, null,
                    Instant.parse("2026-01-02T03:04:05.678Z").toEpochMilli());
            assertEquals(FlagwireStatus.OK.code(), handleOf(client).call(NativeHandle.RECORD, r.bytes(), r.length(),
                    NativeHandle.ACCEPT_DECISION));
            // The listener stamps the decision when the SDK calls it, not when it is handed over.
            long t0 = System.currentTimeMillis();
            client.decisionHandler().handle(exposure("u-now", "f", "r", "v", Map.of()));
            long t1 = System.currentTimeMillis();
            Thread.sleep(100);
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, Long> at = new LinkedHashMap<>();
            for (JsonObject m : collector.messages()) {
                at.put(m.get("userId").getAsString(), Instant.parse(m.get("timestamp").getAsString()).toEpochMilli());
            }
            assertEquals(Instant.parse("2026-01-02T03:04:05.678Z").toEpochMilli(), at.get("u-past"));
            assertTrue(at.get("u-now") >= t0 && at.get("u-now") <= t1, at + " not in [" + t0 + ", " + t1 + "]");
        }
    }

    static NativeHandle handleOf(FlagwireClient client) throws Exception {
        java.lang.reflect.Field f = FlagwireClient.class.getDeclaredField("handle");
        f.setAccessible(true);
        return (NativeHandle) f.get(client);
    }

    @Test
    void closeHandsOverWhatTheListenerHolds() throws Exception {
        int n = 3_000; // more than one block of each thread
        FlagwireClient client = FlagwireClient.create(config().flushInterval(Duration.ofSeconds(60)).build());
        for (int i = 0; i < n; i++) {
            client.decisionHandler().handle(exposure("close-" + i, "f", "r", "v", Map.of("i", i)));
        }
        assertTrue(client.close(Duration.ofSeconds(30)));
        assertEquals(n, collector.waitFor(n, Duration.ofSeconds(10)));
        Set<String> users = new HashSet<>();
        for (JsonObject m : collector.messages()) {
            users.add(m.get("userId").getAsString());
        }
        assertEquals(n, users.size(), "each decision exactly once");
    }

    @Test
    void manyThreadsThroughTheListenerEachDecisionOnce() throws Exception {
        int threads = 6;
        int perThread = 4_000;
        try (FlagwireClient client = client()) {
            List<Throwable> errors = Concurrently.run(threads, id -> {
                for (int i = 0; i < perThread; i++) {
                    client.decisionHandler().handle(exposure("t" + id + "-" + i, "f", i % 2 == 0 ? "r" : null, "v",
                            Map.of("plan", "pro", "n", i)));
                }
            });
            assertTrue(errors.isEmpty(), errors::toString);
            assertTrue(client.flush(Duration.ofSeconds(30)));
            FlagwireStats s = client.stats();
            assertEquals((long) threads * perThread, s.decisions(), s.toString());
            assertEquals((long) threads * perThread / 2, s.exposures(), s.toString());
            assertEquals(0, client.handlerErrors());
            assertEquals(threads * perThread / 2, collector.messages().size());
        }
    }

    @Test
    void aDecisionLargerThanABlockGoesOnTheCallingThread() throws Exception {
        try (FlagwireClient client = client()) {
            client.decisionHandler().handle(exposure("mid", "f", "r", "v", Map.of("note", "x".repeat(10_000))));
            assertTrue(20_000 > RecordBatcher.BLOCK_BYTES);
            client.decisionHandler().handle(exposure("big", "f", "r", "v", Map.of("note", "x".repeat(20_000))));
            // Over Segment's 32,000 bytes: dropped as TOO_LARGE and counted, not a listener error.
            client.decisionHandler().handle(exposure("huge", "f", "r", "v", Map.of("note", "x".repeat(40_000))));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, Integer> noteLength = new LinkedHashMap<>();
            for (JsonObject m : collector.messages()) {
                noteLength.put(m.get("userId").getAsString(),
                        props(m).getAsJsonObject("userAttributes").get("note").getAsString().length());
            }
            assertEquals(Map.of("mid", 10_000, "big", 20_000), noteLength);
            FlagwireStats s = client.stats();
            assertEquals(1, s.droppedTooLarge(), s.toString());
            assertEquals(0, client.handlerErrors());
        }
    }
}
