package dev.flagwire;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * NUL-terminated UTF-8 copies of string arguments, in native memory owned by Java.
 *
 * <p>Each thread reuses one scratch block, so the hot path allocates no native memory and makes no
 * JNI call to copy: the bytes go in through a direct {@link ByteBuffer} over the block and the
 * native function receives plain addresses. Arguments larger than the block get a one-off
 * {@link Memory}, freed by {@link #release()}. Usage, always on one thread:
 *
 * <pre>{@code
 * NativeArgs a = NativeArgs.acquire(totalBytes);
 * try { long p = a.put(bytes); ... native call ... } finally { a.release(); }
 * }</pre>
 *
 * The native library only reads the strings during the call and keeps no pointer to them.
 */
final class NativeArgs {
    static final int SCRATCH_BYTES = 4 * 1024;

    private static final ThreadLocal<NativeArgs> LOCAL = ThreadLocal.withInitial(() -> new NativeArgs(SCRATCH_BYTES, false));

    private final Memory memory;
    private final ByteBuffer buf;
    private final long base;
    private final boolean oneOff;
    private int pos;

    private NativeArgs(long size, boolean oneOff) {
        this.memory = new Memory(size);
        this.buf = memory.getByteBuffer(0, size).order(ByteOrder.nativeOrder());
        this.base = Pointer.nativeValue(memory);
        this.oneOff = oneOff;
    }

    /** Room for strings totalling {@code bytes} (each counted with its terminating NUL). */
    static NativeArgs acquire(long bytes) {
        if (bytes <= SCRATCH_BYTES) {
            NativeArgs a = LOCAL.get();
            a.pos = 0;
            return a;
        }
        return new NativeArgs(Math.max(bytes, 1), true);
    }

    /** Copies {@code utf8} plus a NUL; returns its address, or 0 (NULL) for null. */
    long put(byte[] utf8) {
        if (utf8 == null) {
            return 0L;
        }
        int at = pos;
        buf.put(at, utf8);
        buf.put(at + utf8.length, (byte) 0);
        pos = at + utf8.length + 1;
        return base + at;
    }

    /** Bytes an out-param slot may need, alignment included (add it to {@link #acquire}'s total). */
    static final int OUT_SLOT_BYTES = 16;

    /**
     * Reserves an 8-byte, 8-aligned out-param ({@code char **}) set to NULL; returns its address.
     * Cheaper than a {@code PointerByReference}, which allocates native memory on every call.
     */
    long outSlot() {
        int at = (pos + 7) & ~7;
        buf.putLong(at, 0L);
        pos = at + 8;
        return base + at;
    }

    /** The pointer the library wrote into a slot from {@link #outSlot()} (0 when none). */
    long readOut(long slot) {
        return buf.getLong((int) (slot - base));
    }

    /** Frees a one-off block; the thread's scratch block is kept (and keeps the memory reachable). */
    void release() {
        if (oneOff) {
            memory.close();
        }
    }

    /** UTF-8 bytes of {@code s}, or null. */
    static byte[] utf8(String s) {
        return s == null ? null : s.getBytes(StandardCharsets.UTF_8);
    }

    /** Bytes needed for {@code b} with its NUL (0 for null). */
    static int size(byte[] b) {
        return b == null ? 0 : b.length + 1;
    }
}
