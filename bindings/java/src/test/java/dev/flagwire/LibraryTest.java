package dev.flagwire;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading the native library and the ABI check. */
class LibraryTest {

    @Test
    void versionsAndTheLoadedFile() {
        assertEquals("0.2.0", Flagwire.version());
        assertEquals(2, Flagwire.abiVersion());
        assertEquals(Flagwire.expectedAbiVersion(), Flagwire.abiVersion());
        assertEquals(new File(System.getProperty("flagwire.library.path")).getAbsolutePath(), Flagwire.libraryFile());
    }

    @Test
    void anAbiMismatchIsAClearError() {
        assertNull(FlagwireNative.abiMismatch(2, "/x/libflagwire.so"));
        String m = FlagwireNative.abiMismatch(1, "/x/libflagwire.so");
        assertTrue(m.contains("/x/libflagwire.so") && m.contains("ABI version 1") && m.contains("needs ABI version 2"), m);
    }

    @Test
    void statusNumbersAreTheAbis() {
        assertEquals(FlagwireStatus.OK, FlagwireStatus.fromCode(0));
        assertEquals(FlagwireStatus.SKIPPED, FlagwireStatus.fromCode(1));
        assertEquals(FlagwireStatus.CLOSED, FlagwireStatus.fromCode(8));
        assertEquals(FlagwireStatus.UNAVAILABLE, FlagwireStatus.fromCode(12));
        assertEquals(FlagwireStatus.INVALID_ARGUMENT, FlagwireStatus.fromCode(13));
        assertEquals(FlagwireStatus.UNKNOWN, FlagwireStatus.fromCode(14));
        assertEquals(FlagwireStatus.UNKNOWN, FlagwireStatus.fromCode(-3));
        for (FlagwireStatus s : FlagwireStatus.values()) {
            if (s != FlagwireStatus.UNKNOWN) {
                assertEquals(s, FlagwireStatus.fromCode(s.code()));
            }
        }
    }

    /** include/flagwire.h, the header the library was built from (set by the pom). */
    static String header() throws IOException {
        return Files.readString(Path.of(System.getProperty("flagwire.header")), StandardCharsets.UTF_8);
    }

    @Test
    void theStatusTableAndTheAbiVersionAreTheHeaders() throws IOException {
        String h = header();
        Map<String, Integer> inHeader = new TreeMap<>();
        Matcher m = Pattern.compile("FLAGWIRE_STATUS_([A-Z0-9_]+) = (\\d+)").matcher(h);
        while (m.find()) {
            inHeader.put(m.group(1), Integer.parseInt(m.group(2)));
        }
        Map<String, Integer> inJava = new TreeMap<>();
        for (FlagwireStatus s : FlagwireStatus.values()) {
            if (s != FlagwireStatus.UNKNOWN) {
                inJava.put(s.name(), s.code());
            }
        }
        assertTrue(inHeader.size() >= 14, "statuses parsed from the header: " + inHeader);
        assertEquals(inHeader, inJava);
        Matcher abi = Pattern.compile("#define FLAGWIRE_ABI_VERSION (\\d+)").matcher(h);
        assertTrue(abi.find());
        assertEquals(Integer.parseInt(abi.group(1)), Flagwire.expectedAbiVersion());
        // The log levels LogBridge maps.
        for (String level : List.of("ERROR = 1", "WARN = 2", "INFO = 3", "DEBUG = 4")) {
            assertTrue(h.contains("FLAGWIRE_LOG_LEVEL_" + level), level);
        }
        assertEquals(System.Logger.Level.ERROR, LogBridge.level(1));
        assertEquals(System.Logger.Level.WARNING, LogBridge.level(2));
        assertEquals(System.Logger.Level.INFO, LogBridge.level(3));
        assertEquals(System.Logger.Level.DEBUG, LogBridge.level(4));
        // The profile fields NativeHandle passes.
        assertTrue(h.contains("FLAGWIRE_PROFILE_FIELD_ATTRIBUTES = 1") && h.contains("FLAGWIRE_PROFILE_FIELD_USER_ID = 2"));
        assertTrue(h.contains("#define FLAGWIRE_RECORD_HEADER_LEN " + DecisionRecord.HEADER_LEN));
        assertTrue(h.contains("#define FLAGWIRE_RECORD_FORMAT_FLAG_DECISION 1"));
    }

    /** Runs dev.flagwire.Flagwire in a fresh JVM with the test class path and the given -D options. */
    private static Result runJvm(List<String> props) throws Exception {
        return runJvm(props, "dev.flagwire.Flagwire", List.of());
    }

    private static Result runJvm(List<String> props, String mainClass, List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(props);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("LD_LIBRARY_PATH");
        File out = File.createTempFile("flagwire-jvm", ".txt");
        try {
            pb.redirectOutput(out);
            Process p = pb.start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("child JVM did not finish");
            }
            return new Result(p.exitValue(), Files.readString(out.toPath(), StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out.toPath());
        }
    }

    record Result(int exit, String output) {}

    @Test
    void withoutAPathTheCopyBundledOnTheClassPathIsUsed() throws Exception {
        Result r = runJvm(List.of("-Djna.nosys=true"));
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("abi 2"), r.output());
        assertTrue(r.output().contains("linux-x86-64"), "loaded from the bundled resource: " + r.output());
        assertNotEquals(-1, r.output().indexOf("flagwire 0.2.0"));
    }

    @Test
    void aMissingLibraryIsAFlagwireLoadException() throws IOException, Exception {
        Result r = runJvm(List.of("-Dflagwire.library.path=/nonexistent/libflagwire.so"));
        assertNotEquals(0, r.exit());
        assertTrue(r.output().contains("FlagwireLoadException"), r.output());
        assertTrue(r.output().contains("/nonexistent/libflagwire.so"), r.output());
    }

    @Test
    void aJvmThatExitsWithoutCloseStillFlushes() throws Exception {
        try (TestCollector collector = TestCollector.start()) {
            Result r = runJvm(List.of("-D" + FlagwireNative.LIBRARY_PATH_PROPERTY + "=" + System.getProperty(FlagwireNative.LIBRARY_PATH_PROPERTY)),
                    "dev.flagwire.ExitWithoutClose", List.of(collector.url()));
            assertEquals(0, r.exit(), r.output());
            assertTrue(r.output().contains("queued 10"), r.output());
            assertEquals(10, collector.waitFor(10, java.time.Duration.ofSeconds(10)));
        }
    }
}
