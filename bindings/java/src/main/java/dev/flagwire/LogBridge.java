package dev.flagwire;

import com.sun.jna.CallbackThreadInitializer;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.charset.StandardCharsets;

/**
 * The library's log callback (docs/design.md §2.4) routed to a {@link System.Logger}, by default
 * {@code System.getLogger("dev.flagwire")}, which java.util.logging, SLF4J and Log4j bridge.
 *
 * <p>The library calls it on its own threads (the sender), possibly concurrently, never on the
 * SDK's. JNA attaches those threads to the JVM on the first call; the
 * {@link CallbackThreadInitializer} makes them daemon threads (they never keep the JVM alive)
 * that stay attached between lines (no attach/detach per line), named {@code flagwire-native}.
 * The instance is referenced by the {@link NativeHandle} until {@code flagwire_shutdown}
 * returned: a collected callback would be a crash. Nothing thrown here reaches C.
 */
final class LogBridge implements FlagwireNative.LogCallback {
    private final System.Logger logger;

    LogBridge(System.Logger logger) {
        this.logger = logger;
        Native.setCallbackThreadInitializer(this, new CallbackThreadInitializer(true, false, "flagwire-native"));
    }

    System.Logger logger() {
        return logger;
    }

    @Override
    public void invoke(Pointer userData, int level, Pointer message, long messageLen) {
        try {
            System.Logger.Level l = level(level);
            if (message == null || !logger.isLoggable(l)) {
                return;
            }
            int n = (int) Math.min(messageLen, Integer.MAX_VALUE);
            logger.log(l, new String(message.getByteArray(0, n), StandardCharsets.UTF_8));
        } catch (Throwable ignored) {
            // a logger that fails must not unwind into the library's thread
        }
    }

    /** FlagwireLogLevel (1 error, 2 warn, 3 info, 4 debug) to System.Logger's levels. */
    static System.Logger.Level level(int flagwireLevel) {
        return switch (flagwireLevel) {
            case 1 -> System.Logger.Level.ERROR;
            case 2 -> System.Logger.Level.WARNING;
            case 3 -> System.Logger.Level.INFO;
            default -> System.Logger.Level.DEBUG;
        };
    }
}
