package dev.flagwire;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.ResourceBundle;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.LogRecord;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The library's log lines reach the host's logger (docs/design.md §2.4), on flagwire's own threads. */
class LogTest extends CollectorTests {
    @Test
    void aDebugLineWithTheDeliveredMessageIdReachesSystemLogger() {
        try (CapturedLog log = new CapturedLog(Level.ALL);
                FlagwireClient client = FlagwireClient.create(config().logLevel(FlagwireConfig.LogLevel.DEBUG).build())) {
            assertEquals(FlagwireStatus.OK, client.onFlagDecision("log-user", "f", "r", "v", true, true, Map.of()));
            client.enqueue(ClientTest.track("log-user", "Order Completed"));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            List<JsonObject> msgs = collector.messages();
            assertEquals(2, msgs.size());
            List<LogRecord> records;
            List<Thread> threads;
            synchronized (log.records) {
                records = new ArrayList<>(log.records);
                threads = new ArrayList<>(log.threads);
            }
            for (JsonObject m : msgs) {
                String messageId = m.get("messageId").getAsString();
                int i = indexOf(records, messageId);
                assertTrue(i >= 0, "no log line names messageId " + messageId + ": " + records.size() + " records");
                // System.Logger's DEBUG is java.util.logging's FINE.
                assertEquals(Level.FINE, records.get(i).getLevel());
                assertEquals("dev.flagwire", records.get(i).getLoggerName());
                // Logged on one of flagwire's threads, attached to the JVM as a daemon thread.
                Thread t = threads.get(i);
                assertNotEquals(Thread.currentThread(), t);
                assertTrue(t.isDaemon(), t.toString());
                assertTrue(t.getName().startsWith("flagwire"), t.getName());
            }
        }
    }

    private static int indexOf(List<LogRecord> records, String text) {
        for (int i = 0; i < records.size(); i++) {
            if (records.get(i).getMessage() != null && records.get(i).getMessage().contains(text)) {
                return i;
            }
        }
        return -1;
    }

    /** A System.Logger that keeps what it is given (the builder's logger option). */
    static class ListLogger implements System.Logger {
        final List<String> lines = new ArrayList<>();
        final System.Logger.Level min;

        ListLogger(System.Logger.Level min) {
            this.min = min;
        }

        @Override
        public String getName() {
            return "test";
        }

        @Override
        public boolean isLoggable(System.Logger.Level level) {
            return level.getSeverity() >= min.getSeverity();
        }

        @Override
        public void log(System.Logger.Level level, ResourceBundle bundle, String msg, Throwable thrown) {
            synchronized (lines) {
                lines.add(level + " " + msg);
            }
        }

        @Override
        public void log(System.Logger.Level level, ResourceBundle bundle, String format, Object... params) {
            log(level, bundle, format, (Throwable) null);
        }

        @Override
        public void log(System.Logger.Level level, Supplier<String> msgSupplier) {
            log(level, null, msgSupplier.get(), (Throwable) null);
        }
    }

    @Test
    void theLoggerOptionAndItsLevelAreHonouredAndAThrowingLoggerIsHarmless() {
        ListLogger quiet = new ListLogger(System.Logger.Level.INFO);
        // Refused twice (the batch, then the event alone to confirm it): dropped, with an ERROR line.
        collector.script("[{\"status\":400},{\"status\":400}]");
        try (FlagwireClient client = FlagwireClient.create(config().logLevel(FlagwireConfig.LogLevel.DEBUG)
                .logger(quiet).build())) {
            client.enqueue(ClientTest.track("u", "E"));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(1, client.stats().failed());
        }
        synchronized (quiet.lines) {
            assertTrue(quiet.lines.stream().anyMatch(l -> l.startsWith("ERROR ") && l.contains("refused")), quiet.lines::toString);
            assertFalse(quiet.lines.stream().anyMatch(l -> l.startsWith("DEBUG")), "DEBUG is below this logger's level");
        }
        System.Logger hostile = new ListLogger(System.Logger.Level.TRACE) {
            @Override
            public void log(System.Logger.Level level, ResourceBundle bundle, String msg, Throwable thrown) {
                throw new IllegalStateException("a broken logger");
            }
        };
        try (FlagwireClient client = FlagwireClient.create(config().logLevel(FlagwireConfig.LogLevel.DEBUG)
                .logger(hostile).build())) {
            client.enqueue(ClientTest.track("u", "E"));
            assertTrue(client.flush(Duration.ofSeconds(10)));
            assertEquals(1, client.stats().delivered());
        }
    }
}
