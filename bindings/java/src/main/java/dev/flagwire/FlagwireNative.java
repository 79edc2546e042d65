package dev.flagwire;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;

import java.io.File;
import java.util.Map;

/**
 * The C ABI of include/flagwire.h, bound with JNA direct mapping ({@code Native.register}; interface
 * mapping is several times slower per call).
 *
 * <p>Conventions: the client handle and every string argument travel as a raw {@code long} address
 * (a 64-bit JVM is required and checked). String arguments are encoded to UTF-8 by
 * {@link NativeArgs} into native memory the caller owns, so JNA's default-encoding conversion is
 * never used. Strings the library returns are owned by the caller: they are declared as
 * {@link Pointer}, read with {@code getString(0, "UTF-8")} and freed with
 * {@link #flagwire_string_free}; never a JNA {@code String} return (which would leak them).
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

    /** {@link #takeString(Pointer)} for an address; 0 gives null. */
    static String takeString(long address) {
        return address == 0L ? null : takeString(new Pointer(address));
    }

    /** Reads and frees a string the library returned; null stays null. */
    static String takeString(Pointer p) {
        if (p == null) {
            return null;
        }
        try {
            return p.getString(0, "UTF-8");
        } finally {
            flagwire_string_free(p);
        }
    }

    // ---- the C ABI, version 1 -------------------------------------------------------------

    static native Pointer flagwire_version();

    static native int flagwire_abi_version();

    static native int flagwire_init(long configJson, PointerByReference outClient, PointerByReference outError);

    static native int flagwire_set_datafile(long client, long datafileJson);

    static native int flagwire_on_decision(long client, long notificationJson);

    static native int flagwire_on_flag_decision(long client, long userId, long flagKey, long ruleKey,
            long variationKey, int enabled, int decisionEventDispatched, long attributesJson);

    static native int flagwire_enqueue(long client, long messageJson);

    static native int flagwire_flush(long client, int timeoutMs);

    static native Pointer flagwire_stats(long client);

    static native Pointer flagwire_last_error(long client);

    static native void flagwire_string_free(Pointer s);

    static native int flagwire_shutdown(long client, int timeoutMs);

    // Profile API (DESIGN §7). The out-param is the address of a `char *` slot (NativeArgs.outSlot,
    // set to NULL first); on OK the library writes a string owned by the caller there (read and
    // freed by takeString); on any other status it leaves the slot untouched.

    static native int flagwire_profile_attributes(long client, long identifier, long outAttributesJson);

    static native int flagwire_profile_user_id(long client, long identifier, long outUserId);
}
