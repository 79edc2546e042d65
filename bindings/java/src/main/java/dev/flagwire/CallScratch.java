package dev.flagwire;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Native memory each thread reuses for its calls: two out-param slots ({@code char **out_error},
 * {@code char **out_value}) and the byte argument of one call (JSON, a decision record, an
 * identifier), so a call allocates no native memory and makes no JNI call to copy: the bytes go in
 * through a direct {@link ByteBuffer} over the block, and the library receives plain addresses.
 * An argument larger than the block gets a one-off {@link Memory}, freed by {@link #release()}.
 *
 * <p>Used only by {@link NativeHandle#call}, on one thread at a time (the library keeps no pointer
 * to the argument after the call returns).
 */
final class CallScratch {
    static final int BLOCK_BYTES = 8 * 1024;
    private static final int ARG_OFFSET = 16;

    private static final ThreadLocal<CallScratch> LOCAL = ThreadLocal.withInitial(CallScratch::new);

    private final Memory block = new Memory(BLOCK_BYTES);
    private final ByteBuffer buf = block.getByteBuffer(0, BLOCK_BYTES).order(ByteOrder.nativeOrder());
    private final long base = Pointer.nativeValue(block);
    private Memory oneOff;

    private CallScratch() {}

    static CallScratch local() {
        return LOCAL.get();
    }

    /** Address of the {@code out_error} slot. */
    long outError() {
        return base;
    }

    /** Address of the {@code out_value} slot. */
    long outValue() {
        return base + 8;
    }

    /** Sets both slots to NULL before a call. */
    void clearSlots() {
        buf.putLong(0, 0L);
        buf.putLong(8, 0L);
    }

    /** Writes a pointer into the out_value slot (for {@code flagwire_stats}, which returns it). */
    int returned(long pointer) {
        buf.putLong(8, pointer);
        return pointer == 0L ? FlagwireStatus.PANIC.code() : FlagwireStatus.OK.code();
    }

    /** Reads and frees the string in the out_error slot; null when the library wrote none. */
    String takeError() {
        long p = buf.getLong(0);
        buf.putLong(0, 0L);
        return FlagwireNative.takeString(p);
    }

    /** Reads and frees the string in the out_value slot; null when the library wrote none. */
    String takeValue() {
        long p = buf.getLong(8);
        buf.putLong(8, 0L);
        return FlagwireNative.takeString(p);
    }

    /** Reads the out_value slot as flagwire_init's {@code out_client} (not a string: nothing to free). */
    long takeClient() {
        long p = buf.getLong(8);
        buf.putLong(8, 0L);
        return p;
    }

    /**
     * Copies {@code len} bytes of {@code bytes}, plus a NUL when {@code terminate} (for the one
     * argument still NUL-terminated, flagwire_init's config), to native memory; returns its address.
     */
    long put(byte[] bytes, int len, boolean terminate) {
        int need = len + (terminate ? 1 : 0);
        ByteBuffer target;
        long address;
        int at;
        if (ARG_OFFSET + need <= BLOCK_BYTES) {
            target = buf;
            address = base + ARG_OFFSET;
            at = ARG_OFFSET;
        } else {
            oneOff = new Memory(Math.max(need, 1));
            target = oneOff.getByteBuffer(0, oneOff.size());
            address = Pointer.nativeValue(oneOff);
            at = 0;
        }
        target.put(at, bytes, 0, len);
        if (terminate) {
            target.put(at + len, (byte) 0);
        }
        return address;
    }

    /** Frees the one-off block of the last {@link #put}, if any. */
    void release() {
        if (oneOff != null) {
            oneOff.close();
            oneOff = null;
        }
    }
}
