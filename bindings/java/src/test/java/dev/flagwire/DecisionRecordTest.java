package dev.flagwire;

import com.google.gson.JsonParser;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The record encoder against the documented layout (docs/design.md §2.2), decoded independently here. */
class DecisionRecordTest {

    /** The seven strings of a record (null when absent) and its header bytes. */
    record Decoded(int recordLen, int format, int enabled, int dispatched, long atMs, List<String> strings) {}

    static Decoded decode(byte[] bytes, int len) {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, len).order(ByteOrder.LITTLE_ENDIAN);
        int recordLen = b.getInt(0);
        assertEquals(len, recordLen);
        List<String> strings = new ArrayList<>();
        int at = 44;
        for (int i = 0; i < 7; i++) {
            int n = b.getInt(16 + 4 * i);
            strings.add(n == 0 ? null : new String(bytes, at, n, StandardCharsets.UTF_8));
            at += n;
        }
        assertEquals(recordLen, at, "record_len is the header plus the string lengths");
        return new Decoded(recordLen, bytes[4], bytes[5], bytes[6], b.getLong(8), strings);
    }

    @Test
    void theLayoutOfDesignSection2_2() {
        DecisionRecord r = new DecisionRecord().encode("user-1", "checkout_flow", "checkout_ab", "treatment", "2001", "5002",
                true, -1, Map.of("plan", "pro"), 1_795_255_200_123L);
        Decoded d = decode(r.bytes(), r.length());
        assertEquals(1, d.format());
        assertEquals(1, d.enabled());
        assertEquals(-1, d.dispatched());
        assertEquals(1_795_255_200_123L, d.atMs());
        assertEquals(List.of("user-1", "checkout_flow", "checkout_ab", "treatment", "2001", "5002", "{\"plan\":\"pro\"}"),
                d.strings());
        assertEquals(0, r.bytes()[7], "reserved");

        // Absent and empty strings have length 0; no attributes, empty attributes: absent.
        r.encode("u", "f", null, "", null, null, false, 0, Map.of(), 0L);
        d = decode(r.bytes(), r.length());
        assertEquals(0, d.enabled());
        assertEquals(0, d.dispatched());
        assertEquals(0L, d.atMs());
        assertEquals("u", d.strings().get(0));
        for (int i = 2; i < 7; i++) {
            assertNull(d.strings().get(i));
        }
    }

    @Test
    void stringsAreUtf8WithNulAsDataAndUnpairedSurrogatesAsQuestionMarks() {
        String[] samples = {"nul\0inside", "Zoë", "用户", "😀 emoji", "\u2028", "x\uD800y", "\uDC00", "end\uD83D"};
        DecisionRecord r = new DecisionRecord();
        for (String s : samples) {
            r.encode(s, "f", null, null, null, null, true, 1, null, 0L);
            Decoded d = decode(r.bytes(), r.length());
            assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), d.strings().get(0).getBytes(StandardCharsets.UTF_8), s);
        }
    }

    @Test
    void attributesJsonIsWhatTheGeneralWriterWrites() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\\c\n\r\t\b\f\u0001\u2028\u2029é😀\0");
        m.put("i", 42);
        m.put("l", Long.MIN_VALUE);
        m.put("neg", -7L);
        m.put("zero", 0);
        m.put("short", (short) 3);
        m.put("d", 3.25);
        m.put("f", 0.1f);
        m.put("nan", Double.NaN);
        m.put("inf", Float.NEGATIVE_INFINITY);
        m.put("b", false);
        m.put("n", null);
        m.put("bd", new BigDecimal("1.50"));
        m.put("nested", Map.of("k", List.of(1, "x")));
        m.put("obj", new Object() {
            @Override
            public String toString() {
                return "custom \0";
            }
        });
        DecisionRecord r = new DecisionRecord().encode("u", "f", null, null, null, null, true, 1, m, 0L);
        String json = decode(r.bytes(), r.length()).strings().get(6);
        assertEquals(Json.write(m), json);
        assertEquals(JsonParser.parseString(Json.write(m)), JsonParser.parseString(json));
    }

    @Test
    void aLargeRecordGrowsTheBufferAndTheNextOneIsSmallAgain() {
        DecisionRecord r = new DecisionRecord();
        String big = "é".repeat(100_000);
        r.encode(big, "f", null, null, null, null, true, 1, Map.of("k", big), 0L);
        Decoded d = decode(r.bytes(), r.length());
        assertEquals(big, d.strings().get(0));
        assertEquals("{\"k\":\"" + big + "\"}", d.strings().get(6));
        r.encode("u", "f", null, null, null, null, true, 1, null, 0L);
        assertEquals("u", decode(r.bytes(), r.length()).strings().get(0));
        assertEquals(512, r.bytes().length, "the grown array was dropped");
    }
}
