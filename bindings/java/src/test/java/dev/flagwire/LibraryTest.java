package dev.flagwire;

import org.junit.jupiter.api.Test;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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
        assertNull(FlagwireNative.abiMismatch(1, "/x/libflagwire.so"));
        String m = FlagwireNative.abiMismatch(2, "/x/libflagwire.so");
        assertTrue(m.contains("/x/libflagwire.so") && m.contains("ABI version 2") && m.contains("needs ABI version 1"), m);
    }

    @Test
    void statusNumbersAreTheAbis() {
        assertEquals(FlagwireStatus.OK, FlagwireStatus.fromCode(0));
        assertEquals(FlagwireStatus.SKIPPED, FlagwireStatus.fromCode(1));
        assertEquals(FlagwireStatus.CLOSED, FlagwireStatus.fromCode(8));
        assertEquals(FlagwireStatus.UNAVAILABLE, FlagwireStatus.fromCode(12));
        assertEquals(FlagwireStatus.UNKNOWN, FlagwireStatus.fromCode(13));
        for (FlagwireStatus s : FlagwireStatus.values()) {
            if (s != FlagwireStatus.UNKNOWN) {
                assertEquals(s, FlagwireStatus.fromCode(s.code()));
            }
        }
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
        assertTrue(r.output().contains("abi 1"), r.output());
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
