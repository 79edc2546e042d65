package dev.flagwire;

import com.optimizely.ab.notification.DecisionNotification;
import dev.flagwire.bench.BenchEnv;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The listener's parts on the SDK's thread, and the native calls they replace (diagnostics, not
 * part of bench.sh's default run): reading the notification and encoding the record, the
 * append into the thread's block, a bare JNA call with a record (NULL client), and the record
 * handed over on the calling thread.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@State(Scope.Benchmark)
public class JnaPartsBench {
    FlagwireClient client;
    DecisionNotification[] notes;
    int next;
    com.sun.jna.Memory record;
    long recordLen;

    @Setup
    public void setUp() {
        client = BenchEnv.flagwire();
        client.setDatafile(BenchEnv.datafile());
        notes = BenchEnv.exposures(4096);
        DecisionRecord r = Notifications.encode(new DecisionRecord(), notes[0], 0L);
        record = new com.sun.jna.Memory(r.length());
        record.write(0, r.bytes(), 0, r.length());
        recordLen = r.length();
    }

    @TearDown
    public void tearDown() {
        client.close();
    }

    @TearDown(Level.Iteration)
    public void drain() {
        client.flush(Duration.ofSeconds(60));
        BenchEnv.resetCollector();
    }

    /** Reading the notification's decisionInfo and encoding the record (attributes JSON included). */
    @Benchmark
    public int encodeRecord() {
        return Notifications.encode(DecisionRecord.local(), notes[next++ & 4095], System.currentTimeMillis()).length();
    }

    /** The whole listener: encode and append to this thread's block (the drainer hands it over). */
    @Benchmark
    public void listener() throws Exception {
        client.decisionHandler().handle(notes[next++ & 4095]);
    }

    /** JNA's cost alone: flagwire_on_decision_record with a NULL client returns at once. */
    @Benchmark
    public int jnaRecordCallNullClient() {
        return FlagwireNative.flagwire_on_decision_record(0L, com.sun.jna.Pointer.nativeValue(record), recordLen, 0L);
    }

    /** One exposure handed over on the calling thread (what the listener avoids). */
    @Benchmark
    public FlagwireStatus exposureOnCallingThread() {
        return client.onDecision(notes[next++ & 4095]);
    }
}
