package io.tidings.server.auth;

import java.util.regex.Pattern;

/**
 * A grant over topic names, segment by segment: an exact segment, {@code *} for exactly one
 * segment, {@code **} for one or more, or {@code {sub}} for the principal's subject taken literally
 * as one whole segment. {@code a/**} matches {@code a/x} and {@code a/x/y}, never {@code a}.
 *
 * <p>A subject that is not a possible topic segment (it holds {@code /} or {@code *}, is empty,
 * {@code .} or {@code ..}, or has a character topics cannot have) makes {@code {sub}} match
 * nothing: a subject can narrow a grant to itself but never widen it.
 */
public final class GrantPattern {
  /** The placeholder for the token's subject. */
  public static final String SUB = "{sub}";
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_.:@-]{1,200}");

  private enum Kind { EXACT, ONE, MANY, SUBJECT }

  private final String text;
  private final Kind[] kinds;
  private final String[] segments;
  private final boolean usesSubject;

  private GrantPattern(String text, Kind[] kinds, String[] segments) {
    this.text = text;
    this.kinds = kinds;
    this.segments = segments;
    boolean sub = false;
    for (Kind k : kinds) {
      sub |= k == Kind.SUBJECT;
    }
    this.usesSubject = sub;
  }

  /**
   * Compiles a pattern.
   *
   * @throws IllegalArgumentException naming what is wrong with it
   */
  public static GrantPattern compile(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("a grant pattern must not be empty");
    }
    if (text.length() > 1000) {
      throw new IllegalArgumentException("a grant pattern is at most 1000 characters");
    }
    String[] parts = text.split("/", -1);
    Kind[] kinds = new Kind[parts.length];
    for (int i = 0; i < parts.length; i++) {
      String s = parts[i];
      if (s.equals("*")) {
        kinds[i] = Kind.ONE;
      } else if (s.equals("**")) {
        kinds[i] = Kind.MANY;
      } else if (s.equals(SUB)) {
        kinds[i] = Kind.SUBJECT;
      } else if (validSegment(s)) {
        kinds[i] = Kind.EXACT;
      } else {
        throw new IllegalArgumentException("grant pattern '" + text + "': segment '" + s + "' is not a topic segment,"
            + " '*', '**' or '{sub}' (each of these stands alone in its segment)");
      }
    }
    return new GrantPattern(text, kinds, parts);
  }

  /** Whether {@code segment} could be one segment of a valid topic name. */
  static boolean validSegment(String segment) {
    return segment != null && SEGMENT.matcher(segment).matches() && !segment.equals(".") && !segment.equals("..");
  }

  /** Whether the pattern mentions {@code {sub}}. */
  public boolean usesSubject() {
    return usesSubject;
  }

  /**
   * Whether {@code topic} (a valid topic name) matches, with {@code subject} in place of
   * {@code {sub}}; a null or unusable subject makes {@code {sub}} match nothing.
   */
  public boolean matches(String topic, String subject) {
    String sub = usesSubject && validSegment(subject) ? subject : null;
    if (usesSubject && sub == null) {
      return false;
    }
    return matches(topic.split("/", -1), sub);
  }

  // Dynamic programming over (pattern position, topic position), from the ends: linear in both
  // lengths whatever the number of '**', so no pattern can make matching explode.
  private boolean matches(String[] topic, String sub) {
    int n = topic.length;
    boolean[] next = new boolean[n + 1];
    boolean[] cur = new boolean[n + 1];
    next[n] = true; // the empty pattern matches the empty rest
    for (int p = kinds.length - 1; p >= 0; p--) {
      cur[n] = false;
      for (int t = n - 1; t >= 0; t--) {
        cur[t] = switch (kinds[p]) {
          // '**' takes this segment, then either stops or takes more.
          case MANY -> next[t + 1] || cur[t + 1];
          case ONE -> next[t + 1];
          case SUBJECT -> topic[t].equals(sub) && next[t + 1];
          case EXACT -> topic[t].equals(segments[p]) && next[t + 1];
        };
      }
      boolean[] swap = next;
      next = cur;
      cur = swap;
    }
    return next[0];
  }

  @Override
  public String toString() {
    return text;
  }
}
