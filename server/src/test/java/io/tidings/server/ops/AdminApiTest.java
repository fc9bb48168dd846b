package io.tidings.server.ops;

import static io.tidings.server.testing.Tokens.bearer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.WsClient;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The admin routes once {@code auth} is configured (contract §7: {@code /admin} needs the admin
 * grant): the page answers 401 or 403 to anyone without it (yet carries its token form, so that a
 * browser can sign in), its data routes refuse them outright, and an admin sees every topic with
 * its head and subscribers, live.
 */
class AdminApiTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  static final String ADMIN_KEY = "tk_ops_0a9b8c7d6e5f40312a3b4c5d6e7f8091";
  static final String APP_KEY = "tk_app_1b2c3d4e5f60718293a4b5c6d7e8f9a0";

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("admin-api").memory().config("""
        auth:
          api_keys:
            - { name: ops, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
            - { name: app, sha256: "%s", publish: ["app/**"], subscribe: ["app/**"] }
        """.formatted(Tokens.sha256Hex(ADMIN_KEY), Tokens.sha256Hex(APP_KEY))).start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void thePage_is401Or403WithoutTheAdminGrant_butCarriesItsSignInForm() {
    Http.Reply anonymous = http.get("/admin");
    assertThat(anonymous.status()).isEqualTo(401);
    assertThat(anonymous.header("WWW-Authenticate")).startsWith("Bearer");
    Http.Reply app = http.get("/admin", bearer(APP_KEY));
    assertThat(app.status()).isEqualTo(403);
    Http.Reply admin = http.get("/admin", bearer(ADMIN_KEY));
    assertThat(admin.status()).isEqualTo(200);
    assertThat(http.get("/admin/", bearer(ADMIN_KEY)).status()).isEqualTo(200);
    for (Http.Reply r : new Http.Reply[] {anonymous, app, admin}) {
      assertThat(r.header("Content-Type")).startsWith("text/html");
      assertThat(r.body()).contains("<title>Tidings admin</title>").contains("id=\"token\"");
      assertThat(r.header("Cache-Control")).isEqualTo("no-store");
      assertThat(r.header("Content-Security-Policy")).contains("default-src 'none'").contains("connect-src 'self'");
      assertThat(r.header("Referrer-Policy")).isEqualTo("no-referrer");
    }
    // Its script and style hold no data: served to anyone, like /client/.
    assertThat(http.get("/admin/admin.js").status()).isEqualTo(200);
    assertThat(http.get("/admin/admin.js").header("Content-Type")).startsWith("text/javascript");
    assertThat(http.get("/admin/admin.css").status()).isEqualTo(200);
    assertThat(http.get("/admin/nothing-here.js").status()).isEqualTo(404);
  }

  @Test
  void theDataRoutes_needTheAdminGrant() throws Exception {
    for (String path : new String[] {"/admin/snapshot", "/admin/topics", "/metrics"}) {
      assertThat(http.get(path).status()).as(path).isEqualTo(401);
      assertThat(http.get(path, bearer(APP_KEY)).status()).as(path).isEqualTo(403);
      assertThat(http.get(path, bearer(ADMIN_KEY)).status()).as(path).isEqualTo(200);
    }
    try (SseClient none = SseClient.open(server.uri(), "/admin/stream");
        SseClient app = SseClient.open(server.uri(), "/admin/stream?access_token=" + APP_KEY)) {
      assertThat(none.status()).isEqualTo(401);
      assertThat(app.status()).isEqualTo(403);
      assertThat(app.bodyJson().path("error").path("code").asText()).isEqualTo("forbidden");
    }
    // Same-origin only under auth: a page elsewhere cannot read the stream with a token it got hold of.
    try (SseClient foreign = SseClient.open(server.uri(), "/admin/stream?access_token=" + ADMIN_KEY,
        "Origin", "https://elsewhere.example")) {
      assertThat(foreign.status()).isEqualTo(403);
    }
  }

  @Test
  void anAdminSeesConnectionsTopicsHeadsAndSubscribers_everySecond() throws Exception {
    String topic = "private/ledger";
    try (WsClient socket = WsClient.connect(server.uri(), "", Tokens.authorization(ADMIN_KEY), false);
        SseClient stream = SseClient.open(server.uri(), "/admin/stream?access_token=" + ADMIN_KEY)) {
      socket.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"" + topic + "\"}");
      socket.await(m -> m.path("op").asText().equals("subscribed"), WAIT);
      assertThat(stream.status()).isEqualTo(200);
      assertThat(stream.header("Content-Type")).startsWith("text/event-stream");
      JsonNode first = stream.nextEvent(WAIT).json();
      assertThat(first.path("history").isArray()).as("the first snapshot carries the recent past").isTrue();
      assertThat(first.path("store").asText()).isEqualTo("memory");
      for (int i = 1; i <= 3; i++) {
        http.method("POST", "/v1/events?topic=private%2Fledger", "{\"data\":" + i + "}", "Content-Type",
            "application/json", "Authorization", "Bearer " + ADMIN_KEY);
      }
      JsonNode later = null;
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (System.nanoTime() < deadline) {
        later = stream.nextEvent(WAIT).json();
        assertThat(later.has("history")).as("later snapshots do not repeat the history").isFalse();
        JsonNode row = row(later, topic);
        if (row != null && row.path("last_offset").asLong() == 3) {
          break;
        }
      }
      JsonNode row = row(later, topic);
      assertThat(row).as("the subscribed topic in %s", later).isNotNull();
      assertThat(row.path("last_offset").asLong()).isEqualTo(3);
      assertThat(row.path("subscribers").asInt()).isEqualTo(1);
      assertThat(row.path("cursor").asText()).endsWith(".3");
      assertThat(later.path("connections").path("ws").asInt()).isGreaterThanOrEqualTo(1);
      assertThat(later.path("subscriptions").path("ws").asInt()).isGreaterThanOrEqualTo(1);
      assertThat(later.path("totals").path("published").asLong()).isGreaterThanOrEqualTo(3);
      assertThat(later.path("totals").path("delivered").asLong()).isGreaterThanOrEqualTo(3);
      assertThat(later.path("sample").has("published_per_s")).isTrue();
      assertThat(later.path("sample").has("deliver_p99_ms")).isTrue();

      // /admin/topics lists every topic, whatever the grants of other keys, with subscribers.
      http.method("POST", "/v1/events?topic=app%2Fother", "{\"data\":1}", "Content-Type", "application/json",
          "Authorization", "Bearer " + APP_KEY);
      JsonNode topics = http.getOk("/admin/topics?limit=10", bearer(ADMIN_KEY));
      assertThat(topics.path("topics").findValuesAsText("topic")).contains(topic, "app/other");
      for (JsonNode t : topics.path("topics")) {
        if (t.path("topic").asText().equals(topic)) {
          assertThat(t.path("subscribers").asInt()).isEqualTo(1);
          assertThat(t.path("last_offset").asLong()).isEqualTo(3);
        }
      }
      assertThat(http.getOk("/admin/topics?prefix=app%2F", bearer(ADMIN_KEY)).path("topics").findValuesAsText("topic"))
          .containsExactly("app/other");
    }
    await().atMost(WAIT).until(() -> {
      JsonNode r = row(http.getOk("/admin/snapshot", bearer(ADMIN_KEY)), topic);
      return r == null || r.path("subscribers").asInt() == 0;
    });
  }

  private static JsonNode row(JsonNode snapshot, String topic) {
    for (JsonNode t : snapshot.path("topics")) {
      if (t.path("topic").asText().equals(topic)) {
        return t;
      }
    }
    return null;
  }

  @Test
  void openWithoutAuth_likeEverythingElse() throws Exception {
    try (TidingsProcess open = TidingsProcess.builder().name("admin-open").memory().start()) {
      Http h = new Http(open);
      assertThat(h.get("/admin").status()).isEqualTo(200);
      assertThat(h.get("/admin/snapshot").status()).isEqualTo(200);
      assertThat(h.getOk("/admin/snapshot").path("connections").has("sse")).isTrue();
    }
  }
}
