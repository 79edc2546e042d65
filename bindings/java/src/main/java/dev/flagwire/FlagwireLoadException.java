package dev.flagwire;

/**
 * The native library could not be used: not found, not loadable, or built for another ABI version
 * than this binding. Thrown by {@link FlagwireClient#create} and {@link Flagwire}'s methods; the
 * cause, when there is one, is JNA's {@link UnsatisfiedLinkError}.
 */
public class FlagwireLoadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public FlagwireLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
