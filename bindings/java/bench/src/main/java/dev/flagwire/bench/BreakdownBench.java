package dev.flagwire.bench;

import com.optimizely.ab.notification.DecisionNotification;
import dev.flagwire.Flagwire;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireStatus;
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
import java.util.concurrent.TimeUnit;

/**
 * Where the handler's time goes (not part of bench.sh's default run): a bare JNA call, a decision
 * the library skips (a rollout: no event built), an exposure through the fast path, and the
 * notification-JSON path.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 4, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 6, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx4g"})
@State(Scope.Benchmark)
public class BreakdownBench {
    FlagwireClient flagwire;
    DecisionNotification[] notes;
    int next;
    final Map<String, Object> attrs = Map.of("plan", "premium", "country", "DE");

    @Setup(Level.Trial)
    public void setUp() {
        flagwire = BenchEnv.flagwire();
        flagwire.setDatafile(BenchEnv.datafile());
        notes = BenchEnv.exposures(4096);
    }

    @Benchmark
    public int bareJnaCall() {
        return Flagwire.abiVersion();
    }

    @Benchmark
    public FlagwireStatus skippedRollout() {
        return flagwire.onFlagDecision("user-1", "checkout_flow", "checkout_delivery", "on", true, false, attrs);
    }

    @Benchmark
    public FlagwireStatus skippedNoAttributes() {
        return flagwire.onFlagDecision("user-1", "checkout_flow", "checkout_delivery", "on", true, false, null);
    }

    @Benchmark
    public FlagwireStatus exposureFastPath() {
        return flagwire.onFlagDecision("user-1", "checkout_flow", "checkout_ab", "treatment", true, true, attrs);
    }

    @Benchmark
    public FlagwireStatus exposureJsonPath() {
        return flagwire.onDecisionJson(
                "{\"type\":\"flag\",\"userId\":\"user-1\",\"attributes\":{\"plan\":\"premium\",\"country\":\"DE\"},"
                + "\"decisionInfo\":{\"flagKey\":\"checkout_flow\",\"ruleKey\":\"checkout_ab\",\"variationKey\":\"treatment\","
                + "\"enabled\":true,\"decisionEventDispatched\":true,\"experimentId\":\"2001\",\"variationId\":\"5002\"}}");
    }

    @Benchmark
    public void handler() throws Exception {
        flagwire.decisionHandler().handle(notes[next++ & 4095]);
    }

    @TearDown(Level.Iteration)
    public void drain() {
        flagwire.flush(Duration.ofSeconds(120));
        BenchEnv.resetCollector();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        flagwire.close();
    }
}
