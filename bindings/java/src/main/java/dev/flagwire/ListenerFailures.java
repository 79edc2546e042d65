package dev.flagwire;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the listeners and the decision hand-over could not do, counted instead of thrown into the
 * SDK (a Java {@link Error} would escape {@code decide()}): the first failure is logged, later
 * ones only counted ({@link FlagwireClient#handlerErrors()}).
 */
final class ListenerFailures {
    private final System.Logger logger;
    private final AtomicLong count = new AtomicLong();
    private final AtomicBoolean logged = new AtomicBoolean();

    ListenerFailures(System.Logger logger) {
        this.logger = logger;
    }

    long count() {
        return count.get();
    }

    void failed(Throwable t) {
        count.incrementAndGet();
        if (!logged.compareAndSet(false, true)) {
            return;
        }
        try {
            logger.log(System.Logger.Level.WARNING, "flagwire: a notification was not handled (" + t
                    + "); later failures are only counted (FlagwireClient.handlerErrors())", t);
        } catch (Throwable ignored) {
            // logging must not throw into decide() either
        }
    }
}
