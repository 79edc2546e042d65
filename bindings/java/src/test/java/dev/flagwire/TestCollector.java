package dev.flagwire;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The Segment-compatible test collector (target/release/flagwire-collector), one process per test
 * class, on 127.0.0.1. Its stdout is drained by a daemon thread so it never blocks.
 */
public final class TestCollector implements AutoCloseable {
    private final Process process;
    private final String url;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestCollector(Process process, String url) {
        this.process = process;
        this.url = url;
    }

    public static String binary() {
        String path = System.getProperty("flagwire.collector");
        if (path == null || !new File(path).canExecute()) {
            throw new IllegalStateException("set -Dflagwire.collector to target/release/flagwire-collector (got " + path + ")");
        }
        return path;
    }

    public static TestCollector start() throws IOException {
        Process p = new ProcessBuilder(binary(), "--port", "0", "--quiet")
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        if (first == null || !first.startsWith("http://127.0.0.1:")) {
            p.destroyForcibly();
            throw new IOException("collector did not print its URL; first line: " + first);
        }
        Thread drain = new Thread(() -> {
            try {
                while (out.readLine() != null) {
                    // discard
                }
            } catch (IOException ignored) {
                // process ended
            }
        }, "collector-stdout");
        drain.setDaemon(true);
        drain.start();
        return new TestCollector(p, first.trim());
    }

    public String url() {
        return url;
    }

    private JsonObject get(String path) {
        return call(HttpRequest.newBuilder(URI.create(url + path)).GET());
    }

    private JsonObject post(String path, String body) {
        return call(HttpRequest.newBuilder(URI.create(url + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private JsonObject call(HttpRequest.Builder b) {
        try {
            HttpResponse<String> r = http.send(b.timeout(Duration.ofSeconds(150)).build(), HttpResponse.BodyHandlers.ofString());
            return JsonParser.parseString(r.body()).getAsJsonObject();
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    /** Every accepted message, in arrival order, duplicates kept. */
    public List<JsonObject> messages() {
        JsonArray a = get("/_test/messages").getAsJsonArray("messages");
        List<JsonObject> out = new ArrayList<>(a.size());
        for (JsonElement e : a) {
            out.add(e.getAsJsonObject());
        }
        return out;
    }

    public List<JsonObject> requests() {
        JsonArray a = get("/_test/requests").getAsJsonArray("requests");
        List<JsonObject> out = new ArrayList<>(a.size());
        for (JsonElement e : a) {
            out.add(e.getAsJsonObject());
        }
        return out;
    }

    public void reset() {
        post("/_test/reset", "{}");
    }

    public void script(String stepsJson) {
        post("/_test/script", "{\"steps\":" + stepsJson + "}");
    }

    /** Replaces the Profile API fixture (POST /_test/profiles); fails the test when refused. */
    public void profiles(String fixtureJson) {
        JsonObject r = post("/_test/profiles", fixtureJson);
        if (!r.has("ok") || !r.get("ok").getAsBoolean()) {
            throw new IllegalArgumentException("collector refused the profile fixture: " + r);
        }
    }

    /** Appends steps to the Profile API fault script (FIFO, one step per Profile API request). */
    public void profileScript(String stepsJson) {
        post("/_test/profile_script", "{\"steps\":" + stepsJson + "}");
    }

    /** Every Profile API request the collector received (path, identifier, route, status, ...). */
    public List<JsonObject> profileRequests() {
        JsonArray a = get("/_test/profile_requests").getAsJsonArray("requests");
        List<JsonObject> out = new ArrayList<>(a.size());
        for (JsonElement e : a) {
            out.add(e.getAsJsonObject());
        }
        return out;
    }

    /** Waits (bounded) until at least {@code count} messages arrived; returns the count seen. */
    public int waitFor(int count, Duration timeout) {
        JsonObject r = get("/_test/wait?count=" + count + "&timeout_ms=" + timeout.toMillis());
        return r.get("count").getAsInt();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
