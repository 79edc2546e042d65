package dev.flagwire;

import com.google.gson.JsonObject;
import dev.flagwire.examples.Quickstart;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuickstartTest {
    @Test
    void theQuickstartSendsExposuresAndConversions() throws Exception {
        try (TestCollector collector = TestCollector.start()) {
            FlagwireStats stats = Quickstart.run("quickstart-key", collector.url(), TestData.read(TestData.MINIMAL));
            assertEquals(10, stats.decisions());
            assertEquals(stats.enqueued(), stats.delivered());
            List<JsonObject> msgs = collector.messages();
            long exposures = msgs.stream().filter(m -> m.get("event").getAsString().equals("Experiment Viewed")).count();
            long orders = msgs.stream().filter(m -> m.get("event").getAsString().equals("Order Completed")).count();
            assertEquals(stats.exposures(), exposures);
            assertTrue(exposures > 0 && orders > 0, msgs.toString());
            assertEquals(msgs.size(), exposures + orders);
        }
    }
}
