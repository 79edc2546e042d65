package dev.flagwire.latency;

import com.segment.analytics.Analytics;
import com.segment.analytics.Callback;
import com.segment.analytics.messages.Message;
import com.segment.analytics.messages.TrackMessage;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * analytics-java's side of the latency benchmark: Segment's Java library with its defaults, given
 * the same "Experiment Viewed" track flagwire makes.
 *
 * <p>{@code Harness URL SECS RATE}: offers RATE events/s (paced in 1 ms slices) for SECS seconds,
 * prints the offer report as one JSON line, then flushes, waits until every accepted message has
 * been reported (success or failure), prints the close report and waits for stdin to close (the
 * runner reads the peak RSS meanwhile).
 */
public final class Harness {
    private static final Map<String, Object> ATTRIBUTES = Map.of("plan", "enterprise", "country", "DE");

    public static void main(String[] args) throws Exception {
        String url = args[0];
        double secs = args.length > 1 ? Double.parseDouble(args[1]) : 4.0;
        double rate = args.length > 2 ? Double.parseDouble(args[2]) : 200_000.0;
        String key = System.getenv().getOrDefault("LATENCY_WRITE_KEY", "latency-bench");
        AtomicLong succeeded = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        // Defaults: only the endpoint, and a callback to count outcomes.
        Analytics analytics = Analytics.builder(key)
                .endpoint(url)
                .callback(new Callback() {
                    @Override
                    public void success(Message message) {
                        succeeded.incrementAndGet();
                    }

                    @Override
                    public void failure(Message message, Throwable throwable) {
                        failed.incrementAndGet();
                    }
                })
                .build();

        long offered = 0, accepted = 0, refused = 0;
        long first = System.currentTimeMillis();
        long start = System.nanoTime();
        long window = (long) (secs * 1e9);
        while (true) {
            long elapsed = System.nanoTime() - start;
            if (elapsed >= window) {
                break;
            }
            long due = (long) (elapsed / 1e9 * rate);
            while (offered < due) {
                String user = "user-" + offered;
                Map<String, Object> props = new LinkedHashMap<>();
                props.put("flagKey", "checkout_flow");
                props.put("ruleKey", "checkout_ab");
                props.put("variationKey", "treatment");
                props.put("enabled", true);
                props.put("optimizelyUserId", user);
                props.put("userAttributes", ATTRIBUTES);
                props.put("experiment_id", "20001");
                props.put("experiment_name", "checkout_ab");
                props.put("variation_id", "30002");
                props.put("variation_name", "treatment");
                try {
                    analytics.enqueue(TrackMessage.builder("Experiment Viewed").userId(user).properties(props));
                    accepted++;
                } catch (RuntimeException e) {
                    refused++;
                }
                offered++;
                if ((offered & 255) == 0 && System.nanoTime() - start >= window) {
                    break; // a slow enqueue must not overrun the window
                }
            }
            Thread.sleep(1);
        }
        System.out.printf("{\"phase\":\"offered\",\"first_offer_ms\":%d,\"offer_end_ms\":%d,\"offered\":%d,\"accepted\":%d,\"refused\":%d}%n",
                first, System.currentTimeMillis(), offered, accepted, refused);
        System.out.flush();

        analytics.flush();
        while (succeeded.get() + failed.get() < accepted) {
            Thread.sleep(2); // bounded by the benchmark's cap: the runner kills the process
        }
        System.out.printf("{\"phase\":\"closed\",\"closed_ms\":%d,\"failed\":%d,\"succeeded\":%d}%n",
                System.currentTimeMillis(), failed.get(), succeeded.get());
        System.out.flush();
        // The runner reads this process's peak RSS (VmHWM) now, then closes our stdin.
        System.in.transferTo(java.io.OutputStream.nullOutputStream());
        analytics.shutdown();
        System.exit(0);
    }
}
