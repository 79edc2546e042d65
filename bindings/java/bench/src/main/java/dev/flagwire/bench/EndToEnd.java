package dev.flagwire.bench;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireStats;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * End-to-end events/s: N exposure notifications through the listener on one thread, until the
 * collector holds all N, at each per-request latency of the collector. Reports the caller phase
 * (handing N events over) and the whole run (until delivered), per round.
 * Usage: EndToEnd [N=100000] [result-file] [rounds=3] [latencies ms, e.g. 0,20,50,200].
 */
public final class EndToEnd {
    private EndToEnd() {}

    record Run(String library, int latencyMs, int events, double callerNsPerEvent, double eventsPerSecond, long collectorCount) {}

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        Path out = args.length > 1 ? Path.of(args[1]) : null;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        // Per-request latency of the collector (POST /_test/latency), one pass per value: a
        // delivery figure at 127.0.0.1 alone says little. Fewer events above 0 ms, so that the
        // peer (one request at a time) finishes in seconds.
        List<Integer> latencies = new ArrayList<>();
        for (String l : (args.length > 3 ? args[3] : "0").split(",")) {
            latencies.add(Integer.parseInt(l.trim()));
        }
        DecisionNotification[] notes = BenchEnv.exposures(4096);
        List<Run> runs = new ArrayList<>();

        try (FlagwireClient flagwire = BenchEnv.flagwire()) {
            flagwire.setDatafile(BenchEnv.datafile());
            NotificationHandler<DecisionNotification> h = flagwire.decisionHandler();
            Drain drain = () -> flagwire.flush(Duration.ofSeconds(300));
            BenchEnv.latency(0);
            run("flagwire", 0, h, notes, n / 4, drain); // warm-up
            for (int latency : latencies) {
                BenchEnv.latency(latency);
                for (int r = 0; r < rounds; r++) {
                    runs.add(run("flagwire", latency, h, notes, events(n, latency), drain));
                }
            }
            FlagwireStats s = flagwire.stats();
            System.out.println("flagwire stats: " + s);
            if (s.failed() + s.droppedQueueFull() > 0) {
                throw new IllegalStateException("flagwire lost events: " + s);
            }
        }

        BenchEnv.AnalyticsSink sink = new BenchEnv.AnalyticsSink();
        Optimizely o = BenchEnv.optimizely();
        BenchEnv.AnalyticsJavaListener listener = new BenchEnv.AnalyticsJavaListener(sink.analytics, o);
        o.close();
        Drain drain = () -> sink.drain(listener.enqueued, Duration.ofSeconds(300));
        BenchEnv.latency(0);
        run("analytics-java", 0, listener, notes, n / 4, drain);
        for (int latency : latencies) {
            BenchEnv.latency(latency);
            for (int r = 0; r < rounds; r++) {
                runs.add(run("analytics-java", latency, listener, notes, events(n, latency), drain));
            }
        }
        BenchEnv.latency(0);
        sink.analytics.shutdown();

        StringBuilder sb = new StringBuilder();
        for (Run r : runs) {
            String line = String.format(Locale.ROOT,
                    "e2e %s latency_ms=%d events=%d caller_ns_per_event=%.0f events_per_s=%.0f collector=%d",
                    r.library(), r.latencyMs(), r.events(), r.callerNsPerEvent(), r.eventsPerSecond(), r.collectorCount());
            System.out.println(line);
            sb.append(line).append('\n');
        }
        if (out != null) {
            Files.writeString(out, sb.toString());
        }
    }

    interface Drain {
        boolean drain() throws Exception;
    }

    static int events(int n, int latencyMs) {
        return latencyMs == 0 ? n : latencyMs < 100 ? n / 5 : n / 10;
    }

    static Run run(String library, int latencyMs, NotificationHandler<DecisionNotification> h, DecisionNotification[] notes,
            int n, Drain drain) throws Exception {
        BenchEnv.resetCollector();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            h.handle(notes[i & 4095]);
        }
        long t1 = System.nanoTime();
        if (!drain.drain()) {
            throw new IllegalStateException(library + ": not drained in time");
        }
        long count = BenchEnv.waitCollector(n, Duration.ofSeconds(120));
        long t2 = System.nanoTime();
        if (count != n) {
            throw new IllegalStateException(library + ": collector holds " + count + " of " + n);
        }
        return new Run(library, latencyMs, n, (t1 - t0) / (double) n, n / ((t2 - t0) / 1e9), count);
    }

}
