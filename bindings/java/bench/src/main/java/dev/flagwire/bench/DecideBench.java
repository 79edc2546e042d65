package dev.flagwire.bench;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.OptimizelyUserContext;
import com.optimizely.ab.optimizelydecision.OptimizelyDecision;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireStats;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code user.decide("checkout_flow")} throughput from 4 threads on the real SDK (minimal datafile:
 * half the users in the A/B experiment, half in the rollout), with no listener, with flagwire
 * attached, and with the hand-written analytics-java listener. The SDK calls decision listeners
 * one at a time across all threads (NotificationManager holds a lock), so the listener's cost is
 * paid under that lock.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 6, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx4g"})
@Threads(4)
@State(Scope.Benchmark)
public class DecideBench {
    @Param({"none", "flagwire", "analytics-java"})
    public String listener;

    Optimizely optimizely;
    FlagwireClient flagwire;
    BenchEnv.AnalyticsSink sink;
    BenchEnv.AnalyticsJavaListener analyticsListener;

    @Setup(Level.Trial)
    public void setUp() {
        optimizely = BenchEnv.optimizely();
        switch (listener) {
            case "none" -> { }
            case "flagwire" -> {
                flagwire = BenchEnv.flagwire();
                flagwire.attach(optimizely);
            }
            case "analytics-java" -> {
                sink = new BenchEnv.AnalyticsSink();
                analyticsListener = new BenchEnv.AnalyticsJavaListener(sink.analytics, optimizely);
                optimizely.addDecisionNotificationHandler(analyticsListener);
            }
            default -> throw new IllegalArgumentException(listener);
        }
    }

    /** Each benchmark thread decides for its own 4096 users, round robin. */
    @State(Scope.Thread)
    public static class Users {
        private static final AtomicInteger THREADS = new AtomicInteger();
        private static final int MASK = 4095;
        OptimizelyUserContext[] users;
        int next;

        @Setup(Level.Trial)
        public void setUp(DecideBench bench) {
            int t = THREADS.getAndIncrement();
            users = new OptimizelyUserContext[MASK + 1];
            for (int i = 0; i <= MASK; i++) {
                Map<String, Object> attrs = new LinkedHashMap<>();
                attrs.put("plan", i % 3 == 0 ? "premium" : "free");
                attrs.put("country", "DE");
                users[i] = bench.optimizely.createUserContext("t" + t + "-user-" + i, attrs);
            }
        }
    }

    @Benchmark
    public OptimizelyDecision decide(Users u) {
        return u.users[u.next++ & Users.MASK].decide("checkout_flow");
    }

    @TearDown(Level.Iteration)
    public void drain() throws Exception {
        if (flagwire != null && !flagwire.flush(Duration.ofSeconds(120))) {
            throw new IllegalStateException("flagwire flush timed out");
        }
        if (sink != null && !sink.drain(analyticsListener.enqueued, Duration.ofSeconds(120))) {
            throw new IllegalStateException("analytics-java drain timed out");
        }
        BenchEnv.resetCollector();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (flagwire != null) {
            FlagwireStats s = flagwire.stats();
            System.out.println("flagwire stats: " + s + " handlerErrors=" + flagwire.handlerErrors());
            if (s.droppedQueueFull() + s.failed() + flagwire.handlerErrors() > 0) {
                throw new IllegalStateException("flagwire dropped or failed events: " + s);
            }
            flagwire.close();
        }
        if (sink != null) {
            System.out.println("analytics-java: enqueued=" + analyticsListener.enqueued + " finished=" + sink.finished
                    + " failed=" + sink.failed);
            sink.analytics.shutdown();
        }
        optimizely.close();
    }
}
