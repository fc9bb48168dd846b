package io.tidings.server.webpush;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * What a browser's {@code PushSubscription} gives the application server (its {@code toJSON()}:
 * {@code {"endpoint", "expirationTime"?, "keys": {"p256dh", "auth"}}}): where to POST push messages
 * and the user agent's keys to encrypt them for.
 *
 * <p>The arrays are copied in and out, so an instance cannot change. {@link #toString()} leaves the
 * authentication secret out.
 *
 * @param endpoint the push resource URL (absolute http or https)
 * @param p256dh the user agent's 65-byte uncompressed P-256 public key
 * @param auth the user agent's 16-byte authentication secret
 */
public record PushSubscriptionKeys(URI endpoint, byte[] p256dh, byte[] auth) {
  /** Length of the authentication secret (RFC 8291 section 3.2). */
  public static final int AUTH_SECRET_BYTES = 16;

  /**
   * Validates as {@link #fromJson} does.
   *
   * @throws IllegalArgumentException when a value is not valid
   */
  public PushSubscriptionKeys {
    checkEndpoint(endpoint);
    Objects.requireNonNull(p256dh, "p256dh");
    Objects.requireNonNull(auth, "auth");
    P256.publicKey(p256dh, "keys.p256dh");
    if (auth.length != AUTH_SECRET_BYTES) {
      throw new IllegalArgumentException("keys.auth must be " + AUTH_SECRET_BYTES + " bytes, got " + auth.length);
    }
    p256dh = p256dh.clone();
    auth = auth.clone();
  }

  /**
   * Reads a browser's subscription JSON. The keys may be base64url with or without padding.
   *
   * @throws IllegalArgumentException with a message that says what is wrong: the endpoint is not an
   *     absolute https or http URL, {@code keys.p256dh} is not base64url of a 65-byte uncompressed
   *     point on the P-256 curve, {@code keys.auth} is not base64url of exactly 16 bytes, or a
   *     member is missing
   */
  public static PushSubscriptionKeys fromJson(JsonNode subscription) {
    if (subscription == null || !subscription.isObject()) {
      throw new IllegalArgumentException("a push subscription must be a JSON object {\"endpoint\", \"keys\": {\"p256dh\","
          + " \"auth\"}}");
    }
    JsonNode endpoint = subscription.get("endpoint");
    if (endpoint == null || !endpoint.isTextual()) {
      throw new IllegalArgumentException("endpoint is missing or not a string");
    }
    URI uri;
    try {
      uri = new URI(endpoint.asText());
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("endpoint is not a URL: " + e.getMessage(), e);
    }
    JsonNode keys = subscription.get("keys");
    if (keys == null || !keys.isObject()) {
      throw new IllegalArgumentException("keys is missing or not an object {\"p256dh\", \"auth\"}");
    }
    byte[] p256dh = base64Url(keys, "p256dh");
    byte[] auth = base64Url(keys, "auth");
    return new PushSubscriptionKeys(uri, p256dh, auth);
  }

  private static byte[] base64Url(JsonNode keys, String name) {
    JsonNode v = keys.get(name);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("keys." + name + " is missing or not a string");
    }
    return P256.base64UrlDecode(v.asText(), "keys." + name);
  }

  private static void checkEndpoint(URI endpoint) {
    if (endpoint == null) {
      throw new IllegalArgumentException("endpoint is missing");
    }
    String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
    if (!endpoint.isAbsolute() || !(scheme.equals("https") || scheme.equals("http"))) {
      throw new IllegalArgumentException("endpoint must be an absolute https or http URL, got '" + endpoint + "'");
    }
    if (endpoint.getHost() == null || endpoint.getHost().isEmpty()) {
      throw new IllegalArgumentException("endpoint has no host: '" + endpoint + "'");
    }
  }

  @Override
  public byte[] p256dh() {
    return p256dh.clone();
  }

  @Override
  public byte[] auth() {
    return auth.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PushSubscriptionKeys k && k.endpoint.equals(endpoint) && Arrays.equals(k.p256dh, p256dh)
        && Arrays.equals(k.auth, auth);
  }

  @Override
  public int hashCode() {
    return endpoint.hashCode() * 31 + Arrays.hashCode(p256dh);
  }

  @Override
  public String toString() {
    return "PushSubscriptionKeys[endpoint=" + endpoint + ", p256dh=" + P256.base64Url(p256dh) + ", auth=(secret)]";
  }
}
