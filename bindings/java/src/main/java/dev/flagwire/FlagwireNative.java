package dev.flagwire;

import com.sun.jna.Callback;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

import java.io.File;
import java.util.Map;

/**
 * The C ABI of include/flagwire.h, bound with JNA direct mapping ({@code Native.register}; interface
 * mapping is several times slower per call).
 *
 * <p>Conventions: the client handle, every byte argument and every out-param travel as a raw
 * {@code long} address (a 64-bit JVM is required and checked), with lengths as {@code long}
 * ({@code size_t}); only primitives cross, so JNA never converts or allocates per call. Byte
 * arguments are UTF-8 written by this binding into native memory it owns ({@link CallScratch},
 * the decision blocks of {@link RecordBatcher}). Strings the library returns belong to the caller:
 * they are addresses read and freed by {@link #takeString(long)} ({@code flagwire_string_free});
 * never a JNA {@code String} return (which would leak them). Only ABI 2 functions are bound; the
 * deprecated ABI 1 ones (docs/design.md §2.5) are not.
 *
 * <p>Loading order: the system property {@code flagwire.library.path} (a file); else JNA's search
 * for "flagwire" ({@code jna.library.path}, the system library path, and finally the copy bundled
 * in this jar under {@code linux-x86-64/libflagwire.so}, which JNA extracts itself). The ABI
 * version is checked when this class loads; a failure is kept and thrown as a
 * {@link FlagwireLoadException} by {@link #check()} on every use.
 */
final class FlagwireNative {
    private FlagwireNative() {}

    /** The ABI version this binding was written for (FLAGWIRE_ABI_VERSION in flagwire.h). */
    static final int ABI_VERSION = 2;
    static final String LIBRARY_PATH_PROPERTY = "flagwire.library.path";

    private static final Throwable LOAD_FAILURE;
    private static final String LOAD_FAILURE_MESSAGE;
    private static final String LIBRARY_FILE;

    static {
        Throwable failure = null;
        String message = null;
        String file = null;
        try {
            if (Native.POINTER_SIZE != 8) {
                throw new UnsatisfiedLinkError("flagwire needs a 64-bit JVM (pointer size " + Native.POINTER_SIZE + ")");
            }
            Map<String, Object> options = Map.of(Library.OPTION_STRING_ENCODING, "UTF-8");
            String explicit = System.getProperty(LIBRARY_PATH_PROPERTY);
            NativeLibrary lib;
            if (explicit != null && !explicit.isBlank()) {
                File f = new File(explicit).getAbsoluteFile();
                if (!f.isFile()) {
                    throw new UnsatisfiedLinkError(LIBRARY_PATH_PROPERTY + "=" + explicit + " is not a file");
                }
                lib = NativeLibrary.getInstance(f.getPath(), options);
            } else {
                lib = NativeLibrary.getInstance("flagwire", options);
            }
            file = lib.getFile() != null ? lib.getFile().getPath() : lib.getName();
            Native.register(FlagwireNative.class, lib);
            message = abiMismatch(flagwire_abi_version(), file);
        } catch (Throwable t) {
            failure = t;
            message = "flagwire: cannot load the native library libflagwire.so (set -D" + LIBRARY_PATH_PROPERTY
                    + "=/path/to/libflagwire.so, or jna.library.path, or use the jar that bundles it): " + t;
        }
        LOAD_FAILURE = failure;
        LOAD_FAILURE_MESSAGE = message;
        LIBRARY_FILE = file;
    }

    /** The message for an ABI mismatch, or null when {@code found} is the version this binding needs. */
    static String abiMismatch(int found, String file) {
        if (found == ABI_VERSION) {
            return null;
        }
        return "flagwire: the native library " + file + " has ABI version " + found
                + " but this Java binding (dev.flagwire:flagwire " + Flagwire.BINDING_VERSION
                + ") needs ABI version " + ABI_VERSION
                + "; use libflagwire and the binding from the same flagwire release";
    }

    /** Throws {@link FlagwireLoadException} when the library did not load or has the wrong ABI. */
    static void check() {
        if (LOAD_FAILURE_MESSAGE != null) {
            throw new FlagwireLoadException(LOAD_FAILURE_MESSAGE, LOAD_FAILURE);
        }
    }

    /** The file the library was loaded from (a temporary copy when JNA extracted it from the jar). */
    static String libraryFile() {
        check();
        return LIBRARY_FILE;
    }

    /** Reads and frees a string the library returned (its address); 0 gives null. */
    static String takeString(long address) {
        if (address == 0L) {
            return null;
        }
        try {
            return new Pointer(address).getString(0, "UTF-8");
        } finally {
            flagwire_string_free(address);
        }
    }

    // ---- the C ABI, version 2 (include/flagwire.h, docs/design.md §2.3) ---------------------
    // Pointers and size_t travel as long; C enums as int. Every `out` argument is the address of
    // an 8-byte slot (CallScratch) the library writes a string pointer into.

    static native Pointer flagwire_version();

    static native int flagwire_abi_version();

    static native int flagwire_init(long configJson, long outClient, long outError);

    /** {@code FlagwireLogCallback}: {@code (void *user_data, FlagwireLogLevel level, const char *message, size_t len)}. */
    interface LogCallback extends Callback {
        void invoke(Pointer userData, int level, Pointer message, long messageLen);
    }

    static native int flagwire_set_log_callback(long client, LogCallback callback, long userData);

    static native int flagwire_set_datafile_json(long client, long json, long len, long outError);

    static native int flagwire_on_decision_record(long client, long record, long len, long outError);

    static native int flagwire_on_decision_records(long client, long records, long len, long outError);

    static native int flagwire_on_notification_json(long client, long json, long len, long outError);

    static native int flagwire_enqueue_json(long client, long json, long len, long outError);

    /** {@code field}: 1 attributes, 2 user id (FlagwireProfileField). */
    static native int flagwire_profile_lookup(long client, int field, long identifier, long len, long outValue,
            long outError);

    static native int flagwire_flush(long client, int timeoutMs);

    static native long flagwire_stats(long client);

    static native void flagwire_string_free(long s);

    static native int flagwire_shutdown(long client, int timeoutMs);
}
