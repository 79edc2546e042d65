package dev.flagwire.examples;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.OptimizelyUserContext;
import com.optimizely.ab.optimizelydecision.OptimizelyDecision;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireConfig;
import dev.flagwire.FlagwireStats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The integration guide's steps with flagwire: register a DECISION listener on the Optimizely
 * client, send experiment decisions to Segment as "Experiment Viewed", flush on shutdown.
 *
 * <pre>
 * SEGMENT_WRITE_KEY=... java -cp ... dev.flagwire.examples.Quickstart datafile.json [endpoint]
 * </pre>
 */
public final class Quickstart {
    private Quickstart() {}

    public static void main(String[] args) throws Exception {
        String writeKey = System.getenv().getOrDefault("SEGMENT_WRITE_KEY", "YOUR_WRITE_KEY");
        String datafile = Files.readString(Path.of(args[0]));
        String endpoint = args.length > 1 ? args[1] : "https://api.segment.io";
        FlagwireStats stats = run(writeKey, endpoint, datafile);
        System.out.println(stats);
    }

    public static FlagwireStats run(String writeKey, String endpoint, String datafileJson) {
        // 1. The Optimizely client, as the application already builds it. (In production:
        //    OptimizelyFactory.newDefaultInstance(sdkKey) from core-httpclient-impl; here a static
        //    datafile, offline.)
        Optimizely optimizely = Optimizely.builder().withDatafile(datafileJson).build();

        // 2. One flagwire client per process. Only the keys you set are sent; the rest keep the
        //    library's defaults (batching, gzip, retries with backoff, bounded queue).
        FlagwireConfig config = FlagwireConfig.builder(writeKey)
                .endpoint(endpoint)
                .build();
        try (FlagwireClient flagwire = FlagwireClient.create(config)) {
            // 3. Register the listener once, at startup. attach() also gives flagwire the datafile
            //    (now and on every update) so only experiment rules become events, never rollouts;
            //    a second attach() is refused (the guides' "duplicate events" pitfall).
            flagwire.attach(optimizely);

            // 4. Decide as usual. Each experiment decision becomes one "Experiment Viewed" track
            //    event with flagKey, ruleKey, variationKey, experiment_id, variation_id, ...
            for (int i = 1; i <= 10; i++) {
                OptimizelyUserContext user = optimizely.createUserContext("user-" + i, Map.of("plan", "premium"));
                OptimizelyDecision decision = user.decide("checkout_flow");
                if (decision.getEnabled()) {
                    // 5. Conversion events go through the same queue.
                    flagwire.enqueue(Map.of(
                            "type", "track",
                            "userId", "user-" + i,
                            "event", "Order Completed",
                            "properties", Map.of("revenue", 42.0, "currency", "EUR")));
                }
            }

            // 6. Validation: flush and look at the counters (log_level DEBUG prints each event).
            flagwire.flush(Duration.ofSeconds(5));
            return flagwire.stats();
        } finally {
            // close() (end of the try) detached, flushed and stopped flagwire; now the SDK.
            optimizely.close();
        }
    }
}
