package io.tidings.server.webpush;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import io.tidings.server.testing.NodeScript;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tidings' encryption and VAPID signature against an independent implementation: Java encrypts and
 * signs with {@link PushEncryption} and {@link Vapid} and POSTs with the JDK HttpClient, as the
 * delivery engine will, to {@code webpush-service.mjs}, a fake push service that decrypts with the
 * {@code http_ece} npm package and checks the VAPID header with node:crypto. Tampered bodies and
 * foreign signatures are refused, which shows that the fixture's checks can fail.
 */
class WebPushInteropTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SUBJECT = "mailto:webpush-test@tidings.example";
  private static final VapidKeys KEYS = VapidKeys.generate();

  private static NodeScript service;
  private static URI base;
  private static HttpClient http;

  private final Vapid vapid = new Vapid(KEYS, SUBJECT, Clock.systemUTC());

  @BeforeAll
  static void startTheFakePushService() throws Exception {
    service = NodeScript.start("webpush-service", Duration.ofMinutes(5), Map.of());
    JsonNode ready = service.awaitJson(WAIT);
    assertThat(ready.path("ready").asBoolean()).as("%s", ready).isTrue();
    base = URI.create("http://127.0.0.1:" + ready.get("port").asInt());
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(WAIT).build();
  }

  @AfterAll
  static void stop() {
    if (service != null) {
      service.close();
    }
  }

  /** A push's answer and the line the service printed for it. */
  private record Sent(HttpResponse<String> response, JsonNode line) {}

  @Test
  void aJsonEvent_isDecryptedByHttpEce_andTheVapidCheckPasses() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    String event = "{\"topic\":\"orders/1\",\"cursor\":\"1.42\",\"type\":\"put\",\"key\":\"o-17\",\"data\":{\"total\":12.5},"
        + "\"time\":\"2026-01-02T03:04:05Z\"}";
    Instant before = Instant.now();

    Sent sent = push(sub, event.getBytes(StandardCharsets.UTF_8), headers(sub, "orders/1"));

    assertThat(sent.response().statusCode()).as("%s", sent.line()).isEqualTo(201);
    assertThat(sent.response().headers().firstValue("Location")).get().asString().startsWith(base + "/message/");
    JsonNode line = sent.line();
    assertThat(line.get("ok").asBoolean()).as("%s", line).isTrue();
    assertThat(line.has("error")).isFalse();
    assertThat(line.get("plaintext").asText()).isEqualTo(event);
    assertThat(line.get("ttl").asText()).isEqualTo("3600");
    assertThat(line.get("urgency").asText()).isEqualTo("normal");
    assertThat(line.get("topic").asText()).isEqualTo(PushHeaders.topicHeader("orders/1"));
    assertThat(line.get("contentType").asText()).isEqualTo("application/octet-stream");
    JsonNode claims = line.get("vapid");
    assertThat(claims.get("aud").asText()).isEqualTo(base.toString());
    assertThat(claims.get("sub").asText()).isEqualTo(SUBJECT);
    assertThat(claims.get("exp").asLong()).isBetween(before.plus(Duration.ofHours(12)).getEpochSecond() - 1,
        Instant.now().plus(Duration.ofHours(12)).getEpochSecond());

    JsonNode recorded = get("/messages/" + id(sub));
    assertThat(recorded).hasSize(1);
    assertThat(recorded.get(0)).isEqualTo(line);
  }

  @Test
  void unicodePlaintext_roundTrips() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    String text = "{\"data\":\"Grüße, 世界! 🍉 e\u0301 שלום \\u0000 \uD83D\uDC69\u200D\uD83D\uDCBB\"}";

    Sent sent = push(sub, text.getBytes(StandardCharsets.UTF_8), headers(sub, "unicode/トピック"));

    assertThat(sent.line().get("ok").asBoolean()).as("%s", sent.line()).isTrue();
    assertThat(sent.line().get("plaintext").asText()).isEqualTo(text);
  }

  @Test
  void maxPlaintext_roundTripsInA4096ByteBody() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    StringBuilder ascii = new StringBuilder();
    while (ascii.length() < PushEncryption.MAX_PLAINTEXT) {
      ascii.append((char) ('a' + ascii.length() % 26));
    }
    String threeByteChars = "世".repeat(PushEncryption.MAX_PLAINTEXT / 3); // 1331 × 3 bytes = 3993
    for (String text : new String[] {ascii.toString(), threeByteChars}) {
      byte[] plaintext = text.getBytes(StandardCharsets.UTF_8);
      assertThat(plaintext).hasSize(PushEncryption.MAX_PLAINTEXT);

      Sent sent = push(sub, plaintext, headers(sub, "big"));

      assertThat(sent.line().get("bytes").asInt()).isEqualTo(4096);
      assertThat(sent.response().statusCode()).as("%s", sent.line()).isEqualTo(201);
      assertThat(sent.line().get("plaintext").asText()).isEqualTo(text);
    }
  }

  @Test
  void aTamperedBody_isRefused() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    byte[] good = PushEncryption.encrypt("attack at dawn".getBytes(StandardCharsets.UTF_8), sub);
    // a ciphertext byte, the tag's last byte, a salt byte, the sender's key
    for (int at : new int[] {90, good.length - 1, 3, 40}) {
      byte[] body = good.clone();
      body[at] ^= 0x01;

      Sent sent = send(sub, body, headers(sub, "t"));

      assertThat(sent.response().statusCode()).as("byte %d flipped: %s", at, sent.line()).isEqualTo(400);
      assertThat(sent.line().get("ok").asBoolean()).isFalse();
      assertThat(sent.line().get("error").asText()).startsWith("cannot decrypt").doesNotContain("VAPID");
      assertThat(sent.line().get("plaintext").isNull()).isTrue();
    }
    assertThat(send(sub, good, headers(sub, "t")).response().statusCode()).isEqualTo(201);
  }

  @Test
  void aJwtSignedByAnotherKey_isRefused() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    String foreign = new Vapid(VapidKeys.generate(), SUBJECT, Clock.systemUTC()).authorization(sub.endpoint());
    // Someone else's token presented with our key
    String forged = foreign.replaceFirst("k=[A-Za-z0-9_-]+$", "k=" + KEYS.publicKeyBase64Url());
    Map<String, String> h = headers(sub, "t");
    h.put("Authorization", forged);

    Sent sent = push(sub, "hello".getBytes(StandardCharsets.UTF_8), h);

    assertThat(sent.response().statusCode()).isEqualTo(400);
    assertThat(sent.line().get("error").asText()).isEqualTo("VAPID: the JWT signature does not verify with k");
    assertThat(sent.line().get("plaintext").asText()).as("only the signature failed").isEqualTo("hello");
  }

  @Test
  void aSubscriptionMadeForOurKey_refusesAnotherSelfConsistentKey() throws Exception {
    PushSubscriptionKeys sub = subscribe(KEYS.publicKeyBase64Url());
    Map<String, String> h = headers(sub, "t");
    h.put("Authorization", new Vapid(VapidKeys.generate(), SUBJECT, Clock.systemUTC()).authorization(sub.endpoint()));

    Sent refused = push(sub, "hi".getBytes(StandardCharsets.UTF_8), h);
    assertThat(refused.response().statusCode()).isEqualTo(400);
    assertThat(refused.line().get("error").asText()).contains("applicationServerKey");

    Sent accepted = push(sub, "hi".getBytes(StandardCharsets.UTF_8), headers(sub, "t"));
    assertThat(accepted.response().statusCode()).as("%s", accepted.line()).isEqualTo(201);
  }

  @Test
  void theFixture_refusesAWrongAudienceAnExpiredOrTooLongTokenAndAMissingSubject() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    Instant now = Instant.now();
    Map<String, String> cases = new LinkedHashMap<>();
    cases.put("aud must be the endpoint's origin",
        vapid.authorization(URI.create("http://localhost:" + base.getPort() + "/push/x")));
    cases.put("the JWT has expired",
        new Vapid(KEYS, SUBJECT, Clock.offset(Clock.systemUTC(), Duration.ofHours(-13))).authorization(sub.endpoint()));
    cases.put("exp is more than 24 hours ahead", signed(base.toString(), now.plus(Duration.ofHours(25)), SUBJECT));
    cases.put("sub must be a mailto: or https: URI", signed(base.toString(), now.plus(Duration.ofHours(1)), null));
    cases.put("sub must be a mailto: or https: URI, got \"http:", signed(base.toString(), now.plus(Duration.ofHours(1)),
        "http://example.com"));
    for (Map.Entry<String, String> c : cases.entrySet()) {
      Map<String, String> h = headers(sub, "t");
      h.put("Authorization", c.getValue());

      Sent sent = push(sub, "x".getBytes(StandardCharsets.UTF_8), h);

      assertThat(sent.response().statusCode()).as(c.getKey()).isEqualTo(400);
      assertThat(sent.line().get("error").asText()).as(c.getKey()).contains("VAPID: " + c.getKey());
    }
    // and the same token made right passes
    Map<String, String> h = headers(sub, "t");
    h.put("Authorization", signed(base.toString(), now.plus(Duration.ofHours(23)), "https://tidings.example/contact"));
    assertThat(push(sub, "x".getBytes(StandardCharsets.UTF_8), h).response().statusCode()).isEqualTo(201);
  }

  @Test
  void theFixture_refusesAMissingTtlAndAnotherContentEncoding() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    byte[] body = PushEncryption.encrypt("x".getBytes(StandardCharsets.UTF_8), sub);
    Map<String, String> noTtl = headers(sub, "t");
    noTtl.remove("TTL");
    Map<String, String> aesgcm = headers(sub, "t");
    aesgcm.put("Content-Encoding", "aesgcm");
    Map<String, String> badTopic = headers(sub, "t");
    badTopic.put("Topic", "orders/1");

    assertThat(send(sub, body, noTtl).line().get("error").asText()).startsWith("TTL must be");
    assertThat(send(sub, body, aesgcm).line().get("error").asText()).startsWith("Content-Encoding must be exactly aes128gcm");
    assertThat(send(sub, body, badTopic).line().get("error").asText()).startsWith("Topic must be");
  }

  @Test
  void controlledAnswers_goneRetryAfterAndTooLarge() throws Exception {
    PushSubscriptionKeys sub = subscribe(null);
    byte[] small = "small".getBytes(StandardCharsets.UTF_8);

    control(sub, "{\"status\":410,\"times\":1}");
    Sent gone = push(sub, small, headers(sub, "t"));
    assertThat(gone.response().statusCode()).isEqualTo(410);
    assertThat(gone.line().get("answered").asInt()).isEqualTo(410);
    assertThat(gone.line().get("ok").asBoolean()).as("the push itself was fine").isTrue();
    assertThat(push(sub, small, headers(sub, "t")).response().statusCode()).as("only once").isEqualTo(201);

    control(sub, "{\"status\":429,\"retryAfter\":30}");
    for (int i = 0; i < 2; i++) {
      Sent busy = push(sub, small, headers(sub, "t"));
      assertThat(busy.response().statusCode()).isEqualTo(429);
      assertThat(busy.response().headers().firstValue("Retry-After")).hasValue("30");
    }
    control(sub, "{}");
    assertThat(push(sub, small, headers(sub, "t")).response().statusCode()).isEqualTo(201);

    control(sub, "{\"status\":413,\"overBytes\":200}");
    assertThat(push(sub, small, headers(sub, "t")).response().statusCode()).isEqualTo(201);
    assertThat(push(sub, new byte[300], headers(sub, "t")).response().statusCode()).isEqualTo(413);

    // Without a control, bodies over the 4096 bytes every push service takes are refused with 413.
    control(sub, "{}");
    Sent oversized = send(sub, new byte[4097], headers(sub, "t"));
    assertThat(oversized.response().statusCode()).isEqualTo(413);
    assertThat(oversized.line().get("answered").asInt()).isEqualTo(413);

    Sent unknown = send(new PushSubscriptionKeys(URI.create(base + "/push/nobody"), sub.p256dh(), sub.auth()), small,
        headers(sub, "t"));
    assertThat(unknown.response().statusCode()).isEqualTo(404);
  }

  /** A new subscription at the fake push service, read as Tidings will read a browser's. */
  private static PushSubscriptionKeys subscribe(String applicationServerKey) throws Exception {
    String body = applicationServerKey == null ? "" : "{\"applicationServerKey\":\"" + applicationServerKey + "\"}";
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/subscriptions/new"))
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonNode json = JSON.readTree(r.body());
    assertThat(json.has("expirationTime")).isTrue();
    return PushSubscriptionKeys.fromJson(json);
  }

  /** The headers the delivery engine sends. */
  private Map<String, String> headers(PushSubscriptionKeys sub, String topic) {
    Map<String, String> h = new LinkedHashMap<>();
    h.put("Content-Encoding", "aes128gcm");
    h.put("Content-Type", "application/octet-stream");
    h.put("TTL", "3600");
    h.put("Urgency", PushHeaders.Urgency.NORMAL.headerValue());
    h.put("Topic", PushHeaders.topicHeader(topic));
    h.put("Authorization", vapid.authorization(sub.endpoint()));
    return h;
  }

  /** Encrypts {@code plaintext} for {@code sub} and sends it. */
  private static Sent push(PushSubscriptionKeys sub, byte[] plaintext, Map<String, String> headers) throws Exception {
    return send(sub, PushEncryption.encrypt(plaintext, sub), headers);
  }

  private static Sent send(PushSubscriptionKeys sub, byte[] body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(sub.endpoint()).timeout(WAIT).POST(HttpRequest.BodyPublishers.ofByteArray(body));
    headers.forEach(b::header);
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode line = service.awaitJson(WAIT);
    assertThat(line.get("push").asText()).as("the line is about this push: %s", line).isEqualTo(id(sub));
    assertThat(line.get("answered").asInt()).isEqualTo(r.statusCode());
    return new Sent(r, line);
  }

  private static void control(PushSubscriptionKeys sub, String json) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/control/" + id(sub)))
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  private static JsonNode get(String path) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve(path)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static String id(PushSubscriptionKeys sub) {
    String path = sub.endpoint().getPath();
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** A VAPID header with claims of our choosing, signed with our key: for the checks {@link Vapid} never fails. */
  private static String signed(String aud, Instant exp, String sub) throws Exception {
    JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder().audience(aud).expirationTime(Date.from(exp));
    if (sub != null) {
      claims.subject(sub);
    }
    SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.ES256).type(JOSEObjectType.JWT).build(), claims.build());
    jwt.sign(new ECDSASigner(KEYS.privateKey()));
    return "vapid t=" + jwt.serialize() + ", k=" + KEYS.publicKeyBase64Url();
  }
}
