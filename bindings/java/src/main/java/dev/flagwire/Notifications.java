package dev.flagwire;

import com.optimizely.ab.notification.DecisionNotification;

import java.util.Map;

/**
 * Converts the SDK's DECISION notifications, and nothing more (docs/design.md §8: the library
 * decides what is an exposure). A {@code decide} decision (type "flag") becomes a decision record
 * with every field of its decisionInfo the record carries; any other (legacy) type goes whole as
 * JSON to {@code flagwire_on_notification_json}.
 */
final class Notifications {
    private Notifications() {}

    /** True for a {@code decide} decision, which goes as a record; false for the legacy types. */
    static boolean isFlagDecision(DecisionNotification n) {
        return "flag".equals(n.getType()) && n.getDecisionInfo() != null;
    }

    /** Encodes a flag decision (see {@link #isFlagDecision}) into {@code record}. */
    static DecisionRecord encode(DecisionRecord record, DecisionNotification n, long atMs) {
        Map<String, ?> info = n.getDecisionInfo();
        Object dispatched = info.get("decisionEventDispatched");
        return record.encode(n.getUserId(), text(info.get("flagKey")), text(info.get("ruleKey")),
                text(info.get("variationKey")), text(info.get("experimentId")), text(info.get("variationId")),
                Boolean.TRUE.equals(info.get("enabled")),
                dispatched instanceof Boolean b ? (b ? 1 : 0) : -1, n.getAttributes(), atMs);
    }

    private static String text(Object v) {
        return v == null ? null : v instanceof String s ? s : v.toString();
    }

    /** The whole notification as JSON, in the Java SDK's casing (docs/design.md §4). */
    static String json(DecisionNotification n) {
        StringBuilder sb = new StringBuilder(256);
        sb.append("{\"type\":");
        Json.writeValue(sb, n.getType(), 0);
        sb.append(",\"userId\":");
        Json.writeValue(sb, n.getUserId(), 0);
        sb.append(",\"attributes\":");
        Map<String, ?> attributes = n.getAttributes();
        Json.writeValue(sb, attributes == null ? Map.of() : attributes, 1);
        sb.append(",\"decisionInfo\":");
        Map<String, ?> info = n.getDecisionInfo();
        Json.writeValue(sb, info == null ? Map.of() : info, 1);
        sb.append('}');
        return sb.toString();
    }
}
