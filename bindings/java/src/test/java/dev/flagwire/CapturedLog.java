package dev.flagwire;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * Captures the "dev.flagwire" log records (java.util.logging, System.Logger's default backend)
 * during a test, with the thread each was logged on.
 */
final class CapturedLog implements AutoCloseable {
    private final Logger logger = Logger.getLogger("dev.flagwire");
    private final boolean parentHandlers = logger.getUseParentHandlers();
    private final Level level = logger.getLevel();
    final List<LogRecord> records = new ArrayList<>();
    final List<Thread> threads = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (records) {
                records.add(r);
                threads.add(Thread.currentThread());
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    CapturedLog() {
        this(null);
    }

    /** Also lowers the logger's level to {@code level} (e.g. ALL for System.Logger's DEBUG). */
    CapturedLog(Level level) {
        logger.setUseParentHandlers(false);
        logger.addHandler(handler);
        if (level != null) {
            logger.setLevel(level);
        }
    }

    int count() {
        synchronized (records) {
            return records.size();
        }
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
        logger.setUseParentHandlers(parentHandlers);
        logger.setLevel(level);
    }
}
