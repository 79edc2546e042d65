package dev.flagwire;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.optimizely.ab.Optimizely;
import com.optimizely.ab.optimizelydecision.OptimizelyDecision;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Segment Profile API through the binding (docs/design.md §7, {@code flagwire_profile_lookup}), against the collector's Profile API
 * fixtures over real HTTP: found, not found, unavailable (slow, 5xx, 401, 429 pause), the stale
 * entry, the cache, errors, concurrency, close, and account-level bucketing end to end with the
 * real Optimizely Java SDK.
 */
class ProfileTest extends CollectorTests {
    static final String SPACE = "spa_test";
    static final String TOKEN = "tok_test";

    @BeforeEach
    void fixtures() { // after CollectorTests' reset: messages, requests, both scripts, the profile request log
        collector.profiles(fixture(List.of(
                profile(List.of("user_id:u1", "anonymous_id:a1"),
                        "{\"plan\":\"pro\",\"logins\":12,\"score\":4.5,\"beta\":true,\"big\":9007199254740993,"
                                + "\"address\":{\"city\":\"Berlin\"},\"tags\":[\"a\",\"b\"],\"nothing\":null}",
                        List.of("acme")),
                profile(List.of("user_id:u2"), null, List.of()),
                profile(List.of("anonymous_id:a9"), "{\"plan\":\"free\"}", List.of()))));
    }

    // ---- fixtures and clients ---------------------------------------------------------------

    /** One fixture profile: external ids as "type:id", traits JSON (or null), linked group ids. */
    static String profile(List<String> externalIds, String traitsJson, List<String> groupIds) {
        StringBuilder sb = new StringBuilder("{\"external_ids\":[");
        for (int i = 0; i < externalIds.size(); i++) {
            String[] t = externalIds.get(i).split(":", 2);
            sb.append(i > 0 ? "," : "").append("{\"type\":\"").append(t[0]).append("\",\"id\":\"").append(t[1]).append("\"}");
        }
        sb.append(']');
        if (traitsJson != null) {
            sb.append(",\"traits\":").append(traitsJson);
        }
        sb.append(",\"links\":[");
        for (int i = 0; i < groupIds.size(); i++) {
            sb.append(i > 0 ? "," : "").append("{\"type\":\"group_id\",\"id\":\"").append(groupIds.get(i)).append("\"}");
        }
        return sb.append("]}").toString();
    }

    static String fixture(List<String> profiles) {
        return "{\"space_id\":\"" + SPACE + "\",\"access_token\":\"" + TOKEN + "\",\"profiles\":["
                + String.join(",", profiles) + "]}";
    }

    static ProfileConfig.Builder profileConfig() {
        return ProfileConfig.builder(SPACE, TOKEN).endpoint(collector.url());
    }

    static FlagwireClient client(Consumer<ProfileConfig.Builder> profile) {
        ProfileConfig.Builder p = profileConfig();
        profile.accept(p);
        return FlagwireClient.create(FlagwireConfig.builder("test-write-key")
                .endpoint(collector.url())
                .flushInterval(Duration.ofMillis(100))
                .logLevel(FlagwireConfig.LogLevel.OFF)
                .closeOnShutdown(false)
                .profile(p.build())
                .build());
    }

    static FlagwireClient client() {
        return client(p -> { });
    }

    static long elapsedMs(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    // ---- found ------------------------------------------------------------------------------

    @Test
    void attributesFound() {
        try (FlagwireClient c = client()) {
            Map<String, Object> attrs = c.profileAttributes("user_id:u1").orElseThrow();
            Map<String, Object> expected = new LinkedHashMap<>();
            expected.put("plan", "pro");
            expected.put("logins", 12L);
            expected.put("score", 4.5);
            expected.put("beta", true);
            expected.put("big", 9007199254740993L);
            assertEquals(expected, attrs, "scalar traits only: objects, arrays and nulls are left out");
            // The number types the Optimizely Java SDK's matchers evaluate.
            assertInstanceOf(Long.class, attrs.get("logins"));
            assertInstanceOf(Double.class, attrs.get("score"));
            assertInstanceOf(Boolean.class, attrs.get("beta"));
            assertFalse(attrs.containsKey("$opt_bucketing_id"), "only with account_bucketing");

            // The caller owns the map.
            attrs.put("device", "ios");
            assertFalse(c.profileAttributes("user_id:u1").orElseThrow().containsKey("device"));

            // The same profile through another of its identifiers.
            assertEquals(expected, c.profileAttributes("anonymous_id:a1").orElseThrow());

            List<JsonObject> reqs = collector.profileRequests();
            assertEquals(2, reqs.size(), "one /traits request per identifier: " + reqs);
            for (JsonObject r : reqs) {
                assertTrue(r.get("authorization_ok").getAsBoolean(), "Basic auth with the token: " + r);
                assertEquals("traits", r.get("route").getAsString());
                assertEquals(200, r.get("status").getAsInt());
            }
            assertEquals("user_id:u1", reqs.get(0).get("identifier").getAsString());
        }
    }

    @Test
    void onlyTheConfiguredTraits() {
        try (FlagwireClient c = client(p -> p.traits("plan", "logins", "absent"))) {
            assertEquals(Map.of("plan", "pro", "logins", 12L), c.profileAttributes("user_id:u1").orElseThrow());
            assertTrue(collector.profileRequests().get(0).get("path").getAsString().contains("include=plan,logins,absent"));
        }
    }

    @Test
    void accountBucketingAddsTheGroupId() {
        try (FlagwireClient c = client(p -> p.accountBucketing(true))) {
            Map<String, Object> attrs = c.profileAttributes("user_id:u1").orElseThrow();
            assertEquals("acme", attrs.get("$opt_bucketing_id"));
            assertEquals("pro", attrs.get("plan"));
            // No linked account: no bucketing id, the traits still come back.
            assertEquals(Map.of("plan", "free"), c.profileAttributes("anonymous_id:a9").orElseThrow());
        }
    }

    @Test
    void userIdFound() {
        try (FlagwireClient c = client()) {
            assertEquals(Optional.of("u1"), c.profileUserId("anonymous_id:a1"));
            assertEquals(Optional.of("u1"), c.profileUserId("user_id:u1"));
            JsonObject r = collector.profileRequests().get(0);
            assertEquals("external_ids", r.get("route").getAsString());
            assertEquals("anonymous_id:a1", r.get("identifier").getAsString());
        }
    }

    // ---- not found ----------------------------------------------------------------------------

    @Test
    void notFound() {
        try (FlagwireClient c = client()) {
            assertEquals(Optional.empty(), c.profileAttributes("user_id:nobody"));
            assertEquals(Optional.empty(), c.profileUserId("user_id:nobody"));
            assertEquals(Optional.empty(), c.profileUserId("anonymous_id:a9"), "a profile without a user_id");
            // A profile without traits is found: an empty map, not "no profile".
            assertEquals(Optional.of(Map.of()), c.profileAttributes("user_id:u2"));
            assertTrue(c.lastError().orElse("").contains("not found"), c.lastError().toString());
            // Identifiers are percent-encoded by the library: this one is simply not there.
            assertEquals(Optional.empty(), c.profileAttributes("email:someone+x@example.com"));
            // An identifier larger than the per-thread scratch block (a one-off native block).
            assertEquals(Optional.empty(), c.profileAttributes("user_id:" + "x".repeat(10_000)));
        }
    }

    // ---- unavailable ------------------------------------------------------------------------

    @Test
    void unavailableWhenTheAnswerIsSlowerThanTheTimeout() {
        try (FlagwireClient c = client(p -> p.timeout(Duration.ofMillis(200)))) {
            collector.profileScript("[{\"status\":200,\"delay_ms\":2000}]");
            long t0 = System.nanoTime();
            Optional<Map<String, Object>> attrs = c.profileAttributes("user_id:u1");
            long ms = elapsedMs(t0);
            assertEquals(Optional.empty(), attrs);
            // Bounded by timeout_ms, not by the 2 s answer (a generous margin for a loaded machine).
            assertTrue(ms < 1500, "returned after " + ms + " ms with timeout 200 ms");
            assertTrue(c.lastError().isPresent());
            // The next lookup (no script step left) is answered.
            assertEquals("pro", c.profileAttributes("user_id:u1").orElseThrow().get("plan"));
        }
    }

    @Test
    void unavailableOnServerErrorsAndWrongToken() {
        try (FlagwireClient c = client()) {
            collector.profileScript("[{\"status\":503},{\"status\":500}]");
            assertEquals(Optional.empty(), c.profileAttributes("user_id:u1"));
            assertEquals(Optional.empty(), c.profileUserId("user_id:u1"));
            assertTrue(c.lastError().orElse("").contains("500"), c.lastError().toString());
        }
        try (FlagwireClient c = FlagwireClient.create(FlagwireConfig.builder("test-write-key")
                .endpoint(collector.url()).logLevel(FlagwireConfig.LogLevel.OFF).closeOnShutdown(false)
                .profile(ProfileConfig.builder(SPACE, "wrong-token").endpoint(collector.url()).build())
                .build())) {
            assertEquals(Optional.empty(), c.profileAttributes("user_id:u1"));
            JsonObject r = collector.profileRequests().get(collector.profileRequests().size() - 1);
            assertEquals(401, r.get("status").getAsInt());
            assertFalse(r.get("authorization_ok").getAsBoolean());
        }
    }

    @Test
    void staleEntryIsServedWhenTheApiFails() throws Exception {
        try (FlagwireClient c = client(p -> p.cacheTtl(Duration.ofMillis(1)))) {
            Map<String, Object> fresh = c.profileAttributes("user_id:u1").orElseThrow();
            Thread.sleep(20); // past the TTL
            collector.profileScript("[{\"status\":503}]");
            assertEquals(Optional.of(fresh), c.profileAttributes("user_id:u1"), "the stale entry, as OK");
            List<JsonObject> reqs = collector.profileRequests();
            assertEquals(2, reqs.size());
            assertEquals(503, reqs.get(1).get("status").getAsInt(), "the API was asked again");
        }
    }

    @Test
    void a429PausesEveryLookupUntilRetryAfter() throws Exception {
        try (FlagwireClient c = client()) {
            collector.profileScript("[{\"status\":429,\"retry_after\":\"1\"}]");
            assertEquals(Optional.empty(), c.profileAttributes("user_id:u1"));
            assertEquals(1, collector.profileRequests().size());
            // Paused: other identifiers are not even requested.
            assertEquals(Optional.empty(), c.profileAttributes("anonymous_id:a9"));
            assertEquals(Optional.empty(), c.profileUserId("anonymous_id:a1"));
            assertEquals(1, collector.profileRequests().size(), "no request during the pause");
            // After Retry-After (1 s) lookups reach the API again (bounded wait).
            Optional<Map<String, Object>> attrs = Optional.empty();
            long t0 = System.nanoTime();
            while (attrs.isEmpty() && elapsedMs(t0) < 10_000) {
                Thread.sleep(100);
                attrs = c.profileAttributes("user_id:u1");
            }
            assertEquals("pro", attrs.orElseThrow().get("plan"));
            assertTrue(elapsedMs(t0) >= 500, "the pause lasted");
        }
    }

    // ---- cache ----------------------------------------------------------------------------------

    @Test
    void cachedAnswersMakeNoRequest() {
        try (FlagwireClient c = client(p -> p.accountBucketing(true))) {
            Map<String, Object> first = c.profileAttributes("user_id:u1").orElseThrow();
            assertEquals(2, collector.profileRequests().size(), "traits + links");
            assertEquals(first, c.profileAttributes("user_id:u1").orElseThrow());
            assertEquals(2, collector.profileRequests().size(), "the second call is answered from the cache");

            assertEquals(Optional.of("u1"), c.profileUserId("anonymous_id:a1"));
            assertEquals(Optional.of("u1"), c.profileUserId("anonymous_id:a1"));
            assertEquals(3, collector.profileRequests().size(), "one external_ids request");

            assertEquals(Optional.empty(), c.profileAttributes("user_id:nobody"));
            assertEquals(Optional.empty(), c.profileAttributes("user_id:nobody"));
            assertEquals(4, collector.profileRequests().size(), "not found is cached too");
        }
        // Another client has its own cache.
        try (FlagwireClient c = client()) {
            c.profileAttributes("user_id:u1").orElseThrow();
            assertEquals(5, collector.profileRequests().size());
        }
    }

    @Test
    void concurrentLookupsOfOneIdentifierMakeOneRequest() throws Exception {
        try (FlagwireClient c = client(p -> p.timeout(Duration.ofSeconds(5)))) {
            collector.profileScript("[{\"status\":200,\"delay_ms\":500}]");
            int threads = 8;
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Optional<Map<String, Object>>>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                results.add(pool.submit(() -> {
                    start.await();
                    return c.profileAttributes("user_id:u1");
                }));
            }
            start.countDown();
            for (Future<Optional<Map<String, Object>>> f : results) {
                assertEquals("pro", f.get(30, TimeUnit.SECONDS).orElseThrow().get("plan"));
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
            assertEquals(1, collector.profileRequests().size(), "one request in flight per identifier");
        }
    }

    // ---- identifiers are data; errors are per call ---------------------------------------------

    @Test
    void anIdentifierIsDataNulIncluded() {
        // ABI 2 passes the identifier as pointer + length: a NUL is one more character of the id
        // (ABI 1's C string ended there and looked up another profile; the binding refused it).
        collector.profiles(fixture(List.of(
                "{\"external_ids\":[{\"type\":\"user_id\",\"id\":\"nul\\u0000id\"}],\"traits\":{\"plan\":\"nul\"},\"links\":[]}",
                profile(List.of("user_id:nul"), "{\"plan\":\"prefix\"}", List.of()))));
        try (FlagwireClient c = client()) {
            assertEquals("nul", c.profileAttributes("user_id:nul\0id").orElseThrow().get("plan"));
            // (A returned string is NUL-terminated: the library drops NULs from a returned user_id.)
            assertEquals("nulid", c.profileUserId("user_id:nul\0id").orElseThrow());
            assertEquals("prefix", c.profileAttributes("user_id:nul").orElseThrow().get("plan"));
            List<JsonObject> requests = collector.profileRequests();
            assertEquals("user_id:nul\0id", requests.get(0).get("identifier").getAsString());
            assertTrue(requests.get(0).get("path").getAsString().contains("user_id:nul%00id"), requests.get(0).toString());
        }
    }

    @Test
    void eachFailedLookupCarriesItsOwnMessage() throws Exception {
        // flagwire_profile_lookup writes the reason to this call's out_error: two threads failing
        // at once each get their own message (ABI 1's per-client last error could swap them).
        try (FlagwireClient c = client()) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<Integer>> done = new ArrayList<>();
                for (String kind : List.of("First Kind", "Second Kind")) {
                    done.add(pool.submit(() -> {
                        int checked = 0;
                        for (int i = 0; i < 300; i++) {
                            String bad = kind + ":" + i;
                            FlagwireException e = assertThrows(FlagwireException.class, () -> c.profileAttributes(bad));
                            assertEquals(FlagwireStatus.INVALID_JSON, e.status());
                            assertTrue(e.getMessage().contains(bad), e.getMessage() + " is not about " + bad);
                            checked++;
                        }
                        return checked;
                    }));
                }
                for (Future<Integer> f : done) {
                    assertEquals(300, f.get(60, TimeUnit.SECONDS));
                }
            } finally {
                pool.shutdownNow();
            }
            assertTrue(c.lastError().orElse("").contains("Kind:"), c.lastError().toString());
            assertTrue(collector.profileRequests().isEmpty(), "nothing was requested");
        }
    }

    // ---- errors and lifetime ------------------------------------------------------------------

    @Test
    void errorsAreExceptions() {
        try (FlagwireClient c = FlagwireClient.create(FlagwireConfig.builder("test-write-key")
                .endpoint(collector.url()).logLevel(FlagwireConfig.LogLevel.OFF).closeOnShutdown(false).build())) {
            FlagwireException e = assertThrows(FlagwireException.class, () -> c.profileAttributes("user_id:u1"));
            assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
            assertTrue(e.getMessage().contains("profile"), e.getMessage());
            assertEquals(FlagwireStatus.INVALID_CONFIG,
                    assertThrows(FlagwireException.class, () -> c.profileUserId("user_id:u1")).status());
        }
        FlagwireClient c = client();
        try {
            for (String bad : new String[] {"u1", "user_id:", ":u1", "User Id:u1"}) {
                FlagwireException e = assertThrows(FlagwireException.class, () -> c.profileAttributes(bad), bad);
                assertEquals(FlagwireStatus.INVALID_JSON, e.status(), bad);
                assertEquals(FlagwireStatus.INVALID_JSON,
                        assertThrows(FlagwireException.class, () -> c.profileUserId(bad)).status(), bad);
            }
            assertThrows(NullPointerException.class, () -> c.profileAttributes(null));
            assertTrue(collector.profileRequests().isEmpty(), "nothing was requested");
            c.close();
            assertEquals(FlagwireStatus.CLOSED,
                    assertThrows(FlagwireException.class, () -> c.profileAttributes("user_id:u1")).status());
            assertEquals(FlagwireStatus.CLOSED,
                    assertThrows(FlagwireException.class, () -> c.profileUserId("user_id:u1")).status());
        } finally {
            c.close();
        }
    }

    @Test
    void profileConfigIsValidatedAndItsTokenNeverShown() {
        FlagwireException e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(
                FlagwireConfig.builder("k").profile(ProfileConfig.builder(SPACE, "").build()).build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
        assertTrue(e.getMessage().contains("access_token"), e.getMessage());

        e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(FlagwireConfig.builder("k")
                .profile(ProfileConfig.builder(SPACE, "secret-token").option("bogus_key", 1).build()).build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status());
        assertTrue(e.getMessage().contains("bogus_key"), e.getMessage());
        assertFalse(e.getMessage().contains("secret-token"), e.getMessage());

        e = assertThrows(FlagwireException.class, () -> FlagwireClient.create(FlagwireConfig.builder("k")
                .profile(ProfileConfig.builder(SPACE, "secret-token").endpoint("http://profiles.example.com").build()).build()));
        assertEquals(FlagwireStatus.INVALID_CONFIG, e.status(), "plain http only to loopback");

        ProfileConfig p = ProfileConfig.builder(SPACE, "secret-token").endpoint(collector.url()).traits("plan")
                .accountBucketing(true).cacheTtl(Duration.ofMinutes(5)).cacheMaxEntries(1000).timeout(Duration.ofMillis(250))
                .build();
        FlagwireConfig config = FlagwireConfig.builder("secret-write-key").profile(p).build();
        assertFalse(p.toString().contains("secret-token"), p.toString());
        assertFalse(config.toString().contains("secret-token"), config.toString());
        assertFalse(config.toString().contains("secret-write-key"), config.toString());
        JsonObject sent = JsonParser.parseString(config.toJson()).getAsJsonObject().getAsJsonObject("profile");
        assertEquals(SPACE, sent.get("space_id").getAsString());
        assertEquals("secret-token", sent.get("access_token").getAsString());
        assertEquals(collector.url(), sent.get("endpoint").getAsString());
        assertEquals("[\"plan\"]", sent.getAsJsonArray("traits").toString());
        assertTrue(sent.get("account_bucketing").getAsBoolean());
        assertEquals(300_000, sent.get("cache_ttl_ms").getAsLong());
        assertEquals(1000, sent.get("cache_max_entries").getAsLong());
        assertEquals(250, sent.get("timeout_ms").getAsLong());
        try (FlagwireClient c = FlagwireClient.create(FlagwireConfig.builder("k").endpoint(collector.url())
                .logLevel(FlagwireConfig.LogLevel.OFF).closeOnShutdown(false).profile(p).build())) {
            assertTrue(c.profileAttributes("user_id:nobody").isEmpty()); // 401 (another token): unavailable
        }
    }

    @Test
    void closeWaitsForALookupInProgress() throws Exception {
        FlagwireClient c = client(p -> p.timeout(Duration.ofSeconds(3)));
        collector.profileScript("[{\"status\":200,\"delay_ms\":800}]");
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Optional<Map<String, Object>>> lookup = pool.submit(() -> c.profileAttributes("user_id:u1"));
            long t0 = System.nanoTime();
            while (collector.profileRequests().isEmpty() && elapsedMs(t0) < 5000) {
                Thread.sleep(10);
            }
            assertTrue(c.close(Duration.ofSeconds(5)));
            // close() waited for the call in progress, which got its answer.
            assertTrue(lookup.isDone());
            assertEquals("pro", lookup.get(1, TimeUnit.SECONDS).orElseThrow().get("plan"));
        } finally {
            pool.shutdownNow();
        }
    }

    // ---- account-level bucketing, end to end with the real Optimizely Java SDK ------------------

    /**
     * The minimal datafile with an audience on checkout_ab, so deciding needs the profile's traits
     * and the SDK's "exact" and "ge" matchers evaluate the types profileAttributes returns.
     */
    static String datafileWithAudience() {
        JsonObject d = JsonParser.parseString(TestData.read(TestData.MINIMAL)).getAsJsonObject();
        d.add("attributes", JsonParser.parseString(
                "[{\"id\":\"8901\",\"key\":\"plan\"},{\"id\":\"8902\",\"key\":\"logins\"}]"));
        d.add("typedAudiences", JsonParser.parseString("[{\"id\":\"8801\",\"name\":\"engaged pro\",\"conditions\":"
                + "[\"and\",[\"or\",{\"type\":\"custom_attribute\",\"name\":\"plan\",\"match\":\"exact\",\"value\":\"pro\"}],"
                + "[\"or\",{\"type\":\"custom_attribute\",\"name\":\"logins\",\"match\":\"ge\",\"value\":10}]]}]"));
        JsonObject exp = d.getAsJsonArray("experiments").get(0).getAsJsonObject();
        exp.add("audienceIds", JsonParser.parseString("[\"8801\"]"));
        exp.add("audienceConditions", JsonParser.parseString("[\"or\",\"8801\"]"));
        return d.toString();
    }

    @Test
    void accountBucketingGivesEveryUserOfAnAccountTheSameVariation() {
        String datafile = datafileWithAudience();
        Map<String, Object> traits = Map.of("plan", "pro", "logins", 12L);

        // 1. The real SDK without a bucketing id: two users in the experiment with different variations.
        String userA = null;
        String userB = null;
        String variationA = null;
        String group = null;
        Optimizely search = OptimizelyIntegrationTest.optimizely(datafile);
        try {
            assertEquals("checkout_delivery", search.createUserContext("user-0", Map.of()).decide("checkout_flow").getRuleKey(),
                    "without the traits the audience does not match");
            for (int i = 0; i < 1000 && userB == null; i++) {
                String u = "user-" + i;
                OptimizelyDecision d = search.createUserContext(u, traits).decide("checkout_flow");
                if (!"checkout_ab".equals(d.getRuleKey())) {
                    continue;
                }
                if (userA == null) {
                    userA = u;
                    variationA = d.getVariationKey();
                } else if (!variationA.equals(d.getVariationKey())) {
                    userB = u;
                }
            }
            assertNotNull(userB, "two users with different variations");
            // 2. An account id whose bucket is in the experiment (half the traffic is).
            for (int j = 0; j < 1000 && group == null; j++) {
                Map<String, Object> withGroup = new HashMap<>(traits);
                withGroup.put("$opt_bucketing_id", "acct-" + j);
                if ("checkout_ab".equals(search.createUserContext("probe", withGroup).decide("checkout_flow").getRuleKey())) {
                    group = "acct-" + j;
                }
            }
            assertNotNull(group);
        } finally {
            search.close();
        }

        // 3. Both users' profiles link to that account (and a third user of it, under the audience's bar).
        collector.profiles(fixture(List.of(
                profile(List.of("user_id:" + userA), "{\"plan\":\"pro\",\"logins\":12}", List.of(group)),
                profile(List.of("user_id:" + userB), "{\"plan\":\"pro\",\"logins\":40,\"country\":\"DE\"}", List.of(group)),
                profile(List.of("user_id:user-low"), "{\"plan\":\"pro\",\"logins\":3}", List.of(group)))));
        collector.reset();

        // 4. Deciding with the profile's attributes: the same variation for both.
        Optimizely optimizely = OptimizelyIntegrationTest.optimizely(datafile);
        String variation;
        try (FlagwireClient flagwire = client(p -> p.accountBucketing(true))) {
            flagwire.attach(optimizely);
            Map<String, Object> attrsA = flagwire.profileAttributes("user_id:" + userA).orElseThrow();
            Map<String, Object> attrsB = flagwire.profileAttributes("user_id:" + userB).orElseThrow();
            assertEquals(group, attrsA.get("$opt_bucketing_id"));
            assertEquals(group, attrsB.get("$opt_bucketing_id"));
            OptimizelyDecision a = optimizely.createUserContext(userA, attrsA).decide("checkout_flow");
            OptimizelyDecision b = optimizely.createUserContext(userB, attrsB).decide("checkout_flow");
            assertEquals("checkout_ab", a.getRuleKey(), "the audience (exact + ge on the profile's Long) matched");
            assertEquals("checkout_ab", b.getRuleKey());
            assertEquals(a.getVariationKey(), b.getVariationKey(), "one account, one variation");
            variation = a.getVariationKey();
            // A user of the same account below the audience's bar is not in the experiment: no exposure.
            Map<String, Object> attrsLow = flagwire.profileAttributes("user_id:user-low").orElseThrow();
            assertEquals(3L, attrsLow.get("logins"));
            assertEquals("checkout_delivery", optimizely.createUserContext("user-low", attrsLow).decide("checkout_flow").getRuleKey());
            assertTrue(flagwire.flush(Duration.ofSeconds(10)));
        } finally {
            optimizely.close();
        }

        // 5. The exposures reaching Segment carry the bucketing id in userAttributes.
        List<JsonObject> messages = collector.messages();
        assertEquals(2, messages.size(), messages.toString());
        Map<String, JsonObject> byUser = new HashMap<>();
        for (JsonObject m : messages) {
            assertEquals("Experiment Viewed", m.get("event").getAsString());
            byUser.put(m.get("userId").getAsString(), m.getAsJsonObject("properties"));
        }
        for (String u : new String[] {userA, userB}) {
            JsonObject p = byUser.get(u);
            assertNotNull(p, u + " has an exposure");
            assertEquals("checkout_ab", p.get("ruleKey").getAsString());
            assertEquals(variation, p.get("variationKey").getAsString());
            JsonObject ua = p.getAsJsonObject("userAttributes");
            assertEquals(group, ua.get("$opt_bucketing_id").getAsString(), ua.toString());
            assertEquals("pro", ua.get("plan").getAsString());
        }
        assertEquals(12, byUser.get(userA).getAsJsonObject("userAttributes").get("logins").getAsInt());
        assertEquals("DE", byUser.get(userB).getAsJsonObject("userAttributes").get("country").getAsString());
        assertNotEquals(userA, userB);
    }
}
