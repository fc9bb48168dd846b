package io.tidings.core;

import java.util.Arrays;

/**
 * A pattern over topic names, segment by segment: an exact segment, {@code *} for exactly one
 * segment, or {@code **} for one or more segments. {@code a/**} matches {@code a/x} and
 * {@code a/x/y} but not {@code a}; a lone {@code **} matches every topic.
 */
public final class TopicPattern {
  private final String text;
  private final String[] segments;

  private TopicPattern(String text) {
    this.text = text;
    this.segments = text.split("/", -1);
  }

  /**
   * Compiles a pattern.
   *
   * @throws IllegalArgumentException when a segment is empty or mixes {@code *} with other characters
   */
  public static TopicPattern compile(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("empty topic pattern");
    }
    for (String segment : text.split("/", -1)) {
      if (segment.isEmpty()) {
        throw new IllegalArgumentException("topic pattern '" + text + "' has an empty segment");
      }
      if (segment.contains("*") && !segment.equals("*") && !segment.equals("**")) {
        throw new IllegalArgumentException(
            "topic pattern '" + text + "': '*' and '**' must stand alone in a segment");
      }
    }
    return new TopicPattern(text);
  }

  /** Whether {@code topic} matches. */
  public boolean matches(String topic) {
    return matches(segments, 0, topic.split("/", -1), 0);
  }

  private static boolean matches(String[] pattern, int p, String[] topic, int t) {
    while (p < pattern.length) {
      String seg = pattern[p];
      if (seg.equals("**")) {
        if (p == pattern.length - 1) {
          return t < topic.length;
        }
        for (int next = t + 1; next <= topic.length; next++) {
          if (matches(pattern, p + 1, topic, next)) {
            return true;
          }
        }
        return false;
      }
      if (t >= topic.length || !(seg.equals("*") || seg.equals(topic[t]))) {
        return false;
      }
      p++;
      t++;
    }
    return t == topic.length;
  }

  @Override
  public String toString() {
    return text;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TopicPattern other && Arrays.equals(segments, other.segments);
  }

  @Override
  public int hashCode() {
    return text.hashCode();
  }
}
