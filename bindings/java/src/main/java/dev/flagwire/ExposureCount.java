package dev.flagwire;

/**
 * Exposures of one (flag, rule, variation) since the client was created: a row of
 * {@link FlagwireClient#exposuresByVariation()} (docs/design.md §6, {@code exposures_by_variation}).
 *
 * @param flagKey      the flag
 * @param ruleKey      the experiment, holdout or delivery rule
 * @param variationKey the variation
 * @param exposures    Experiment Viewed events made for it
 */
public record ExposureCount(String flagKey, String ruleKey, String variationKey, long exposures) {}
