package io.tidings.server.http;

/** Matching of {@code If-None-Match} lists (RFC 9110 §13.1.2: weak comparison). */
public final class EntityTags {
  private EntityTags() {}

  /** The strong entity tag for a cursor: the cursor in double quotes. */
  public static String of(String cursor) {
    return '"' + cursor + '"';
  }

  /**
   * Whether an {@code If-None-Match} value matches {@code opaque} (the tag without quotes).
   * {@code *} matches any current representation.
   */
  public static boolean matches(String ifNoneMatch, String opaque) {
    int i = 0;
    int n = ifNoneMatch.length();
    while (i < n) {
      char c = ifNoneMatch.charAt(i);
      if (c == ' ' || c == '\t' || c == ',') {
        i++;
        continue;
      }
      if (c == '*') {
        return true;
      }
      if (c == 'W' && i + 1 < n && ifNoneMatch.charAt(i + 1) == '/') {
        i += 2;
        continue;
      }
      if (c != '"') {
        return false;
      }
      int end = ifNoneMatch.indexOf('"', i + 1);
      if (end < 0) {
        return false;
      }
      if (end - i - 1 == opaque.length() && ifNoneMatch.regionMatches(i + 1, opaque, 0, opaque.length())) {
        return true;
      }
      i = end + 1;
    }
    return false;
  }
}
