package io.tidings.server.http;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;

/** HTTP dates (RFC 9110 IMF-fixdate) and the ISO-8601 times used in event JSON. */
public final class HttpDates {
  private static final DateTimeFormatter IMF = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter ISO_MILLIS = new DateTimeFormatterBuilder()
      .appendPattern("uuuu-MM-dd'T'HH:mm:ss")
      .appendFraction(ChronoField.MILLI_OF_SECOND, 3, 3, true)
      .appendLiteral('Z')
      .toFormatter(Locale.ROOT)
      .withZone(ZoneOffset.UTC);

  private HttpDates() {}

  /** {@code Sat, 28 Nov 2026 10:00:00 GMT}. */
  public static String format(long epochMillis) {
    return IMF.format(Instant.ofEpochMilli(epochMillis));
  }

  /** Parses an HTTP date to epoch milliseconds, or returns -1 when it is not one (RFC 9110: ignore it). */
  public static long parse(String text) {
    if (text == null || text.length() > 64) {
      return -1;
    }
    try {
      return Instant.from(IMF.parse(text.trim())).toEpochMilli();
    } catch (DateTimeParseException e) {
      return -1;
    }
  }

  /** {@code 2026-11-28T10:00:00.123Z}: always three fraction digits. */
  public static String iso(long epochMillis) {
    return ISO_MILLIS.format(Instant.ofEpochMilli(epochMillis));
  }
}
