package dev.flagwire;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A flagwire client: turns Optimizely decisions into Segment "Experiment Viewed" events, queued
 * and sent in the background by the native library.
 *
 * <pre>{@code
 * try (FlagwireClient flagwire = FlagwireClient.create(FlagwireConfig.builder(writeKey).build())) {
 *     flagwire.attach(optimizely);   // decision + config-update listeners, datafile pushed
 *     ...                            // user.decide("checkout_flow") as usual
 * }                                  // close(): detach, flush (up to closeTimeout), stop, free
 * }</pre>
 *
 * <p>This class is the public API only; the parts are: {@link NativeHandle} (the native client's
 * lifecycle and the one call helper), {@link FlagwireAttachment} with {@link DecisionHandler} and
 * {@link DatafilePusher} (the SDK listeners), {@link RecordBatcher} (decisions handed over off
 * the SDK's thread), {@link DecisionRecord} (the ABI 2 record, docs/design.md §2.2) and
 * {@link LogBridge} (the library's log lines into a {@link System.Logger}).
 *
 * <p>Thread safety: every method may be called from any thread. {@link #close()} is idempotent;
 * it waits for calls in progress, so it never frees the native client under a call, and calls
 * after it throw {@link FlagwireStatus#CLOSED}. Decision calls never wait for close or for I/O. A
 * {@link Cleaner} frees the native client of a client that becomes unreachable without
 * {@code close()}, and a shutdown hook (holding only a weak reference) flushes a client still
 * open when the JVM exits.
 */
public final class FlagwireClient implements AutoCloseable {
    private final FlagwireConfig config;
    private final NativeHandle handle;
    private final Cleaner.Cleanable cleanable;
    private final ListenerFailures failures;
    private final RecordBatcher batcher;
    private final DecisionHandler decisionHandler;
    private final Object closeMonitor = new Object();
    private Boolean closeResult; // guarded by closeMonitor
    private volatile boolean closing;

    // Guarded by FlagwireAttachment's registry lock: the Optimizely instance this client is
    // attached (or attaching) to, and the attachment.
    Optimizely attachedTo;
    FlagwireAttachment attachment;

    private FlagwireClient(FlagwireConfig config, NativeHandle handle, System.Logger logger) {
        this.config = config;
        this.handle = handle;
        this.failures = new ListenerFailures(logger);
        this.batcher = new RecordBatcher(handle, failures);
        this.decisionHandler = new DecisionHandler(this, batcher, failures);
        handle.beforeShutdown(batcher::close);
        if (config.closeOnShutdown()) {
            Thread hook = new Thread(new ShutdownCloser(new WeakReference<>(this)), "flagwire-shutdown");
            try {
                Runtime.getRuntime().addShutdownHook(hook);
                handle.shutdownHook(hook);
            } catch (IllegalStateException | SecurityException e) {
                // the JVM is already shutting down, or hooks are not allowed
            }
        }
        // Last: from here on the Cleaner owns the native client (create() must not free it too).
        this.cleanable = handle.registerCleaner(this);
    }

    /**
     * Creates a client and starts its sender thread.
     *
     * @throws FlagwireException     {@link FlagwireStatus#INVALID_CONFIG} with a message naming the key
     * @throws FlagwireLoadException the native library is missing or has another ABI version
     */
    public static FlagwireClient create(FlagwireConfig config) {
        Objects.requireNonNull(config, "config");
        FlagwireNative.check();
        LogBridge log = new LogBridge(config.logger());
        NativeHandle handle = NativeHandle.create(config.toJson(), log, timeoutMs(config.closeTimeout()));
        try {
            return new FlagwireClient(config, handle, log.logger());
        } catch (RuntimeException | Error e) {
            handle.closeUnregistered();
            throw e;
        }
    }

    /** The configuration this client was created with. */
    public FlagwireConfig config() {
        return config;
    }

    // ---- Optimizely integration ---------------------------------------------------------

    /**
     * Registers flagwire on {@code optimizely}: a DECISION handler ({@link #decisionHandler()}) and
     * a config-update handler that gives flagwire the datafile now and on every update (rules are
     * classified by flag from it). Reading the current datafile waits, as {@code decide()} does, for
     * a polling config manager's first datafile.
     *
     * @return a handle whose {@code close()} detaches (removes both handlers); {@link #close()}
     *     detaches too
     * @throws IllegalStateException when flagwire is already attached to this Optimizely instance
     *     (by this or another client): two listeners would send every exposure twice; or when this
     *     client is attached to another Optimizely instance (a client holds one datafile)
     */
    public FlagwireAttachment attach(Optimizely optimizely) {
        Objects.requireNonNull(optimizely, "optimizely");
        if (isClosed()) {
            throw new FlagwireException(FlagwireStatus.CLOSED, "the client is closed");
        }
        return FlagwireAttachment.attach(this, optimizely, failures);
    }

    /**
     * The DECISION notification handler, for registering by hand:
     * {@code optimizely.addDecisionNotificationHandler(flagwire.decisionHandler())}. Always the same
     * instance, so the SDK refuses to register it twice. It never throws into {@code decide()}: a
     * failure (including an {@link Error}) is caught, counted in {@link #handlerErrors()} and logged
     * once. Flag decisions are handed to the library off the deciding thread, each with its
     * decision time; {@link #flush}, {@link #stats()} and {@link #close()} hand over what is
     * pending first. Prefer {@link #attach}, which also gives flagwire the datafile.
     */
    public NotificationHandler<DecisionNotification> decisionHandler() {
        return decisionHandler;
    }

    /** Failures caught by the listeners and the decision hand-over (never thrown into the SDK). */
    public long handlerErrors() {
        return failures.count();
    }

    // ---- decisions -------------------------------------------------------------------------

    /**
     * Handles one Optimizely DECISION notification now, on this thread (the listener defers it):
     * a flag decision as a decision record, a legacy one as JSON.
     *
     * @return {@link FlagwireStatus#OK} (an event was queued), {@link FlagwireStatus#SKIPPED} (not
     *     an exposure), or {@link FlagwireStatus#QUEUE_FULL} / {@link FlagwireStatus#TOO_LARGE}
     *     (dropped and counted)
     * @throws FlagwireException for other statuses (for example CLOSED or INVALID_JSON)
     */
    public FlagwireStatus onDecision(DecisionNotification notification) {
        Objects.requireNonNull(notification, "notification");
        if (!Notifications.isFlagDecision(notification)) {
            return onDecisionJson(Notifications.json(notification));
        }
        return record(Notifications.encode(DecisionRecord.local(), notification, 0L));
    }

    /**
     * One flag decision (the {@code decide} API) without a notification object; the experiment and
     * variation ids come from the datafile. Strings are data, NUL characters included.
     *
     * @param ruleKey                 null or "" when no rule matched
     * @param variationKey            null or "" when no variation
     * @param decisionEventDispatched null when not known
     * @param attributes              the user's attributes; null or empty for none
     * @throws FlagwireException {@link FlagwireStatus#INVALID_JSON} for a null or empty user id or
     *     flag key (the library's message says which); CLOSED, ...
     */
    public FlagwireStatus onFlagDecision(String userId, String flagKey, String ruleKey, String variationKey,
            boolean enabled, Boolean decisionEventDispatched, Map<String, ?> attributes) {
        return onFlagDecision(userId, flagKey, ruleKey, variationKey, null, null, enabled, decisionEventDispatched,
                attributes);
    }

    /**
     * {@link #onFlagDecision(String, String, String, String, boolean, Boolean, Map)} with the
     * decision's experiment and variation ids (the notification's {@code experimentId} /
     * {@code variationId}), which the event carries even without a datafile; null: from the datafile.
     */
    public FlagwireStatus onFlagDecision(String userId, String flagKey, String ruleKey, String variationKey,
            String experimentId, String variationId, boolean enabled, Boolean decisionEventDispatched,
            Map<String, ?> attributes) {
        int dispatched = decisionEventDispatched == null ? -1 : decisionEventDispatched ? 1 : 0;
        return record(DecisionRecord.local().encode(userId, flagKey, ruleKey, variationKey, experimentId, variationId,
                enabled, dispatched, attributes, 0L));
    }

    private FlagwireStatus record(DecisionRecord r) {
        return FlagwireStatus.fromCode(handle.call(NativeHandle.RECORD, r.bytes(), r.length(), NativeHandle.ACCEPT_DECISION));
    }

    /** A whole notification as JSON, in any SDK's casing (docs/design.md §4). Statuses as {@link #onDecision}. */
    public FlagwireStatus onDecisionJson(String notificationJson) {
        return json(NativeHandle.NOTIFICATION, notificationJson, NativeHandle.ACCEPT_DECISION);
    }

    // ---- other messages, datafile, flush, stats ------------------------------------------

    /**
     * Queues any Segment message (track, identify, page, screen, group, alias), for conversion
     * events and traits. Validated as Segment's libraries do; {@code messageId}, {@code timestamp}
     * and {@code context.library} are filled when absent.
     *
     * @return {@link FlagwireStatus#OK}, or {@link FlagwireStatus#QUEUE_FULL} / {@link FlagwireStatus#TOO_LARGE}
     * @throws FlagwireException {@link FlagwireStatus#INVALID_JSON} for an invalid message, CLOSED, ...
     */
    public FlagwireStatus enqueue(Map<String, ?> message) {
        Objects.requireNonNull(message, "message");
        return enqueueJson(Json.write(message));
    }

    /** {@link #enqueue(Map)} for a message already serialized as JSON. */
    public FlagwireStatus enqueueJson(String messageJson) {
        return json(NativeHandle.ENQUEUE, messageJson, NativeHandle.ACCEPT_ENQUEUE);
    }

    /**
     * Gives flagwire the Optimizely datafile (JSON) so it classifies rules by flag; {@link #attach}
     * does this for you, now and on every config update.
     *
     * @throws FlagwireException {@link FlagwireStatus#INVALID_JSON}: refused, the previous one is kept
     */
    public void setDatafile(String datafileJson) {
        json(NativeHandle.DATAFILE, datafileJson, NativeHandle.ACCEPT_OK);
    }

    private FlagwireStatus json(NativeHandle.Export export, String json, int accepted) {
        byte[] b = Objects.requireNonNull(json, "json").getBytes(StandardCharsets.UTF_8);
        return FlagwireStatus.fromCode(handle.call(export, b, b.length, accepted));
    }

    /**
     * Hands over the decisions the listener still holds, then waits until every event queued
     * before the call is delivered or has failed.
     *
     * @return true when done, false when {@code timeout} passed first (nothing is lost: the events
     *     stay queued)
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public boolean flush(Duration timeout) {
        int ms = timeoutMs(Objects.requireNonNull(timeout, "timeout"));
        batcher.drain();
        return handle.callAt(NativeHandle.FLUSH, 0L, ms & 0xFFFF_FFFFL, NativeHandle.ACCEPT_FLUSH) == FlagwireStatus.OK.code();
    }

    /**
     * The counters since this client was created (docs/design.md §6), after handing over the
     * decisions the listener still holds.
     *
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public FlagwireStats stats() {
        return FlagwireStats.fromMap(counters());
    }

    /**
     * Every counter of the native stats (docs/design.md §6) by its JSON name, after handing over
     * the decisions the listener still holds: those {@link FlagwireStats} carries and the rest
     * ({@code deduplicated}, {@code held}, {@code holdout_exposures}, {@code spooled},
     * {@code in_flight}, ...). Counters a newer native library adds appear here without a binding
     * change, so a service can export all of them to its metrics.
     *
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public Map<String, Long> counters() {
        batcher.drain();
        return Json.readFlatLongs(handle.callForValue(NativeHandle.STATS, null, 0, NativeHandle.ACCEPT_OK));
    }

    /**
     * Exposures per (flag, rule, variation) since this client was created (docs/design.md §6,
     * {@code exposures_by_variation}), after handing over the decisions the listener still holds:
     * the split a sample-ratio-mismatch check needs. Bounded by {@code max_exposure_counters};
     * exposures beyond it are counted in {@code counters().get("exposure_counts_overflow")}.
     *
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public List<ExposureCount> exposuresByVariation() {
        batcher.drain();
        Object rows = Json.readObject(handle.callForValue(NativeHandle.STATS, null, 0, NativeHandle.ACCEPT_OK))
                .get("exposures_by_variation");
        List<ExposureCount> out = new ArrayList<>();
        if (rows instanceof List<?> list) {
            for (Object row : list) {
                if (row instanceof Map<?, ?> m) {
                    out.add(new ExposureCount(text(m.get("flag_key")), text(m.get("rule_key")),
                            text(m.get("variation_key")), m.get("exposures") instanceof Number n ? n.longValue() : 0L));
                }
            }
        }
        return out;
    }

    private static String text(Object v) {
        return v == null ? "" : v.toString();
    }

    // ---- Segment Profile API (docs/design.md §7) -------------------------------------------

    /**
     * The profile's traits as Optimizely attributes, for deciding with them:
     *
     * <pre>{@code
     * Map<String, Object> attributes = flagwire.profileAttributes("user_id:" + userId).orElseGet(HashMap::new);
     * attributes.put("device", "ios");                       // the map is yours
     * optimizely.createUserContext(userId, attributes).decide("checkout_flow");
     * }</pre>
     *
     * <p>Keys are trait names (only the configured {@code traits} when set), plus
     * {@code "$opt_bucketing_id"} (the user's account, a {@code group_id}) with
     * {@link ProfileConfig.Builder#accountBucketing(boolean)}. Values are String, Boolean, Long
     * (integers) or Double (other numbers): the types the SDK's audience matchers evaluate
     * (exact, gt, ge, lt, le take Integer, Long, Double or Float up to 2^53).
     *
     * <p>Runs on the calling thread through the native library's TTL + LRU cache, with one request
     * in flight per identifier; a miss waits at most the profile {@code timeout}
     * ({@link ProfileConfig.Builder#timeout}, 300 ms by default). After an error the last answer
     * is served even when it is older than the TTL.
     *
     * @param identifier {@code <type>:<value>}, e.g. {@code "user_id:u-123"}, {@code "anonymous_id:a-1"};
     *     the value is data (any character, NUL included, percent-encoded by the library)
     * @return the attributes (a new, modifiable map; empty for a profile without traits); or
     *     empty when there is no such profile ({@link FlagwireStatus#NOT_FOUND}) or the Profile API
     *     failed, timed out or is paused after a 429 and nothing is cached
     *     ({@link FlagwireStatus#UNAVAILABLE}; {@link #lastError()} says why): decide without
     *     enrichment then. These two are expected outcomes, not exceptions.
     * @throws FlagwireException {@link FlagwireStatus#INVALID_CONFIG} when the client has no
     *     {@link FlagwireConfig.Builder#profile profile} config; {@link FlagwireStatus#INVALID_JSON}
     *     for an identifier that is not {@code <type>:<value>}; {@link FlagwireStatus#CLOSED} after
     *     {@link #close()}: programming errors, which an empty result would hide
     */
    public Optional<Map<String, Object>> profileAttributes(String identifier) {
        String json = profileLookup(NativeHandle.PROFILE_ATTRIBUTES, identifier);
        return json == null ? Optional.empty() : Optional.of(Json.readObject(json));
    }

    /**
     * The profile's {@code user_id} external id (the earliest, when the space allows several): the
     * canonical id to bucket on across platforms, e.g. for a visitor known by an anonymous id:
     *
     * <pre>{@code
     * String userId = flagwire.profileUserId("anonymous_id:" + anonymousId).orElse(anonymousId);
     * }</pre>
     *
     * Identifier, caching, timeout and exceptions as {@link #profileAttributes}.
     *
     * @return the user id; empty when there is no such profile, the profile has no user_id, or
     *     the Profile API is unavailable
     */
    public Optional<String> profileUserId(String identifier) {
        return Optional.ofNullable(profileLookup(NativeHandle.PROFILE_USER_ID, identifier));
    }

    /** {@code flagwire_profile_lookup}: the value on OK; null for NOT_FOUND / UNAVAILABLE; throws otherwise. */
    private String profileLookup(NativeHandle.Export field, String identifier) {
        byte[] id = Objects.requireNonNull(identifier, "identifier").getBytes(StandardCharsets.UTF_8);
        return handle.callForValue(field, id, id.length, NativeHandle.ACCEPT_PROFILE);
    }

    /**
     * The message of the most recent call on this client that failed or found nothing (any thread),
     * or empty; empty after {@link #close()}. An exception carries its own call's message.
     */
    public Optional<String> lastError() {
        return Optional.ofNullable(handle.lastError());
    }

    /** True once {@link #close()} has started. */
    public boolean isClosed() {
        return closing || handle.isClosed();
    }

    // ---- close -----------------------------------------------------------------------------

    /**
     * Detaches from the Optimizely instance, hands over pending decisions, flushes (waiting up to
     * the configured close timeout, 5 s by default), stops the sender thread and frees the native
     * client. Idempotent and thread-safe; later calls return at once. Calls made after it throw CLOSED.
     */
    @Override
    public void close() {
        close(config.closeTimeout());
    }

    /**
     * {@link #close()} with its own deadline.
     *
     * @return true when every queued event was delivered (or failed for good) before the deadline;
     *     false when events were left unsent (they are dropped, and logged by the native library).
     *     A second call returns the first call's result.
     */
    public boolean close(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        synchronized (closeMonitor) {
            if (closeResult == null) {
                closing = true; // an attach() in progress sees it and detaches itself
                // Detach first, outside any lock of ours: a decide() may hold the SDK's
                // notification lock while it waits to call us.
                FlagwireAttachment.detach(this);
                closeResult = handle.close(cleanable, timeoutMs(timeout));
            }
            return closeResult;
        }
    }

    static int timeoutMs(Duration d) {
        long ms;
        try {
            ms = d.toMillis();
        } catch (ArithmeticException e) {
            ms = d.isNegative() ? 0 : Long.MAX_VALUE;
        }
        // uint32_t in C: values above Integer.MAX_VALUE travel as negative ints with the same bits.
        return (int) Math.max(0L, Math.min(ms, 0xFFFF_FFFFL));
    }

    @Override
    public String toString() {
        return "FlagwireClient{" + (isClosed() ? "closed" : "open") + ", " + config + "}";
    }

    /** The JVM shutdown hook: closes the client if it is still reachable and open. */
    private static final class ShutdownCloser implements Runnable {
        private final WeakReference<FlagwireClient> client;

        ShutdownCloser(WeakReference<FlagwireClient> client) {
            this.client = client;
        }

        @Override
        public void run() {
            FlagwireClient c = client.get();
            if (c != null) {
                c.close();
            }
        }
    }
}
