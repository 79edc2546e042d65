package dev.flagwire.bench;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;
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
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The caller's cost of one DECISION notification (an experiment exposure, as the SDK builds it)
 * through a listener, on the deciding thread: flagwire's handler vs the analytics-java handler a
 * user writes by hand vs an empty handler.
 *
 * <p>Each measured operation is a burst of {@value #BURST} notifications handed over back to back
 * (JMH SingleShotTime, batchSize); between bursts everything queued is delivered to the collector,
 * untimed. So every burst starts with an idle pipeline, as in production, where exposures arrive
 * far below the pipeline's capacity, while the background threads (flagwire's sender,
 * analytics-java's looper and network thread) still compete for the same two cores during the
 * burst. Divide the score by {@value #BURST} for the cost per notification (Summary does).
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 300, batchSize = HandlerBench.BURST)
@Measurement(iterations = 200, batchSize = HandlerBench.BURST)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class HandlerBench {
    /** Notifications per measured burst. */
    public static final int BURST = 2000;

    @Param({"none", "flagwire", "analytics-java"})
    public String listener;

    private static final int MASK = 4095;
    private DecisionNotification[] notifications;
    private int next;
    private NotificationHandler<DecisionNotification> handler;
    private FlagwireClient flagwire;
    private BenchEnv.AnalyticsSink sink;
    private BenchEnv.AnalyticsJavaListener analyticsListener;

    @Setup(Level.Trial)
    public void setUp() {
        notifications = BenchEnv.exposures(MASK + 1);
        switch (listener) {
            case "none" -> handler = n -> { };
            case "flagwire" -> {
                flagwire = BenchEnv.flagwire();
                flagwire.setDatafile(BenchEnv.datafile());
                handler = flagwire.decisionHandler();
            }
            case "analytics-java" -> {
                sink = new BenchEnv.AnalyticsSink();
                Optimizely o = BenchEnv.optimizely();
                analyticsListener = new BenchEnv.AnalyticsJavaListener(sink.analytics, o);
                o.close();
                handler = analyticsListener;
            }
            default -> throw new IllegalArgumentException(listener);
        }
    }

    @Benchmark
    public void notification() throws Exception {
        handler.handle(notifications[next++ & MASK]);
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
            if (s.droppedQueueFull() + s.failed() + flagwire.handlerErrors() > 0 || s.exposures() != s.decisions()) {
                throw new IllegalStateException("flagwire dropped or failed events: " + s);
            }
            flagwire.close();
        }
        if (sink != null) {
            System.out.println("analytics-java: enqueued=" + analyticsListener.enqueued + " finished=" + sink.finished
                    + " failed=" + sink.failed);
            if (sink.failed.get() > 0) {
                throw new IllegalStateException("analytics-java failed events");
            }
            sink.analytics.shutdown();
        }
    }
}
