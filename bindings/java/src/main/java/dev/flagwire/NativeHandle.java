package dev.flagwire;

import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.StampedLock;

import static dev.flagwire.FlagwireNative.flagwire_enqueue_json;
import static dev.flagwire.FlagwireNative.flagwire_flush;
import static dev.flagwire.FlagwireNative.flagwire_init;
import static dev.flagwire.FlagwireNative.flagwire_on_decision_record;
import static dev.flagwire.FlagwireNative.flagwire_on_decision_records;
import static dev.flagwire.FlagwireNative.flagwire_on_notification_json;
import static dev.flagwire.FlagwireNative.flagwire_profile_lookup;
import static dev.flagwire.FlagwireNative.flagwire_set_datafile_json;
import static dev.flagwire.FlagwireNative.flagwire_set_log_callback;
import static dev.flagwire.FlagwireNative.flagwire_shutdown;
import static dev.flagwire.FlagwireNative.flagwire_stats;

/**
 * One native client: its lifecycle and the one call helper every export goes through
 * ({@link #call}, the shape of uniffi's {@code callWithHandle}): acquire the handle (closed
 * check), call, turn the status and {@code out_error} into a result or a
 * {@link FlagwireException} (freeing the message with {@code flagwire_string_free}), release.
 *
 * <p>Every call holds a read lock of a {@link StampedLock}; {@link #close} takes the write lock
 * once, so the native client is never freed under a call, and calls after it fail with
 * {@link FlagwireStatus#CLOSED}. The {@link Cleaner} action ({@link Release}) captures this handle
 * only, never the {@link FlagwireClient} that owns it, so an unreachable client is still freed.
 */
final class NativeHandle {
    private static final Cleaner CLEANER = Cleaner.create(r -> {
        Thread t = new Thread(r, "flagwire-cleaner");
        t.setDaemon(true);
        return t;
    });

    /** Native clients freed by the Cleaner rather than by close() (for tests). */
    static final AtomicLong FREED_BY_CLEANER = new AtomicLong();

    /**
     * An export in the helper's shape: the client, one byte argument (address, length) or a
     * number in {@code len}, and this thread's out slots. The constants below are static lambdas,
     * so a call allocates nothing.
     */
    @FunctionalInterface
    interface Export {
        int invoke(long client, long arg, long len, CallScratch out);
    }

    static final Export DATAFILE = (c, p, n, s) -> flagwire_set_datafile_json(c, p, n, s.outError());
    static final Export RECORD = (c, p, n, s) -> flagwire_on_decision_record(c, p, n, s.outError());
    static final Export RECORDS = (c, p, n, s) -> flagwire_on_decision_records(c, p, n, s.outError());
    static final Export NOTIFICATION = (c, p, n, s) -> flagwire_on_notification_json(c, p, n, s.outError());
    static final Export ENQUEUE = (c, p, n, s) -> flagwire_enqueue_json(c, p, n, s.outError());
    static final Export PROFILE_ATTRIBUTES = (c, p, n, s) -> flagwire_profile_lookup(c, 1, p, n, s.outValue(), s.outError());
    static final Export PROFILE_USER_ID = (c, p, n, s) -> flagwire_profile_lookup(c, 2, p, n, s.outValue(), s.outError());
    static final Export FLUSH = (c, p, timeoutMs, s) -> flagwire_flush(c, (int) timeoutMs);
    static final Export STATS = (c, p, n, s) -> s.returned(flagwire_stats(c));

    /** Statuses a caller takes as results rather than exceptions (bit {@code 1 << code}). */
    static final int ACCEPT_OK = mask(FlagwireStatus.OK);
    static final int ACCEPT_DECISION = mask(FlagwireStatus.OK, FlagwireStatus.SKIPPED, FlagwireStatus.QUEUE_FULL,
            FlagwireStatus.TOO_LARGE);
    static final int ACCEPT_ENQUEUE = mask(FlagwireStatus.OK, FlagwireStatus.QUEUE_FULL, FlagwireStatus.TOO_LARGE);
    static final int ACCEPT_FLUSH = mask(FlagwireStatus.OK, FlagwireStatus.TIMEOUT);
    static final int ACCEPT_PROFILE = mask(FlagwireStatus.OK, FlagwireStatus.NOT_FOUND, FlagwireStatus.UNAVAILABLE);

    private final long address;
    private final StampedLock lock = new StampedLock();
    private volatile boolean closed;
    private volatile String lastError;
    /** Referenced until flagwire_shutdown returned: the library calls it until then. */
    private final LogBridge log;

    // Lifecycle, written before close() or the Cleaner runs Release.
    private volatile Runnable beforeShutdown;
    private volatile Thread shutdownHook;
    private volatile int closeTimeoutMs;
    private volatile boolean byClose;
    private volatile int shutdownStatus = -1;

    private NativeHandle(long address, LogBridge log, int closeTimeoutMs) {
        this.address = address;
        this.log = log;
        this.closeTimeoutMs = closeTimeoutMs;
    }

    /**
     * {@code flagwire_init}, then the log callback (docs/design.md §2.4): lines go to {@code log}
     * from here on; lines of init itself, if any, go to stderr.
     */
    static NativeHandle create(String configJson, LogBridge log, int closeTimeoutMs) {
        CallScratch s = CallScratch.local();
        s.clearSlots();
        byte[] json = configJson.getBytes(StandardCharsets.UTF_8);
        int status;
        try {
            // out_client is the out_value slot: the library writes the client there on OK.
            status = flagwire_init(s.put(json, json.length, true), s.outValue(), s.outError());
        } finally {
            s.release();
        }
        String message = s.takeError();
        long client = s.takeClient();
        if (status != FlagwireStatus.OK.code() || client == 0L) {
            throw new FlagwireException(status == FlagwireStatus.OK.code() ? FlagwireStatus.PANIC : FlagwireStatus.fromCode(status),
                    client == 0L && message == null ? "flagwire_init returned no client" : message);
        }
        NativeHandle handle = new NativeHandle(client, log, closeTimeoutMs);
        try {
            handle.callAt((c, p, n, out) -> flagwire_set_log_callback(c, log, 0L), 0L, 0L, ACCEPT_OK);
        } catch (RuntimeException | Error e) {
            flagwire_shutdown(client, 0);
            throw e;
        }
        return handle;
    }

    // ---- the one call helper -----------------------------------------------------------------

    /** Calls {@code export} with {@code len} bytes of {@code arg} (null: no argument) copied to native memory. */
    int call(Export export, byte[] arg, int len, int accepted) {
        CallScratch s = CallScratch.local();
        long stamp = acquire();
        int status;
        try {
            s.clearSlots();
            long p = arg == null ? 0L : s.put(arg, len, false);
            status = export.invoke(address, p, len, s);
        } finally {
            s.release();
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
        return check(status, accepted, s.takeError());
    }

    /** Calls {@code export} with an argument already in native memory, or a number in {@code len}. */
    int callAt(Export export, long arg, long len, int accepted) {
        CallScratch s = CallScratch.local();
        long stamp = acquire();
        int status;
        try {
            s.clearSlots();
            status = export.invoke(address, arg, len, s);
        } finally {
            lock.unlockRead(stamp);
            Reference.reachabilityFence(this);
        }
        return check(status, accepted, s.takeError());
    }

    /**
     * {@link #call} for an export that writes {@code out_value} on OK: the string; null for the
     * other accepted statuses (the library writes no value then).
     */
    String callForValue(Export export, byte[] arg, int len, int accepted) {
        int status = call(export, arg, len, accepted);
        String value = CallScratch.local().takeValue();
        if (value == null && status == FlagwireStatus.OK.code()) {
            throw new FlagwireException(FlagwireStatus.PANIC, "the library returned OK without a value");
        }
        return value;
    }

    private long acquire() {
        if (!closed) {
            long stamp = lock.tryReadLock(); // 0 only while close() holds the write lock
            if (stamp != 0L) {
                if (!closed) {
                    return stamp;
                }
                lock.unlockRead(stamp);
            }
        }
        throw new FlagwireException(FlagwireStatus.CLOSED, "the client is closed");
    }

    /** The status when {@code accepted}; else the exception carrying this call's message. */
    private int check(int status, int accepted, String message) {
        if (message != null) {
            lastError = message;
        }
        if (status >= 0 && status < 32 && (accepted & (1 << status)) != 0) {
            return status;
        }
        FlagwireStatus s = FlagwireStatus.fromCode(status);
        throw new FlagwireException(s, message != null ? message : s == FlagwireStatus.UNKNOWN ? "status " + status : null);
    }

    static int mask(FlagwireStatus... statuses) {
        int m = 0;
        for (FlagwireStatus s : statuses) {
            m |= 1 << s.code();
        }
        return m;
    }

    /** The message of the most recent call on this client that wrote one (any thread); null when closed. */
    String lastError() {
        return closed ? null : lastError;
    }

    boolean isClosed() {
        return closed;
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    /** Runs once, before the native client is freed (the decision buffers' last drain). */
    void beforeShutdown(Runnable r) {
        this.beforeShutdown = r;
    }

    void shutdownHook(Thread hook) {
        this.shutdownHook = hook;
    }

    /** Registers the Cleaner on {@code owner}; its action holds this handle only. */
    Cleaner.Cleanable registerCleaner(Object owner) {
        return CLEANER.register(owner, new Release(this));
    }

    /**
     * Through {@code cleanable.clean()} (so it runs once, whoever comes first): drains what
     * {@link #beforeShutdown} names, refuses new calls, waits for the calls in progress, then
     * flushes, stops and frees the native client within {@code timeoutMs}.
     *
     * @return true when everything queued was delivered (or failed) before the deadline
     */
    boolean close(Cleaner.Cleanable cleanable, int timeoutMs) {
        closeTimeoutMs = timeoutMs;
        byClose = true;
        cleanable.clean();
        return shutdownStatus == FlagwireStatus.OK.code();
    }

    /** Frees the native client of a handle whose owner was never built (no Cleaner registered). */
    void closeUnregistered() {
        byClose = true;
        release();
    }

    private void release() {
        if (!byClose) {
            FREED_BY_CLEANER.incrementAndGet();
        }
        Runnable before = beforeShutdown;
        if (before != null) {
            try {
                before.run();
            } catch (RuntimeException e) {
                // the native client must be freed whatever happened before
            }
        }
        closed = true;
        long stamp = lock.writeLock(); // waits for calls in progress
        try {
            shutdownStatus = flagwire_shutdown(address, closeTimeoutMs);
        } finally {
            lock.unlockWrite(stamp);
        }
        lastError = null;
        Reference.reachabilityFence(log); // the library may call it until flagwire_shutdown returned
        Thread hook = shutdownHook;
        if (hook != null && Thread.currentThread() != hook) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is shutting down
            }
        }
    }

    /** The Cleaner's action: holds the handle, never the FlagwireClient. */
    private static final class Release implements Runnable {
        private final NativeHandle handle;

        Release(NativeHandle handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            handle.release();
        }
    }
}
