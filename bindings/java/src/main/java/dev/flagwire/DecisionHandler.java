package dev.flagwire;

import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;

/**
 * The DECISION notification handler. The Java SDK calls it on the thread that called
 * {@code decide()}, under its notification lock, and lets an {@link Error} escape from
 * {@code decide()}; so it catches every {@link Throwable}, counts it and logs it once.
 */
final class DecisionHandler implements NotificationHandler<DecisionNotification> {
    private final FlagwireClient client;

    DecisionHandler(FlagwireClient client) {
        this.client = client;
    }

    @Override
    public void handle(DecisionNotification notification) {
        try {
            int code = client.decisionCode(notification);
            // OK, SKIPPED: fine. QUEUE_FULL, TOO_LARGE: dropped and counted by the library.
            if (code > 1 && code != 6 && code != 7) {
                client.handlerFailed(code, null);
            }
        } catch (Throwable t) {
            client.handlerFailed(-1, t);
        }
    }

    @Override
    public String toString() {
        return "flagwire decision handler";
    }
}
