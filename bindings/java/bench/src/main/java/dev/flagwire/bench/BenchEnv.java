package dev.flagwire.bench;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;
import com.optimizely.ab.optimizelyconfig.OptimizelyExperiment;
import com.optimizely.ab.optimizelyconfig.OptimizelyFeature;
import com.segment.analytics.Analytics;
import com.segment.analytics.Callback;
import com.segment.analytics.messages.Message;
import com.segment.analytics.messages.TrackMessage;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireConfig;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/** What every benchmark shares: the collector, the datafile, both clients, the notifications. */
public final class BenchEnv {
    private BenchEnv() {}

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    public static String endpoint() {
        String url = System.getenv("FLAGWIRE_BENCH_ENDPOINT");
        if (url == null || url.isEmpty()) {
            throw new IllegalStateException("FLAGWIRE_BENCH_ENDPOINT (the collector URL) is not set; run bench.sh");
        }
        return url;
    }

    public static String datafile() {
        String path = System.getenv("FLAGWIRE_BENCH_DATAFILE");
        if (path == null || path.isEmpty()) {
            throw new IllegalStateException("FLAGWIRE_BENCH_DATAFILE is not set; run bench.sh");
        }
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** flagwire with its defaults, except a queue large enough that a benchmark never drops. */
    public static FlagwireClient flagwire() {
        return FlagwireClient.create(FlagwireConfig.builder("bench-write-key")
                .endpoint(endpoint())
                .maxQueueEvents(4_000_000)
                .maxQueueBytes(4L << 30)
                .logLevel(FlagwireConfig.LogLevel.WARN)
                .closeOnShutdown(false)
                .build());
    }

    @SuppressWarnings("deprecation") // withEventHandler: the offline recipe (optimizely.md §4.2)
    public static Optimizely optimizely() {
        Optimizely o = Optimizely.builder().withDatafile(datafile()).withEventHandler(logEvent -> { }).build();
        if (!o.isValid()) {
            throw new IllegalStateException("datafile refused by the SDK");
        }
        return o;
    }

    /** analytics-java with its defaults, and a callback that counts finished messages. */
    public static final class AnalyticsSink {
        public final Analytics analytics;
        public final AtomicLong finished = new AtomicLong();
        public final AtomicLong failed = new AtomicLong();

        public AnalyticsSink() {
            analytics = Analytics.builder("bench-write-key")
                    .endpoint(endpoint())
                    .callback(new Callback() {
                        @Override
                        public void success(Message message) {
                            finished.incrementAndGet();
                        }

                        @Override
                        public void failure(Message message, Throwable throwable) {
                            failed.incrementAndGet();
                            finished.incrementAndGet();
                        }
                    })
                    .build();
        }

        /** Flushes and waits (bounded) until {@code expected} messages finished. */
        public boolean drain(long expected, Duration timeout) throws InterruptedException {
            analytics.flush();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (finished.get() < expected) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.sleep(2);
            }
            return true;
        }
    }

    /**
     * What a Java user writes by hand without flagwire, as carefully as the guides allow: keep flag
     * decisions of experiment rules (looked up by flag in OptimizelyConfig, built once), skip
     * DISABLE_DECISION_EVENT decisions, and enqueue the same "Experiment Viewed" properties
     * flagwire sends (property_style "both").
     */
    public static final class AnalyticsJavaListener implements NotificationHandler<DecisionNotification> {
        private final Analytics analytics;
        private final Map<String, Map<String, String>> experimentIdByRule; // flagKey -> ruleKey -> id
        private final Map<String, String> variationIdByKey;               // experimentId/variationKey -> id
        /** Messages enqueued; written under the SDK's notification lock (or by one thread). */
        public long enqueued;

        public AnalyticsJavaListener(Analytics analytics, Optimizely optimizely) {
            this.analytics = analytics;
            this.experimentIdByRule = new java.util.HashMap<>();
            this.variationIdByKey = new java.util.HashMap<>();
            for (Map.Entry<String, OptimizelyFeature> f : optimizely.getOptimizelyConfig().getFeaturesMap().entrySet()) {
                Map<String, String> rules = new java.util.HashMap<>();
                for (OptimizelyExperiment e : f.getValue().getExperimentRules()) {
                    rules.put(e.getKey(), e.getId());
                    e.getVariationsMap().forEach((k, v) -> variationIdByKey.put(e.getId() + "/" + k, v.getId()));
                }
                experimentIdByRule.put(f.getKey(), rules);
            }
        }

        @Override
        public void handle(DecisionNotification n) {
            if (!"flag".equals(n.getType())) {
                return;
            }
            Map<String, ?> info = n.getDecisionInfo();
            String flagKey = (String) info.get("flagKey");
            String ruleKey = (String) info.get("ruleKey");
            String variationKey = (String) info.get("variationKey");
            if (ruleKey == null || variationKey == null || Boolean.FALSE.equals(info.get("decisionEventDispatched"))) {
                return;
            }
            Map<String, String> rules = experimentIdByRule.get(flagKey);
            String experimentId = rules == null ? null : rules.get(ruleKey);
            if (experimentId == null) {
                return; // a delivery (rollout) rule
            }
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("flagKey", flagKey);
            p.put("ruleKey", ruleKey);
            p.put("variationKey", variationKey);
            p.put("enabled", info.get("enabled"));
            p.put("optimizelyUserId", n.getUserId());
            if (!n.getAttributes().isEmpty()) {
                p.put("userAttributes", n.getAttributes());
            }
            p.put("experiment_id", experimentId);
            p.put("experiment_name", ruleKey);
            p.put("variation_id", variationIdByKey.get(experimentId + "/" + variationKey));
            p.put("variation_name", variationKey);
            analytics.enqueue(TrackMessage.builder("Experiment Viewed").userId(n.getUserId()).properties(p));
            enqueued++;
        }
    }

    /** {@code count} flag notifications for the experiment rule checkout_ab, as the SDK builds them. */
    public static DecisionNotification[] exposures(int count) {
        DecisionNotification[] out = new DecisionNotification[count];
        for (int i = 0; i < count; i++) {
            boolean treatment = i % 2 == 0;
            Map<String, Object> attrs = new LinkedHashMap<>();
            attrs.put("plan", i % 3 == 0 ? "premium" : "free");
            attrs.put("country", "DE");
            out[i] = DecisionNotification.newFlagDecisionNotificationBuilder()
                    .withUserId("user-" + i)
                    .withAttributes(attrs)
                    .withFlagKey("checkout_flow")
                    .withEnabled(treatment)
                    .withVariables(Map.of("button_color", treatment ? "green" : "gray"))
                    .withVariationKey(treatment ? "treatment" : "control")
                    .withRuleKey("checkout_ab")
                    .withReasons(List.of())
                    .withDecisionEventDispatched(true)
                    .withExperimentId("2001")
                    .withVariationId(treatment ? "5002" : "5001")
                    .build();
        }
        return out;
    }

    /** Sets the collector's per-request latency (POST /_test/latency); 0 for none. */
    public static void latency(int ms) {
        post("/_test/latency", "{\"latency_ms\":" + ms + "}");
    }

    public static void resetCollector() {
        post("/_test/reset");
    }

    /** Waits (bounded) until the collector holds {@code count} messages; returns its count. */
    public static long waitCollector(long count, Duration timeout) {
        String body = get("/_test/wait?count=" + count + "&timeout_ms=" + timeout.toMillis());
        int i = body.indexOf("\"count\":");
        int j = i + 8;
        while (j < body.length() && Character.isDigit(body.charAt(j))) {
            j++;
        }
        return Long.parseLong(body.substring(i + 8, j));
    }

    private static void post(String path) {
        post(path, "{}");
    }

    /** POSTs a JSON body to a collector control route; returns the answer. */
    public static String post(String path, String body) {
        return send(HttpRequest.newBuilder(URI.create(endpoint() + path)).POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    /** GETs a collector control route; returns the answer. */
    public static String get(String path) {
        return send(HttpRequest.newBuilder(URI.create(endpoint() + path)).timeout(Duration.ofSeconds(150)).GET().build());
    }

    private static String send(HttpRequest r) {
        try {
            return HTTP.send(r, HttpResponse.BodyHandlers.ofString()).body();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

}
