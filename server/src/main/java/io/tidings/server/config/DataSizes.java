package io.tidings.server.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses sizes written as {@code 1048576}, {@code 64KiB}, {@code 1MiB}, {@code 1GiB} (or KB/MB/GB, powers of 1000). */
public final class DataSizes {
  private static final Pattern FORM = Pattern.compile("(\\d+)\\s*([kmg]i?b|b)?");

  private DataSizes() {}

  /**
   * Parses {@code text} into bytes.
   *
   * @throws IllegalArgumentException when it is not a size
   */
  public static long parse(String text) {
    Matcher m = FORM.matcher(text.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + text + "' is not a size (use e.g. 65536, 64KiB, 1MiB)");
    }
    long amount = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2);
    long factor = switch (unit) {
      case "b" -> 1;
      case "kb" -> 1_000;
      case "kib" -> 1L << 10;
      case "mb" -> 1_000_000;
      case "mib" -> 1L << 20;
      case "gb" -> 1_000_000_000;
      case "gib" -> 1L << 30;
      default -> throw new IllegalArgumentException(unit);
    };
    return Math.multiplyExact(amount, factor);
  }
}
