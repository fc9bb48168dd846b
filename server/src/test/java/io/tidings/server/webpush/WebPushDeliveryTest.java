package io.tidings.server.webpush;

import static io.tidings.server.testing.Contract.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import java.net.URI;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Web Push end to end: a real server delivers to the fake push service, which decrypts every
 * message with {@code http_ece} and checks the VAPID token against the key the server publishes,
 * exactly as a browser's push service would.
 */
class WebPushDeliveryTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String CONFIG = """
      webhooks:
        allow_targets: ["127.0.0.1/32"]
        retry_schedule: [0s, 50ms, 100ms]
      webpush:
        subject: "mailto:ops@tidings.example"
        ttl: 1h
        urgency: high
      """;

  private static NodeScript service;
  private static Http pushService;
  private static TidingsProcess server;
  private static Http http;
  private static String vapidKey;

  @BeforeAll
  static void start() throws Exception {
    service = NodeScript.start("webpush-service", Duration.ofMinutes(10), java.util.Map.of());
    int port = service.awaitJson(Duration.ofSeconds(30)).path("port").asInt();
    pushService = new Http(URI.create("http://127.0.0.1:" + port));
    server = TidingsProcess.builder().name("webpush").data(Files.createTempDirectory("tidings-wp-")).config(CONFIG)
        .start();
    http = new Http(server);
    Http.Reply key = http.get("/v1/webpush/vapid-public-key");
    assertThat(key.status()).isEqualTo(200);
    vapidKey = key.json().path("public_key").asText();
    assertThat(java.util.Base64.getUrlDecoder().decode(vapidKey)).hasSize(65);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (service != null) {
      service.close();
    }
  }

  /** A browser subscription tied to the server's VAPID key, as pushManager.subscribe makes it. */
  private static JsonNode browserSubscription() {
    Http.Reply r = pushService.post("/subscriptions/new", "application/json",
        "{\"applicationServerKey\":\"" + vapidKey + "\"}");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    return r.json();
  }

  private static String pushId(JsonNode browser) {
    String endpoint = browser.path("endpoint").asText();
    return endpoint.substring(endpoint.lastIndexOf('/') + 1);
  }

  private static String register(JsonNode browser, String topics, String mode) {
    Http.Reply r = http.post("/v1/webpush/subscriptions", "application/json",
        "{\"subscription\":" + browser + ",\"topics\":" + topics + ",\"mode\":\"" + mode + "\"}");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    return r.json().path("id").asText();
  }

  private static List<JsonNode> messages(String pushId, int atLeast) throws InterruptedException {
    long end = System.nanoTime() + WAIT.toNanos();
    while (true) {
      List<JsonNode> out = new ArrayList<>();
      pushService.getOk("/messages/" + pushId).forEach(out::add);
      if (out.size() >= atLeast) {
        return out;
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("push service got " + out.size() + " messages for " + pushId + ", wanted " + atLeast
            + ": " + out + "\nserver: " + String.join("\n", server.output()));
      }
      Thread.sleep(50);
    }
  }

  @Test
  void eachEventArrivesEncrypted_withAValidVapidToken_ttlUrgencyAndATopicPerTopic() throws Exception {
    JsonNode browser = browserSubscription();
    register(browser, "[\"wp/full\"]", "full");
    http.publishOk("wp/full", "[{\"type\":\"price\",\"key\":\"eur\",\"data\":{\"v\":1.08,\"note\":\"€ ✓\"}},"
        + "{\"data\":{\"n\":2}}]");
    List<JsonNode> got = messages(pushId(browser), 2);
    for (JsonNode m : got) {
      assertThat(m.path("ok").asBoolean()).as("%s", m).isTrue();
      assertThat(m.path("answered").asInt()).isEqualTo(201);
      assertThat(m.path("ttl").asText()).isEqualTo("3600");
      assertThat(m.path("urgency").asText()).isEqualTo("high");
      assertThat(m.path("topic").asText()).isEqualTo(PushHeaders.topicHeader("wp/full"));
      assertThat(m.path("vapid").path("sub").asText()).isEqualTo("mailto:ops@tidings.example");
      assertThat(m.path("vapid").path("aud").asText()).isEqualTo(browser.path("endpoint").asText()
          .replaceAll("^(https?://[^/]+).*$", "$1"));
    }
    JsonNode first = Http.JSON.readTree(got.get(0).path("plaintext").asText());
    assertThat(first.path("topic").asText()).isEqualTo("wp/full");
    assertThat(first.path("offset").asLong()).isEqualTo(1);
    assertThat(first.path("type").asText()).isEqualTo("price");
    assertThat(first.path("data").path("note").asText()).isEqualTo("€ ✓");
    JsonNode second = Http.JSON.readTree(got.get(1).path("plaintext").asText());
    assertThat(second.path("offset").asLong()).isEqualTo(2);
    // The same cursor as every other transport gives for that event.
    JsonNode changes = http.getOk("/v1/changes?topic=wp%2Ffull&since=earliest");
    assertThat(second.path("cursor").asText()).isEqualTo(changes.path("events").get(1).path("cursor").asText());
  }

  @Test
  void notifyModeFoldsWaitingEventsIntoOneMessage_andATooLargeEventGoesAsANotify() throws Exception {
    JsonNode browser = browserSubscription();
    register(browser, "[\"wp/notify/*\"]", "notify");
    http.publishMessages("wp/notify/a", 50);
    List<JsonNode> got = messages(pushId(browser), 1);
    JsonNode last = Http.JSON.readTree(messages(pushId(browser), 1).get(got.size() - 1).path("plaintext").asText());
    assertThat(last.path("notify").asBoolean()).isTrue();
    assertThat(last.has("data")).isFalse();
    // However they were folded, the last message names the head.
    long end = System.nanoTime() + WAIT.toNanos();
    String head = http.getOk("/v1/changes?topic=wp%2Fnotify%2Fa&since=now").path("cursor").asText();
    while (!last.path("cursor").asText().equals(head) && System.nanoTime() < end) {
      List<JsonNode> all = messages(pushId(browser), 1);
      last = Http.JSON.readTree(all.get(all.size() - 1).path("plaintext").asText());
      Thread.sleep(50);
    }
    assertThat(last.path("cursor").asText()).isEqualTo(head);
    assertThat(messages(pushId(browser), 1).size()).as("50 events, fewer messages").isLessThan(50);

    JsonNode full = browserSubscription();
    register(full, "[\"wp/big\"]", "full");
    String big = "x".repeat(5000);
    http.publishOk("wp/big", "{\"data\":{\"s\":\"" + big + "\"}}");
    JsonNode m = messages(pushId(full), 1).get(0);
    assertThat(m.path("ok").asBoolean()).isTrue();
    JsonNode payload = Http.JSON.readTree(m.path("plaintext").asText());
    assertThat(payload.path("notify").asBoolean()).isTrue();
    assertThat(payload.path("offset").isMissingNode()).isTrue();
    assertThat(payload.path("cursor").asText()).endsWith(".1");
  }

  @Test
  void a413IsSentAgainAsANotify_andA410RemovesTheSubscription() throws Exception {
    JsonNode browser = browserSubscription();
    String id = register(browser, "[\"wp/gone\"]", "full");
    pushService.post("/control/" + pushId(browser), "application/json", "{\"status\":413,\"times\":1}");
    http.publishOk("wp/gone", "{\"data\":{\"n\":1}}");
    List<JsonNode> got = messages(pushId(browser), 2);
    assertThat(got.get(0).path("answered").asInt()).isEqualTo(413);
    JsonNode resent = Http.JSON.readTree(got.get(1).path("plaintext").asText());
    assertThat(resent.path("notify").asBoolean()).isTrue();
    assertThat(got.get(1).path("answered").asInt()).isEqualTo(201);

    pushService.post("/control/" + pushId(browser), "application/json", "{\"status\":410}");
    http.publishOk("wp/gone", "{\"data\":{\"n\":2}}");
    messages(pushId(browser), 3);
    long end = System.nanoTime() + WAIT.toNanos();
    Http.Reply delete;
    do {
      Thread.sleep(50);
      delete = http.method("DELETE", "/v1/webpush/subscriptions/" + id, null);
    } while (delete.status() != 404 && System.nanoTime() < end);
    assertError(delete, 404, "not_found");
    http.publishOk("wp/gone", "{\"data\":{\"n\":3}}");
    Thread.sleep(500);
    assertThat(messages(pushId(browser), 3)).as("nothing more after 410").hasSize(3);
  }

  @Test
  void registeringChecksTheSubscription_theSameEndpointTwiceIsOneSubscription_andDeleteWorks() throws Exception {
    JsonNode browser = browserSubscription();
    for (String body : List.of("{}", "{\"topics\":[\"a\"]}", "{\"subscription\":{},\"topics\":[\"a\"]}",
        "{\"subscription\":{\"endpoint\":\"https://push.example/x\",\"keys\":{\"p256dh\":\"AAAA\",\"auth\":\"AAAA\"}},"
            + "\"topics\":[\"a\"]}",
        "{\"subscription\":" + browser + ",\"topics\":[]}",
        "{\"subscription\":" + browser + ",\"topics\":[\"a\"],\"mode\":\"loud\"}")) {
      Http.Reply r = http.post("/v1/webpush/subscriptions", "application/json", body);
      assertThat(r.status()).as("%s -> %s", body, r).isEqualTo(400);
    }
    String local = browser.toString().replace("127.0.0.1", "10.0.0.1");
    assertError(http.post("/v1/webpush/subscriptions", "application/json",
        "{\"subscription\":" + local + ",\"topics\":[\"a\"]}"), 400, "invalid_subscription");

    String id = register(browser, "[\"wp/twice\"]", "full");
    Http.Reply again = http.post("/v1/webpush/subscriptions", "application/json",
        "{\"subscription\":" + browser + ",\"topics\":[\"wp/twice\",\"wp/other\"]}");
    assertThat(again.status()).isEqualTo(200);
    assertThat(again.json().path("id").asText()).isEqualTo(id);
    assertThat(http.method("DELETE", "/v1/webpush/subscriptions/" + id, null).status()).isEqualTo(204);
    assertError(http.method("DELETE", "/v1/webpush/subscriptions/" + id, null), 404, "not_found");
    http.publishOk("wp/twice", "{\"data\":1}");
    Thread.sleep(300);
    assertThat(pushService.getOk("/messages/" + pushId(browser))).isEmpty();
  }

  @Test
  void theVapidKeyIsMadeOnceAndKeptInTheStore() throws Exception {
    java.nio.file.Path data = Files.createTempDirectory("tidings-wp-key-");
    String first;
    try (TidingsProcess one = TidingsProcess.builder().name("webpush-key-1").data(data).start()) {
      first = new Http(one).getOk("/v1/webpush/vapid-public-key").path("public_key").asText();
    }
    try (TidingsProcess two = TidingsProcess.builder().name("webpush-key-2").data(data).start()) {
      assertThat(new Http(two).getOk("/v1/webpush/vapid-public-key").path("public_key").asText()).isEqualTo(first);
    }
    try (TidingsProcess other = TidingsProcess.builder().name("webpush-key-3")
        .data(Files.createTempDirectory("tidings-wp-key-")).start()) {
      assertThat(new Http(other).getOk("/v1/webpush/vapid-public-key").path("public_key").asText())
          .as("another store, another key").isNotEqualTo(first);
    }
  }
}
