package dev.flagwire;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import java.lang.ref.WeakReference;
import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Hands the listener's decision records to the library off the SDK's thread (docs/design.md
 * §2.2, {@code at_ms}). The Java SDK calls DECISION listeners one at a time across all threads,
 * so what the listener costs caps {@code decide()} throughput; here it costs one copy into a
 * native block owned by the deciding thread. A daemon thread, {@code flagwire-decisions}, hands
 * the blocks over with {@code flagwire_on_decision_records}, one call per block.
 *
 * <ul>
 * <li>Each thread appends into its own block under its own lock (uncontended: the drainer takes
 *     it only to take the block away). A full block goes to the ready queue and the thread takes
 *     a free one; blocks keep their thread's order through the FIFO ready queue.</li>
 * <li>The drainer wakes every {@value #BUSY_PARK_MS} ms while decisions flow, every
 *     {@value #IDLE_PARK_MS} ms otherwise, takes every partly filled block and hands the ready
 *     queue over. Records carry the decision time, so the wait changes no timestamp.</li>
 * <li>Bounded: at most {@value #MAX_BLOCKS} blocks of {@value #BLOCK_BYTES} bytes per client. When
 *     none is free (the library cannot keep up), or a record is larger than a block, the record
 *     is handed over on the calling thread instead ({@code flagwire_on_decision_record}): slower,
 *     never lost, never blocked.</li>
 * <li>{@link #drain()} hands everything appended before it over (flush and stats call it);
 *     {@link #close()} refuses further records, drains, stops the thread and frees the blocks.</li>
 * </ul>
 */
final class RecordBatcher {
    static final int BLOCK_BYTES = 16 * 1024;
    static final int MAX_BLOCKS = 128;
    static final long BUSY_PARK_MS = 1;
    static final long IDLE_PARK_MS = 20;

    /** A native block and how much of it is filled. */
    private static final class Block {
        final Memory memory = new Memory(BLOCK_BYTES);
        final ByteBuffer buf = memory.getByteBuffer(0, BLOCK_BYTES);
        final long address = Pointer.nativeValue(memory);
        int used;
    }

    /** One thread's current block; its monitor guards {@code block}. */
    private static final class Slot {
        final WeakReference<Thread> owner = new WeakReference<>(Thread.currentThread());
        Block block;
    }

    private final NativeHandle handle;
    private final ListenerFailures failures;
    private final ThreadLocal<Slot> local = ThreadLocal.withInitial(this::newSlot);
    private final CopyOnWriteArrayList<Slot> slots = new CopyOnWriteArrayList<>();
    private final ConcurrentLinkedQueue<Block> free = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Block> ready = new ConcurrentLinkedQueue<>();
    private final AtomicInteger blocks = new AtomicInteger();
    /** Held by whoever hands blocks over (the drainer, flush, close): one at a time, in order. */
    private final ReentrantLock drainLock = new ReentrantLock();
    /** Records handed over on the calling thread because no block was free (diagnostics). */
    final LongAdder direct = new LongAdder();

    private volatile boolean closing;
    private volatile boolean stopped;
    private boolean released; // guarded by drainLock
    private volatile Thread drainer;
    /** True while the drainer sleeps its idle period: a full block then wakes it. */
    private volatile boolean drainerIdle;

    RecordBatcher(NativeHandle handle, ListenerFailures failures) {
        this.handle = handle;
        this.failures = failures;
    }

    private Slot newSlot() {
        Slot s = new Slot();
        slots.add(s);
        return s;
    }

    /**
     * Appends one encoded record for a later hand-over, or hands it over now when no block is free.
     *
     * @throws FlagwireException CLOSED once {@link #close()} has started; any error of the direct call
     */
    void append(byte[] record, int len) {
        Slot slot = local.get();
        boolean wake = false;
        synchronized (slot) {
            if (closing) {
                throw new FlagwireException(FlagwireStatus.CLOSED, "the client is closed");
            }
            Block b = slot.block;
            if (b != null && b.used + len > BLOCK_BYTES) {
                ready.add(b);
                slot.block = b = null;
                wake = true;
            }
            if (b == null && len <= BLOCK_BYTES) {
                b = takeFreeBlock();
                slot.block = b;
            }
            if (b != null) {
                b.buf.put(b.used, record, 0, len);
                b.used += len;
                record = null;
            }
        }
        if (wake) {
            startOrWake();
        }
        if (record != null) {
            direct.increment();
            handle.call(NativeHandle.RECORD, record, len, NativeHandle.ACCEPT_DECISION);
        }
    }

    private Block takeFreeBlock() {
        Block b = free.poll();
        if (b == null && blocks.incrementAndGet() <= MAX_BLOCKS) {
            b = new Block();
            startOrWake(); // the first block starts the drainer
        } else if (b == null) {
            blocks.decrementAndGet();
        }
        return b;
    }

    private void startOrWake() {
        Thread d = drainer;
        if (d == null) {
            synchronized (this) {
                if (drainer == null && !stopped) {
                    Thread t = new Thread(this::runDrainer, "flagwire-decisions");
                    t.setDaemon(true);
                    t.start();
                    drainer = t;
                }
            }
        } else if (drainerIdle) {
            LockSupport.unpark(d);
        }
    }

    private void runDrainer() {
        while (!stopped) {
            boolean handed = false;
            try {
                handed = drain();
            } catch (Throwable t) {
                failures.failed(t);
            }
            drainerIdle = !handed;
            LockSupport.parkNanos(this, TimeUnit.MILLISECONDS.toNanos(handed ? BUSY_PARK_MS : IDLE_PARK_MS));
            drainerIdle = false;
        }
    }

    /**
     * Hands every record appended before the call to the library, in one call per block.
     *
     * @return true when there was anything to hand over
     */
    boolean drain() {
        drainLock.lock();
        try {
            if (released) {
                return false;
            }
            for (Slot s : slots) {
                boolean empty;
                synchronized (s) {
                    Block b = s.block;
                    if (b != null && b.used > 0) {
                        ready.add(b);
                        s.block = null;
                    }
                    empty = s.block == null;
                }
                Thread owner = s.owner.get();
                if (empty && (owner == null || !owner.isAlive())) {
                    slots.remove(s); // its thread has ended and nothing of it is left
                }
            }
            boolean handed = false;
            for (Block b; (b = ready.poll()) != null; ) {
                handed = true;
                try {
                    handle.callAt(NativeHandle.RECORDS, b.address, b.used, NativeHandle.ACCEPT_OK);
                } catch (RuntimeException e) {
                    failures.failed(e);
                } finally {
                    b.used = 0;
                    free.add(b);
                }
            }
            return handed;
        } finally {
            drainLock.unlock();
        }
    }

    /** Refuses further records, hands over the rest, stops the drainer and frees the blocks. Idempotent. */
    void close() {
        closing = true;
        stopped = true;
        Thread d;
        synchronized (this) {
            d = drainer;
        }
        if (d != null && d != Thread.currentThread()) {
            LockSupport.unpark(d);
            try {
                d.join(TimeUnit.SECONDS.toMillis(10)); // a drain never blocks: this is short
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        drain();
        drainLock.lock();
        try {
            released = true;
            for (Block b; (b = free.poll()) != null; ) {
                b.memory.close();
            }
        } finally {
            drainLock.unlock();
        }
    }
}
