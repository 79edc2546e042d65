package dev.flagwire;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.StampedLock;

/** The binding's own per-call costs, without the core's work (not part of bench.sh's default run). */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Measurement(iterations = 5, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@Fork(1)
@State(Scope.Benchmark)
public class JnaPartsBench {
    final StampedLock lock = new StampedLock();
    final Map<String, Object> attrs = Map.of("plan", "premium", "country", "DE");

    @Benchmark
    public int jnaEightArgsNullClient() {
        return FlagwireNative.flagwire_on_flag_decision(0L, 0L, 0L, 0L, 0L, 1, 0, 0L);
    }

    FlagwireClient client;
    long handle;
    long user;
    long flag;
    long rolloutRule;
    long on;
    long abRule;
    long treatment;
    long attrsJson;
    com.sun.jna.Memory mem;

    @org.openjdk.jmh.annotations.Setup
    public void setUp() throws Exception {
        client = dev.flagwire.bench.BenchEnv.flagwire();
        client.setDatafile(dev.flagwire.bench.BenchEnv.datafile());
        java.lang.reflect.Field f = FlagwireClient.class.getDeclaredField("handle");
        f.setAccessible(true);
        handle = f.getLong(client);
        mem = new com.sun.jna.Memory(1024);
        long base = com.sun.jna.Pointer.nativeValue(mem);
        String[] strs = {"user-1", "checkout_flow", "checkout_delivery", "on", "checkout_ab", "treatment",
            "{\"plan\":\"premium\",\"country\":\"DE\"}"};
        long[] addr = new long[strs.length];
        long off = 0;
        for (int i = 0; i < strs.length; i++) {
            mem.setString(off, strs[i], "UTF-8");
            addr[i] = base + off;
            off += strs[i].length() + 1;
        }
        user = addr[0];
        flag = addr[1];
        rolloutRule = addr[2];
        on = addr[3];
        abRule = addr[4];
        treatment = addr[5];
        attrsJson = addr[6];
    }

    @org.openjdk.jmh.annotations.TearDown
    public void tearDown() {
        client.close();
    }

    @Benchmark
    public int rawSkip() {
        return FlagwireNative.flagwire_on_flag_decision(handle, user, flag, rolloutRule, on, 1, 0, 0L);
    }

    @Benchmark
    public int rawSkipAttrs() {
        return FlagwireNative.flagwire_on_flag_decision(handle, user, flag, rolloutRule, on, 1, 0, attrsJson);
    }

    final com.optimizely.ab.notification.DecisionNotification[] notes = dev.flagwire.bench.BenchEnv.exposures(4096);
    int next;

    /** Everything the handler does in Java for an exposure, without the native call. */
    @Benchmark
    public long handlerJavaOnly() {
        com.optimizely.ab.notification.DecisionNotification n = notes[next++ & 4095];
        Map<String, ?> info = n.getDecisionInfo();
        if (!"flag".equals(n.getType())) {
            return 0;
        }
        String f = (String) info.get("flagKey");
        String r = (String) info.get("ruleKey");
        String v = (String) info.get("variationKey");
        boolean enabled = Boolean.TRUE.equals(info.get("enabled"));
        Object d = info.get("decisionEventDispatched");
        String userId = n.getUserId();
        Map<String, ?> attributes = n.getAttributes();
        if (userId.indexOf('\0') >= 0 || f.indexOf('\0') >= 0 || r.indexOf('\0') >= 0 || v.indexOf('\0') >= 0) {
            return -1;
        }
        byte[] ub = NativeArgs.utf8(userId);
        byte[] fb = NativeArgs.utf8(f);
        byte[] rb = NativeArgs.utf8(r);
        byte[] vb = NativeArgs.utf8(v);
        byte[] ab = attributes.isEmpty() ? null : NativeArgs.utf8(Json.write(attributes));
        long stamp = lock.tryReadLock();
        try {
            NativeArgs a = NativeArgs.acquire((long) NativeArgs.size(ub) + NativeArgs.size(fb) + NativeArgs.size(rb)
                    + NativeArgs.size(vb) + NativeArgs.size(ab));
            try {
                return a.put(ub) + a.put(fb) + a.put(rb) + a.put(vb) + a.put(ab) + (enabled ? 1 : 0) + (d == null ? 0 : 1);
            } finally {
                a.release();
            }
        } finally {
            lock.unlockRead(stamp);
        }
    }

    @Benchmark
    public int rawExposure() {
        return FlagwireNative.flagwire_on_flag_decision(handle, user, flag, abRule, treatment, 1, 1, attrsJson);
    }

    @Benchmark
    public FlagwireStatus clientExposure() {
        return client.onFlagDecision("user-1", "checkout_flow", "checkout_ab", "treatment", true, true, attrs);
    }

    @org.openjdk.jmh.annotations.TearDown(org.openjdk.jmh.annotations.Level.Iteration)
    public void drain() {
        client.flush(java.time.Duration.ofSeconds(60));
        dev.flagwire.bench.BenchEnv.resetCollector();
    }

    @Benchmark
    public FlagwireStatus clientSkip() {
        return client.onFlagDecision("user-1", "checkout_flow", "checkout_delivery", "on", true, false, null);
    }

    @Benchmark
    public FlagwireStatus clientSkipAttrs() {
        return client.onFlagDecision("user-1", "checkout_flow", "checkout_delivery", "on", true, false, attrs);
    }

    @Benchmark
    public long encodeFourStrings() {
        byte[] u = NativeArgs.utf8("user-1");
        byte[] f = NativeArgs.utf8("checkout_flow");
        byte[] r = NativeArgs.utf8("checkout_delivery");
        byte[] v = NativeArgs.utf8("on");
        NativeArgs a = NativeArgs.acquire(NativeArgs.size(u) + NativeArgs.size(f) + NativeArgs.size(r) + NativeArgs.size(v));
        long x = a.put(u) + a.put(f) + a.put(r) + a.put(v);
        a.release();
        return x;
    }

    @Benchmark
    public String attributesJson() {
        return Json.write(attrs);
    }

    @Benchmark
    public long lockPair() {
        long s = lock.tryReadLock();
        lock.unlockRead(s);
        return s;
    }
}
