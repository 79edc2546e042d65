package dev.flagwire;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Captures the "dev.flagwire" log records (java.util.logging, System.Logger's default backend) during a test. */
final class CapturedLog implements AutoCloseable {
    private final Logger logger = Logger.getLogger("dev.flagwire");
    private final boolean parentHandlers = logger.getUseParentHandlers();
    final List<LogRecord> records = new ArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            synchronized (records) {
                records.add(r);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    CapturedLog() {
        logger.setUseParentHandlers(false);
        logger.addHandler(handler);
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
    }
}
