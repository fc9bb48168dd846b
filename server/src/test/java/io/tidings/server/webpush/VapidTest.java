package io.tidings.server.webpush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jwt.SignedJWT;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** VAPID keys through base64url, and the RFC 8292 Authorization header: its JWT, claims and cache. */
class VapidTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern HEADER = Pattern.compile("vapid t=([A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+), k=([A-Za-z0-9_-]+)");
  private static final Instant START = Instant.parse("2030-01-02T03:04:05.678Z");

  /** A clock that tests move by hand. */
  static final class MutableClock extends Clock {
    private volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  @Test
  void keys_roundTripThroughBase64Url() {
    VapidKeys keys = VapidKeys.generate();
    assertThat(keys.publicKeyBase64Url()).hasSize(87).startsWith("B").matches("[A-Za-z0-9_-]+"); // 0x04 || X || Y
    assertThat(keys.privateKeyBase64Url()).hasSize(43).matches("[A-Za-z0-9_-]+");
    assertThat(Base64.getUrlDecoder().decode(keys.publicKeyBase64Url())).hasSize(65);
    assertThat(Base64.getUrlDecoder().decode(keys.privateKeyBase64Url())).hasSize(32);

    VapidKeys again = VapidKeys.fromBase64Url(keys.publicKeyBase64Url(), keys.privateKeyBase64Url());
    assertThat(again.publicKeyBase64Url()).isEqualTo(keys.publicKeyBase64Url());
    assertThat(again.privateKeyBase64Url()).isEqualTo(keys.privateKeyBase64Url());
    assertThat(again).isEqualTo(keys);
    assertThat(again.toString()).doesNotContain(keys.privateKeyBase64Url());
    assertThat(VapidKeys.generate().publicKeyBase64Url()).isNotEqualTo(keys.publicKeyBase64Url());
  }

  @Test
  void keys_acceptPaddedBase64Url_andAKnownPair() {
    // RFC 8291 Appendix A's application server key pair, a pair that some other implementation made
    VapidKeys rfc = VapidKeys.fromBase64Url(PushEncryptionTest.AS_PUBLIC, PushEncryptionTest.AS_PRIVATE);
    assertThat(rfc.publicKeyBase64Url()).isEqualTo(PushEncryptionTest.AS_PUBLIC);
    VapidKeys padded = VapidKeys.fromBase64Url(PushEncryptionTest.AS_PUBLIC + "=", PushEncryptionTest.AS_PRIVATE + "=");
    assertThat(padded).isEqualTo(rfc);
  }

  @Test
  void keys_thatDoNotBelongTogether_areRefused() {
    VapidKeys a = VapidKeys.generate();
    VapidKeys b = VapidKeys.generate();
    assertThatThrownBy(() -> VapidKeys.fromBase64Url(a.publicKeyBase64Url(), b.privateKeyBase64Url()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("does not belong");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "public not base64url     | BP4z9KsN6nGRTbVYI/c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8 | yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw | not base64url",
      "public too short         | BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl | yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw | 65-byte",
      "public compressed prefix | AP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8 | yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw | 65-byte",
      "public off the curve     | BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A4 | yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw | not a point on the P-256 curve",
      "private too short        | BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8 | yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ | 32-byte",
      "private zero             | BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8 | AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | [1, n)",
      "private not below n      | BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8 | __________________________________________8 | [1, n)",
  })
  void malformedKeys_areRefusedSayingWhy(String what, String publicKey, String privateKey, String message) {
    assertThatThrownBy(() -> VapidKeys.fromBase64Url(publicKey, privateKey))
        .as(what)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void authorization_isAnEs256JwtWithAudExpSub_andTheKey() throws Exception {
    VapidKeys keys = VapidKeys.generate();
    Vapid vapid = new Vapid(keys, "mailto:ops@example.com", new MutableClock(START));

    String header = vapid.authorization(URI.create("https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV"));
    Matcher m = HEADER.matcher(header);
    assertThat(m.matches()).as(header).isTrue();
    assertThat(m.group(2)).isEqualTo(keys.publicKeyBase64Url());

    String[] parts = m.group(1).split("\\.");
    JsonNode jose = JSON.readTree(Base64.getUrlDecoder().decode(parts[0]));
    assertThat(jose.get("alg").asText()).isEqualTo("ES256");
    assertThat(jose.get("typ").asText()).isEqualTo("JWT");
    JsonNode claims = JSON.readTree(Base64.getUrlDecoder().decode(parts[1]));
    assertThat(claims.get("aud").isTextual()).as("aud is one string, as push services expect: %s", claims).isTrue();
    assertThat(claims.get("aud").asText()).isEqualTo("https://push.example.net");
    assertThat(claims.get("exp").isIntegralNumber()).isTrue();
    assertThat(claims.get("exp").asLong()).isEqualTo(START.plus(Duration.ofHours(12)).getEpochSecond());
    assertThat(claims.get("sub").asText()).isEqualTo("mailto:ops@example.com");
    assertThat(claims.size()).isEqualTo(3);
    // JOSE's R || S form (64 bytes), not DER
    assertThat(Base64.getUrlDecoder().decode(parts[2])).hasSize(64);

    SignedJWT jwt = SignedJWT.parse(m.group(1));
    assertThat(jwt.verify(new ECDSAVerifier(keys.publicKey()))).isTrue();
    assertThat(jwt.verify(new ECDSAVerifier(VapidKeys.generate().publicKey()))).isFalse();
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "https://push.example.net/push/abc, https://push.example.net",
      "https://push.example.net:443/push/abc, https://push.example.net",
      "https://push.example.net:8443/push/abc?x=1#f, https://push.example.net:8443",
      "HTTPS://Push.Example.NET/wpush/v2/abc, https://push.example.net",
      "http://127.0.0.1:41234/push/abc, http://127.0.0.1:41234",
      "http://127.0.0.1:80/push/abc, http://127.0.0.1",
      "https://[::1]:9443/p, https://[::1]:9443",
  })
  void theAudience_isTheEndpointsOrigin(String endpoint, String origin) throws Exception {
    Vapid vapid = new Vapid(VapidKeys.generate(), "https://example.com/contact", new MutableClock(START));
    assertThat(claims(vapid.authorization(URI.create(endpoint))).get("aud").asText()).isEqualTo(origin);
  }

  @ParameterizedTest
  @ValueSource(strings = {"push/abc", "ftp://push.example.net/abc", "mailto:push@example.net", "https:///nohost"})
  void endpointsThatAreNotAbsoluteHttpUrls_areRefused(String endpoint) {
    Vapid vapid = new Vapid(VapidKeys.generate(), "mailto:ops@example.com", new MutableClock(START));
    assertThatThrownBy(() -> vapid.authorization(URI.create(endpoint))).isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "ops@example.com", "http://example.com/contact", "mailto:", "https://", "MAILTO:x@y"})
  void subjectsThatAreNotMailtoOrHttps_areRefused(String subject) {
    assertThatThrownBy(() -> new Vapid(VapidKeys.generate(), subject, Clock.systemUTC()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("mailto:");
  }

  @Test
  void aNullSubject_isRefused() {
    assertThatThrownBy(() -> new Vapid(VapidKeys.generate(), null, Clock.systemUTC()))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theHeader_isCachedPerAudience_andSignedAgainWhenLessThanAnHourRemains() throws Exception {
    MutableClock clock = new MutableClock(START);
    Vapid vapid = new Vapid(VapidKeys.generate(), "mailto:ops@example.com", clock);
    URI a1 = URI.create("https://push.example.net/push/one");
    URI a2 = URI.create("https://push.example.net/push/two");
    URI b = URI.create("https://fcm.example.com/send/three");

    String first = vapid.authorization(a1);
    assertThat(vapid.authorization(a2)).as("same origin, same token").isEqualTo(first);
    String other = vapid.authorization(b);
    assertThat(other).isNotEqualTo(first);
    assertThat(claims(other).get("aud").asText()).isEqualTo("https://fcm.example.com");

    // 10h59m later the token has 1h00m+ left (its exp is in whole seconds): still the same.
    clock.advance(Duration.ofHours(10).plusMinutes(59));
    assertThat(vapid.authorization(a1)).isEqualTo(first);
    // Past 11h (less than an hour left): a new token, valid 12 h from now.
    clock.advance(Duration.ofMinutes(1));
    String renewed = vapid.authorization(a1);
    assertThat(renewed).isNotEqualTo(first);
    assertThat(claims(renewed).get("exp").asLong())
        .isEqualTo(clock.instant().plus(Duration.ofHours(12)).getEpochSecond());
    assertThat(vapid.authorization(a2)).isEqualTo(renewed);
    // The other audience is renewed when it is next asked for, too.
    String otherRenewed = vapid.authorization(b);
    assertThat(otherRenewed).isNotEqualTo(other);
    assertThat(claims(otherRenewed).get("exp").asLong()).isEqualTo(claims(renewed).get("exp").asLong());

    // A clock that jumps far ahead never gets an expired token.
    clock.advance(Duration.ofDays(3));
    assertThat(claims(vapid.authorization(a1)).get("exp").asLong()).isGreaterThan(clock.instant().getEpochSecond());
  }

  @Test
  void concurrentCallers_allGetValidHeaders() throws Exception {
    VapidKeys keys = VapidKeys.generate();
    Vapid vapid = new Vapid(keys, "mailto:ops@example.com", Clock.systemUTC());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<String>> results = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        URI endpoint = URI.create("https://push" + (i % 5) + ".example.net/push/" + i);
        results.add(pool.submit(() -> vapid.authorization(endpoint)));
      }
      Set<String> distinct = new HashSet<>();
      for (Future<String> f : results) {
        String h = f.get();
        Matcher m = HEADER.matcher(h);
        assertThat(m.matches()).isTrue();
        assertThat(SignedJWT.parse(m.group(1)).verify(new ECDSAVerifier(keys.publicKey()))).isTrue();
        distinct.add(h);
      }
      // One per audience, or a few more if two threads signed for the same audience at once.
      assertThat(distinct.size()).isBetween(5, 20);
    } finally {
      pool.shutdownNow();
    }
  }

  private static JsonNode claims(String header) throws Exception {
    Matcher m = HEADER.matcher(header);
    assertThat(m.matches()).as(header).isTrue();
    return JSON.readTree(Base64.getUrlDecoder().decode(m.group(1).split("\\.")[1]));
  }
}
