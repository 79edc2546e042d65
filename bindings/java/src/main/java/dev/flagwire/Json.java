package dev.flagwire;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The small JSON writer and reader flagwire needs: writing configs, attributes, notifications and
 * Segment messages from plain Java values, and reading the flat stats object. No dependency, so
 * the binding works whichever JSON parser the application's Optimizely SDK uses.
 */
final class Json {
    private Json() {}

    /** Nesting deeper than this is written as {@code null} (guards against cyclic maps). */
    static final int MAX_DEPTH = 64;

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    static String write(Object value) {
        StringBuilder sb = new StringBuilder(64);
        writeValue(sb, value, 0);
        return sb.toString();
    }

    /** Writes a map as a JSON object. */
    static void writeObject(StringBuilder sb, Map<?, ?> map, int depth) {
        if (depth > MAX_DEPTH) {
            sb.append("null");
            return;
        }
        sb.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String key = String.valueOf(e.getKey());
            if (!first) {
                sb.append(',');
            }
            first = false;
            writeString(sb, key);
            sb.append(':');
            writeValue(sb, e.getValue(), depth + 1);
        }
        sb.append('}');
    }

    /**
     * Writes any plain Java value: null, String, Character, Boolean, numbers (non-finite as null),
     * Map, Iterable, arrays, Optional; anything else as its {@code toString()}.
     */
    static void writeValue(StringBuilder sb, Object v, int depth) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof String s) {
            writeString(sb, s);
        } else if (v instanceof Boolean b) {
            sb.append(b.booleanValue());
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                || v instanceof BigInteger) {
            sb.append(v);
        } else if (v instanceof Double d) {
            writeDouble(sb, d);
        } else if (v instanceof Float f) {
            if (f.isNaN() || f.isInfinite()) {
                sb.append("null");
            } else {
                sb.append(f.floatValue());
            }
        } else if (v instanceof BigDecimal bd) {
            sb.append(bd.toString());
        } else if (v instanceof Number n) {
            writeDouble(sb, n.doubleValue());
        } else if (v instanceof Map<?, ?> m) {
            writeObject(sb, m, depth);
        } else if (depth > MAX_DEPTH) {
            sb.append("null");
        } else if (v instanceof Iterable<?> it) {
            sb.append('[');
            boolean first = true;
            for (Object o : it) {
                if (!first) {
                    sb.append(',');
                }
                first = false;
                writeValue(sb, o, depth + 1);
            }
            sb.append(']');
        } else if (v.getClass().isArray()) {
            sb.append('[');
            int n = Array.getLength(v);
            for (int i = 0; i < n; i++) {
                if (i > 0) {
                    sb.append(',');
                }
                writeValue(sb, Array.get(v, i), depth + 1);
            }
            sb.append(']');
        } else if (v instanceof Optional<?> o) {
            writeValue(sb, o.orElse(null), depth + 1);
        } else {
            writeString(sb, v.toString());
        }
    }

    private static void writeDouble(StringBuilder sb, double d) {
        // JSON has no NaN or Infinity; Double.toString is otherwise valid JSON ("3.0", "1.0E10").
        if (Double.isNaN(d) || Double.isInfinite(d)) {
            sb.append("null");
        } else {
            sb.append(d);
        }
    }

    static void writeString(StringBuilder sb, String s) {
        sb.append('"');
        int n = s.length();
        int start = 0;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c != '"' && c != '\\' && c != 0x2028 && c != 0x2029) {
                continue;
            }
            sb.append(s, start, i);
            start = i + 1;
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> sb.append("\\u").append(HEX[c >> 12 & 0xF]).append(HEX[c >> 8 & 0xF])
                        .append(HEX[c >> 4 & 0xF]).append(HEX[c & 0xF]);
            }
        }
        sb.append(s, start, n);
        sb.append('"');
    }

    /**
     * Reads a flat JSON object whose values are integers (the stats object). Values of any other
     * type are skipped, so a newer library that adds a nested key still parses.
     */
    static Map<String, Long> readFlatLongs(String json) {
        Reader r = new Reader(json);
        Map<String, Long> out = new HashMap<>();
        r.skipWs();
        r.expect('{');
        r.skipWs();
        if (r.peek() == '}') {
            return out;
        }
        while (true) {
            r.skipWs();
            String key = r.readString();
            r.skipWs();
            r.expect(':');
            r.skipWs();
            char c = r.peek();
            if (c == '-' || (c >= '0' && c <= '9')) {
                String num = r.readNumber();
                try {
                    out.put(key, Long.parseLong(num));
                } catch (NumberFormatException e) {
                    out.put(key, (long) Double.parseDouble(num));
                }
            } else {
                r.skipValue();
            }
            r.skipWs();
            if (r.peek() == ',') {
                r.pos++;
                continue;
            }
            r.expect('}');
            return out;
        }
    }

    /**
     * Reads a JSON object (the Profile API attributes) into a new, modifiable map in document
     * order. Values: String, Boolean, Long for integers that fit in a long, Double for every other
     * number, null, and (not produced by the library today) LinkedHashMap / ArrayList for nested
     * objects and arrays. Long and Double are the number types the Optimizely Java SDK's audience
     * matchers evaluate (AttributesUtil.isValidNumber: Integer, Long, Double, Float).
     *
     * @throws IllegalArgumentException for text that is not one JSON object
     */
    static Map<String, Object> readObject(String json) {
        Reader r = new Reader(json);
        r.skipWs();
        if (r.peek() != '{') {
            throw new IllegalArgumentException("expected a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> out = (Map<String, Object>) r.readValue(0);
        r.skipWs();
        if (r.pos != json.length()) {
            throw new IllegalArgumentException("trailing characters at " + r.pos);
        }
        return out;
    }

    private static final class Reader {
        final String s;
        int pos;

        Reader(String s) {
            this.s = s;
        }

        char peek() {
            if (pos >= s.length()) {
                throw new IllegalArgumentException("unexpected end of JSON");
            }
            return s.charAt(pos);
        }

        void skipWs() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        void expect(char c) {
            if (peek() != c) {
                throw new IllegalArgumentException("expected '" + c + "' at " + pos);
            }
            pos++;
        }

        String readString() {
            expect('"');
            // Fast path: no escape before the closing quote (trait names and values usually).
            for (int i = pos, n = s.length(); i < n; i++) {
                char c = s.charAt(i);
                if (c == '"') {
                    String out = s.substring(pos, i);
                    pos = i + 1;
                    return out;
                }
                if (c == '\\') {
                    break;
                }
            }
            StringBuilder sb = new StringBuilder();
            while (true) {
                char c = peek();
                pos++;
                if (c == '"') {
                    return sb.toString();
                }
                if (c == '\\') {
                    char e = peek();
                    pos++;
                    switch (e) {
                        case 'n' -> sb.append('\n');
                        case 'r' -> sb.append('\r');
                        case 't' -> sb.append('\t');
                        case 'b' -> sb.append('\b');
                        case 'f' -> sb.append('\f');
                        case 'u' -> {
                            sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
                            pos += 4;
                        }
                        default -> sb.append(e);
                    }
                } else {
                    sb.append(c);
                }
            }
        }

        Object readValue(int depth) {
            if (depth > MAX_DEPTH) {
                throw new IllegalArgumentException("JSON nested deeper than " + MAX_DEPTH);
            }
            char c = peek();
            switch (c) {
                case '"':
                    return readString();
                case '{': {
                    pos++;
                    Map<String, Object> m = new LinkedHashMap<>();
                    skipWs();
                    if (peek() == '}') {
                        pos++;
                        return m;
                    }
                    while (true) {
                        skipWs();
                        String key = readString();
                        skipWs();
                        expect(':');
                        skipWs();
                        m.put(key, readValue(depth + 1));
                        skipWs();
                        if (peek() == ',') {
                            pos++;
                            continue;
                        }
                        expect('}');
                        return m;
                    }
                }
                case '[': {
                    pos++;
                    List<Object> a = new ArrayList<>();
                    skipWs();
                    if (peek() == ']') {
                        pos++;
                        return a;
                    }
                    while (true) {
                        skipWs();
                        a.add(readValue(depth + 1));
                        skipWs();
                        if (peek() == ',') {
                            pos++;
                            continue;
                        }
                        expect(']');
                        return a;
                    }
                }
                case 't':
                    literal("true");
                    return Boolean.TRUE;
                case 'f':
                    literal("false");
                    return Boolean.FALSE;
                case 'n':
                    literal("null");
                    return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number(readNumber());
                    }
                    throw new IllegalArgumentException("unexpected '" + c + "' at " + pos);
            }
        }

        private void literal(String word) {
            if (!s.startsWith(word, pos)) {
                throw new IllegalArgumentException("expected " + word + " at " + pos);
            }
            pos += word.length();
        }

        private static Object number(String text) {
            try {
                boolean integer = true;
                for (int i = 0; i < text.length(); i++) {
                    char ch = text.charAt(i);
                    if (ch == '.' || ch == 'e' || ch == 'E') {
                        integer = false;
                        break;
                    }
                }
                if (integer) {
                    try {
                        return Long.parseLong(text);
                    } catch (NumberFormatException outOfRange) {
                        // beyond a long: a Double, like any other number
                    }
                }
                return Double.parseDouble(text);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("invalid number " + text, e);
            }
        }

        String readNumber() {
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
            return s.substring(start, pos);
        }

        void skipValue() {
            char c = peek();
            if (c == '"') {
                readString();
            } else if (c == '{' || c == '[') {
                int depth = 0;
                do {
                    c = peek();
                    if (c == '"') {
                        readString();
                        continue;
                    }
                    if (c == '{' || c == '[') {
                        depth++;
                    } else if (c == '}' || c == ']') {
                        depth--;
                    }
                    pos++;
                } while (depth > 0);
            } else {
                while (pos < s.length() && ",}]".indexOf(s.charAt(pos)) < 0 && !Character.isWhitespace(s.charAt(pos))) {
                    pos++;
                }
            }
        }
    }
}
