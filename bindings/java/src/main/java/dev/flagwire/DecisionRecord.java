package dev.flagwire;

import java.util.Map;

/**
 * Encodes one flag decision as an ABI 2 decision record (docs/design.md §2.2) into a reusable
 * byte array: a 44-byte little-endian header (record_len, format 1, enabled, dispatched, at_ms,
 * seven string lengths) and the seven strings as UTF-8, NUL bytes included as data. One instance
 * per thread; {@link #encode} allocates nothing for the usual decision (string, boolean and
 * integer attributes).
 *
 * <p>The attributes JSON is written here directly (keys and scalar values); only a value of
 * another type (a nested map, a list, a BigDecimal, an object) goes through {@link Json#writeValue}. Nothing is cached between calls: the SDK copies the attributes map on
 * every {@code decide()}, so the same map object never comes back, and a cache keyed on a mutable
 * map could send stale attributes.
 */
final class DecisionRecord {
    static final int HEADER_LEN = 44;
    private static final int FORMAT_FLAG_DECISION = 1;
    /** Arrays grown past this are dropped after use, so one huge decision does not pin memory. */
    private static final int KEEP_BYTES = 64 * 1024;
    private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    private static final ThreadLocal<DecisionRecord> LOCAL = ThreadLocal.withInitial(DecisionRecord::new);

    private byte[] buf = new byte[512];
    private int len;
    private StringBuilder fallback;

    /** This thread's encoder. */
    static DecisionRecord local() {
        return LOCAL.get();
    }

    byte[] bytes() {
        return buf;
    }

    int length() {
        return len;
    }

    /**
     * Writes the record. Null or empty strings are absent (length 0).
     *
     * @param dispatched decisionEventDispatched: 1, 0, or -1 when not known
     * @param atMs       the decision's time in Unix ms; 0: the library reads its clock
     */
    DecisionRecord encode(String userId, String flagKey, String ruleKey, String variationKey, String experimentId,
            String variationId, boolean enabled, int dispatched, Map<?, ?> attributes, long atMs) {
        if (buf.length > KEEP_BYTES) {
            buf = new byte[512];
        }
        len = HEADER_LEN;
        putLength(16, utf8(userId));
        putLength(20, utf8(flagKey));
        putLength(24, utf8(ruleKey));
        putLength(28, utf8(variationKey));
        putLength(32, utf8(experimentId));
        putLength(36, utf8(variationId));
        putLength(40, attributes == null || attributes.isEmpty() ? 0 : attributesJson(attributes));
        putInt(0, len);
        buf[4] = FORMAT_FLAG_DECISION;
        buf[5] = (byte) (enabled ? 1 : 0);
        buf[6] = (byte) dispatched;
        buf[7] = 0;
        for (int i = 0; i < 8; i++) {
            buf[8 + i] = (byte) (atMs >>> (8 * i));
        }
        return this;
    }

    private void putLength(int at, int n) {
        putInt(at, n);
    }

    private void putInt(int at, int v) {
        buf[at] = (byte) v;
        buf[at + 1] = (byte) (v >>> 8);
        buf[at + 2] = (byte) (v >>> 16);
        buf[at + 3] = (byte) (v >>> 24);
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
        }
    }

    /** Appends {@code s} as UTF-8 (an unpaired surrogate becomes '?', as String.getBytes does); returns its byte count. */
    private int utf8(String s) {
        if (s == null) {
            return 0;
        }
        int start = len;
        int n = s.length();
        ensure(3 * n);
        byte[] b = buf;
        int p = len;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                b[p++] = (byte) c;
            } else {
                p = multiByte(s, i, c, p);
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                }
            }
        }
        len = p;
        return p - start;
    }

    /** Writes the non-ASCII character at {@code i} (a surrogate pair counts as one) at {@code p}. */
    private int multiByte(String s, int i, char c, int p) {
        byte[] b = buf;
        if (c < 0x800) {
            b[p++] = (byte) (0xC0 | c >> 6);
            b[p++] = (byte) (0x80 | c & 0x3F);
        } else if (Character.isSurrogate(c)) {
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, s.charAt(i + 1));
                b[p++] = (byte) (0xF0 | cp >> 18);
                b[p++] = (byte) (0x80 | cp >> 12 & 0x3F);
                b[p++] = (byte) (0x80 | cp >> 6 & 0x3F);
                b[p++] = (byte) (0x80 | cp & 0x3F);
            } else {
                b[p++] = '?';
            }
        } else {
            b[p++] = (byte) (0xE0 | c >> 12);
            b[p++] = (byte) (0x80 | c >> 6 & 0x3F);
            b[p++] = (byte) (0x80 | c & 0x3F);
        }
        return p;
    }

    // ---- attributes JSON -----------------------------------------------------------------------

    private int attributesJson(Map<?, ?> attributes) {
        int start = len;
        ensure(1);
        buf[len++] = '{';
        boolean first = true;
        for (Map.Entry<?, ?> e : attributes.entrySet()) {
            ensure(2);
            if (!first) {
                buf[len++] = ',';
            }
            first = false;
            Object k = e.getKey();
            jsonString(k instanceof String ks ? ks : String.valueOf(k));
            buf[len++] = ':';
            jsonValue(e.getValue());
        }
        ensure(1);
        buf[len++] = '}';
        return len - start;
    }

    private void jsonValue(Object v) {
        if (v instanceof String s) {
            jsonString(s);
        } else if (v instanceof Boolean b) {
            ascii(b ? "true" : "false");
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            jsonLong(((Number) v).longValue());
        } else if (v == null) {
            ascii("null");
        } else if (v instanceof Double d) {
            ascii(Double.isFinite(d) ? Double.toString(d) : "null"); // JSON has no NaN or Infinity
        } else if (v instanceof Float f) {
            ascii(Float.isFinite(f) ? Float.toString(f) : "null");
        } else {
            // Nested maps, lists, anything else: the general writer (rare for attributes).
            StringBuilder sb = fallback == null ? (fallback = new StringBuilder(64)) : fallback;
            sb.setLength(0);
            Json.writeValue(sb, v, 1);
            utf8(sb.toString());
            if (sb.capacity() > KEEP_BYTES) {
                fallback = null;
            }
        }
    }

    private void ascii(String s) {
        int n = s.length();
        ensure(n);
        for (int i = 0; i < n; i++) {
            buf[len++] = (byte) s.charAt(i);
        }
    }

    private void jsonLong(long v) {
        if (v == Long.MIN_VALUE) {
            ascii("-9223372036854775808");
            return;
        }
        ensure(20);
        if (v < 0) {
            buf[len++] = '-';
            v = -v;
        }
        int digits = 1;
        for (long t = v; t >= 10; t /= 10) {
            digits++;
        }
        for (int i = len + digits - 1; i >= len; i--) {
            buf[i] = (byte) ('0' + v % 10);
            v /= 10;
        }
        len += digits;
    }

    /** A JSON string literal, escaped as {@link Json#writeString} does, in UTF-8. */
    private void jsonString(String s) {
        int n = s.length();
        ensure(6 * n + 2);
        byte[] b = buf;
        int p = len;
        b[p++] = '"';
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                b[p++] = (byte) c;
            } else if (c == '"' || c == '\\') {
                b[p++] = '\\';
                b[p++] = (byte) c;
            } else if (c < 0x20 || c == 0x2028 || c == 0x2029) {
                p = escape(c, p);
            } else {
                p = multiByte(s, i, c, p);
                if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                }
            }
        }
        b[p++] = '"';
        len = p;
    }

    private int escape(char c, int p) {
        byte[] b = buf;
        b[p++] = '\\';
        switch (c) {
            case '\n' -> b[p++] = 'n';
            case '\r' -> b[p++] = 'r';
            case '\t' -> b[p++] = 't';
            case '\b' -> b[p++] = 'b';
            case '\f' -> b[p++] = 'f';
            default -> {
                b[p++] = 'u';
                b[p++] = HEX[c >> 12 & 0xF];
                b[p++] = HEX[c >> 8 & 0xF];
                b[p++] = HEX[c >> 4 & 0xF];
                b[p++] = HEX[c & 0xF];
            }
        }
        return p;
    }
}
