package dev.flagwire;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The binding's own JSON writer, stats reader and attributes reader. */
class JsonTest {

    @Test
    void writesPlainJavaValues() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\\c\n\u0001\u2028é😀");
        m.put("i", 1);
        m.put("l", 9_007_199_254_740_993L);
        m.put("d", 3.0);
        m.put("f", 0.1f);
        m.put("bd", new BigDecimal("1.50"));
        m.put("nan", Double.NaN);
        m.put("inf", Float.POSITIVE_INFINITY);
        m.put("b", true);
        m.put("n", null);
        m.put("list", List.of(1, "x"));
        m.put("arr", new int[] {1, 2});
        m.put("opt", Optional.of("o"));
        m.put("obj", new Object() {
            @Override
            public String toString() {
                return "custom";
            }
        });
        String json = Json.write(m);
        assertEquals("{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u2028é😀\",\"i\":1,\"l\":9007199254740993,\"d\":3.0,\"f\":0.1,"
                + "\"bd\":1.50,\"nan\":null,\"inf\":null,\"b\":true,\"n\":null,\"list\":[1,\"x\"],\"arr\":[1,2],"
                + "\"opt\":\"o\",\"obj\":\"custom\"}", json);
        JsonObject parsed = JsonParser.parseString(json).getAsJsonObject();
        assertEquals("a\"b\\c\n\u0001\u2028é😀", parsed.get("s").getAsString());
    }

    @Test
    void cyclesAreCutAtTheDepthLimit() {
        Map<String, Object> m = new HashMap<>();
        m.put("self", m);
        String json = Json.write(m);
        assertTrue(json.endsWith("null" + "}".repeat(Json.MAX_DEPTH + 1)), json);
        JsonParser.parseString(json);
    }

    @Test
    void readsTheFlatStatsObject() {
        Map<String, Long> m = Json.readFlatLongs(" {\"decisions\": 12, \"bytes_sent\":123456789012,\"future\":{\"a\":[1,\"}\"]},\"s\":\"x\",\"queue_depth\":0} ");
        assertEquals(12L, m.get("decisions"));
        assertEquals(123456789012L, m.get("bytes_sent"));
        assertEquals(0L, m.get("queue_depth"));
        assertEquals(3, m.size());
        FlagwireStats s = FlagwireStats.fromMap(m);
        assertEquals(12, s.decisions());
        assertEquals(0, s.delivered());
    }

    @Test
    void readsProfileAttributesWithTheSdksNumberTypes() {
        Map<String, Object> m = Json.readObject(" {\"plan\":\"pro \\\"x\\\" \\u00e9😀\",\"logins\":12,\"neg\":-3,\"score\":4.5,"
                + "\"exp\":1e3,\"huge\":18446744073709551616,\"t\":true,\"f\":false,\"n\":null,"
                + "\"$opt_bucketing_id\":\"acme\",\"nested\":{\"a\":[1,{\"b\":[]}]}} ");
        assertEquals(List.of("plan", "logins", "neg", "score", "exp", "huge", "t", "f", "n", "$opt_bucketing_id", "nested"),
                List.copyOf(m.keySet()), "document order");
        assertEquals("pro \"x\" é😀", m.get("plan"));
        assertEquals(12L, m.get("logins"));
        assertEquals(-3L, m.get("neg"));
        assertEquals(4.5, m.get("score"));
        assertEquals(1000.0, m.get("exp"));
        assertInstanceOf(Double.class, m.get("huge"), "beyond a long: Double");
        assertEquals(Boolean.TRUE, m.get("t"));
        assertEquals(Boolean.FALSE, m.get("f"));
        assertTrue(m.containsKey("n") && m.get("n") == null);
        assertEquals(Map.of("a", List.of(1L, Map.of("b", List.of()))), m.get("nested"));
        m.put("mine", 1); // modifiable
        assertEquals(Map.of(), Json.readObject("{}"));
        for (String bad : new String[] {"", "[]", "{", "{\"a\"}", "{\"a\":tru}", "{\"a\":1} x", "{\"a\":-}"}) {
            assertThrows(IllegalArgumentException.class, () -> Json.readObject(bad), bad);
        }
    }
}
