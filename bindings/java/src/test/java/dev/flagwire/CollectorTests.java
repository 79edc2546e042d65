package dev.flagwire;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.time.Duration;

/**
 * Base of the test classes that talk to the collector: one collector process per class (test
 * classes run one after another), emptied before each test.
 */
abstract class CollectorTests {
    static TestCollector collector;

    @BeforeAll
    static void startCollector() throws Exception {
        collector = TestCollector.start();
    }

    @AfterAll
    static void stopCollector() {
        collector.close();
    }

    @BeforeEach
    void resetCollector() {
        collector.reset();
    }

    /** The tests' client config: quick flushes and retries, library logs off, no shutdown hook. */
    static FlagwireConfig.Builder config() {
        return FlagwireConfig.builder("test-write-key")
                .endpoint(collector.url())
                .flushInterval(Duration.ofMillis(50))
                .backoffBase(Duration.ofMillis(10))
                .backoffMax(Duration.ofMillis(50))
                .logLevel(FlagwireConfig.LogLevel.OFF)
                .closeOnShutdown(false);
    }
}
