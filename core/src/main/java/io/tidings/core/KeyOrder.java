package io.tidings.core;

import java.util.Comparator;

/**
 * State keys sort by Unicode code point, which is the UTF-8 byte order a SQL store uses, so every
 * engine pages state in the same order. ({@link String#compareTo} differs for characters above
 * U+FFFF.)
 */
public final class KeyOrder {
  /** Compares strings by code point. */
  public static final Comparator<String> CODE_POINT = KeyOrder::compare;

  private KeyOrder() {}

  private static int compare(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int ca = a.codePointAt(i);
      int cb = b.codePointAt(j);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      i += Character.charCount(ca);
      j += Character.charCount(cb);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }
}
