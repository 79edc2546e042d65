package dev.flagwire;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** Runs a body on several threads at once and returns what they threw (bounded: 60 s per thread). */
final class Concurrently {
    private Concurrently() {}

    interface Body {
        void run(int thread) throws Exception;
    }

    static List<Throwable> run(int threads, Body body) throws InterruptedException {
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int id = t;
            Thread th = new Thread(() -> {
                try {
                    body.run(id);
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            th.start();
            ts.add(th);
        }
        for (Thread th : ts) {
            th.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(th.isAlive(), "a thread did not finish within 60 s");
        }
        return errors;
    }
}
