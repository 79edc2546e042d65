package dev.flagwire;

import com.optimizely.ab.Optimizely;
import com.optimizely.ab.notification.DecisionNotification;
import com.optimizely.ab.notification.NotificationHandler;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.StampedLock;

import static dev.flagwire.FlagwireNative.flagwire_enqueue;
import static dev.flagwire.FlagwireNative.flagwire_flush;
import static dev.flagwire.FlagwireNative.flagwire_init;
import static dev.flagwire.FlagwireNative.flagwire_last_error;
import static dev.flagwire.FlagwireNative.flagwire_on_decision;
import static dev.flagwire.FlagwireNative.flagwire_on_flag_decision;
import static dev.flagwire.FlagwireNative.flagwire_profile_attributes;
import static dev.flagwire.FlagwireNative.flagwire_profile_user_id;
import static dev.flagwire.FlagwireNative.flagwire_set_datafile;
import static dev.flagwire.FlagwireNative.flagwire_shutdown;
import static dev.flagwire.FlagwireNative.flagwire_stats;
import static dev.flagwire.NativeArgs.size;
import static dev.flagwire.NativeArgs.utf8;

/**
 * A flagwire client: turns Optimizely decisions into Segment "Experiment Viewed" events, queued
 * and sent in the background by the native library.
 *
 * <pre>{@code
 * try (FlagwireClient flagwire = FlagwireClient.create(FlagwireConfig.builder(writeKey).build())) {
 *     flagwire.attach(optimizely);   // decision + config-update listeners, datafile pushed
 *     ...                            // user.decide("checkout_flow") as usual
 * }                                  // close(): flush (up to closeTimeout), stop, free
 * }</pre>
 *
 * <p>Thread safety: every method may be called from any thread. {@link #close()} is idempotent;
 * it waits for calls in progress (a read/write lock), so it can never free the native client under
 * a concurrent call, and calls after it return or throw {@link FlagwireStatus#CLOSED}. Decision
 * calls never wait for close or for I/O. A {@link Cleaner} frees the native client of a client
 * that becomes unreachable without {@code close()}, and a shutdown hook (holding only a weak
 * reference) flushes a client still open when the JVM exits.
 */
public final class FlagwireClient implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("dev.flagwire");

    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "flagwire-cleaner");
        t.setDaemon(true);
        return t;
    });

    /** Optimizely instances with a flagwire attachment (weak keys, identity: Optimizely has no equals). */
    private static final Set<Optimizely> ATTACHED = Collections.newSetFromMap(new WeakHashMap<>());

    /** Native clients freed by the Cleaner rather than by close() (for tests). */
    static final AtomicLong FREED_BY_CLEANER = new AtomicLong();

    /** Keys of decisionInfo the native library ignores; left out of the legacy notification JSON. */
    private static final Set<String> IGNORED_DECISION_KEYS = Set.of("variables", "reasons", "variableValues", "variableValue");

    private static final int OK = 0;
    private static final int SKIPPED = 1;
    private static final int NULL_ARGUMENT = 2;
    private static final int QUEUE_FULL = 6;
    private static final int TOO_LARGE = 7;
    private static final int CLOSED = 8;
    private static final int TIMEOUT = 9;
    private static final int NOT_FOUND = 11;
    private static final int UNAVAILABLE = 12;

    private final FlagwireConfig config;
    private final long handle;
    private final NativeHandle nativeHandle;
    private final Cleaner.Cleanable cleanable;

    /** Read-held by every native call, write-acquired once by close(): no free under a call. */
    private final StampedLock lock = new StampedLock();
    private volatile boolean closed;
    private final Object closeMonitor = new Object();
    private Boolean closeResult;

    private volatile boolean hasDatafile;
    private final DecisionHandler decisionHandler = new DecisionHandler(this);
    private final Set<FlagwireAttachment> attachments = ConcurrentHashMap.newKeySet();
    /** The Optimizely instance this client is attached to (guarded by ATTACHED's monitor). */
    private Optimizely attachedTo;
    private final AtomicLong handlerErrors = new AtomicLong();
    private final AtomicBoolean handlerErrorLogged = new AtomicBoolean();

    private FlagwireClient(FlagwireConfig config, long handle) {
        this.config = config;
        this.handle = handle;
        this.nativeHandle = new NativeHandle(handle, timeoutMs(config.closeTimeout()));
        Thread hook = null;
        if (config.closeOnShutdown()) {
            hook = new Thread(new ShutdownCloser(new WeakReference<>(this)), "flagwire-shutdown");
            try {
                Runtime.getRuntime().addShutdownHook(hook);
            } catch (IllegalStateException | SecurityException e) {
                hook = null; // the JVM is already shutting down, or hooks are not allowed
            }
        }
        nativeHandle.shutdownHook = hook;
        // Last: from here on the Cleaner owns the native client (create() must not free it too).
        this.cleanable = CLEANER.register(this, nativeHandle);
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
        byte[] json = utf8(config.toJson());
        PointerByReference outClient = new PointerByReference();
        PointerByReference outError = new PointerByReference();
        NativeArgs args = NativeArgs.acquire(size(json));
        int status;
        try {
            status = flagwire_init(args.put(json), outClient, outError);
        } finally {
            args.release();
        }
        String message = FlagwireNative.takeString(outError.getValue());
        if (status != OK) {
            throw new FlagwireException(FlagwireStatus.fromCode(status), message);
        }
        long handle = Pointer.nativeValue(outClient.getValue());
        if (handle == 0) {
            throw new FlagwireException(FlagwireStatus.PANIC, "flagwire_init returned OK without a client");
        }
        try {
            return new FlagwireClient(config, handle);
        } catch (RuntimeException | Error e) {
            flagwire_shutdown(handle, 0);
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
     *     detaches every attachment of this client
     * @throws IllegalStateException when flagwire is already attached to this Optimizely instance
     *     (by this or another client): two listeners would send every exposure twice; or when this
     *     client is attached to another Optimizely instance (a client holds one datafile)
     */
    public FlagwireAttachment attach(Optimizely optimizely) {
        Objects.requireNonNull(optimizely, "optimizely");
        ensureOpen();
        synchronized (ATTACHED) {
            if (ATTACHED.contains(optimizely)) {
                throw new IllegalStateException("flagwire is already attached to this Optimizely instance; "
                        + "detach the first attachment before attaching again (two listeners send every exposure twice)");
            }
            if (attachedTo != null) {
                throw new IllegalStateException("this FlagwireClient is already attached to another Optimizely instance; "
                        + "a client holds one datafile, so create one FlagwireClient per Optimizely instance");
            }
            ATTACHED.add(optimizely);
            attachedTo = optimizely;
        }
        int updateId = -1;
        int decisionId = -1;
        boolean ok = false;
        try {
            DatafilePusher pusher = new DatafilePusher(this, optimizely);
            updateId = optimizely.addUpdateConfigNotificationHandler(pusher);
            pusher.push(true);
            decisionId = optimizely.addDecisionNotificationHandler(decisionHandler);
            if (decisionId < 0) {
                throw new IllegalStateException("this client's decisionHandler() is already registered on this "
                        + "Optimizely instance; remove it or use attach() alone");
            }
            FlagwireAttachment attachment = new FlagwireAttachment(this, optimizely, decisionId, updateId);
            attachments.add(attachment);
            ok = true;
            if (closed) { // close() ran meanwhile and did not see this attachment
                attachment.close();
                throw new FlagwireException(FlagwireStatus.CLOSED, "the client was closed during attach()");
            }
            return attachment;
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
                    attachedTo = null;
                }
            }
        }
    }

    void detached(FlagwireAttachment attachment) {
        attachments.remove(attachment);
        synchronized (ATTACHED) {
            ATTACHED.remove(attachment.optimizely());
            if (attachedTo == attachment.optimizely()) {
                attachedTo = null;
            }
        }
    }

    /**
     * The DECISION notification handler, for registering by hand:
     * {@code optimizely.addDecisionNotificationHandler(flagwire.decisionHandler())}. Always the same
     * instance, so the SDK refuses to register it twice. It never throws into {@code decide()}: a
     * failure (including an {@link Error}) is caught, counted in {@link #handlerErrors()} and logged
     * once. Prefer {@link #attach}, which also gives flagwire the datafile.
     */
    public NotificationHandler<DecisionNotification> decisionHandler() {
        return decisionHandler;
    }

    /** Failures caught by the decision and config-update handlers (never thrown into the SDK). */
    public long handlerErrors() {
        return handlerErrors.get();
    }

    void handlerFailed(int status, Throwable t) {
        handlerErrors.incrementAndGet();
        if (!handlerErrorLogged.compareAndSet(false, true)) {
            return;
        }
        try {
            String what;
            if (t != null) {
                what = t.toString();
            } else {
                FlagwireStatus s = FlagwireStatus.fromCode(status);
                what = "status " + s + (s == FlagwireStatus.CLOSED ? " (the flagwire client is closed)"
                        : lastError().map(m -> ": " + m).orElse(""));
            }
            LOG.log(System.Logger.Level.WARNING, "flagwire: a notification was not handled (" + what
                    + "); later failures are only counted (FlagwireClient.handlerErrors())", t);
        } catch (Throwable ignored) {
            // logging must not throw into decide() either
        }
    }

    // ---- decisions -------------------------------------------------------------------------

    /**
     * Handles one Optimizely DECISION notification, as the {@link #decisionHandler()} does.
     *
     * @return {@link FlagwireStatus#OK} (an event was queued), {@link FlagwireStatus#SKIPPED} (not
     *     an exposure), or {@link FlagwireStatus#QUEUE_FULL} / {@link FlagwireStatus#TOO_LARGE}
     *     (dropped and counted)
     * @throws FlagwireException for other statuses (for example CLOSED or INVALID_JSON)
     */
    public FlagwireStatus onDecision(DecisionNotification notification) {
        Objects.requireNonNull(notification, "notification");
        return result(decisionCode(notification));
    }

    /**
     * The fast path for one flag decision (the {@code decide} API), without a notification object.
     *
     * @param ruleKey                 null or "" when no rule matched
     * @param variationKey            null or "" when no variation
     * @param decisionEventDispatched null when not known
     * @param attributes              the user's attributes; null or empty for none
     */
    public FlagwireStatus onFlagDecision(String userId, String flagKey, String ruleKey, String variationKey,
            boolean enabled, Boolean decisionEventDispatched, Map<String, ?> attributes) {
        return result(flagDecisionCode(userId, flagKey, ruleKey, variationKey, enabled,
                decisionEventDispatched == null ? -1 : decisionEventDispatched ? 1 : 0, attributes));
    }

    /** A whole notification as JSON, in any SDK's casing (DESIGN §4). Statuses as {@link #onDecision}. */
    public FlagwireStatus onDecisionJson(String notificationJson) {
        return result(jsonCall(Op.DECISION, notificationJson));
    }

    int decisionCode(DecisionNotification n) {
        Map<String, ?> info = n.getDecisionInfo();
        if (info != null && "flag".equals(n.getType()) && hasDatafile) {
            Object flagKey = info.get("flagKey");
            Object ruleKey = info.get("ruleKey");
            Object variationKey = info.get("variationKey");
            if (flagKey instanceof String f && (ruleKey == null || ruleKey instanceof String)
                    && (variationKey == null || variationKey instanceof String)) {
                Object dispatched = info.get("decisionEventDispatched");
                return flagDecisionCode(n.getUserId(), f, (String) ruleKey, (String) variationKey,
                        Boolean.TRUE.equals(info.get("enabled")),
                        dispatched instanceof Boolean b ? (b ? 1 : 0) : -1, n.getAttributes());
            }
        }
        // Legacy types, and flag decisions before a datafile is set: the notification's own
        // experimentId / variationId then give the event its ids (the fast path has no such
        // arguments in ABI 1).
        return jsonCall(Op.DECISION, notificationJson(n));
    }

    static String notificationJson(DecisionNotification n) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"type\":");
        Json.writeValue(sb, n.getType(), 0);
        sb.append(",\"userId\":");
        Json.writeValue(sb, n.getUserId(), 0);
        sb.append(",\"attributes\":");
        Map<String, ?> attributes = n.getAttributes();
        Json.writeObject(sb, attributes == null ? Map.of() : attributes, null, 1);
        sb.append(",\"decisionInfo\":");
        Map<String, ?> info = n.getDecisionInfo();
        Json.writeObject(sb, info == null ? Map.of() : info, IGNORED_DECISION_KEYS, 1);
        sb.append('}');
        return sb.toString();
    }

    int flagDecisionCode(String userId, String flagKey, String ruleKey, String variationKey, boolean enabled,
            int dispatched, Map<String, ?> attributes) {
        if (closed) {
            return CLOSED;
        }
        if (userId == null || flagKey == null) {
            return NULL_ARGUMENT;
        }
        if (hasNul(userId) || hasNul(flagKey) || hasNul(ruleKey) || hasNul(variationKey)) {
            // A C string would end at the NUL; the JSON path escapes it instead.
            return jsonCall(Op.DECISION, flagNotificationJson(userId, flagKey, ruleKey, variationKey, enabled,
                    dispatched, attributes));
        }
        byte[] u = utf8(userId);
        byte[] f = utf8(flagKey);
        byte[] r = utf8(ruleKey);
        byte[] v = utf8(variationKey);
        byte[] a = attributes == null || attributes.isEmpty() ? null : utf8(Json.write(attributes));
        long stamp = lock.tryReadLock();
        if (stamp == 0L) {
            return CLOSED; // only close() ever takes the write lock
        }
        try {
            if (closed) {
                return CLOSED;
            }
            NativeArgs args = NativeArgs.acquire((long) size(u) + size(f) + size(r) + size(v) + size(a));
            try {
                return flagwire_on_flag_decision(handle, args.put(u), args.put(f), args.put(r), args.put(v),
                        enabled ? 1 : 0, dispatched, args.put(a));
            } finally {
                args.release();
            }
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
    }

    private static String flagNotificationJson(String userId, String flagKey, String ruleKey, String variationKey,
            boolean enabled, int dispatched, Map<String, ?> attributes) {
        Map<String, Object> info = new java.util.LinkedHashMap<>();
        info.put("flagKey", flagKey);
        info.put("ruleKey", ruleKey);
        info.put("variationKey", variationKey);
        info.put("enabled", enabled);
        if (dispatched >= 0) {
            info.put("decisionEventDispatched", dispatched == 1);
        }
        Map<String, Object> n = new java.util.LinkedHashMap<>();
        n.put("type", "flag");
        n.put("userId", userId);
        n.put("attributes", attributes == null ? Map.of() : attributes);
        n.put("decisionInfo", info);
        return Json.write(n);
    }

    private static boolean hasNul(String s) {
        return s != null && s.indexOf('\0') >= 0;
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
        return result(jsonCall(Op.ENQUEUE, messageJson));
    }

    /**
     * Gives flagwire the Optimizely datafile (JSON) so it classifies rules by flag; {@link #attach}
     * does this for you, now and on every config update.
     *
     * @throws FlagwireException {@link FlagwireStatus#INVALID_JSON}: refused, the previous one is kept
     */
    public void setDatafile(String datafileJson) {
        int code = jsonCall(Op.DATAFILE, datafileJson);
        if (code == OK) {
            hasDatafile = true;
            return;
        }
        throw exception(code);
    }

    private enum Op { DECISION, ENQUEUE, DATAFILE }

    /** One string argument; returns the status number, never throws for a status. */
    private int jsonCall(Op op, String json) {
        if (closed) {
            return CLOSED;
        }
        if (json == null) {
            return NULL_ARGUMENT;
        }
        byte[] b = utf8(json);
        long stamp = lock.tryReadLock();
        if (stamp == 0L) {
            return CLOSED;
        }
        try {
            if (closed) {
                return CLOSED;
            }
            NativeArgs args = NativeArgs.acquire(size(b));
            try {
                long p = args.put(b);
                return switch (op) {
                    case DECISION -> flagwire_on_decision(handle, p);
                    case ENQUEUE -> flagwire_enqueue(handle, p);
                    case DATAFILE -> flagwire_set_datafile(handle, p);
                };
            } finally {
                args.release();
            }
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Waits until every event queued before the call is delivered or has failed.
     *
     * @return true when done, false when {@code timeout} passed first (nothing is lost: the events
     *     stay queued)
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public boolean flush(Duration timeout) {
        int ms = timeoutMs(Objects.requireNonNull(timeout, "timeout"));
        long stamp = acquire();
        int code;
        try {
            code = flagwire_flush(handle, ms);
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
        if (code == OK) {
            return true;
        }
        if (code == TIMEOUT) {
            return false;
        }
        throw exception(code);
    }

    /**
     * The counters since this client was created (DESIGN §6).
     *
     * @throws FlagwireException {@link FlagwireStatus#CLOSED} after {@link #close()}
     */
    public FlagwireStats stats() {
        long stamp = acquire();
        String json;
        try {
            json = FlagwireNative.takeString(flagwire_stats(handle));
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
        if (json == null) {
            throw new FlagwireException(FlagwireStatus.PANIC, "flagwire_stats returned NULL");
        }
        return FlagwireStats.fromMap(Json.readFlatLongs(json));
    }

    // ---- Segment Profile API (DESIGN §7) ---------------------------------------------------

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
     * @param identifier {@code <type>:<value>}, e.g. {@code "user_id:u-123"}, {@code "anonymous_id:a-1"}
     * @return the attributes (a new, modifiable map; empty for a profile without traits); or
     *     empty when there is no such profile ({@link FlagwireStatus#NOT_FOUND}) or the Profile API
     *     failed, timed out or is paused after a 429 and nothing is cached
     *     ({@link FlagwireStatus#UNAVAILABLE}; {@link #lastError()} says why): decide without
     *     enrichment then. These two are expected outcomes, not exceptions.
     * @throws FlagwireException {@link FlagwireStatus#INVALID_CONFIG} when the client has no
     *     {@link FlagwireConfig.Builder#profile profile} config; {@link FlagwireStatus#INVALID_JSON}
     *     for an identifier that is not {@code <type>:<value>} (or contains a NUL character);
     *     {@link FlagwireStatus#CLOSED} after {@link #close()}: programming errors, which an
     *     empty result would hide
     */
    public Optional<Map<String, Object>> profileAttributes(String identifier) {
        String json = profileLookup(true, identifier);
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
        return Optional.ofNullable(profileLookup(false, identifier));
    }

    /** The string the library returned on OK; null for NOT_FOUND / UNAVAILABLE; throws otherwise. */
    private String profileLookup(boolean attributes, String identifier) {
        Objects.requireNonNull(identifier, "identifier");
        if (hasNul(identifier)) {
            // A C string would end at the NUL and look up another profile.
            throw new FlagwireException(FlagwireStatus.INVALID_JSON,
                    "profile identifier contains a NUL character; it must be <type>:<value>, e.g. user_id:abc");
        }
        byte[] id = utf8(identifier);
        long stamp = acquire();
        int code;
        String value;
        try {
            NativeArgs args = NativeArgs.acquire(size(id) + NativeArgs.OUT_SLOT_BYTES);
            try {
                long p = args.put(id);
                long out = args.outSlot();
                code = attributes ? flagwire_profile_attributes(handle, p, out) : flagwire_profile_user_id(handle, p, out);
                // Read and freed whatever the status (the library writes it on OK only).
                value = FlagwireNative.takeString(args.readOut(out));
            } finally {
                args.release();
            }
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
        if (code == OK) {
            if (value == null) {
                throw new FlagwireException(FlagwireStatus.PANIC, "the Profile API lookup returned OK without a value");
            }
            return value;
        }
        if (code == NOT_FOUND || code == UNAVAILABLE) {
            return null;
        }
        throw exception(code);
    }

    /**
     * The last error message the native library recorded on this client (the most recent of any
     * thread), or empty; empty after {@link #close()}.
     */
    public Optional<String> lastError() {
        if (closed) {
            return Optional.empty();
        }
        long stamp = lock.tryReadLock();
        if (stamp == 0L) {
            return Optional.empty();
        }
        try {
            return closed ? Optional.empty() : Optional.ofNullable(FlagwireNative.takeString(flagwire_last_error(handle)));
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
    }

    /** True once {@link #close()} has started. */
    public boolean isClosed() {
        return closed;
    }

    // ---- close -----------------------------------------------------------------------------

    /**
     * Detaches from every Optimizely instance, flushes (waiting up to the configured close timeout,
     * 5 s by default), stops the sender thread and frees the native client. Idempotent and
     * thread-safe; later calls return at once. Calls made after it return or throw CLOSED.
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
            if (closeResult != null) {
                return closeResult;
            }
            // 1. Detach first, outside our lock: a decide() may hold the SDK's notification lock
            //    while it waits to call us.
            for (FlagwireAttachment a : new ArrayList<>(attachments)) {
                a.close();
            }
            // 2. No new calls; wait for the calls in progress (they hold the read lock).
            closed = true;
            long stamp = lock.writeLock();
            lock.unlockWrite(stamp);
            // 3. Flush, stop, free: the Cleaner's action, which runs at most once.
            nativeHandle.timeoutMs = timeoutMs(timeout);
            nativeHandle.byClose = true;
            cleanable.clean();
            closeResult = nativeHandle.result == OK;
            return closeResult;
        }
    }

    private long acquire() {
        if (!closed) {
            long stamp = lock.tryReadLock();
            if (stamp != 0L) {
                if (!closed) {
                    return stamp;
                }
                lock.unlockRead(stamp);
            }
        }
        throw exception(CLOSED);
    }

    private void ensureOpen() {
        if (closed) {
            throw exception(CLOSED);
        }
    }

    private FlagwireStatus result(int code) {
        if (code == OK || code == SKIPPED || code == QUEUE_FULL || code == TOO_LARGE) {
            return FlagwireStatus.fromCode(code);
        }
        throw exception(code);
    }

    private FlagwireException exception(int code) {
        FlagwireStatus status = FlagwireStatus.fromCode(code);
        if (status == FlagwireStatus.CLOSED) {
            return new FlagwireException(status, "the client is closed");
        }
        if (status == FlagwireStatus.UNKNOWN) {
            return new FlagwireException(status, "status " + code);
        }
        return new FlagwireException(status, lastError().orElse(null));
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
        return "FlagwireClient{" + (closed ? "closed" : "open") + ", " + config + "}";
    }

    // ---- helpers that must not capture `this` ------------------------------------------

    /** The Cleaner's action: frees the native client. Holds the address only, never the client. */
    private static final class NativeHandle implements Runnable {
        private final long address;
        volatile int timeoutMs;
        volatile boolean byClose;
        volatile int result = -1;
        volatile Thread shutdownHook;

        NativeHandle(long address, int timeoutMs) {
            this.address = address;
            this.timeoutMs = timeoutMs;
        }

        @Override
        public void run() {
            if (!byClose) {
                FREED_BY_CLEANER.incrementAndGet();
            }
            result = flagwire_shutdown(address, timeoutMs);
            Thread hook = shutdownHook;
            if (hook != null && Thread.currentThread() != hook) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // the JVM is shutting down
                }
            }
        }
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
