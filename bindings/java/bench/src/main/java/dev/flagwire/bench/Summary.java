package dev.flagwire.bench;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Prints the benchmark summary from JMH's JSON results and EndToEnd's lines. */
public final class Summary {
    private Summary() {}

    public static void main(String[] args) throws Exception {
        JsonArray results = JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonArray();
        Map<String, double[]> handler = new LinkedHashMap<>();
        Map<String, double[]> decide = new LinkedHashMap<>();
        for (JsonElement e : results) {
            JsonObject r = e.getAsJsonObject();
            String bench = r.get("benchmark").getAsString();
            String listener = r.getAsJsonObject("params").get("listener").getAsString();
            JsonObject m = r.getAsJsonObject("primaryMetric");
            double[] v = {m.get("score").getAsDouble(), m.get("scoreError").isJsonNull() ? 0 : safe(m.get("scoreError").getAsString())};
            if ("ss".equals(r.get("mode").getAsString())) {
                // SingleShotTime over a burst of measurementBatchSize calls, in the output unit: ns per call.
                double perCall = nanos(m.get("scoreUnit").getAsString()) / r.get("measurementBatchSize").getAsDouble();
                v[0] *= perCall;
                v[1] *= perCall;
            }
            (bench.endsWith("HandlerBench.notification") ? handler : decide).put(listener, v);
        }
        System.out.println();
        System.out.println("== flagwire Java binding: summary ==");
        System.out.println("Caller cost of one decision notification (experiment exposure), ns/op, lower is better:");
        handler.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-16s %10.1f ± %.1f%n", k, v[0], v[1]));
        System.out.println("decide(\"checkout_flow\") throughput, 4 threads, ops/s, higher is better:");
        decide.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-16s %12.0f ± %.0f%n", k, v[0], v[1]));
        if (args.length > 1 && Files.exists(Path.of(args[1]))) {
            System.out.println("End to end (one thread hands N exposures over; until the collector holds all N):");
            for (String line : Files.readAllLines(Path.of(args[1]))) {
                System.out.println("  " + line);
            }
        }
        if (handler.containsKey("flagwire") && handler.containsKey("analytics-java")) {
            double base = handler.containsKey("none") ? handler.get("none")[0] : 0;
            double fw = handler.get("flagwire")[0] - base;
            double aj = handler.get("analytics-java")[0] - base;
            System.out.printf(Locale.ROOT, "Listener cost over an empty handler: flagwire %.0f ns, analytics-java %.0f ns (%.1fx)%n",
                    fw, aj, aj / fw);
        }
        if (decide.containsKey("flagwire") && decide.containsKey("analytics-java") && decide.containsKey("none")) {
            double none = decide.get("none")[0];
            double fw = decide.get("flagwire")[0];
            double aj = decide.get("analytics-java")[0];
            System.out.printf(Locale.ROOT, "decide() with a listener, 4 threads: flagwire %.0f%% of no-listener throughput, analytics-java %.0f%%%n",
                    100 * fw / none, 100 * aj / none);
            System.out.println(fw > aj ? "GOAL MET: flagwire costs decide() less than analytics-java"
                    : "GOAL NOT MET: flagwire costs decide() more than analytics-java");
        }
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

    private static double safe(String s) {
        try {
            double d = Double.parseDouble(s);
            return Double.isNaN(d) ? 0 : d;
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
