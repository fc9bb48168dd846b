package io.tidings.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tidings.server.testing.Http;
import io.tidings.server.testing.RawHttp;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.WsClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.max_connections} and {@code limits.max_connections_per_principal}: push connections
 * and held long polls over a cap get {@code 503} with {@code Retry-After} (WebSocket upgrades, long
 * polls) or, for SSE, a {@code 200} holding only a jittered {@code retry:} (EventSource does not retry
 * after a non-200); places come back when connections end.
 */
class ConnectionCapsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String ONE = "tk_one_0123456789abcdef0123456789abcdef01";
  private static final String TWO = "tk_two_0123456789abcdef0123456789abcdef01";
  private static final String THREE = "tk_three_0123456789abcdef0123456789abcdef";
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("connection-caps").memory().config("""
        auth:
          api_keys:
            - { name: one, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
            - { name: two, sha256: "%s", subscribe: ["**"] }
            - { name: three, sha256: "%s", subscribe: ["**"] }
        limits:
          max_connections: 3
          max_connections_per_principal: 2
        push:
          sse: { retry: 2s }
        """.formatted(Tokens.sha256Hex(ONE), Tokens.sha256Hex(TWO), Tokens.sha256Hex(THREE))).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void pushConnectionsAndLongPollsOverACap_areRefused_untilAPlaceIsFree() throws Exception {
    WsClient ws1 = WsClient.connect(server.uri(), "", Tokens.authorization(ONE), false);
    SseClient sse1 = SseClient.open(server.uri(), "/v1/sse?topic=caps/a", Tokens.bearer(ONE));
    WsClient ws2 = null;
    try {
      ws1.send("{\"op\":\"ping\",\"id\":1}");
      assertThat(ws1.await(m -> m.path("op").asText().equals("pong"), WAIT)).isNotNull();
      assertThat(sse1.nextEvent(WAIT).type()).isEqualTo("subscribed");

      // "one" holds its two places: a third push connection or long poll of its own is refused.
      assertUpgradeRefused(ONE);
      assertSseToldToComeBack(ONE);
      assertUnavailable(http.get("/v1/changes?topic=caps/a&since=now&wait=5", Tokens.bearer(ONE)));
      assertThat(http.get("/v1/changes?topic=caps/a&since=now", Tokens.bearer(ONE)).status())
          .as("a poll that is not held takes no place").isEqualTo(200);

      ws2 = WsClient.connect(server.uri(), "", Tokens.authorization(TWO), false);
      ws2.send("{\"op\":\"ping\",\"id\":1}");
      assertThat(ws2.await(m -> m.path("op").asText().equals("pong"), WAIT)).isNotNull();

      // Three places in use: the server is full for everyone.
      assertUpgradeRefused(THREE);
      assertSseToldToComeBack(THREE);
      assertUnavailable(http.get("/v1/changes?topic=caps/a&since=now&wait=5", Tokens.bearer(THREE)));

      Http.Reply metrics = http.get("/metrics", Tokens.bearer(ONE));
      assertThat(Http.metricIn(metrics.body(), "tidings_connections_refused_total", "reason=\"cap\""))
          .hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(3.0));
      assertThat(Http.metricIn(metrics.body(), "tidings_connections_refused_total", "reason=\"principal_cap\""))
          .hasValueSatisfying(v -> assertThat(v).isGreaterThanOrEqualTo(3.0));

      ws1.close();
      await().atMost(WAIT).pollInterval(Duration.ofMillis(300)).untilAsserted(() ->
          assertThat(http.get("/v1/changes?topic=caps/a&since=now&wait=0.5", Tokens.bearer(THREE)).status())
              .as("a long poll once the closed WebSocket's place is free").isEqualTo(200));
      sse1.close();
      await().atMost(WAIT).pollInterval(Duration.ofMillis(300)).untilAsserted(() -> {
        try (SseClient again = SseClient.open(server.uri(), "/v1/sse?topic=caps/a", Tokens.bearer(ONE))) {
          assertThat(again.nextEvent(WAIT).type()).as("a stream once the closed one's place is free")
              .isEqualTo("subscribed");
        }
      });
    } finally {
      ws1.close();
      sse1.close();
      if (ws2 != null) {
        ws2.close();
      }
    }
  }

  private static void assertUpgradeRefused(String key) throws Exception {
    try (RawHttp.Conn c = RawHttp.Conn.open(server.uri(), null)) {
      Http.Reply r = c.request("GET", "/v1/ws", null, "Upgrade", "websocket", "Connection", "Upgrade",
          "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13", "Authorization", "Bearer " + key);
      assertUnavailable(r);
    }
  }

  private static void assertUnavailable(Http.Reply r) {
    assertThat(r.status()).as("%s", r).isEqualTo(503);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("unavailable");
    assertThat(Integer.parseInt(r.header("Retry-After"))).isBetween(1, 3);
  }

  private static void assertSseToldToComeBack(String key) throws Exception {
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=caps/a", Tokens.bearer(key))) {
      assertThat(sse.status()).isEqualTo(200);
      assertThat(sse.header("Content-Type")).startsWith("text/event-stream");
      List<SseClient.Message> all = sse.awaitEnd(WAIT);
      assertThat(all).as("only a retry: then the end").noneMatch(SseClient.Message::isEvent);
      assertThat(all).anySatisfy(m -> assertThat(m.retry()).as("retry: between 1 and 3 times push.sse.retry")
          .isBetween(2000L, 6000L));
    }
  }
}
