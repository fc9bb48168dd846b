package io.tidings.server.outbound;

import io.tidings.server.http.HttpDates;
import io.vertx.core.MultiMap;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.Locale;

/**
 * The answer to an outbound POST.
 *
 * @param status the HTTP status, whatever it is (a 3xx is not followed)
 * @param headers the response headers
 * @param snippet the start of the body, at most {@link OutboundClient.Options#responseSnippetBytes}
 *     bytes decoded as UTF-8 (malformed or cut sequences replaced), for showing to the target's owner
 * @param latencyNanos from the call to {@link OutboundClient#post} to the end of the exchange
 */
public record OutboundResponse(int status, MultiMap headers, String snippet, long latencyNanos) {
  /** RFC 850 dates, obsolete but still to be accepted (RFC 9110 section 5.6.7). */
  private static final DateTimeFormatter RFC_850 = new DateTimeFormatterBuilder()
      .parseCaseInsensitive()
      .appendPattern("EEEE, dd-MMM-")
      .appendValueReduced(ChronoField.YEAR, 2, 2, 1970)
      .appendPattern(" HH:mm:ss 'GMT'")
      .toFormatter(Locale.US);
  /** C's asctime() format, the other obsolete form. */
  private static final DateTimeFormatter ASCTIME = new DateTimeFormatterBuilder()
      .parseCaseInsensitive()
      .appendPattern("EEE MMM ppd HH:mm:ss uuuu")
      .toFormatter(Locale.US);

  /**
   * The {@code Retry-After} header (delta-seconds or HTTP-date) as a delay in milliseconds from
   * {@code nowMillis} (0 for a date already past), or -1 when absent or invalid.
   */
  public long retryAfterMillis(long nowMillis) {
    String value = headers == null ? null : headers.get("Retry-After");
    if (value == null) {
      return -1;
    }
    value = value.trim();
    if (value.isEmpty() || value.length() > 64) {
      return -1;
    }
    if (value.chars().allMatch(c -> c >= '0' && c <= '9')) {
      long seconds = value.length() > 15 ? Long.MAX_VALUE / 1000 : Long.parseLong(value);
      return Math.min(seconds, Long.MAX_VALUE / 1000) * 1000;
    }
    long at = httpDate(value);
    return at < 0 ? -1 : Math.max(0, at - nowMillis);
  }

  private static long httpDate(String value) {
    long at = HttpDates.parse(value);
    if (at >= 0) {
      return at;
    }
    for (DateTimeFormatter format : new DateTimeFormatter[] {RFC_850, ASCTIME}) {
      try {
        return LocalDateTime.parse(value, format).toInstant(ZoneOffset.UTC).toEpochMilli();
      } catch (DateTimeParseException e) {
        // try the next form
      }
    }
    return -1;
  }
}
