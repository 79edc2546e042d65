package dev.flagwire.bench;

import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireConfig;
import dev.flagwire.ProfileConfig;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A cached {@code profileAttributes} lookup (Segment Profile API, DESIGN §7), on one thread: the
 * JNA call, the native library's TTL + LRU cache, reading and freeing the returned string, and
 * decoding it into a new {@code Map<String, Object>} (3 traits + {@code $opt_bucketing_id}). The
 * profile is fetched once from the collector's Profile API fixture before measuring; the teardown
 * checks that no measured call reached the network.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 10, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class ProfileBench {
    static final String IDENTIFIER = "user_id:bench-user";

    FlagwireClient flagwire;

    @Setup(Level.Trial)
    public void setUp() {
        String answer = BenchEnv.post("/_test/profiles", "{\"space_id\":\"spa_bench\",\"access_token\":\"tok_bench\","
                + "\"profiles\":[{\"external_ids\":[{\"type\":\"user_id\",\"id\":\"bench-user\"},{\"type\":\"anonymous_id\",\"id\":\"bench-anon\"}],"
                + "\"traits\":{\"plan\":\"pro\",\"logins\":12,\"score\":4.5,\"address\":{\"city\":\"Berlin\"}},"
                + "\"links\":[{\"type\":\"group_id\",\"id\":\"acme\"}]}]}");
        if (!answer.contains("\"ok\":true")) {
            throw new IllegalStateException("the collector refused the profile fixture: " + answer);
        }
        BenchEnv.resetCollector();
        flagwire = FlagwireClient.create(FlagwireConfig.builder("bench-write-key")
                .endpoint(BenchEnv.endpoint())
                .logLevel(FlagwireConfig.LogLevel.WARN)
                .closeOnShutdown(false)
                .profile(ProfileConfig.builder("spa_bench", "tok_bench")
                        .endpoint(BenchEnv.endpoint())
                        .accountBucketing(true)
                        .cacheTtl(Duration.ofHours(1))
                        .timeout(Duration.ofSeconds(5))
                        .build())
                .build());
        Map<String, Object> attrs = flagwire.profileAttributes(IDENTIFIER)
                .orElseThrow(() -> new IllegalStateException("profile not found: " + flagwire.lastError()));
        if (attrs.size() != 4 || !"acme".equals(attrs.get("$opt_bucketing_id"))) {
            throw new IllegalStateException("unexpected attributes " + attrs);
        }
    }

    @Benchmark
    public Optional<Map<String, Object>> cachedAttributes() {
        return flagwire.profileAttributes(IDENTIFIER);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        String requests = BenchEnv.get("/_test/profile_requests");
        int n = requests.split("\"route\"", -1).length - 1;
        flagwire.close();
        if (n != 2) { // the warm-up's /traits and /links
            throw new IllegalStateException("measured lookups reached the Profile API: " + n + " requests");
        }
        System.out.println("profile requests: " + n + " (the warm-up's /traits and /links only)");
    }
}
