package dev.flagwire;

import java.time.Duration;
import java.util.Map;

/** A program that forgets close(): the shutdown hook must still flush (run by LibraryTest in a child JVM). */
public final class ExitWithoutClose {
    private ExitWithoutClose() {}

    public static void main(String[] args) {
        FlagwireClient client = FlagwireClient.create(FlagwireConfig.builder("exit-key")
                .endpoint(args[0])
                .flushInterval(Duration.ofSeconds(60))
                .logLevel(FlagwireConfig.LogLevel.OFF)
                .build());
        for (int i = 0; i < 10; i++) {
            client.enqueue(Map.of("type", "track", "userId", "exit" + i, "event", "Exit Test"));
        }
        System.out.println("queued " + client.stats().queueDepth());
        // no close(): the JVM exits with the client open and 10 events queued
    }
}
