package dev.flagwire;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/** The repository's test datafiles (tests/data) and their experiment rules. */
public final class TestData {
    private TestData() {}

    public static final String MINIMAL = "minimal-datafile.json";
    public static final String REPEATED_RULE_KEYS = "datafile-repeated-rule-keys.json";

    public static String read(String name) {
        String dir = System.getProperty("flagwire.test.data");
        if (dir == null) {
            throw new IllegalStateException("set -Dflagwire.test.data to the repository's tests/data");
        }
        try {
            return Files.readString(Path.of(dir, name), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An experiment rule of a flag, from the datafile: the ids an exposure event must carry. */
    public record Rule(String flagKey, String ruleKey, String experimentId, Map<String, String> variationIds) {}

    /**
     * Experiment rules by "flagKey/ruleKey": experiments[] and groups[].experiments[] referenced by
     * a flag's experimentIds. Rollout rules are not in it.
     */
    public static Map<String, Rule> experimentRules(String datafileJson) {
        JsonObject d = JsonParser.parseString(datafileJson).getAsJsonObject();
        Map<String, JsonObject> experiments = new HashMap<>();
        for (JsonElement e : d.getAsJsonArray("experiments")) {
            experiments.put(e.getAsJsonObject().get("id").getAsString(), e.getAsJsonObject());
        }
        if (d.has("groups")) {
            for (JsonElement g : d.getAsJsonArray("groups")) {
                for (JsonElement e : g.getAsJsonObject().getAsJsonArray("experiments")) {
                    experiments.put(e.getAsJsonObject().get("id").getAsString(), e.getAsJsonObject());
                }
            }
        }
        Map<String, Rule> out = new HashMap<>();
        for (JsonElement f : d.getAsJsonArray("featureFlags")) {
            JsonObject flag = f.getAsJsonObject();
            String flagKey = flag.get("key").getAsString();
            for (JsonElement id : flag.getAsJsonArray("experimentIds")) {
                JsonObject exp = experiments.get(id.getAsString());
                Map<String, String> variations = new HashMap<>();
                for (JsonElement v : exp.getAsJsonArray("variations")) {
                    variations.put(v.getAsJsonObject().get("key").getAsString(), v.getAsJsonObject().get("id").getAsString());
                }
                String ruleKey = exp.get("key").getAsString();
                out.put(flagKey + "/" + ruleKey, new Rule(flagKey, ruleKey, exp.get("id").getAsString(), variations));
            }
        }
        return out;
    }

    public static Set<String> flagKeys(String datafileJson) {
        Set<String> out = new HashSet<>();
        for (JsonElement f : JsonParser.parseString(datafileJson).getAsJsonObject().getAsJsonArray("featureFlags")) {
            out.add(f.getAsJsonObject().get("key").getAsString());
        }
        return out;
    }
}
