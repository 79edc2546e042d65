package dev.flagwire;

/** Facts about the loaded native library. */
public final class Flagwire {
    private Flagwire() {}

    /** This binding's version. */
    public static final String BINDING_VERSION = "0.2.0";

    /** The native library's version, e.g. "0.2.0". */
    public static String version() {
        FlagwireNative.check();
        return FlagwireNative.flagwire_version().getString(0, "UTF-8");
    }

    /** The native library's ABI version (checked at load: it equals {@link #expectedAbiVersion()}). */
    public static int abiVersion() {
        FlagwireNative.check();
        return FlagwireNative.flagwire_abi_version();
    }

    /** The ABI version this binding was written for. */
    public static int expectedAbiVersion() {
        return FlagwireNative.ABI_VERSION;
    }

    /** The file the native library was loaded from. */
    public static String libraryFile() {
        return FlagwireNative.libraryFile();
    }

    /** Prints the versions and where the library was loaded from. */
    public static void main(String[] args) {
        System.out.println("flagwire " + version() + " abi " + abiVersion() + " binding " + BINDING_VERSION
                + " library " + libraryFile());
    }
}
