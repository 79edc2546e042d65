package dev.flagwire;

import com.google.gson.JsonObject;
import com.optimizely.ab.notification.DecisionNotification;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client without the Optimizely SDK: messages, statuses, stats, close, threads, GC. */
class ClientTest extends CollectorTests {
    static Map<String, Object> track(String userId, String event) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "track");
        m.put("userId", userId);
        m.put("event", event);
        return m;
    }

    @Test
    void enqueueDeliversASegmentMessage() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            Map<String, Object> m = track("u1", "Order Completed");
            m.put("properties", Map.of("revenue", 9.99, "items", List.of(1, 2), "coupon", "SAVE\"10\""));
            assertEquals(FlagwireStatus.OK, client.enqueue(m));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            List<JsonObject> msgs = collector.messages();
            assertEquals(1, msgs.size());
            JsonObject got = msgs.get(0);
            assertEquals("track", got.get("type").getAsString());
            assertEquals("Order Completed", got.get("event").getAsString());
            assertEquals("u1", got.get("userId").getAsString());
            JsonObject props = got.getAsJsonObject("properties");
            assertEquals(9.99, props.get("revenue").getAsDouble());
            assertEquals(2, props.getAsJsonArray("items").size());
            assertEquals("SAVE\"10\"", props.get("coupon").getAsString());
            assertNotNull(got.get("messageId"));
            assertEquals("flagwire", got.getAsJsonObject("context").getAsJsonObject("library").get("name").getAsString());
            FlagwireStats s = client.stats();
            assertEquals(1, s.enqueued());
            assertEquals(1, s.delivered());
            assertEquals(0, s.queueDepth());
        }
    }

    @Test
    void invalidMessageThrowsInvalidJsonWithTheLibraryMessage() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            FlagwireException e = assertThrows(FlagwireException.class, () -> client.enqueue(Map.of("type", "track", "userId", "u")));
            assertEquals(FlagwireStatus.INVALID_JSON, e.status());
            assertTrue(e.getMessage().contains("event"), e.getMessage());
            e = assertThrows(FlagwireException.class, () -> client.enqueueJson("{not json"));
            assertEquals(FlagwireStatus.INVALID_JSON, e.status());
            assertTrue(client.lastError().isPresent());
            assertEquals(2, client.stats().droppedInvalid());
        }
    }

    @Test
    void flagDecisionsWithoutADatafile() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u1", "checkout_flow", "checkout_ab", "treatment", true, true,
                    Map.of("plan", "pro")));
            // No rule: SKIPPED, which is not an error.
            assertEquals(FlagwireStatus.SKIPPED, client.onFlagDecision("u2", "checkout_flow", null, null, false, null, null));
            // DISABLE_DECISION_EVENT: not an exposure.
            assertEquals(FlagwireStatus.SKIPPED, client.onFlagDecision("u3", "checkout_flow", "checkout_ab", "control", false, false, Map.of()));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            FlagwireStats s = client.stats();
            assertEquals(3, s.decisions());
            assertEquals(1, s.exposures());
            assertEquals(2, s.skipped());
            assertEquals(s.enqueued(), s.delivered() + s.failed());
            JsonObject p = collector.messages().get(0).getAsJsonObject("properties");
            assertEquals("checkout_ab", p.get("ruleKey").getAsString());
            assertEquals("treatment", p.get("variation_name").getAsString());
            assertEquals("pro", p.getAsJsonObject("userAttributes").get("plan").getAsString());
        }
    }

    @Test
    void nonAsciiAndNulStringsArriveIntact() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            Map<String, Object> attrs = new LinkedHashMap<>();
            attrs.put("name", "Zoë \"q\" \n\t\\ 😀 \u2028");
            attrs.put("score", 1.5f);
            attrs.put("nan", Double.NaN);
            attrs.put("n", 42L);
            attrs.put("none", null);
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("用户-é-😀", "flag-ü", "rule-ß", "var-ñ", true, null, attrs));
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("nul\0inside", "f", "r", "v", true, null, null));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            List<JsonObject> msgs = collector.messages();
            assertEquals(2, msgs.size());
            JsonObject first = msgs.get(0);
            assertEquals("用户-é-😀", first.get("userId").getAsString());
            JsonObject p = first.getAsJsonObject("properties");
            assertEquals("flag-ü", p.get("flagKey").getAsString());
            assertEquals("rule-ß", p.get("ruleKey").getAsString());
            assertEquals("var-ñ", p.get("variationKey").getAsString());
            JsonObject ua = p.getAsJsonObject("userAttributes");
            assertEquals("Zoë \"q\" \n\t\\ 😀 \u2028", ua.get("name").getAsString());
            assertEquals(1.5, ua.get("score").getAsDouble());
            assertTrue(ua.get("nan").isJsonNull());
            assertEquals(42, ua.get("n").getAsLong());
            assertEquals("nul\0inside", msgs.get(1).get("userId").getAsString());
        }
    }

    @Test
    void onlyTheKeysSetAreSentAndTheyTakeEffect() {
        FlagwireConfig cfg = config().propertyStyle(FlagwireConfig.PropertyStyle.SEGMENT)
                .userIdField(FlagwireConfig.UserIdField.ANONYMOUS_ID).eventName("Exp Seen").build();
        assertEquals("{\"write_key\":\"k\"}", FlagwireConfig.builder("k").build().toJson());
        assertFalse(cfg.toString().contains("test-write-key"), cfg.toString());
        try (FlagwireClient client = FlagwireClient.create(cfg)) {
            client.onFlagDecision("u1", "f", "r", "v", true, true, null);
            assertTrue(client.flush(Duration.ofSeconds(10)));
            JsonObject m = collector.messages().get(0);
            assertEquals("Exp Seen", m.get("event").getAsString());
            assertEquals("u1", m.get("anonymousId").getAsString());
            assertFalse(m.has("userId"));
            JsonObject p = m.getAsJsonObject("properties");
            assertEquals("r", p.get("experiment_name").getAsString());
            assertFalse(p.has("flagKey"));
        }
    }

    @Test
    void invalidConfigNamesTheKey() {
        FlagwireException e = assertThrows(FlagwireException.class,
                () -> FlagwireClient.create(config().batchSize(0).build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
        assertTrue(e.getMessage().contains("batch_size"), e.getMessage());
        e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(config().option("bogus_key", 1).build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
        assertTrue(e.getMessage().contains("bogus_key"), e.getMessage());
        e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(FlagwireConfig.builder("").build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
        assertFalse(e.getMessage().contains("test-write-key"));
    }

    @Test
    void retriesAfterA503() {
        collector.script("[{\"status\":503}]");
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            client.enqueue(track("u1", "E"));
            assertTrue(client.flush(Duration.ofSeconds(20)));
            assertEquals(1, collector.messages().size());
            FlagwireStats s = client.stats();
            assertEquals(1, s.delivered());
            assertTrue(s.retries() >= 1, s.toString());
        }
    }

    @Test
    void flushTimeoutIsFalseAndCloseReturnsWithinItsDeadline() {
        collector.script("[{\"hang\":true}]");
        FlagwireClient client = FlagwireClient.create(config().requestTimeout(Duration.ofSeconds(30)).build());
        client.enqueue(track("u1", "E"));
        assertFalse(client.flush(Duration.ofMillis(300)));
        long t0 = System.nanoTime();
        assertFalse(client.close(Duration.ofMillis(300)));
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 5_000, "close took " + ms + " ms");
        assertFalse(client.close(Duration.ofSeconds(1)), "a second close returns the first result");
    }

    @Test
    void closeFlushesQueuedEvents() {
        FlagwireClient client = FlagwireClient.create(config().flushInterval(Duration.ofSeconds(60)).build());
        for (int i = 0; i < 50; i++) {
            client.enqueue(track("u" + i, "E"));
        }
        assertTrue(client.close(Duration.ofSeconds(10)));
        assertEquals(50, collector.messages().size());
    }

    @Test
    void closeTwiceIsSafeAndCallsAfterCloseAreClosed() throws Exception {
        FlagwireClient client = FlagwireClient.create(config().build());
        client.close();
        client.close();
        assertTrue(client.close(Duration.ofSeconds(1)));
        assertTrue(client.isClosed());
        assertClosed(() -> client.onFlagDecision("u", "f", "r", "v", true, null, null));
        assertClosed(() -> client.enqueue(track("u", "E")));
        assertClosed(() -> client.onDecisionJson("{}"));
        assertClosed(() -> client.flush(Duration.ofSeconds(1)));
        assertClosed(client::stats);
        assertClosed(() -> client.setDatafile("{}"));
        assertTrue(client.lastError().isEmpty());
        // The handler swallows CLOSED (counted, logged once), never throws into decide().
        DecisionNotification n = DecisionNotification.newFlagDecisionNotificationBuilder()
                .withUserId("u").withFlagKey("f").withEnabled(true).withRuleKey("r").withVariationKey("v")
                .withAttributes(Map.of()).withVariables(Map.of()).withReasons(List.of())
                .withDecisionEventDispatched(true).build();
        try (CapturedLog log = new CapturedLog()) {
            client.decisionHandler().handle(n);
            client.decisionHandler().handle(n);
            assertEquals(2, client.handlerErrors());
            assertEquals(1, log.count());
            assertTrue(log.records.get(0).getMessage().contains("CLOSED"), log.records.get(0).getMessage());
        }
    }

    /** A flag decision notification as the SDK builds it (with the ids the SDK puts in it). */
    static DecisionNotification exposure(String userId, String flagKey, String ruleKey, String variationKey,
            Map<String, ?> attributes) {
        return DecisionNotification.newFlagDecisionNotificationBuilder()
                .withUserId(userId).withFlagKey(flagKey).withEnabled(true).withRuleKey(ruleKey).withVariationKey(variationKey)
                .withAttributes(attributes).withVariables(Map.of()).withReasons(List.of())
                .withDecisionEventDispatched(true).withExperimentId("exp-" + ruleKey).withVariationId("var-" + variationKey)
                .build();
    }

    private static void assertClosed(Runnable call) {
        FlagwireException e = assertThrows(FlagwireException.class, call::run);
        assertEquals(FlagwireStatus.CLOSED, e.status());
    }

    @Test
    void closeWhileManyThreadsCallIsClean() throws Exception {
        FlagwireClient client = FlagwireClient.create(config().maxQueueEvents(1_000_000).build());
        int threads = 8;
        CountDownLatch started = new CountDownLatch(threads);
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        AtomicInteger sawClosed = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> {
                started.countDown();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                for (int i = 0; !stop.get() && System.nanoTime() < deadline; i++) {
                    try {
                        switch (i % 4) {
                            case 0 -> client.onFlagDecision("u" + id + "-" + i, "f", "r", "v", true, true, Map.of("i", i));
                            case 1 -> client.enqueue(track("u" + i, "E"));
                            case 2 -> client.stats();
                            default -> client.lastError();
                        }
                        if (i % 1000 == 999) {
                            client.flush(Duration.ofMillis(1));
                        }
                    } catch (FlagwireException e) {
                        if (e.status() == FlagwireStatus.CLOSED) {
                            sawClosed.incrementAndGet();
                            return;
                        }
                        unexpected.add(e);
                    } catch (Throwable e) {
                        unexpected.add(e);
                        return;
                    }
                }
            });
            th.start();
            ts.add(th);
        }
        assertTrue(started.await(10, TimeUnit.SECONDS));
        Thread.sleep(200);
        client.close(Duration.ofSeconds(10));
        for (Thread th : ts) {
            th.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(th.isAlive());
        }
        stop.set(true);
        assertTrue(unexpected.isEmpty(), () -> "unexpected: " + unexpected);
        assertEquals(threads, sawClosed.get());
    }

    @Test
    void unreachableClientsAreFreedByTheCleaner() throws Exception {
        long before = NativeHandle.FREED_BY_CLEANER.get();
        int n = 20;
        createAndDrop(n);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (NativeHandle.FREED_BY_CLEANER.get() - before < n && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        assertEquals(n, NativeHandle.FREED_BY_CLEANER.get() - before);
        // Their queued events, and the decisions their listener still held, were handed over and
        // flushed by the Cleaner's action (which holds the native handle, not the client).
        assertEquals(2 * n, collector.waitFor(2 * n, Duration.ofSeconds(20)));
        assertEquals(n, collector.messages().stream().filter(m -> m.get("event").getAsString().equals("Experiment Viewed")).count());
    }

    private static void createAndDrop(int n) throws Exception {
        for (int i = 0; i < n; i++) {
            FlagwireClient c = FlagwireClient.create(config().closeTimeout(Duration.ofSeconds(5)).build());
            c.enqueue(track("gc" + i, "E"));
            c.decisionHandler().handle(exposure("gc" + i, "f", "r", "v", Map.of()));
        }
    }

    @Test
    void gcPressureWhileManyThreadsSendDecisions() throws Exception {
        int threads = 4;
        int perThread = 5_000;
        AtomicBoolean stop = new AtomicBoolean();
        Thread gc = new Thread(() -> {
            while (!stop.get()) {
                System.gc();
                try {
                    Thread.sleep(5);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        gc.start();
        try (FlagwireClient client = FlagwireClient.create(config().maxQueueEvents(100_000).build())) {
            List<Throwable> errors = Concurrently.run(threads, id -> {
                for (int i = 0; i < perThread; i++) {
                    Map<String, Object> attrs = new LinkedHashMap<>();
                    attrs.put("plan", i % 2 == 0 ? "pro" : "free");
                    attrs.put("n", i);
                    FlagwireStatus s = client.onFlagDecision("t" + id + "-u" + i, "flag", "rule", "v" + (i % 3), true, true, attrs);
                    if (s != FlagwireStatus.OK) {
                        throw new AssertionError("status " + s);
                    }
                }
            });
            assertTrue(errors.isEmpty(), () -> errors.toString());
            assertTrue(client.flush(Duration.ofSeconds(30)));
            FlagwireStats s = client.stats();
            assertEquals((long) threads * perThread, s.delivered(), s.toString());
        } finally {
            stop.set(true);
            gc.join();
        }
        assertEquals(threads * perThread, collector.messages().size());
    }
}
