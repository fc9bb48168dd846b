package io.tidings.server.webpush;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Objects;

/**
 * Values for the RFC 8030 request headers of a push other than {@code Authorization} (see {@link
 * Vapid}): {@code TTL} (seconds the push service keeps an undelivered message), {@code Urgency} and
 * {@code Topic}.
 */
public final class PushHeaders {
  /** Longest Topic value RFC 8030 section 5.4 allows. */
  public static final int TOPIC_MAX_LENGTH = 32;

  /** The values of the {@code Urgency} header (RFC 8030 section 5.3). */
  public enum Urgency {
    VERY_LOW("very-low"),
    LOW("low"),
    NORMAL("normal"),
    HIGH("high");

    private final String headerValue;

    Urgency(String headerValue) {
      this.headerValue = headerValue;
    }

    /** What the header carries: {@code very-low}, {@code low}, {@code normal} or {@code high}. */
    public String headerValue() {
      return headerValue;
    }

    /**
     * The urgency of a header value (case-insensitive), e.g. from configuration.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Urgency of(String headerValue) {
      String v = headerValue == null ? "" : headerValue.strip().toLowerCase(Locale.ROOT);
      for (Urgency u : values()) {
        if (u.headerValue.equals(v)) {
          return u;
        }
      }
      throw new IllegalArgumentException("an urgency is very-low, low, normal or high, got '" + headerValue + "'");
    }
  }

  private PushHeaders() {}

  /**
   * The {@code Topic} header for a Tidings topic name: the first 32 characters of
   * base64url(SHA-256(name)), so at most 32 characters of the URL- and filename-safe base64
   * alphabet as RFC 8030 requires, the same for the same name, and revealing nothing of the name to
   * the push service. A push service replaces an undelivered message with a newer one of the same
   * Topic to the same subscription.
   */
  public static String topicHeader(String topicName) {
    Objects.requireNonNull(topicName, "topicName");
    byte[] digest;
    try {
      digest = MessageDigest.getInstance("SHA-256").digest(topicName.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    }
    return P256.base64Url(digest).substring(0, TOPIC_MAX_LENGTH);
  }
}
