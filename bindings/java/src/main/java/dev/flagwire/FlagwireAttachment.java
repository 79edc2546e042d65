package dev.flagwire;

import com.optimizely.ab.Optimizely;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * flagwire's listeners registered on one Optimizely instance, from {@link FlagwireClient#attach}.
 * {@link #close()} detaches them (idempotent); events stop at once.
 */
public final class FlagwireAttachment implements AutoCloseable {
    private final FlagwireClient client;
    private final Optimizely optimizely;
    private final int decisionListenerId;
    private final int configListenerId;
    private final AtomicBoolean attached = new AtomicBoolean(true);

    FlagwireAttachment(FlagwireClient client, Optimizely optimizely, int decisionListenerId, int configListenerId) {
        this.client = client;
        this.optimizely = optimizely;
        this.decisionListenerId = decisionListenerId;
        this.configListenerId = configListenerId;
    }

    /** The Optimizely instance the listeners are registered on. */
    public Optimizely optimizely() {
        return optimizely;
    }

    /** The DECISION listener's id in the SDK's notification center. */
    public int decisionListenerId() {
        return decisionListenerId;
    }

    public boolean isAttached() {
        return attached.get();
    }

    /** Removes both listeners ({@code notificationCenter.removeNotificationListener(id)}). */
    @Override
    public void close() {
        if (!attached.compareAndSet(true, false)) {
            return;
        }
        try {
            optimizely.getNotificationCenter().removeNotificationListener(decisionListenerId);
            optimizely.getNotificationCenter().removeNotificationListener(configListenerId);
        } finally {
            client.detached(this);
        }
    }

    @Override
    public String toString() {
        return "FlagwireAttachment{" + (isAttached() ? "attached" : "detached") + ", decisionListenerId="
                + decisionListenerId + "}";
    }
}
