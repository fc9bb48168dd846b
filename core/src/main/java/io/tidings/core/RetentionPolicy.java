package io.tidings.core;

import java.time.Duration;
import java.util.List;

/** Ordered retention rules: the first rule whose pattern matches a topic applies to it. */
public final class RetentionPolicy {
  private static final RetentionPolicy KEEP_ALL = new RetentionPolicy(List.of(), Duration.ofSeconds(10));

  private final List<RetentionRule> rules;
  private final Duration interval;

  /**
   * @param rules rules in priority order
   * @param interval how often engines trim in the background
   */
  public RetentionPolicy(List<RetentionRule> rules, Duration interval) {
    this.rules = List.copyOf(rules);
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("retention interval must be positive");
    }
    this.interval = interval;
  }

  /** A policy that keeps everything. */
  public static RetentionPolicy keepAll() {
    return KEEP_ALL;
  }

  /** The rule for {@code topic}, or {@code null} when no rule matches (keep everything). */
  public RetentionRule ruleFor(String topic) {
    for (RetentionRule rule : rules) {
      if (rule.pattern().matches(topic)) {
        return rule;
      }
    }
    return null;
  }

  /** Whether any rule exists. */
  public boolean isEmpty() {
    return rules.isEmpty();
  }

  /** How often engines apply this policy in the background. */
  public Duration interval() {
    return interval;
  }

  /** The rules, in priority order. */
  public List<RetentionRule> rules() {
    return rules;
  }
}
