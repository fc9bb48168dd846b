package io.tidings.server.webpush;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Builds the {@code Authorization} header value {@code vapid t=<jwt>, k=<public key>} of RFC 8292
 * for a push request: an ES256 JWT whose {@code aud} is the origin of the push endpoint
 * ({@code scheme://host[:port]}, the port only when not the scheme's default), {@code exp} is
 * {@link #VALIDITY} from now and {@code sub} is the configured contact.
 *
 * <p>A value is cached per audience and signed again when less than {@link #RESIGN_BEFORE} of its
 * validity remains: RFC 8292 encourages reusing a token (a push service can then cache its
 * signature check), and it keeps signing off the hot path. Thread-safe.
 */
public final class Vapid {
  /** How long a token is valid; RFC 8292 allows at most 24 hours. */
  public static final Duration VALIDITY = Duration.ofHours(12);
  /** A cached token with less validity left than this is replaced, so no request carries one about to expire. */
  public static final Duration RESIGN_BEFORE = Duration.ofHours(1);
  // Audiences are push-service origins (a handful in practice); the bound only guards against
  // subscriptions naming many different hosts.
  private static final int MAX_AUDIENCES = 1024;

  private record Token(String header, Instant expires) {}

  private final VapidKeys keys;
  private final String subject;
  private final Clock clock;
  private final JWSSigner signer;
  private final Map<String, Token> cache = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Token> eldest) {
      return size() > MAX_AUDIENCES;
    }
  };

  /**
   * @param subject the contact for the push service's operator: a {@code mailto:} or {@code https://} URI
   * @throws IllegalArgumentException when {@code subject} is neither
   */
  public Vapid(VapidKeys keys, String subject, Clock clock) {
    this.keys = Objects.requireNonNull(keys, "keys");
    this.clock = Objects.requireNonNull(clock, "clock");
    if (subject == null || !(subject.startsWith("mailto:") && subject.length() > "mailto:".length()
        || subject.startsWith("https://") && subject.length() > "https://".length())) {
      throw new IllegalArgumentException("the VAPID subject must be a mailto: or https:// URI (a contact for the push"
          + " service's operator), got " + (subject == null ? "nothing" : "'" + subject + "'"));
    }
    this.subject = subject;
    try {
      this.signer = new ECDSASigner(new ECKey.Builder(Curve.P_256, keys.publicKey()).privateKey(keys.privateKey()).build());
    } catch (JOSEException e) {
      throw new IllegalArgumentException("cannot sign with the VAPID key: " + e.getMessage(), e);
    }
  }

  /**
   * The Authorization header value for a request to {@code pushEndpoint}.
   *
   * @throws IllegalArgumentException when {@code pushEndpoint} is not an absolute http or https URL
   */
  public String authorization(URI pushEndpoint) {
    String audience = origin(pushEndpoint);
    Instant now = clock.instant();
    Token token;
    synchronized (cache) {
      token = cache.get(audience);
    }
    if (token == null || !now.plus(RESIGN_BEFORE).isBefore(token.expires())) {
      // Signed outside the lock: two threads may both sign for the same audience, which is harmless.
      token = sign(audience, now);
      synchronized (cache) {
        cache.put(audience, token);
      }
    }
    return token.header();
  }

  /** The Unicode serialization of the endpoint's origin (RFC 6454 section 6.1), which RFC 8292 makes the {@code aud}. */
  static String origin(URI endpoint) {
    if (endpoint == null || !endpoint.isAbsolute() || endpoint.getHost() == null) {
      throw new IllegalArgumentException("a push endpoint must be an absolute http or https URL, got " + endpoint);
    }
    String scheme = endpoint.getScheme().toLowerCase(Locale.ROOT);
    int defaultPort;
    if (scheme.equals("https")) {
      defaultPort = 443;
    } else if (scheme.equals("http")) {
      defaultPort = 80;
    } else {
      throw new IllegalArgumentException("a push endpoint must be an http or https URL, got " + endpoint);
    }
    String host = endpoint.getHost().toLowerCase(Locale.ROOT);
    int port = endpoint.getPort();
    return scheme + "://" + host + (port == -1 || port == defaultPort ? "" : ":" + port);
  }

  private Token sign(String audience, Instant now) {
    // NumericDate has whole seconds: truncate so that the cached expiry is the one the token says.
    Instant expires = now.plus(VALIDITY).truncatedTo(ChronoUnit.SECONDS);
    JWTClaimsSet claims = new JWTClaimsSet.Builder()
        .audience(audience)
        .expirationTime(Date.from(expires))
        .subject(subject)
        .build();
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(JOSEObjectType.JWT).build(), claims);
    try {
      jwt.sign(signer);
    } catch (JOSEException e) {
      throw new IllegalStateException("cannot sign the VAPID token: " + e.getMessage(), e);
    }
    return new Token("vapid t=" + jwt.serialize() + ", k=" + keys.publicKeyBase64Url(), expires);
  }
}
