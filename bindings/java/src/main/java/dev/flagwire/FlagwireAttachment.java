package dev.flagwire;

import com.optimizely.ab.Optimizely;

import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * flagwire's listeners registered on one Optimizely instance, from {@link FlagwireClient#attach}:
 * the DECISION listener ({@link DecisionHandler}) and a config-update listener that pushes the
 * datafile ({@link DatafilePusher}). {@link #close()} detaches both (idempotent); events stop at once.
 *
 * <p>Attaching twice is refused (docs/design.md §8, the guides' "duplicate events" pitfall): one
 * attachment per Optimizely instance, whichever client, and one per client (a client holds one
 * datafile).
 */
public final class FlagwireAttachment implements AutoCloseable {
    /** Optimizely instances with an attachment (weak keys, identity: Optimizely has no equals). */
    private static final Set<Optimizely> ATTACHED = Collections.newSetFromMap(new WeakHashMap<>());

    private final FlagwireClient client;
    private final Optimizely optimizely;
    private final int decisionListenerId;
    private final int configListenerId;
    private final AtomicBoolean attached = new AtomicBoolean(true);

    private FlagwireAttachment(FlagwireClient client, Optimizely optimizely, int decisionListenerId, int configListenerId) {
        this.client = client;
        this.optimizely = optimizely;
        this.decisionListenerId = decisionListenerId;
        this.configListenerId = configListenerId;
    }

    /** What {@link FlagwireClient#attach} does; see there. */
    static FlagwireAttachment attach(FlagwireClient client, Optimizely optimizely, ListenerFailures failures) {
        synchronized (ATTACHED) {
            if (ATTACHED.contains(optimizely)) {
                throw new IllegalStateException("flagwire is already attached to this Optimizely instance; "
                        + "detach the first attachment before attaching again (two listeners send every exposure twice)");
            }
            if (client.attachedTo != null) {
                throw new IllegalStateException("this FlagwireClient is already attached to another Optimizely instance; "
                        + "a client holds one datafile, so create one FlagwireClient per Optimizely instance");
            }
            ATTACHED.add(optimizely);
            client.attachedTo = optimizely;
        }
        int updateId = -1;
        int decisionId = -1;
        boolean ok = false;
        try {
            DatafilePusher pusher = new DatafilePusher(client, optimizely, failures);
            updateId = optimizely.addUpdateConfigNotificationHandler(pusher);
            pusher.push();
            decisionId = optimizely.addDecisionNotificationHandler(client.decisionHandler());
            if (decisionId < 0) {
                throw new IllegalStateException("this client's decisionHandler() is already registered on this "
                        + "Optimizely instance; remove it or use attach() alone");
            }
            FlagwireAttachment a = new FlagwireAttachment(client, optimizely, decisionId, updateId);
            synchronized (ATTACHED) {
                client.attachment = a;
            }
            ok = true;
            if (client.isClosed()) { // close() ran meanwhile and did not see this attachment
                a.close();
                throw new FlagwireException(FlagwireStatus.CLOSED, "the client was closed during attach()");
            }
            return a;
        } finally {
            if (!ok) {
                if (decisionId > 0) {
                    optimizely.getNotificationCenter().removeNotificationListener(decisionId);
                }
                if (updateId > 0) {
                    optimizely.getNotificationCenter().removeNotificationListener(updateId);
                }
                synchronized (ATTACHED) {
                    ATTACHED.remove(optimizely);
                    client.attachedTo = null;
                }
            }
        }
    }

    /** Detaches {@code client}'s attachment, if any (its close()). */
    static void detach(FlagwireClient client) {
        FlagwireAttachment a;
        synchronized (ATTACHED) {
            a = client.attachment;
        }
        if (a != null) {
            a.close();
        }
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
            synchronized (ATTACHED) {
                ATTACHED.remove(optimizely);
                if (client.attachment == this) {
                    client.attachment = null;
                    client.attachedTo = null;
                }
            }
        }
    }

    @Override
    public String toString() {
        return "FlagwireAttachment{" + (isAttached() ? "attached" : "detached") + ", decisionListenerId="
                + decisionListenerId + "}";
    }
}
