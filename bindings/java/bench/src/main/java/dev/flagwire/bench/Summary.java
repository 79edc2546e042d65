package dev.flagwire.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints the benchmark summary from JMH's JSON results and EndToEnd's lines and, when
 * FLAGWIRE_BENCH_JSON is set, writes the summary JSON of scripts/bench_report.py's contract.
 * Usage: Summary jmh.json e2e.txt
 */
public final class Summary {
    private Summary() {}

    /** median, min, max, samples. */
    record Stat(double median, double min, double max, int samples) {
        static Stat of(List<Double> xs) {
            List<Double> s = new ArrayList<>(xs);
            Collections.sort(s);
            int n = s.size();
            double median = n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
            return new Stat(median, s.get(0), s.get(n - 1), n);
        }

        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("median", median);
            o.addProperty("min", min);
            o.addProperty("max", max);
            o.addProperty("samples", samples);
            return o;
        }
    }

    public static void main(String[] args) throws Exception {
        JsonArray results = JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonArray();
        Map<String, Stat> handler = new LinkedHashMap<>();
        Map<String, Stat> decide = new LinkedHashMap<>();
        Stat profile = null;
        for (JsonElement e : results) {
            JsonObject r = e.getAsJsonObject();
            String bench = r.get("benchmark").getAsString();
            JsonObject params = r.getAsJsonObject("params");
            String listener = params != null && params.has("listener") ? params.get("listener").getAsString() : "";
            JsonObject m = r.getAsJsonObject("primaryMetric");
            double scale = 1;
            if ("ss".equals(r.get("mode").getAsString())) {
                // SingleShotTime over a burst of measurementBatchSize calls: ns per call.
                scale = nanos(m.get("scoreUnit").getAsString()) / r.get("measurementBatchSize").getAsDouble();
            }
            List<Double> samples = new ArrayList<>();
            for (JsonElement fork : m.getAsJsonArray("rawData")) {
                for (JsonElement x : fork.getAsJsonArray()) {
                    samples.add(x.getAsDouble() * scale);
                }
            }
            if (bench.endsWith("HandlerBench.notification")) {
                handler.put(listener, Stat.of(samples));
            } else if (bench.endsWith("DecideBench.decide")) {
                decide.put(listener, Stat.of(samples));
            } else if (bench.endsWith("ProfileBench.cachedAttributes")) {
                scale = nanos(m.get("scoreUnit").getAsString()); // AverageTime: ns/op
                List<Double> ns = new ArrayList<>();
                for (double x : samples) {
                    ns.add(x * scale);
                }
                profile = Stat.of(ns);
            }
        }
        Map<String, List<Double>> e2eRate = new LinkedHashMap<>();
        Map<String, List<Double>> e2eCaller = new LinkedHashMap<>();
        if (args.length > 1 && Files.exists(Path.of(args[1]))) {
            for (String line : Files.readAllLines(Path.of(args[1]))) {
                String[] f = line.split(" ");
                if (f.length < 3 || !f[0].equals("e2e")) {
                    continue;
                }
                String latency = "0";
                for (String kv : f) {
                    if (kv.startsWith("latency_ms=")) {
                        latency = kv.substring(11);
                    }
                }
                // 0 ms keeps the library's name as its key; other latencies are "<library> @<n> ms".
                String key = latency.equals("0") ? f[1] : f[1] + " @" + latency + " ms";
                for (String kv : f) {
                    if (kv.startsWith("events_per_s=")) {
                        e2eRate.computeIfAbsent(key, k -> new ArrayList<>()).add(Double.parseDouble(kv.substring(13)));
                    } else if (kv.startsWith("caller_ns_per_event=")) {
                        e2eCaller.computeIfAbsent(key, k -> new ArrayList<>()).add(Double.parseDouble(kv.substring(20)));
                    }
                }
            }
        }

        System.out.println();
        System.out.println("== flagwire Java binding: summary (medians [min-max]) ==");
        System.out.println("Caller cost of one decision notification (experiment exposure) through the listener, ns, lower is better:");
        handler.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-16s %10.1f  [%.1f-%.1f]%n", k, v.median, v.min, v.max));
        System.out.println("decide(\"checkout_flow\") throughput, 4 threads, ops/s, higher is better:");
        decide.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-16s %10.0f  [%.0f-%.0f]%n", k, v.median, v.min, v.max));
        System.out.println("End to end, one thread hands N exposures over, until the collector holds all N (per-request latency):");
        e2eRate.forEach((k, v) -> {
            Stat r = Stat.of(v);
            Stat c = Stat.of(e2eCaller.get(k));
            System.out.printf(Locale.ROOT, "  %-26s %10.0f events/s [%.0f-%.0f], caller %.0f ns/event%n", k, r.median, r.min, r.max, c.median);
        });
        if (profile != null) {
            System.out.printf(Locale.ROOT, "Profile API cached lookup (profileAttributes, 3 traits + $opt_bucketing_id), ns: %.0f  [%.0f-%.0f]%n",
                    profile.median, profile.min, profile.max);
        }
        Stat fw = handler.get("flagwire");
        Stat aj = handler.get("analytics-java");
        if (fw != null && aj != null) {
            System.out.printf(Locale.ROOT, "Listener cost: flagwire %.0f ns vs analytics-java %.0f ns per notification (%.1fx less)%n",
                    fw.median, aj.median, aj.median / fw.median);
        }
        Stat dn = decide.get("none");
        Stat df = decide.get("flagwire");
        Stat da = decide.get("analytics-java");
        if (dn != null && df != null && da != null) {
            System.out.printf(Locale.ROOT, "decide() with a listener, 4 threads: flagwire %.0f%% of no-listener throughput, analytics-java %.0f%%%n",
                    100 * df.median / dn.median, 100 * da.median / dn.median);
        }
        if (fw != null && aj != null && df != null && da != null) {
            boolean met = fw.median < aj.median && df.median > da.median;
            System.out.println(met ? "GOAL MET: flagwire costs decide() less than analytics-java"
                    : "GOAL NOT MET: flagwire does not cost decide() less than analytics-java");
        }

        String out = System.getenv("FLAGWIRE_BENCH_JSON");
        if (out != null && !out.isEmpty()) {
            Files.writeString(Path.of(out), contract(handler, decide, e2eRate, e2eCaller, profile));
            System.out.println("summary JSON: " + out);
        }
    }

    static String contract(Map<String, Stat> handler, Map<String, Stat> decide, Map<String, List<Double>> e2eRate,
            Map<String, List<Double>> e2eCaller, Stat profile) {
        JsonObject doc = new JsonObject();
        doc.addProperty("language", "java");
        JsonObject versions = new JsonObject();
        versions.addProperty("analytics-java", "3.5.4");
        versions.addProperty("optimizely core-api (Java)", "4.2.2");
        versions.addProperty("JNA", "5.18.1");
        versions.addProperty("JMH", "1.37");
        versions.addProperty("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        doc.add("versions", versions);
        JsonArray commands = new JsonArray();
        commands.add("bindings/java/bench.sh");
        doc.add("commands", commands);
        JsonArray measures = new JsonArray();
        if (handler.containsKey("flagwire")) {
            measures.add(measure("Java: caller cost of one exposure notification through the listener", "ns", "lower",
                    "caller", handler.get("flagwire"), handler.get("analytics-java"),
                    "JMH SingleShotTime over bursts of " + HandlerBench.BURST + " notifications, each starting with an idle "
                    + "pipeline; peer = a hand-written DecisionNotification handler calling analytics.enqueue(TrackMessage...) "
                    + "with the same properties; an empty handler costs " + fmt(handler.get("none")) + " ns"));
        }
        if (decide.containsKey("flagwire")) {
            measures.add(measure("Java: decide() throughput, 4 threads, listener attached", "decides/s", "higher",
                    "decide", decide.get("flagwire"), decide.get("analytics-java"),
                    "real Optimizely Java SDK, minimal datafile (half the users in the A/B test); the SDK calls decision "
                    + "listeners one at a time across threads; no listener: " + fmt(decide.get("none")) + " decides/s"));
        }
        if (e2eRate.containsKey("flagwire")) {
            measures.add(measure("Java: end to end, exposures delivered to the collector (one thread)", "events/s", "higher",
                    "throughput", Stat.of(e2eRate.get("flagwire")),
                    e2eRate.containsKey("analytics-java") ? Stat.of(e2eRate.get("analytics-java")) : null,
                    "from the first notification until the collector holds all N; caller ns/event: flagwire "
                    + fmt(Stat.of(e2eCaller.get("flagwire"))) + ", analytics-java "
                    + (e2eCaller.containsKey("analytics-java") ? fmt(Stat.of(e2eCaller.get("analytics-java"))) : "-")));
        }
        for (String key : e2eRate.keySet()) {
            if (!key.startsWith("flagwire @")) {
                continue;
            }
            String at = key.substring("flagwire @".length());
            String peerKey = "analytics-java @" + at;
            measures.add(measure("Java: end to end, exposures delivered at " + at + " per request (one thread)", "events/s",
                    "higher", null, Stat.of(e2eRate.get(key)),
                    e2eRate.containsKey(peerKey) ? Stat.of(e2eRate.get(peerKey)) : null,
                    "the collector answers each request after " + at + "; from the first notification until it holds all N"));
        }
        if (profile != null) {
            JsonObject m = new JsonObject();
            m.addProperty("name", "Java: Profile API cached lookup");
            m.addProperty("unit", "ns");
            m.addProperty("better", "lower");
            m.addProperty("goal", "<= 1000 ns in Rust; Java adds the JNA call and the map");
            m.addProperty("goal_kind", "absolute");
            m.add("flagwire", profile.json());
            m.add("peer", null);
            m.addProperty("note", "profileAttributes(\"user_id:...\") answered from the native library's cache "
                    + "(3 traits + $opt_bucketing_id): JNA call, cache hit, reading and freeing the returned string, "
                    + "decoding it into a new Map<String, Object> (Long/Double numbers); JMH AverageTime, one thread");
            measures.add(m);
        }
        doc.add("measures", measures);
        return new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(doc);
    }

    private static JsonObject measure(String name, String unit, String better, String headline, Stat flagwire, Stat peer,
            String note) {
        JsonObject m = new JsonObject();
        m.addProperty("name", name);
        m.addProperty("unit", unit);
        m.addProperty("better", better);
        m.addProperty("goal", better.equals("lower") ? "below analytics-java" : "above analytics-java");
        m.addProperty("goal_kind", "vs_peer");
        if (headline != null) {
            m.addProperty("headline", headline);
        }
        m.add("flagwire", flagwire.json());
        if (peer != null) {
            JsonObject p = peer.json();
            p.addProperty("name", "analytics-java");
            m.add("peer", p);
        } else {
            m.add("peer", null);
        }
        m.addProperty("note", note);
        return m;
    }

    private static String fmt(Stat s) {
        return s == null ? "-" : String.format(Locale.ROOT, "%.0f", s.median);
    }

    private static double nanos(String unit) {
        if (unit.startsWith("ns")) {
            return 1;
        }
        if (unit.startsWith("us")) {
            return 1e3;
        }
        if (unit.startsWith("ms")) {
            return 1e6;
        }
        return 1e9;
    }
}
