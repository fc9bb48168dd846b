package io.tidings.server.webpush;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.util.Base64;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** {@link PushSubscriptionKeys#fromJson}: what a browser's PushSubscription.toJSON() gives, and what it refuses. */
class WebPushSubscriptionKeysTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String ENDPOINT = "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV";
  private static final String P256DH = PushEncryptionTest.UA_PUBLIC;
  private static final String AUTH = PushEncryptionTest.AUTH_SECRET;

  @Test
  void aBrowserSubscription_isRead() throws Exception {
    PushSubscriptionKeys k = PushSubscriptionKeys.fromJson(JSON.readTree(
        "{\"endpoint\":\"" + ENDPOINT + "\",\"expirationTime\":null,\"keys\":{\"p256dh\":\"" + P256DH + "\",\"auth\":\""
            + AUTH + "\"}}"));
    assertThat(k.endpoint()).isEqualTo(URI.create(ENDPOINT));
    assertThat(k.p256dh()).isEqualTo(Base64.getUrlDecoder().decode(P256DH));
    assertThat(k.auth()).isEqualTo(Base64.getUrlDecoder().decode(AUTH));
    assertThat(k.toString()).contains(ENDPOINT).doesNotContain(AUTH);
  }

  @Test
  void paddedKeys_andAnExpirationTime_areAccepted_andEqualTheUnpadded() throws Exception {
    PushSubscriptionKeys padded = PushSubscriptionKeys.fromJson(subscription(ENDPOINT, P256DH + "=", AUTH + "==",
        ",\"expirationTime\":1893456000000"));
    PushSubscriptionKeys plain = PushSubscriptionKeys.fromJson(subscription(ENDPOINT, P256DH, AUTH, ""));
    assertThat(padded).isEqualTo(plain).hasSameHashCodeAs(plain);
  }

  @Test
  void theKeys_cannotBeChangedFromOutside() {
    byte[] auth = Base64.getUrlDecoder().decode(AUTH);
    PushSubscriptionKeys k = new PushSubscriptionKeys(URI.create(ENDPOINT), Base64.getUrlDecoder().decode(P256DH), auth);
    auth[0] ^= 1;
    k.auth()[1] ^= 1;
    assertThat(k.auth()).isEqualTo(Base64.getUrlDecoder().decode(AUTH));
  }

  /** What is wrong, the endpoint, p256dh, auth (or "-" to leave a member out), and what the message must say. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', nullValues = "-", value = {
      "endpoint missing            | -                          | " + P256DH + " | " + AUTH + " | endpoint is missing",
      "endpoint relative           | /push/abc                  | " + P256DH + " | " + AUTH + " | absolute https or http URL",
      "endpoint not a URL          | 'https://exa mple.net/p'   | " + P256DH + " | " + AUTH + " | endpoint is not a URL",
      "endpoint not http(s)        | ftp://push.example.net/p   | " + P256DH + " | " + AUTH + " | absolute https or http URL",
      "endpoint a mailto:          | mailto:push@example.net    | " + P256DH + " | " + AUTH + " | absolute https or http URL",
      "endpoint without host       | https:///push/abc          | " + P256DH + " | " + AUTH + " | no host",
      "p256dh missing              | " + ENDPOINT + "           | -              | " + AUTH + " | keys.p256dh is missing",
      "p256dh standard base64      | " + ENDPOINT + "           | BCVxsr7N/eNgVRqvHtD0zTZsEc6+VV+JvLexhqUzORcxaOzi6+AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4 | " + AUTH + " | keys.p256dh is not base64url",
      "p256dh garbage              | " + ENDPOINT + "           | not a key!     | " + AUTH + " | keys.p256dh is not base64url",
      "p256dh 64 bytes             | " + ENDPOINT + "           | JXGyvs3942BVGq8e0PTNNmwRzr5VX4m8t7GGpTM5FzFo7OLr4BhZe9MEebhuPI-OztV3ylkYfpJGmQ22ggCLDg | " + AUTH + " | got 64 bytes",
      "p256dh 66 bytes             | " + ENDPOINT + "           | BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4A | " + AUTH + " | got 66 bytes",
      "p256dh compressed prefix    | " + ENDPOINT + "           | AiVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4 | " + AUTH + " | first byte of 2",
      "p256dh off the curve        | " + ENDPOINT + "           | BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw8 | " + AUTH + " | not a point on the P-256 curve",
      "p256dh x beyond p           | " + ENDPOINT + "           | BP__________________________________________aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4 | " + AUTH + " | not a point on the P-256 curve",
      "auth missing                | " + ENDPOINT + "           | " + P256DH + " | -              | keys.auth is missing",
      "auth 15 bytes               | " + ENDPOINT + "           | " + P256DH + " | BTBZMqHH6r4Tts7J_aSI | 16 bytes, got 15",
      "auth 17 bytes               | " + ENDPOINT + "           | " + P256DH + " | BTBZMqHH6r4Tts7J_aSIggA | 16 bytes, got 17",
      "auth not base64url          | " + ENDPOINT + "           | " + P256DH + " | BTBZMqHH6r4Tts7J/aSIgg | keys.auth is not base64url",
  })
  void invalidSubscriptions_areRefusedSayingWhy(String what, String endpoint, String p256dh, String auth, String message)
      throws Exception {
    JsonNode json = subscription(endpoint, p256dh, auth, "");
    assertThatThrownBy(() -> PushSubscriptionKeys.fromJson(json))
        .as(what)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "null",
      "[]",
      "\"https://push.example.net/p\"",
      "{\"endpoint\":42,\"keys\":{}}",
      "{\"endpoint\":\"" + ENDPOINT + "\"}",
      "{\"endpoint\":\"" + ENDPOINT + "\",\"keys\":\"p256dh\"}",
      "{\"endpoint\":\"" + ENDPOINT + "\",\"keys\":{\"p256dh\":65,\"auth\":\"" + AUTH + "\"}}",
  })
  void jsonOfTheWrongShape_isRefused(String json) throws Exception {
    assertThatThrownBy(() -> PushSubscriptionKeys.fromJson(JSON.readTree(json)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageMatching(".*(JSON object|endpoint|keys).*");
  }

  @Test
  void aMissingNode_isRefused() {
    assertThatThrownBy(() -> PushSubscriptionKeys.fromJson(null)).isInstanceOf(IllegalArgumentException.class);
  }

  private static JsonNode subscription(String endpoint, String p256dh, String auth, String extra) throws Exception {
    StringBuilder keys = new StringBuilder();
    if (p256dh != null) {
      keys.append("\"p256dh\":").append(JSON.writeValueAsString(p256dh));
    }
    if (auth != null) {
      keys.append(keys.length() > 0 ? "," : "").append("\"auth\":").append(JSON.writeValueAsString(auth));
    }
    String e = endpoint == null ? "" : "\"endpoint\":" + JSON.writeValueAsString(endpoint) + ",";
    return JSON.readTree("{" + e + "\"keys\":{" + keys + "}" + extra + "}");
  }
}
