package io.tidings.server.webhooks;

import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Webhooks against a real server and a real receiver that checks every request with the official
 * {@code standardwebhooks} package: signatures (and across a secret rotation), order without gaps
 * while an endpoint fails half the time, 410 disabling, redirects, Retry-After, and a {@code kill -9}.
 */
class WebhookDeliveryTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String CONFIG = """
      webhooks:
        allow_targets: ["127.0.0.1/32"]
        retry_schedule: [0s, 50ms, 100ms]
        retry_jitter: 0
      """;

  private static Receiver receiver;
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    receiver = new Receiver();
    server = TidingsProcess.builder().name("webhooks").data(Files.createTempDirectory("tidings-wh-")).config(CONFIG)
        .start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
    if (receiver != null) {
      receiver.close();
    }
  }

  static JsonNode create(Http on, String url, String topics, String extra) {
    Http.Reply r = on.post("/v1/webhooks", "application/json",
        "{\"url\":\"" + url + "\",\"topics\":" + topics + (extra.isEmpty() ? "" : "," + extra) + "}");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    return r.json();
  }

  /** The events of the 2xx-answered requests, in arrival order: [topic, offset, type, cursor]. */
  static List<JsonNode> delivered(List<Receiver.Request> requests) {
    List<JsonNode> out = new ArrayList<>();
    for (Receiver.Request r : requests) {
      if (r.answered() / 100 == 2) {
        r.line().path("events").forEach(out::add);
      }
    }
    return out;
  }

  @Test
  void everyRequestVerifiesWithStandardWebhooks_alsoDuringAndAfterASecretRotation() throws Exception {
    JsonNode ep = create(http, receiver.url("sig"), "[\"wh/sig\"]", "\"since\":\"earliest\"");
    String first = ep.path("secret").asText();
    assertThat(first).startsWith("whsec_");
    assertThat(java.util.Base64.getDecoder().decode(first.substring(6))).hasSize(32);
    receiver.control("sig", "{\"secrets\":[\"" + first + "\"]}");
    http.publishMessages("wh/sig", 3);
    List<Receiver.Request> got = receiver.await("sig", WAIT, l -> delivered(l).size() >= 3);
    Receiver.Request req = got.get(0);
    assertThat(req.verified()).as("%s", req.line()).isTrue();
    assertThat(req.line().path("id").asText()).startsWith("msg_");
    assertThat(req.line().path("contentType").asText()).isEqualTo("application/json");
    assertThat(req.line().path("userAgent").asText()).startsWith("Tidings/");
    assertThat(Math.abs(Long.parseLong(req.line().path("timestamp").asText()) - System.currentTimeMillis() / 1000))
        .isLessThan(60);
    assertThat(delivered(got)).extracting(e -> e.get(1).asLong()).containsExactly(1L, 2L, 3L);

    JsonNode rotated = http.post("/v1/webhooks/" + ep.path("id").asText() + "/rotate-secret", "application/json", "")
        .json();
    String second = rotated.path("secret").asText();
    assertThat(second).startsWith("whsec_").isNotEqualTo(first);
    // A receiver that already switched to the new secret, and one that still has the old: both verify.
    receiver.control("sig", "{\"secrets\":[\"" + second + "\"]}");
    http.publishMessages("wh/sig", 1);
    receiver.control("sig", "{\"secrets\":[\"" + first + "\"]}");
    http.publishMessages("wh/sig", 1);
    got = receiver.await("sig", WAIT, l -> delivered(l).size() >= 5);
    assertThat(delivered(got)).extracting(e -> e.get(1).asLong()).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(got).allSatisfy(r -> assertThat(r.verified()).as("%s", r.line()).isTrue());
    // A secret the endpoint never had does not verify: the receiver's check can fail.
    receiver.control("sig", "{\"secrets\":[\"whsec_" + java.util.Base64.getEncoder().encodeToString(new byte[32])
        + "\"]}");
    http.publishMessages("wh/sig", 1);
    got = receiver.await("sig", WAIT, l -> delivered(l).size() >= 6);
    assertThat(got.get(got.size() - 1).verified()).isFalse();
  }

  @Test
  void tenThousandEventsToThreeEndpoints_oneFailingHalfTheTime_allArriveInOrderWithoutGaps() throws Exception {
    List<String> hooks = List.of("order-a", "order-b", "order-c");
    for (String h : hooks) {
      create(http, receiver.url(h), "[\"order/**\"]", "\"since\":\"now\"");
    }
    receiver.control("order-b", "{\"status\":500,\"failEvery\":2}");
    int perTopic = 5_000;
    for (int sent = 0; sent < perTopic; sent += 500) {
      for (String topic : List.of("order/x", "order/y")) {
        http.publishMessages(topic, 500);
      }
    }
    for (String h : hooks) {
      List<Receiver.Request> got = receiver.await(h, Duration.ofMinutes(3), l -> delivered(l).size() >= 2 * perTopic);
      Map<String, List<Long>> offsets = new HashMap<>();
      for (JsonNode e : delivered(got)) {
        offsets.computeIfAbsent(e.get(0).asText(), t -> new ArrayList<>()).add(e.get(1).asLong());
      }
      for (String topic : List.of("order/x", "order/y")) {
        List<Long> expected = new ArrayList<>();
        for (long i = 1; i <= perTopic; i++) {
          expected.add(i);
        }
        assertThat(offsets.get(topic)).as("%s %s", h, topic).isEqualTo(expected);
      }
      if (h.equals("order-b")) {
        assertThat(got.stream().filter(r -> r.answered() == 500)).as("failed attempts").isNotEmpty();
        // A retried message keeps its id: each failed id comes back and is then delivered.
        Set<String> failed = new HashSet<>();
        Set<String> ok = new HashSet<>();
        for (Receiver.Request r : got) {
          (r.answered() == 500 ? failed : ok).add(r.line().path("id").asText());
        }
        assertThat(ok).containsAll(failed);
      }
    }
  }

  @Test
  void a410DisablesTheEndpoint_enableResumesFromItsCursor() throws Exception {
    JsonNode ep = create(http, receiver.url("gone"), "[\"wh/gone\"]", "");
    String id = ep.path("id").asText();
    http.publishMessages("wh/gone", 2);
    receiver.await("gone", WAIT, l -> delivered(l).size() >= 2);
    receiver.control("gone", "{\"status\":410}");
    http.publishMessages("wh/gone", 1);
    receiver.await("gone", WAIT, l -> l.stream().anyMatch(r -> r.answered() == 410));
    JsonNode disabled = awaitEndpoint(id, e -> !e.path("enabled").asBoolean());
    assertThat(disabled.path("disabled_reason").asText()).isEqualTo("gone");
    int before = receiver.requests("gone").size();
    http.publishMessages("wh/gone", 2);
    Thread.sleep(500);
    assertThat(receiver.requests("gone")).as("nothing goes to a disabled endpoint").hasSize(before);

    receiver.control("gone", "{\"status\":0}");
    JsonNode enabled = http.post("/v1/webhooks/" + id + "/enable", "application/json", "").json();
    assertThat(enabled.path("enabled").asBoolean()).isTrue();
    List<Receiver.Request> got = receiver.await("gone", WAIT, l -> delivered(l).size() >= 5);
    assertThat(delivered(got)).extracting(e -> e.get(1).asLong()).containsExactly(1L, 2L, 3L, 4L, 5L);
    JsonNode deliveries = http.getOk("/v1/webhooks/" + id + "/deliveries");
    assertThat(deliveries.path("deliveries").get(0).path("result").asText()).isEqualTo("delivered");
    assertThat(deliveries.path("deliveries").findValuesAsText("result")).contains("gone");
  }

  @Test
  void redirectsAreNotFollowed_andRetryAfterIsHonoured() throws Exception {
    create(http, receiver.url("redirect"), "[\"wh/redirect\"]", "");
    receiver.control("redirect", "{\"redirect\":\"" + receiver.url("elsewhere") + "\",\"times\":2}");
    http.publishMessages("wh/redirect", 1);
    List<Receiver.Request> got = receiver.await("redirect", WAIT, l -> delivered(l).size() >= 1);
    assertThat(got).extracting(Receiver.Request::answered).containsExactly(307, 307, 204);
    assertThat(receiver.requests("elsewhere")).as("the redirect target").isEmpty();

    create(http, receiver.url("later"), "[\"wh/later\"]", "");
    receiver.control("later", "{\"status\":503,\"retryAfter\":2,\"times\":1}");
    http.publishMessages("wh/later", 1);
    got = receiver.await("later", WAIT, l -> delivered(l).size() >= 1);
    assertThat(got).hasSize(2);
    assertThat(Duration.ofNanos(got.get(1).arrivedNanos() - got.get(0).arrivedNanos()))
        .as("the schedule says 50 ms; Retry-After says 2 s").isGreaterThan(Duration.ofMillis(1800));
  }

  @Test
  void theApiRefusesBadInputAndUnsafeTargets_changingNothing() throws Exception {
    try (TidingsProcess strict = TidingsProcess.builder().name("webhooks-strict").memory().start()) {
      Http h = new Http(strict);
      for (String url : List.of("http://0x7f.1/", "http://2130706433/", "http://127.1/", "http://[::ffff:127.0.0.1]/",
          "http://169.254.169.254/latest/meta-data", "https://169.254.169.254/", "https://[::1]/", "https://10.1.2.3/",
          "https://localhost/hook", "http://example.com/", "ftp://example.com/", "https://user:pw@example.com/",
          "not a url", receiver.url("x"))) {
        Http.Reply r = h.post("/v1/webhooks", "application/json",
            "{\"url\":" + Http.JSON.writeValueAsString(url) + ",\"topics\":[\"a\"]}");
        assertError(r, 400, "invalid_url");
      }
      for (String body : List.of("", "[]", "{\"url\":\"https://example.com\"}", "{\"topics\":[\"a\"]}",
          "{\"url\":\"https://example.com\",\"topics\":[]}", "{\"url\":\"https://example.com\",\"topics\":[\"a//b\"]}",
          "{\"url\":\"https://example.com\",\"topics\":[\"a\"],\"mode\":\"loud\"}",
          "{\"url\":\"https://example.com\",\"topics\":[\"a\"],\"batch\":{\"max_events\":0}}",
          "{\"url\":\"https://example.com\",\"topics\":[\"a/*\"],\"since\":\"abcdefghij.3\"}",
          "{\"url\":\"https://example.com\",\"topics\":[\"a\"],\"colour\":1}")) {
        Http.Reply r = h.post("/v1/webhooks", "application/json", body);
        assertThat(r.status()).as("%s -> %s", body, r).isEqualTo(400);
      }
      assertThat(h.getOk("/v1/webhooks").path("endpoints")).isEmpty();
      assertError(h.get("/v1/webhooks/ep_nope"), 404, "not_found");
      assertError(h.method("DELETE", "/v1/webhooks/ep_nope", null), 404, "not_found");
      assertThat(h.method("PUT", "/v1/webhooks", "{}", "Content-Type", "application/json").status()).isEqualTo(405);
    }
  }

  @Test
  void deliveryResumesAfterKillMinus9_withNothingLost() throws Exception {
    Path data = Files.createTempDirectory("tidings-wh-kill-");
    TidingsProcess first = TidingsProcess.builder().name("webhooks-kill-1").data(data).config(CONFIG).start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    try {
      Http h = new Http(first);
      create(h, receiver.url("kill"), "[\"kill/t\"]", "\"batch\":{\"max_events\":5}");
      for (int i = 0; i < 10; i++) {
        h.publishMessages("kill/t", 200);
      }
      receiver.await("kill", WAIT, l -> delivered(l).size() >= 50);
      first.kill();
      second = TidingsProcess.builder().name("webhooks-kill-2").data(data).port(port).config(CONFIG).start();
      new Http(second).publishMessages("kill/t", 100);
      List<Receiver.Request> got = receiver.await("kill", Duration.ofMinutes(3),
          l -> delivered(l).stream().map(e -> e.get(1).asLong()).distinct().count() >= 2100);
      Map<String, List<Long>> byId = new HashMap<>();
      List<Long> last = new ArrayList<>();
      for (Receiver.Request r : got) {
        List<Long> offs = new ArrayList<>();
        r.line().path("events").forEach(e -> offs.add(e.get(1).asLong()));
        List<Long> previous = byId.putIfAbsent(r.line().path("id").asText(), offs);
        assertThat(previous == null || previous.equals(offs)).as("a resent id carries the same events").isTrue();
        last.addAll(offs);
      }
      Set<Long> all = new HashSet<>(last);
      for (long i = 1; i <= 2100; i++) {
        assertThat(all).as("offset %d", i).contains(i);
      }
    } finally {
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  private static JsonNode awaitEndpoint(String id, java.util.function.Predicate<JsonNode> done) throws Exception {
    long end = System.nanoTime() + WAIT.toNanos();
    while (true) {
      JsonNode e = http.getOk("/v1/webhooks/" + enc(id));
      if (done.test(e)) {
        return e;
      }
      if (System.nanoTime() > end) {
        throw new AssertionError("endpoint never reached the state: " + e);
      }
      Thread.sleep(50);
    }
  }
}
