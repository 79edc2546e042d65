import com.optimizely.ab.Optimizely;
import com.optimizely.ab.optimizelydecision.OptimizelyDecision;
import dev.flagwire.Flagwire;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * A program that knows flagwire only by its Maven coordinates: the real Optimizely Java SDK
 * (offline, from a datafile, impressions not sent) with flagwire attached decides for USERS
 * users. Prints USER=VARIATION for each of the SDK's experiment decisions (the exposures
 * expected), and where the native library was loaded from on stderr.
 * Usage: Consumer COLLECTOR_URL DATAFILE USERS
 */
public final class Consumer {
    public static void main(String[] args) throws Exception {
        Optimizely optimizely = Optimizely.builder()
                .withDatafile(Files.readString(Path.of(args[1])))
                .withEventProcessor(userEvent -> { })   // offline: impressions go nowhere
                .build();
        try (FlagwireClient flagwire = FlagwireClient.create(
                FlagwireConfig.builder("maven-test").endpoint(args[0]).build())) {
            flagwire.attach(optimizely);
            for (int i = 0; i < Integer.parseInt(args[2]); i++) {
                OptimizelyDecision d = optimizely.createUserContext("maven-user-" + i, Map.of("plan", "pro"))
                        .decide("checkout_flow");
                if ("checkout_ab".equals(d.getRuleKey())) {
                    System.out.println("maven-user-" + i + "=" + d.getVariationKey());
                }
            }
            if (!flagwire.close(Duration.ofSeconds(10))) {
                throw new IllegalStateException("close did not deliver everything");
            }
        } finally {
            optimizely.close();
        }
        System.err.println("loaded " + Flagwire.libraryFile() + " (flagwire " + Flagwire.version() + ")");
    }
}
