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
 * collector holds all N. Reports the caller phase (handing N events over) and the whole run
 * (until delivered), per round. Usage: EndToEnd [N=100000] [result-file] [rounds=3].
 */
public final class EndToEnd {
    private EndToEnd() {}

    record Run(String library, int events, double callerNsPerEvent, double eventsPerSecond, long collectorCount) {}

    public static void main(String[] args) throws Exception {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        Path out = args.length > 1 ? Path.of(args[1]) : null;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        DecisionNotification[] notes = BenchEnv.exposures(4096);
        List<Run> runs = new ArrayList<>();

        try (FlagwireClient flagwire = BenchEnv.flagwire()) {
            flagwire.setDatafile(BenchEnv.datafile());
            NotificationHandler<DecisionNotification> h = flagwire.decisionHandler();
            run("flagwire", h, notes, n / 4, () -> flagwire.flush(Duration.ofSeconds(300))); // warm-up
            for (int r = 0; r < rounds; r++) {
                runs.add(run("flagwire", h, notes, n, () -> flagwire.flush(Duration.ofSeconds(300))));
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
        run("analytics-java", listener, notes, n / 4, () -> sink.drain(listener.enqueued, Duration.ofSeconds(300)));
        for (int r = 0; r < rounds; r++) {
            runs.add(run("analytics-java", listener, notes, n, () -> sink.drain(listener.enqueued, Duration.ofSeconds(300))));
        }
        sink.analytics.shutdown();

        StringBuilder sb = new StringBuilder();
        for (Run r : runs) {
            String line = String.format(Locale.ROOT, "e2e %s events=%d caller_ns_per_event=%.0f events_per_s=%.0f collector=%d",
                    r.library(), r.events(), r.callerNsPerEvent(), r.eventsPerSecond(), r.collectorCount());
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

    static Run run(String library, NotificationHandler<DecisionNotification> h, DecisionNotification[] notes, int n,
            Drain drain) throws Exception {
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
        return new Run(library, n, (t1 - t0) / (double) n, n / ((t2 - t0) / 1e9), count);
    }

}
