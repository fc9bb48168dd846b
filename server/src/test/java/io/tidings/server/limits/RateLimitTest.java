package io.tidings.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.RawHttp;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import io.tidings.server.testing.WsClient;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.rate} against a real server: publishes, polls, SSE streams and WebSocket ops beyond
 * their rate get {@code 429 rate_limited} with {@code Retry-After} (WebSocket: an {@code error} op,
 * then close 4029), per principal (API key, JWT subject) and, without credentials, per client IP.
 *
 * <p>Rates are one token per 5 s, so two requests in a row are refused however slow the machine.
 */
class RateLimitTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String SECRET = "a rate limit test secret, long enough: 0123456789";
  private static final String ALPHA = "tk_alpha_0123456789abcdef0123456789abcdef";
  private static final String BETA = "tk_beta_0123456789abcdef0123456789abcdef0";
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("rate-limits").memory().config("""
        auth:
          jwt: { hs256_secret: "%s" }
          api_keys:
            - { name: alpha, sha256: "%s", publish: ["**"], subscribe: ["**"], admin: true }
            - { name: beta, sha256: "%s", publish: ["**"], subscribe: ["**"] }
          anonymous: { subscribe: ["public/**"], publish: ["public/**"] }
        limits:
          rate:
            publish_per_second: 0.2
            polls_per_second: 0.2
            subscribe_per_second: 0.2
            burst: 1
            ws_max_refusals: 3
            ws_refusal_window: 30s
        """.formatted(SECRET, Tokens.sha256Hex(ALPHA), Tokens.sha256Hex(BETA))).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String jwt(String subject) {
    return Tokens.hs256(SECRET, Claims.of(subject).subscribing("**").publishing("**"));
  }

  private static Http.Reply publish(String topic, String... headers) {
    String[] all = new String[headers.length + 2];
    all[0] = "Content-Type";
    all[1] = "application/json";
    System.arraycopy(headers, 0, all, 2, headers.length);
    return http.method("POST", "/v1/events?topic=" + topic, "{\"data\":1}", all);
  }

  static void assertRateLimited(Http.Reply r) {
    assertThat(r.status()).as("%s", r).isEqualTo(429);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("rate_limited");
    assertThat(r.header("Cache-Control")).isEqualTo("no-store");
    assertThat(r.header("Retry-After")).as("Retry-After of %s", r).isNotNull();
    // One token per 5 s: the next comes within 5 s (rounded up to whole seconds).
    assertThat(Integer.parseInt(r.header("Retry-After"))).isBetween(1, 5);
  }

  @Test
  void publishingBeyondTheRate_is429WithRetryAfter_andTwoApiKeysDoNotShareABucket() {
    assertThat(publish("rates/a", Tokens.bearer(ALPHA)).status()).isEqualTo(201);
    assertRateLimited(publish("rates/a", Tokens.bearer(ALPHA)));
    assertThat(http.get("/v1/changes?topic=rates/a", Tokens.bearer(BETA)).json().path("events").size())
        .as("the refused publish stored nothing").isEqualTo(1);
    assertThat(publish("rates/a", Tokens.bearer(BETA)).status()).as("beta has a bucket of its own").isEqualTo(201);
    assertRateLimited(publish("rates/a", Tokens.bearer(BETA)));
  }

  @Test
  void requestsWithoutCredentialsShareABucketPerClientIp_andJwtSubjectsHaveTheirOwn() throws Exception {
    try (RawHttp.Conn a = RawHttp.Conn.open(server.uri(), "127.0.0.2");
        RawHttp.Conn b = RawHttp.Conn.open(server.uri(), "127.0.0.2");
        RawHttp.Conn other = RawHttp.Conn.open(server.uri(), "127.0.0.3");
        RawHttp.Conn withToken = RawHttp.Conn.open(server.uri(), "127.0.0.2")) {
      String[] json = {"Content-Type", "application/json"};
      assertThat(a.request("POST", "/v1/events?topic=public/ip", "{}", json).status()).isEqualTo(201);
      assertRateLimited(b.request("POST", "/v1/events?topic=public/ip", "{}", json));
      assertThat(other.request("POST", "/v1/events?topic=public/ip", "{}", json).status())
          .as("another client IP").isEqualTo(201);
      assertThat(withToken.request("POST", "/v1/events?topic=public/ip", "{}", "Content-Type", "application/json",
          "Authorization", "Bearer " + jwt("ip-user")).status()).as("a JWT subject from the same IP").isEqualTo(201);
    }
  }

  @Test
  void pollsBeyondTheRate_are429_acrossStateChangesAndTopics() {
    String[] auth = Tokens.bearer(jwt("poller"));
    assertThat(http.get("/v1/state?topic=rates/poll", auth).status()).isEqualTo(200);
    assertRateLimited(http.get("/v1/changes?topic=rates/poll", auth));
    assertRateLimited(http.get("/v1/topics", auth));
    assertRateLimited(http.get("/v1/state?topic=rates/poll", auth));
    assertThat(http.get("/v1/state?topic=rates/poll", Tokens.bearer(jwt("another-poller"))).status()).isEqualTo(200);
  }

  @Test
  void anSseStreamBeyondTheRate_is429BeforeTheStreamStarts() throws Exception {
    String[] auth = Tokens.bearer(jwt("streamer"));
    try (SseClient first = SseClient.open(server.uri(), "/v1/sse?topic=rates/sse", auth)) {
      assertThat(first.status()).isEqualTo(200);
      assertThat(first.nextEvent(WAIT).type()).isEqualTo("subscribed");
      try (SseClient second = SseClient.open(server.uri(), "/v1/sse?topic=rates/sse", auth)) {
        assertThat(second.status()).as("%s", second.body()).isEqualTo(429);
        assertThat(second.bodyJson().path("error").path("code").asText()).isEqualTo("rate_limited");
        assertThat(second.header("Retry-After")).isNotNull();
        assertThat(second.header("Content-Type")).startsWith("application/json");
      }
    }
  }

  @Test
  void webSocketOpsBeyondTheRate_getRateLimitedErrors_andPersistingCloses4029() throws Exception {
    try (WsClient ws = WsClient.connect(server.uri(), "", Tokens.authorization(jwt("socket")), false)) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"rates/ws-a\"}");
      assertThat(reply(ws, 1).path("op").asText()).isEqualTo("subscribed");
      ws.send("{\"op\":\"subscribe\",\"id\":2,\"topic\":\"rates/ws-b\"}");
      JsonNode refused = reply(ws, 2);
      assertThat(refused.path("op").asText()).as("%s", refused).isEqualTo("error");
      assertThat(refused.path("code").asText()).isEqualTo("rate_limited");
      assertThat(refused.path("retry_after").asInt()).isBetween(1, 5);
      ws.send("{\"op\":\"publish\",\"id\":3,\"topic\":\"rates/ws-a\",\"events\":[{\"data\":1}]}");
      assertThat(reply(ws, 3).path("op").asText()).as("publishes have their own bucket").isEqualTo("published");
      ws.send("{\"op\":\"publish\",\"id\":5,\"topic\":\"rates/ws-a\",\"events\":[{\"data\":2}]}");
      assertThat(reply(ws, 5).path("code").asText()).isEqualTo("rate_limited");
      ws.send("{\"op\":\"ping\",\"id\":4}");
      assertThat(reply(ws, 4).path("op").asText()).as("two refusals of three: open, and pings are not limited")
          .isEqualTo("pong");
      ws.send("{\"op\":\"subscribe\",\"id\":6,\"topic\":\"rates/ws-c\"}");
      assertThat(reply(ws, 6).path("code").asText()).isEqualTo("rate_limited");
      WsClient.Close close = ws.awaitClose(WAIT);
      assertThat(close.code()).as("closed as %s", close).isEqualTo(4029);
    }
  }

  @Test
  void refusalsAreCounted() {
    String[] auth = Tokens.bearer(jwt("counted"));
    http.get("/v1/topics", auth);
    assertRateLimited(http.get("/v1/topics", auth));
    Http admin = new Http(server.uri());
    Http.Reply metrics = admin.get("/metrics", Tokens.bearer(ALPHA));
    assertThat(metrics.status()).isEqualTo(200);
    assertThat(Http.metricIn(metrics.body(), "tidings_rate_limited_total", "kind=\"poll\"")).hasValueSatisfying(
        v -> assertThat(v).isGreaterThanOrEqualTo(1.0));
    assertThat(Http.metricIn(metrics.body(), "tidings_rate_limited_total", "kind=\"connection\"")).contains(0.0);
  }

  private static JsonNode reply(WsClient ws, int id) throws InterruptedException {
    return ws.await(m -> m.path("id").asInt(-1) == id, WAIT);
  }
}
