package dev.flagwire;

import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;

/**
 * The DECISION listener. The Java SDK calls it on the thread that called {@code decide()}, one
 * listener call at a time across all threads (its notification lock), and lets an {@link Error}
 * escape from {@code decide()}. So it does the least it can there: a flag decision is encoded as
 * a record stamped with the decision time and appended to this thread's block
 * ({@link RecordBatcher}), handed to the library off this thread; a legacy notification goes as
 * JSON. Every {@link Throwable} is caught and counted ({@link ListenerFailures}).
 */
final class DecisionHandler implements NotificationHandler<DecisionNotification> {
    private final FlagwireClient client;
    private final RecordBatcher batcher;
    private final ListenerFailures failures;

    DecisionHandler(FlagwireClient client, RecordBatcher batcher, ListenerFailures failures) {
        this.client = client;
        this.batcher = batcher;
        this.failures = failures;
    }

    @Override
    public void handle(DecisionNotification notification) {
        try {
            if (Notifications.isFlagDecision(notification)) {
                DecisionRecord r = Notifications.encode(DecisionRecord.local(), notification, System.currentTimeMillis());
                batcher.append(r.bytes(), r.length());
            } else {
                client.onDecisionJson(Notifications.json(notification));
            }
        } catch (Throwable t) {
            failures.failed(t);
        }
    }

    @Override
    public String toString() {
        return "flagwire decision handler";
    }
}
