package dev.flagwire.bench;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.OptimizelyUserContext;
import dev.flagwire.FlagwireClient;
import dev.flagwire.FlagwireStats;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * DecideBench's measurement, interleaved: 4 threads call {@code decide("checkout_flow")} for one
 * short slice on an Optimizely instance with no listener, then with flagwire attached, then with
 * the analytics-java listener, round after round. On a machine shared with other work, load that
 * drifts over minutes then hits the three alike, which JMH's one-parameter-after-the-other order
 * does not. Each slice also reports this process's CPU time per decide, split by thread
 * (Linux /proc/self/task): the deciding threads (the SDK and the listener on its thread),
 * flagwire's threads (hand-over, sender) and the rest (JIT, GC). Not part of bench.sh's default
 * run ({@code FLAGWIRE_BENCH_INTERLEAVED=rounds} turns it on).
 *
 * <p>Usage: InterleavedDecide [rounds=20] [sliceMs=500] [result-file]
 */
public final class InterleavedDecide {
    private InterleavedDecide() {}

    static final int THREADS = 4;
    static final String[] LISTENERS = {"none", "flagwire", "analytics-java"};

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        int sliceMs = args.length > 1 ? Integer.parseInt(args[1]) : 500;
        Path out = args.length > 2 ? Path.of(args[2]) : null;

        Map<String, Optimizely> sdk = new LinkedHashMap<>();
        for (String l : LISTENERS) {
            sdk.put(l, BenchEnv.optimizely());
        }
        FlagwireClient flagwire = BenchEnv.flagwire();
        flagwire.attach(sdk.get("flagwire"));
        BenchEnv.AnalyticsSink sink = new BenchEnv.AnalyticsSink();
        BenchEnv.AnalyticsJavaListener analytics = new BenchEnv.AnalyticsJavaListener(sink.analytics, sdk.get("analytics-java"));
        sdk.get("analytics-java").addDecisionNotificationHandler(analytics);

        Map<String, OptimizelyUserContext[][]> users = new LinkedHashMap<>();
        for (String l : LISTENERS) {
            OptimizelyUserContext[][] u = new OptimizelyUserContext[THREADS][4096];
            for (int t = 0; t < THREADS; t++) {
                for (int i = 0; i < 4096; i++) {
                    Map<String, Object> attrs = new LinkedHashMap<>();
                    attrs.put("plan", i % 3 == 0 ? "premium" : "free");
                    attrs.put("country", "DE");
                    u[t][i] = sdk.get(l).createUserContext("t" + t + "-user-" + i, attrs);
                }
            }
            users.put(l, u);
        }

        Map<String, List<Double>> rate = new LinkedHashMap<>();
        Map<String, List<Double>> cpu = new LinkedHashMap<>();
        Map<String, Map<String, List<Double>>> byThread = new LinkedHashMap<>(); // listener -> thread group -> CPU ns/decide per slice
        for (int r = -3; r < rounds; r++) { // 3 warm-up rounds
            for (String l : LISTENERS) {
                Map<String, Long> before = threadCpu();
                double[] slice = slice(users.get(l), sliceMs);
                Map<String, Long> after = threadCpu();
                if (r >= 0) {
                    rate.computeIfAbsent(l, k -> new ArrayList<>()).add(slice[0]);
                    cpu.computeIfAbsent(l, k -> new ArrayList<>()).add(slice[1]);
                    Map<String, List<Double>> groups = byThread.computeIfAbsent(l, k -> new LinkedHashMap<>());
                    groups.computeIfAbsent("decider", k -> new ArrayList<>()).add(slice[3] / slice[2]);
                    after.forEach((g, ns) -> groups.computeIfAbsent(g, k -> new ArrayList<>())
                            .add((ns - before.getOrDefault(g, 0L)) / slice[2]));
                }
                // Deliver what the slice queued before the next one (untimed), as DecideBench does per iteration.
                if (l.equals("flagwire") && !flagwire.flush(Duration.ofSeconds(120))) {
                    throw new IllegalStateException("flagwire flush timed out");
                }
                if (l.equals("analytics-java") && !sink.drain(analytics.enqueued, Duration.ofSeconds(120))) {
                    throw new IllegalStateException("analytics-java drain timed out");
                }
            }
            BenchEnv.resetCollector();
        }
        FlagwireStats s = flagwire.stats();
        if (s.droppedQueueFull() + s.failed() + flagwire.handlerErrors() > 0) {
            throw new IllegalStateException("flagwire dropped or failed events: " + s);
        }
        flagwire.close();
        sink.analytics.shutdown();
        for (Optimizely o : sdk.values()) {
            o.close();
        }

        StringBuilder sb = new StringBuilder();
        for (String l : LISTENERS) {
            double[] q = quartiles(rate.get(l));
            double[] c = quartiles(cpu.get(l));
            String line = String.format(Locale.ROOT,
                    "interleaved %s decides_per_s median=%.0f min=%.0f max=%.0f q1=%.0f q3=%.0f cpu_ns_per_decide median=%.0f",
                    l, q[2], q[0], q[4], q[1], q[3], c[2]);
            System.out.println(line);
            sb.append(line).append('\n');
        }
        for (String l : LISTENERS) {
            StringBuilder line = new StringBuilder("cpu_by_thread " + l);
            byThread.get(l).forEach((g, ns) -> line.append(String.format(Locale.ROOT, " %s=%.0f", g, quartiles(ns)[2])));
            System.out.println(line.append(" (CPU ns per decide, median of the slices)"));
            sb.append(line).append('\n');
        }
        double none = quartiles(rate.get("none"))[2];
        for (String l : List.of("flagwire", "analytics-java")) {
            System.out.printf(Locale.ROOT, "%s: %.0f%% of no-listener throughput (medians of %d interleaved slices)%n", l,
                    100 * quartiles(rate.get(l))[2] / none, rounds);
        }
        if (out != null) {
            Files.writeString(out, sb.toString());
        }
    }

    /** CPU ns so far of this process's long-lived threads, by group: "flagwire" (its threads), "other". */
    static Map<String, Long> threadCpu() {
        Map<String, Long> m = new LinkedHashMap<>();
        try (java.nio.file.DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                String name = Files.readString(t.resolve("comm")).trim();
                String stat = Files.readString(t.resolve("stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime + stime, 1/100 s
                if (!name.startsWith("decider")) { // those are measured by themselves (they end with the slice)
                    m.merge(name.startsWith("flagwire") ? "flagwire" : "other", ticks * 10_000_000L, Long::sum);
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            // a thread ended while being read, or no /proc: the split is left out
        }
        return m;
    }

    /** One slice: decides/s, this process's CPU ns per decide, the number of decides, the deciding threads' CPU ns. */
    static double[] slice(OptimizelyUserContext[][] users, int ms) throws InterruptedException {
        AtomicBoolean stop = new AtomicBoolean();
        long[] counts = new long[THREADS];
        long[] cpus = new long[THREADS];
        Thread[] ts = new Thread[THREADS];
        for (int t = 0; t < THREADS; t++) {
            final int id = t;
            ts[t] = new Thread(() -> {
                OptimizelyUserContext[] u = users[id];
                java.lang.management.ThreadMXBean mx = ManagementFactory.getThreadMXBean();
                long c0 = mx.getCurrentThreadCpuTime();
                long n = 0;
                while (!stop.get()) {
                    u[(int) (n & 4095)].decide("checkout_flow");
                    n++;
                }
                counts[id] = n;
                cpus[id] = mx.getCurrentThreadCpuTime() - c0;
            }, "decider-" + id);
        }
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        for (Thread t : ts) {
            t.start();
        }
        Thread.sleep(ms);
        stop.set(true);
        for (Thread t : ts) {
            t.join();
        }
        long t1 = System.nanoTime();
        long cpu1 = os.getProcessCpuTime();
        long total = 0;
        long deciderCpu = 0;
        for (int t = 0; t < THREADS; t++) {
            total += counts[t];
            deciderCpu += cpus[t];
        }
        return new double[] {total / ((t1 - t0) / 1e9), (cpu1 - cpu0) / (double) total, total, deciderCpu};
    }

    /** min, q1, median, q3, max. */
    static double[] quartiles(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        Collections.sort(s);
        int n = s.size();
        return new double[] {s.get(0), s.get(n / 4), n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2,
            s.get(3 * n / 4), s.get(n - 1)};
    }
}
