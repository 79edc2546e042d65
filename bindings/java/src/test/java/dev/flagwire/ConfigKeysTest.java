package dev.flagwire;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The typed setters for the core's newer keys (docs/design.md §3): each one reaches the core (an
 * out-of-range value is refused naming the key, the bounds are accepted) and takes effect over
 * real HTTP to the collector: holdouts, the hold, exposure counters, dedupe and the disk spool.
 */
class ConfigKeysTest extends CollectorTests {
    @TempDir
    Path tmp;

    private static Map<String, Long> stats(FlagwireClient client) {
        return client.counters();
    }

    // ---- every key reaches the core ------------------------------------------------------------

    @Test
    void outOfRangeTypedValuesAreRefusedByTheCoreNamingTheKey() {
        Map<String, UnaryOperator<FlagwireConfig.Builder>> bad = new LinkedHashMap<>();
        bad.put("max_in_flight", b -> b.maxInFlight(0));
        bad.put("max_requests_per_second", b -> b.maxRequestsPerSecond(100_001));
        bad.put("hold_max_events", b -> b.holdMaxEvents(100_001));
        bad.put("hold_max_bytes", b -> b.holdMaxBytes((64L << 20) + 1));
        bad.put("hold_timeout_ms", b -> b.holdTimeout(Duration.ZERO));
        bad.put("max_exposure_counters", b -> b.maxExposureCounters(1_000_001));
        bad.put("dedupe.window_ms", b -> b.dedupe(DedupeConfig.builder().window(Duration.ofMillis(999)).build()));
        bad.put("dedupe.max_entries", b -> b.dedupe(DedupeConfig.builder().maxEntries(10_000_001).build()));
        bad.put("spool.max_bytes", b -> b.spool(SpoolConfig.builder(tmp.resolve("s").toString()).maxBytes((1L << 20) - 1).build()));
        bad.put("spool.sync_interval_ms", b -> b.spool(SpoolConfig.builder(tmp.resolve("s").toString()).syncInterval(Duration.ZERO).build()));
        for (Map.Entry<String, UnaryOperator<FlagwireConfig.Builder>> e : bad.entrySet()) {
            FlagwireConfig cfg = e.getValue().apply(config()).build();
            FlagwireException ex = assertThrows(FlagwireException.class, () -> FlagwireClient.create(cfg).close(), e.getKey());
            assertEquals(FlagwireStatus.INVALID_CONFIG, ex.status(), e.getKey());
            assertTrue(ex.getMessage().contains("`" + e.getKey() + "`"), e.getKey() + ": " + ex.getMessage());
        }
    }

    @Test
    void theBoundsOfEveryTypedKeyAreAccepted() throws Exception {
        List<FlagwireConfig.Builder> ok = new ArrayList<>();
        ok.add(config().maxInFlight(1).maxRequestsPerSecond(1).holdMaxEvents(0).holdMaxBytes(0)
                .holdTimeout(Duration.ofMillis(1)).maxExposureCounters(0)
                .dedupe(DedupeConfig.builder().window(Duration.ofSeconds(1)).maxEntries(0).deriveMessageIds(false).build())
                .spool(SpoolConfig.builder(tmp.resolve("low").toString()).maxBytes(1L << 20).syncInterval(Duration.ofMillis(1)).build()));
        ok.add(config().maxInFlight(64).maxRequestsPerSecond(100_000).holdMaxEvents(100_000).holdMaxBytes(64L << 20)
                .holdTimeout(Duration.ofSeconds(300)).maxExposureCounters(1_000_000).includeHoldouts(false)
                .dedupe(DedupeConfig.builder().window(Duration.ofDays(7)).maxEntries(10_000_000).deriveMessageIds(true).build())
                .spool(SpoolConfig.builder(tmp.resolve("high").toString()).maxBytes(1L << 36).syncInterval(Duration.ofSeconds(60)).build()));
        for (SpoolConfig.Sync sync : SpoolConfig.Sync.values()) {
            ok.add(config().spool(SpoolConfig.builder(tmp.resolve(sync.name()).toString()).sync(sync).build()));
        }
        for (FlagwireConfig.Builder b : ok) {
            FlagwireConfig cfg = b.build();
            try (FlagwireClient client = FlagwireClient.create(cfg)) {
                assertEquals(FlagwireStatus.OK, client.enqueue(ClientTest.track("u1", "Bounds")), cfg.toString());
                assertTrue(client.flush(Duration.ofSeconds(10)), cfg.toString());
            }
        }
        assertEquals(ok.size(), collector.messages().size());
        // A sync policy the core does not know is refused naming the key: the enum's strings are the core's.
        FlagwireConfig bogus = config().spool(SpoolConfig.builder(tmp.resolve("b").toString()).option("sync", "sometimes").build()).build();
        FlagwireException e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(bogus).close());
        assertTrue(e.getMessage().contains("spool"), e.getMessage());
    }

    @Test
    void theSettersWriteTheCoresKeyNames() {
        FlagwireConfig cfg = FlagwireConfig.builder("k").maxInFlight(8).maxRequestsPerSecond(50).includeHoldouts(false)
                .holdMaxEvents(10).holdMaxBytes(4096).holdTimeout(Duration.ofSeconds(2)).maxExposureCounters(5)
                .dedupe(DedupeConfig.builder().window(Duration.ofHours(1)).maxEntries(100).deriveMessageIds(false).build())
                .spool(SpoolConfig.builder("/d").maxBytes(1L << 30).sync(SpoolConfig.Sync.NEVER).syncInterval(Duration.ofMillis(500)).build())
                .build();
        assertEquals("{\"write_key\":\"k\",\"max_in_flight\":8,\"max_requests_per_second\":50,\"include_holdouts\":false,"
                + "\"hold_max_events\":10,\"hold_max_bytes\":4096,\"hold_timeout_ms\":2000,\"max_exposure_counters\":5,"
                + "\"dedupe\":{\"window_ms\":3600000,\"max_entries\":100,\"derive_message_ids\":false},"
                + "\"spool\":{\"dir\":\"/d\",\"max_bytes\":1073741824,\"sync\":\"never\",\"sync_interval_ms\":500}}", cfg.toJson());
        // The sync policies as docs/design.md §3 spells them (only a power loss could tell them apart).
        for (SpoolConfig.Sync sync : SpoolConfig.Sync.values()) {
            assertEquals(Map.of("dir", "/d", "sync", sync.name().toLowerCase(Locale.ROOT)),
                    SpoolConfig.builder("/d").sync(sync).build().options());
        }
    }

    // ---- classification keys take effect --------------------------------------------------------

    /** promo_a decided by the Running global holdout of tests/data/datafile-holdouts.json. */
    private static FlagwireStatus holdoutDecision(FlagwireClient client) {
        client.setDatafile(TestData.read("datafile-holdouts.json"));
        return client.onFlagDecision("u-holdout", "promo_a", "global_holdout", "off", false, true, null);
    }

    @Test
    void includeHoldoutsFalseSkipsHoldoutDecisions() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            assertEquals(FlagwireStatus.OK, holdoutDecision(client));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(1L, stats(client).get("holdout_exposures"));
        }
        assertEquals("holdout", collector.messages().get(0).getAsJsonObject("properties").get("ruleType").getAsString());
        collector.reset();
        try (FlagwireClient client = FlagwireClient.create(config().includeHoldouts(false).build())) {
            assertEquals(FlagwireStatus.SKIPPED, holdoutDecision(client));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(0L, stats(client).get("holdout_exposures"));
        }
        assertEquals(0, collector.messages().size());
    }

    /** checkout_flow with a rule the datafile does not list: held for a newer datafile (§4 rule 4). */
    private static FlagwireStatus unlistedRuleDecision(FlagwireClient client) {
        client.setDatafile(TestData.read("datafile-holdouts.json"));
        return client.onFlagDecision("u-held", "checkout_flow", "rule_added_later", "treatment", true, true, null);
    }

    @Test
    void holdKeysBoundAndTimeTheHold() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            unlistedRuleDecision(client);
            assertEquals(1L, stats(client).get("held"));
        }
        try (FlagwireClient client = FlagwireClient.create(config().holdMaxEvents(0).build())) {
            unlistedRuleDecision(client);
            assertEquals(0L, stats(client).get("held"), "hold_max_events 0: never hold");
        }
        try (FlagwireClient client = FlagwireClient.create(config().holdMaxBytes(0).build())) {
            unlistedRuleDecision(client);
            Map<String, Long> s = stats(client);
            assertEquals(0L, s.get("held_now"), "hold_max_bytes 0: nothing fits: " + s);
            assertEquals(1L, s.get("hold_full"), s.toString());
        }
        collector.reset();
        // The default timeout is 5 s: within 4 s and without a flush, only a shorter hold_timeout_ms releases it.
        try (FlagwireClient client = FlagwireClient.create(config().holdTimeout(Duration.ofMillis(100)).build())) {
            unlistedRuleDecision(client);
            assertEquals(1, collector.waitFor(1, Duration.ofSeconds(4)));
            assertEquals(1L, stats(client).get("released_by_timeout"));
        }
    }

    @Test
    void maxExposureCountersSendsFurtherTriplesToOverflow() {
        try (FlagwireClient client = FlagwireClient.create(config().maxExposureCounters(1).build())) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u1", "f1", "r1", "v1", true, true, null));
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u1", "f2", "r2", "v2", true, true, null));
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u2", "f2", "r2", "v2", true, true, null));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(2L, stats(client).get("exposure_counts_overflow"));
            assertEquals(List.of(new ExposureCount("f1", "r1", "v1", 1)), client.exposuresByVariation(),
                    "only the first triple has a counter");
        }
        assertEquals(3, collector.messages().size(), "the bound is on counters, not on events");
    }

    @Test
    void exposuresByVariationCountsWhatWasSentPerVariation() {
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            for (int i = 0; i < 5; i++) {
                String variation = i < 3 ? "control" : "treatment";
                assertEquals(FlagwireStatus.OK, client.onFlagDecision("u" + i, "checkout_flow", "checkout_ab", variation, true, true, null));
            }
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, Long> sent = new java.util.TreeMap<>();
            for (com.google.gson.JsonObject m : collector.messages()) {
                sent.merge(m.getAsJsonObject("properties").get("variation_name").getAsString(), 1L, Long::sum);
            }
            Map<String, Long> counted = new java.util.TreeMap<>();
            for (ExposureCount row : client.exposuresByVariation()) {
                assertEquals("checkout_flow", row.flagKey());
                assertEquals("checkout_ab", row.ruleKey());
                counted.put(row.variationKey(), row.exposures());
            }
            assertEquals(Map.of("control", 3L, "treatment", 2L), counted);
            assertEquals(sent, counted, "the library's split is the collector's");
            assertEquals(5L, client.counters().get("exposures"));
        }
    }

    // ---- dedupe ----------------------------------------------------------------------------------

    private static FlagwireStatus exposure(FlagwireClient client) {
        return client.onFlagDecision("u-dedupe", "checkout_flow", "checkout_ab", "treatment", true, true, null);
    }

    @Test
    void dedupeDeliversARepeatedExposureOnce() {
        try (FlagwireClient client = FlagwireClient.create(config().dedupe(DedupeConfig.builder().window(Duration.ofHours(1)).build()).build())) {
            assertEquals(FlagwireStatus.OK, exposure(client));
            assertEquals(FlagwireStatus.SKIPPED, exposure(client));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, Long> s = stats(client);
            assertEquals(1L, s.get("deduplicated"), s.toString());
            assertEquals(1L, s.get("delivered"), s.toString());
        }
        assertEquals(1, collector.messages().size());
        collector.reset();
        try (FlagwireClient client = FlagwireClient.create(config().build())) {
            assertEquals(FlagwireStatus.OK, exposure(client));
            assertEquals(FlagwireStatus.OK, exposure(client), "without dedupe every exposure is sent");
            assertTrue(client.flush(Duration.ofSeconds(10)));
        }
        assertEquals(2, collector.messages().size());
    }

    /** The messageIds two clients give the same first exposure (each client's own dedupe table). */
    private static List<String> messageIdsOfTwoClients(DedupeConfig dedupe) {
        collector.reset();
        for (int i = 0; i < 2; i++) {
            try (FlagwireClient client = FlagwireClient.create(config().dedupe(dedupe).build())) {
                assertEquals(FlagwireStatus.OK, exposure(client));
                assertTrue(client.flush(Duration.ofSeconds(10)));
            }
        }
        return collector.messages().stream().map(m -> m.get("messageId").getAsString()).toList();
    }

    @Test
    void deriveMessageIdsGivesProcessesTheSameIdForTheSameExposure() {
        List<String> derived = messageIdsOfTwoClients(DedupeConfig.builder().maxEntries(0).build());
        assertEquals(2, derived.size());
        assertEquals(derived.get(0), derived.get(1), "derived ids (the default with dedupe)");
        List<String> random = messageIdsOfTwoClients(DedupeConfig.builder().deriveMessageIds(false).build());
        assertEquals(2, random.size());
        assertNotEquals(random.get(0), random.get(1), "derive_message_ids false: random ids");
    }

    // ---- spool ---------------------------------------------------------------------------------

    @Test
    void spoolLocksItsDirectoryAndEventsStillArrive() throws Exception {
        Path dir = tmp.resolve("spool/nested");
        SpoolConfig spool = SpoolConfig.builder(dir.toString()).sync(SpoolConfig.Sync.ALWAYS).maxBytes(8L << 20).build();
        try (FlagwireClient owner = FlagwireClient.create(config().spool(spool).build());
             FlagwireClient second = FlagwireClient.create(config().spool(spool).build())) {
            assertTrue(Files.isRegularFile(dir.resolve("LOCK")), "the spool made its directory and LOCK file");
            try (Stream<Path> sub = Files.list(dir)) {
                assertEquals(1, sub.filter(p -> p.getFileName().toString().startsWith("proc-")).count(),
                        "a second client on an owned directory takes its own subdirectory");
            }
            assertEquals(FlagwireStatus.OK, owner.onFlagDecision("u-spool", "f", "r", "v", true, true, null));
            assertEquals(FlagwireStatus.OK, second.enqueue(ClientTest.track("u-spool", "Spooled")));
            assertTrue(owner.flush(Duration.ofSeconds(10)));
            assertTrue(second.flush(Duration.ofSeconds(10)));
            assertEquals(1L, owner.stats().delivered());
            assertEquals(1L, second.stats().delivered());
        }
        List<JsonObject> msgs = collector.messages();
        assertEquals(2, msgs.size());
    }

    @Test
    void withASpoolABatchWhoseRetriesRanOutWaitsOnDiskAndIsDelivered() {
        collector.script("[{\"status\":503}]");
        SpoolConfig spool = SpoolConfig.builder(tmp.resolve("outage").toString()).build();
        try (FlagwireClient client = FlagwireClient.create(config().maxRetries(0).spool(spool).build())) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u-outage", "f", "r", "v", true, true, null));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            Map<String, Long> s = stats(client);
            assertEquals(1L, s.get("delivered"), s.toString());
            assertEquals(0L, s.get("failed"), s.toString());
            assertEquals(1L, s.get("spooled"), s.toString());
            assertEquals(1L, s.get("unspooled"), s.toString());
        }
        assertEquals(1, collector.messages().size());
        // The same outage without a spool: the batch fails (the spool above is what kept it).
        collector.reset();
        collector.script("[{\"status\":503}]");
        try (FlagwireClient client = FlagwireClient.create(config().maxRetries(0).build())) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("u-outage", "f", "r", "v", true, true, null));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(1L, client.stats().failed());
        }
        assertEquals(0, collector.messages().size());
    }
}
