package io.tidings.core;

/**
 * Rules for topic names: 1-200 characters from {@code A-Z a-z 0-9 _ . : @ / -}, not starting or
 * ending with {@code /}, without {@code //}, and without a {@code .} or {@code ..} segment.
 */
public final class Topics {
  /** Longest topic name accepted. */
  public static final int MAX_LENGTH = 200;

  private Topics() {}

  /** Returns why {@code name} is not a valid topic name, or {@code null} when it is valid. */
  public static String problem(String name) {
    if (name == null || name.isEmpty()) {
      return "topic is required";
    }
    if (name.length() > MAX_LENGTH) {
      return "topic is longer than " + MAX_LENGTH + " characters";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '_' || c == '.' || c == ':' || c == '@' || c == '/' || c == '-';
      if (!ok) {
        return "topic contains a character outside A-Z a-z 0-9 _ . : @ / -";
      }
    }
    if (name.startsWith("/") || name.endsWith("/")) {
      return "topic must not start or end with '/'";
    }
    if (name.contains("//")) {
      return "topic must not contain '//'";
    }
    for (String segment : name.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) {
        return "topic must not have a '.' or '..' segment";
      }
    }
    return null;
  }

  /** Whether {@code name} is a valid topic name. */
  public static boolean isValid(String name) {
    return problem(name) == null;
  }
}
