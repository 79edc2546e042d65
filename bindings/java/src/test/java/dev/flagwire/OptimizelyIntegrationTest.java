package dev.flagwire;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.optimizely.ab.Optimizely;
import com.optimizely.ab.OptimizelyUserContext;
import com.optimizely.ab.config.DatafileProjectConfig;
import com.optimizely.ab.config.ProjectConfig;
import com.optimizely.ab.config.ProjectConfigManager;
import com.optimizely.ab.config.Variation;
import com.optimizely.ab.notification.UpdateConfigNotification;
import com.optimizely.ab.optimizelydecision.OptimizelyDecideOption;
import com.optimizely.ab.optimizelydecision.OptimizelyDecision;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real Optimizely Java SDK, built offline from the test datafiles, with flagwire attached: the
 * collector must hold exactly the experiment exposures the SDK's own decisions imply.
 */
class OptimizelyIntegrationTest extends CollectorTests {
    static FlagwireClient client() {
        return FlagwireClient.create(FlagwireConfig.builder("test-write-key")
                .endpoint(collector.url())
                .flushInterval(Duration.ofMillis(100))
                .maxQueueEvents(200_000)
                .logLevel(FlagwireConfig.LogLevel.OFF)
                .closeOnShutdown(false)
                .build());
    }

    @SuppressWarnings("deprecation") // withEventHandler: the offline recipe of optimizely.md §4.2
    static Optimizely optimizely(String datafile) {
        Optimizely o = Optimizely.builder().withDatafile(datafile).withEventHandler(logEvent -> { }).build();
        assertTrue(o.isValid());
        return o;
    }

    static Map<String, Object> attributes(int i) {
        Map<String, Object> a = new LinkedHashMap<>();
        if (i % 5 == 0) {
            return a; // some users have none: userAttributes must then be left out
        }
        a.put("plan", i % 3 == 0 ? "pro" : "free");
        a.put("age", 20 + i % 50);
        a.put("beta", i % 2 == 0);
        a.put("score", i / 7.0);
        return a;
    }

    /** One expected Experiment Viewed event, or one received: compared as values. */
    record Exposure(String userId, String flagKey, String ruleKey, String variationKey, boolean enabled,
            String experimentId, String variationId, Map<String, String> attributes) {}

    /** The exposure a decision implies per the datafile, or null (rollout, no rule, disabled event). */
    static Exposure expected(OptimizelyDecision d, String userId, Map<String, Object> attrs, boolean disabled,
            Map<String, TestData.Rule> rules) {
        if (disabled || d.getRuleKey() == null) {
            return null;
        }
        TestData.Rule rule = rules.get(d.getFlagKey() + "/" + d.getRuleKey());
        if (rule == null) {
            return null; // a delivery rule of this flag
        }
        return new Exposure(userId, d.getFlagKey(), d.getRuleKey(), d.getVariationKey(), d.getEnabled(),
                rule.experimentId(), rule.variationIds().get(d.getVariationKey()), stringify(attrs));
    }

    static Map<String, String> stringify(Map<String, ?> attrs) {
        Map<String, String> out = new TreeMap<>();
        attrs.forEach((k, v) -> out.put(k, v instanceof Double dv ? String.valueOf(dv.doubleValue()) : String.valueOf(v)));
        return out;
    }

    static Exposure received(JsonObject m) {
        assertEquals("track", m.get("type").getAsString());
        assertEquals("Experiment Viewed", m.get("event").getAsString());
        JsonObject p = m.getAsJsonObject("properties");
        String userId = m.get("userId").getAsString();
        assertEquals(userId, p.get("optimizelyUserId").getAsString());
        // property_style "both": Segment's spec names mirror the Optimizely ones.
        assertEquals(p.get("ruleKey").getAsString(), p.get("experiment_name").getAsString());
        assertEquals(p.get("variationKey").getAsString(), p.get("variation_name").getAsString());
        Map<String, String> attrs = new TreeMap<>();
        if (p.has("userAttributes")) {
            for (Map.Entry<String, JsonElement> e : p.getAsJsonObject("userAttributes").entrySet()) {
                JsonElement v = e.getValue();
                String s = v.getAsJsonPrimitive().isNumber() && v.getAsString().contains(".")
                        ? String.valueOf(v.getAsDouble()) : v.getAsString();
                attrs.put(e.getKey(), s);
            }
            assertFalse(attrs.isEmpty(), "userAttributes is left out when empty");
        }
        assertEquals("flagwire", m.getAsJsonObject("context").getAsJsonObject("library").get("name").getAsString());
        assertNotNull(m.get("messageId"));
        assertNotNull(m.get("timestamp"));
        return new Exposure(userId, p.get("flagKey").getAsString(), p.get("ruleKey").getAsString(),
                p.get("variationKey").getAsString(), p.get("enabled").getAsBoolean(),
                p.get("experiment_id").getAsString(), p.get("variation_id").getAsString(), attrs);
    }

    static Map<Exposure, Integer> multiset(List<Exposure> xs) {
        Map<Exposure, Integer> m = new HashMap<>();
        for (Exposure x : xs) {
            m.merge(x, 1, Integer::sum);
        }
        return m;
    }

    static void assertCollectorHolds(List<Exposure> expected) {
        int got = collector.waitFor(expected.size(), Duration.ofSeconds(30));
        assertEquals(expected.size(), got);
        List<Exposure> received = new ArrayList<>();
        for (JsonObject m : collector.messages()) {
            received.add(received(m));
        }
        assertEquals(expected.size(), received.size(), "exactly the expected number of events");
        assertEquals(multiset(expected), multiset(received));
    }

    /** Decides every flag for users [from, to) and returns the exposures the decisions imply. */
    static List<Exposure> decideUsers(Optimizely o, String prefix, int from, int to, Map<String, TestData.Rule> rules,
            List<String> flags) {
        List<Exposure> expected = new ArrayList<>();
        for (int i = from; i < to; i++) {
            String userId = prefix + i;
            Map<String, Object> attrs = attributes(i);
            OptimizelyUserContext user = o.createUserContext(userId, attrs);
            boolean disabled = i % 7 == 3; // evaluate without counting the user
            List<OptimizelyDecideOption> options = disabled ? List.of(OptimizelyDecideOption.DISABLE_DECISION_EVENT) : List.of();
            Map<String, OptimizelyDecision> decisions = i % 2 == 0 ? user.decideAll(options) : decideEach(user, flags, options);
            for (OptimizelyDecision d : decisions.values()) {
                Exposure e = expected(d, userId, attrs, disabled, rules);
                if (e != null) {
                    expected.add(e);
                }
            }
        }
        return expected;
    }

    static Map<String, OptimizelyDecision> decideEach(OptimizelyUserContext user, List<String> flags,
            List<OptimizelyDecideOption> options) {
        Map<String, OptimizelyDecision> out = new LinkedHashMap<>();
        for (String f : flags) {
            out.put(f, user.decide(f, options));
        }
        return out;
    }

    @Test
    void thousandsOfUsersGiveExactlyTheExperimentExposures() {
        for (String name : List.of(TestData.REPEATED_RULE_KEYS, TestData.MINIMAL)) {
            collector.reset();
            String datafile = TestData.read(name);
            Map<String, TestData.Rule> rules = TestData.experimentRules(datafile);
            List<String> flags = new ArrayList<>(TestData.flagKeys(datafile));
            Collections.sort(flags);
            Optimizely o = optimizely(datafile);
            try (FlagwireClient client = client(); FlagwireAttachment attachment = client.attach(o)) {
                List<Exposure> expected = decideUsers(o, "user", 0, 3000, rules, flags);
                assertTrue(client.flush(Duration.ofSeconds(30)));
                assertTrue(expected.size() > 500, name + ": " + expected.size());
                assertCollectorHolds(expected);
                FlagwireStats s = client.stats();
                assertEquals(expected.size(), s.exposures());
                assertEquals(s.enqueued(), s.delivered());
                assertEquals(0, client.handlerErrors());
                assertTrue(attachment.isAttached());
            } finally {
                o.close();
            }
            // No event of a rollout rule: flag_b's "shared_rule" is a delivery with the same key as
            // flag_a's experiment.
            for (JsonObject m : collector.messages()) {
                JsonObject p = m.getAsJsonObject("properties");
                assertFalse(p.get("flagKey").getAsString().equals("flag_b"), m.toString());
                assertFalse(p.get("ruleKey").getAsString().startsWith("default-rollout"), m.toString());
                assertFalse(p.get("ruleKey").getAsString().equals("checkout_delivery"), m.toString());
            }
        }
    }

    @Test
    void theHandlerRegisteredByHandWithoutADatafileKeepsTheNotificationsIds() {
        // No attach(), so no datafile: flagwire classifies by "ruleKey and variationKey set" and
        // decisionEventDispatched (false for this datafile's rollout, sendFlagDecisions=false), and
        // takes experiment_id / variation_id from the notification itself.
        String datafile = TestData.read(TestData.MINIMAL);
        Map<String, TestData.Rule> rules = TestData.experimentRules(datafile);
        Optimizely o = optimizely(datafile);
        try (FlagwireClient client = client()) {
            int id = o.addDecisionNotificationHandler(client.decisionHandler());
            List<Exposure> expected = decideUsers(o, "hand", 0, 500, rules, List.of("checkout_flow"));
            assertTrue(client.flush(Duration.ofSeconds(30)));
            assertCollectorHolds(expected);
            assertEquals(0, client.handlerErrors());
            o.getNotificationCenter().removeNotificationListener(id);
        } finally {
            o.close();
        }
    }

    @Test
    void manyThreadsDecideAtOnceUnderGcPressure() throws Exception {
        String datafile = TestData.read(TestData.REPEATED_RULE_KEYS);
        Map<String, TestData.Rule> rules = TestData.experimentRules(datafile);
        List<String> flags = new ArrayList<>(TestData.flagKeys(datafile));
        Optimizely o = optimizely(datafile);
        int threads = 8;
        int perThread = 750;
        List<Exposure> expected = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        Thread gc = new Thread(() -> {
            while (!stop.get()) {
                System.gc();
                try {
                    Thread.sleep(3);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        try (FlagwireClient client = client()) {
            client.attach(o);
            gc.start();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                final int id = t;
                Thread th = new Thread(() -> {
                    try {
                        expected.addAll(decideUsers(o, "t" + id + "-user", 0, perThread, rules, flags));
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                });
                ts.add(th);
            }
            ts.forEach(Thread::start);
            for (Thread th : ts) {
                th.join(TimeUnit.SECONDS.toMillis(120));
                assertFalse(th.isAlive());
            }
            stop.set(true);
            gc.join();
            assertTrue(errors.isEmpty(), () -> errors.toString());
            assertTrue(client.flush(Duration.ofSeconds(30)));
            assertCollectorHolds(expected);
            assertEquals(0, client.handlerErrors());
        } finally {
            stop.set(true);
            o.close();
        }
    }

    @Test
    void legacyApisGoThroughTheNotificationJson() {
        String datafile = TestData.read(TestData.MINIMAL);
        Optimizely o = optimizely(datafile);
        int inExperiment = 0;
        try (FlagwireClient client = client()) {
            client.attach(o);
            List<String> expectedVariations = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                String userId = "legacy" + i;
                Variation v = o.activate("checkout_ab", userId); // type "feature-test"
                o.isFeatureEnabled("checkout_flow", userId);      // type "feature", source feature-test or rollout
                if (v != null) {
                    inExperiment++;
                    expectedVariations.add(v.getKey());
                    expectedVariations.add(v.getKey());
                }
            }
            assertTrue(client.flush(Duration.ofSeconds(30)));
            assertTrue(inExperiment > 50, "users in the experiment: " + inExperiment);
            assertEquals(2 * inExperiment, collector.waitFor(2 * inExperiment, Duration.ofSeconds(10)));
            List<JsonObject> msgs = collector.messages();
            assertEquals(2 * inExperiment, msgs.size());
            List<String> got = new ArrayList<>();
            for (JsonObject m : msgs) {
                JsonObject p = m.getAsJsonObject("properties");
                assertEquals("checkout_ab", p.get("experiment_name").getAsString());
                assertEquals("2001", p.get("experiment_id").getAsString());
                got.add(p.get("variation_name").getAsString());
            }
            Collections.sort(got);
            Collections.sort(expectedVariations);
            assertEquals(expectedVariations, got);
            assertEquals(0, client.handlerErrors());
        } finally {
            o.close();
        }
    }

    @Test
    void detachStopsEvents() {
        String datafile = TestData.read(TestData.MINIMAL);
        Map<String, TestData.Rule> rules = TestData.experimentRules(datafile);
        Optimizely o = optimizely(datafile);
        try (FlagwireClient client = client()) {
            FlagwireAttachment a = client.attach(o);
            List<Exposure> expected = decideUsers(o, "before", 0, 200, rules, List.of("checkout_flow"));
            assertTrue(client.flush(Duration.ofSeconds(30)));
            long decisions = client.stats().decisions();
            a.close();
            a.close(); // idempotent
            assertFalse(a.isAttached());
            decideUsers(o, "after", 0, 200, rules, List.of("checkout_flow"));
            assertTrue(client.flush(Duration.ofSeconds(30)));
            assertEquals(decisions, client.stats().decisions(), "no decision reached flagwire after detach");
            assertCollectorHolds(expected);
            // Attaching again after a detach works.
            try (FlagwireAttachment again = client.attach(o)) {
                assertTrue(again.isAttached());
            }
        } finally {
            o.close();
        }
    }

    @Test
    void aSecondAttachIsRefused() throws Exception {
        String datafile = TestData.read(TestData.MINIMAL);
        Optimizely o = optimizely(datafile);
        Optimizely other = optimizely(datafile);
        try (FlagwireClient client = client(); FlagwireClient second = client()) {
            FlagwireAttachment a = client.attach(o);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> client.attach(o));
            assertTrue(e.getMessage().contains("already attached"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> second.attach(o), "another client, same Optimizely");
            assertThrows(IllegalStateException.class, () -> client.attach(other), "one datafile per client");
            a.close();
            // The handler registered by hand, then attach(): the SDK refuses the same handler twice.
            int id = other.addDecisionNotificationHandler(second.decisionHandler());
            assertTrue(id > 0);
            assertEquals(-1, other.addDecisionNotificationHandler(second.decisionHandler()));
            assertThrows(IllegalStateException.class, () -> second.attach(other));
            other.getNotificationCenter().removeNotificationListener(id);
            second.attach(other).close();
            // One decision now gives exactly one event per exposure (no duplicate listener left).
            client.attach(o);
            OptimizelyDecision d = null;
            for (int i = 0; d == null || !"checkout_ab".equals(d.getRuleKey()); i++) {
                d = o.createUserContext("dup" + i).decide("checkout_flow");
            }
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(1, collector.messages().size());
        } finally {
            o.close();
            other.close();
        }
    }

    @Test
    void closeDetachesAndDecideKeepsWorking() {
        Optimizely o = optimizely(TestData.read(TestData.MINIMAL));
        try {
            FlagwireClient client = client();
            FlagwireAttachment a = client.attach(o);
            client.close();
            assertFalse(a.isAttached());
            OptimizelyDecision d = o.createUserContext("after-close").decide("checkout_flow");
            assertNotNull(d.getVariationKey());
            assertEquals(0, client.handlerErrors());
            // The Optimizely instance is free again.
            try (FlagwireClient next = client()) {
                next.attach(o).close();
            }
        } finally {
            o.close();
        }
    }

    @Test
    void theHandlerNeverThrowsIntoDecide() {
        Optimizely o = optimizely(TestData.read(TestData.MINIMAL));
        Object hostile = new Object() {
            @Override
            public String toString() {
                throw new StackOverflowError("hostile attribute");
            }
        };
        try (FlagwireClient client = client(); CapturedLog log = new CapturedLog()) {
            client.attach(o);
            Map<String, Object> attrs = new HashMap<>();
            attrs.put("weird", hostile);
            for (int i = 0; i < 5; i++) {
                OptimizelyDecision d = o.createUserContext("hostile" + i, attrs).decide("checkout_flow");
                assertNotNull(d.getVariationKey());
            }
            assertEquals(5, client.handlerErrors());
            assertEquals(1, log.count(), "logged once, then only counted");
            assertTrue(log.records.get(0).getMessage().contains("hostile attribute"), log.records.get(0).getMessage());
        } finally {
            o.close();
        }
    }

    /** A config manager whose datafile the test swaps, sending the SDK's update notification. */
    static final class SwappableConfigManager implements ProjectConfigManager {
        final AtomicReference<ProjectConfig> config = new AtomicReference<>();

        SwappableConfigManager(String datafile) throws Exception {
            config.set(new DatafileProjectConfig.Builder().withDatafile(datafile).build());
        }

        @Override
        public ProjectConfig getConfig() {
            return config.get();
        }

        @Override
        public ProjectConfig getCachedConfig() {
            return config.get();
        }

        @Override
        public String getSDKKey() {
            return null;
        }
    }

    @Test
    @SuppressWarnings("deprecation")
    void aConfigUpdatePushesTheNewDatafile() throws Exception {
        // Start on the minimal datafile, then switch to one with other flags: flag_a's experiment
        // is only an exposure if flagwire got the new datafile.
        SwappableConfigManager manager = new SwappableConfigManager(TestData.read(TestData.MINIMAL));
        Optimizely o = Optimizely.builder().withConfigManager(manager).withEventHandler(logEvent -> { }).build();
        String next = TestData.read(TestData.REPEATED_RULE_KEYS);
        Map<String, TestData.Rule> rules = TestData.experimentRules(next);
        try (FlagwireClient client = client()) {
            client.attach(o);
            manager.config.set(new DatafileProjectConfig.Builder().withDatafile(next).build());
            o.getNotificationCenter().send(new UpdateConfigNotification());
            List<Exposure> expected = decideUsers(o, "upd", 0, 300, rules, List.of("flag_a", "flag_b", "flag_c", "flag_d"));
            assertTrue(expected.stream().anyMatch(x -> x.flagKey().equals("flag_a")));
            assertTrue(client.flush(Duration.ofSeconds(30)));
            assertCollectorHolds(expected);
            assertEquals(0, client.handlerErrors());
        } finally {
            o.close();
        }
    }
}
