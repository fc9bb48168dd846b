package io.tidings.server.webhooks;

import static io.tidings.server.testing.Contract.assertError;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Who may manage webhooks and what they see, and the routes that steer an endpoint: the
 * {@code webhooks} grant, ownership, topics limited to the owner's grants, PATCH, replay and a
 * cursor as the starting point.
 */
class WebhooksApiTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String ADMIN = "tk_admin_0123456789";
  private static final String TEAM = "tk_team_0123456789";
  private static final String OTHER = "tk_other_0123456789";
  private static final String READER = "tk_reader_0123456789";

  private static Receiver receiver;
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    receiver = new Receiver();
    String config = "webhooks: { allow_targets: [\"127.0.0.1/32\"] }\n"
        + "auth:\n  api_keys:\n"
        + "    - { name: admin, sha256: " + Tokens.sha256Hex(ADMIN) + ", admin: true, publish: [\"**\"] }\n"
        + "    - { name: team, sha256: " + Tokens.sha256Hex(TEAM) + ", webhooks: true, subscribe: [\"team/**\"] }\n"
        + "    - { name: other, sha256: " + Tokens.sha256Hex(OTHER) + ", webhooks: true, subscribe: [\"**\"] }\n"
        + "    - { name: reader, sha256: " + Tokens.sha256Hex(READER) + ", subscribe: [\"**\"] }\n";
    server = TidingsProcess.builder().name("webhooks-api").memory().config(config).start();
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

  private static Http.Reply call(String key, String method, String path, String body) {
    return key == null ? http.method(method, path, body, "Content-Type", "application/json")
        : http.method(method, path, body, "Content-Type", "application/json", "Authorization", "Bearer " + key);
  }

  private static void publish(String topic, int n) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      b.append(i == 0 ? "" : ",").append("{\"data\":").append(i).append('}');
    }
    assertThat(call(ADMIN, "POST", "/v1/events?topic=" + Http.enc(topic), b.append(']').toString()).status())
        .isEqualTo(201);
  }

  private static String create(String key, String hook, String topics, String extra) {
    Http.Reply r = call(key, "POST", "/v1/webhooks", "{\"url\":\"" + receiver.url(hook) + "\",\"topics\":" + topics
        + (extra.isEmpty() ? "" : "," + extra) + "}");
    assertThat(r.status()).as("%s", r).isEqualTo(201);
    assertThat(r.json().path("owner").asText()).isNotEmpty();
    return r.json().path("id").asText();
  }

  @Test
  void theWebhooksGrantIsNeeded_andOwnersSeeOnlyTheirOwnEndpoints() {
    Http.Reply anonymous = call(null, "GET", "/v1/webhooks", null);
    assertError(anonymous, 401, "unauthorized");
    assertThat(anonymous.header("WWW-Authenticate")).startsWith("Bearer");
    assertError(call(READER, "POST", "/v1/webhooks", "{\"url\":\"" + receiver.url("r") + "\",\"topics\":[\"a\"]}"),
        403, "forbidden");
    assertError(call(TEAM, "POST", "/v1/webhooks", "{\"url\":\"" + receiver.url("t") + "\",\"topics\":[\"secret/x\"]}"),
        403, "forbidden");

    String mine = create(TEAM, "own-team", "[\"team/own\"]", "");
    String theirs = create(OTHER, "own-other", "[\"team/own\"]", "");
    assertThat(call(TEAM, "GET", "/v1/webhooks", null).json().path("endpoints").findValuesAsText("id"))
        .contains(mine).doesNotContain(theirs);
    assertError(call(TEAM, "GET", "/v1/webhooks/" + theirs, null), 404, "not_found");
    assertError(call(TEAM, "DELETE", "/v1/webhooks/" + theirs, null), 404, "not_found");
    assertError(call(TEAM, "POST", "/v1/webhooks/" + theirs + "/rotate-secret", ""), 404, "not_found");
    assertThat(call(ADMIN, "GET", "/v1/webhooks?limit=1000", null).json().path("endpoints").findValuesAsText("id"))
        .contains(mine, theirs);
    JsonNode got = call(TEAM, "GET", "/v1/webhooks/" + mine, null).json();
    assertThat(got.has("secret")).as("the secret is shown once").isFalse();
    assertThat(got.toString()).doesNotContain("whsec_");
    assertThat(call(OTHER, "DELETE", "/v1/webhooks/" + theirs, null).status()).isEqualTo(204);
    assertError(call(ADMIN, "GET", "/v1/webhooks/" + theirs, null), 404, "not_found");
  }

  @Test
  void aPatternDeliversOnlyTopicsTheOwnerMaySubscribeTo() throws Exception {
    create(TEAM, "pattern", "[\"**\"]", "");
    publish("outside/x", 2);
    publish("team/p", 2);
    List<Receiver.Request> got = receiver.await("pattern", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 2);
    Thread.sleep(300);
    assertThat(WebhookDeliveryTest.delivered(receiver.requests("pattern"))).extracting(e -> e.get(0).asText())
        .containsOnly("team/p");
  }

  @Test
  void patchAddsTopicsFromNow_replayGoesBack_andACursorIsAStartingPoint() throws Exception {
    publish("team/patch-old", 3);
    String id = create(TEAM, "patch", "[\"team/patch-a\"]", "");
    publish("team/patch-a", 1);
    receiver.await("patch", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 1);

    Http.Reply patched = call(TEAM, "PATCH", "/v1/webhooks/" + id,
        "{\"topics\":[\"team/patch-a\",\"team/patch-old\"],\"description\":\"two topics\",\"batch\":{\"max_events\":2}}");
    assertThat(patched.status()).as("%s", patched).isEqualTo(200);
    assertThat(patched.json().path("batch").path("max_events").asInt()).isEqualTo(2);
    assertThat(patched.json().path("description").asText()).isEqualTo("two topics");
    publish("team/patch-old", 1);
    receiver.await("patch", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 2);
    Thread.sleep(300);
    assertThat(WebhookDeliveryTest.delivered(receiver.requests("patch")))
        .as("a topic added by PATCH starts at its head: its 3 older events are not sent")
        .extracting(e -> e.get(0).asText() + "#" + e.get(1).asLong())
        .containsExactly("team/patch-a#1", "team/patch-old#4");

    Http.Reply replay = call(TEAM, "POST", "/v1/webhooks/" + id + "/replay?since=earliest", "");
    assertThat(replay.status()).as("%s", replay).isEqualTo(202);
    List<Receiver.Request> got = receiver.await("patch", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 2 + 5);
    assertThat(WebhookDeliveryTest.delivered(got).subList(2, 7)).extracting(e -> e.get(0).asText() + "#" + e.get(1).asLong())
        .containsExactlyInAnyOrder("team/patch-a#1", "team/patch-old#1", "team/patch-old#2", "team/patch-old#3",
            "team/patch-old#4");
    assertThat(got.stream().mapToInt(r -> r.line().path("events").size()).max().orElse(0))
        .as("batch.max_events").isLessThanOrEqualTo(2);
    assertError(call(TEAM, "POST", "/v1/webhooks/" + id + "/replay?since=bogus", ""), 400, "invalid_cursor");
    assertError(call(TEAM, "POST", "/v1/webhooks/" + id + "/replay", ""), 400, "invalid_request");

    String cursor = call(TEAM, "GET", "/v1/changes?topic=team%2Fpatch-old&since=earliest&limit=2", null).json()
        .path("cursor").asText();
    create(TEAM, "from-cursor", "[\"team/patch-old\"]", "\"since\":\"" + cursor + "\"");
    got = receiver.await("from-cursor", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 2);
    assertThat(WebhookDeliveryTest.delivered(got)).extracting(e -> e.get(1).asLong()).containsExactly(3L, 4L);
  }

  @Test
  void maxWaitMsCollectsAMessage_andACursorPastTheHeadIsRefusedWithoutCreatingAnything() throws Exception {
    create(TEAM, "linger", "[\"team/linger\"]", "\"batch\":{\"max_events\":10,\"max_wait_ms\":1500}");
    for (int i = 0; i < 3; i++) {
      publish("team/linger", 1);
      Thread.sleep(100);
    }
    List<Receiver.Request> got = receiver.await("linger", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 3);
    assertThat(got).as("three events published 100 ms apart, one message").hasSize(1);

    publish("team/ahead", 2);
    String head = call(TEAM, "GET", "/v1/changes?topic=team%2Fahead&since=earliest", null).json().path("cursor").asText();
    String ahead = head.substring(0, head.lastIndexOf('.') + 1) + "99";
    int before = call(ADMIN, "GET", "/v1/webhooks?limit=1000", null).json().path("endpoints").size();
    Http.Reply r = call(TEAM, "POST", "/v1/webhooks", "{\"url\":\"" + receiver.url("ahead") + "\",\"topics\":[\"team/ahead\"],"
        + "\"since\":\"" + ahead + "\"}");
    assertError(r, 400, "invalid_cursor");
    assertThat(call(ADMIN, "GET", "/v1/webhooks?limit=1000", null).json().path("endpoints")).hasSize(before);
  }

  @Test
  void anEndpointsRateLimitSpacesItsRequests() throws Exception {
    create(TEAM, "paced", "[\"team/paced\"]", "\"batch\":{\"max_events\":1},\"rate_limit\":2");
    publish("team/paced", 7);
    List<Receiver.Request> got = receiver.await("paced", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 7);
    assertThat(got).hasSize(7);
    // A bucket of 2 requests a second: the first two at once, then one every 500 ms.
    assertThat(Duration.ofNanos(got.get(6).arrivedNanos() - got.get(0).arrivedNanos()))
        .isGreaterThanOrEqualTo(Duration.ofMillis(2300));
  }
}
