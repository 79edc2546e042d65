package dev.flagwire;

import java.util.Objects;

/** A flagwire call failed: the {@link FlagwireStatus} and the native library's message. */
public class FlagwireException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final FlagwireStatus status;

    public FlagwireException(FlagwireStatus status, String message) {
        super(message == null || message.isEmpty() ? "flagwire: " + status : "flagwire: " + status + ": " + message);
        this.status = Objects.requireNonNull(status, "status");
    }

    /** The status the native library returned. */
    public FlagwireStatus status() {
        return status;
    }
}
