package io.tidings.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.Tokens;
import io.tidings.server.testing.Tokens.Claims;
import io.tidings.server.testing.WsClient;
import io.tidings.server.testing.WsRawSocket;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Long-lived connections under authentication: WebSocket ops and the {@code auth} refresh, token
 * expiry (WebSocket 1008, SSE {@code retry:} and end), SSE with {@code access_token}, and the
 * same-origin default that refuses cross-site WebSocket and stream hijacking.
 */
class AuthPushTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static AuthFixture fx;
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    fx = new AuthFixture();
    server = TidingsProcess.builder().name("auth-push").memory().config(fx.yaml("")).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static void publishAsAdmin(String topic, String body) {
    Http.Reply r = http.method("POST", "/v1/events?topic=" + topic, body, "Content-Type", "application/json",
        "Authorization", "Bearer " + AuthFixture.BACKEND_KEY);
    assertThat(r.status()).as("admin publishes to %s: %s", topic, r).isEqualTo(201);
  }

  private static JsonNode reply(WsClient ws, int id) throws InterruptedException {
    return ws.await(m -> m.path("id").asInt(-1) == id && !m.path("op").asText().equals("event"), WAIT);
  }

  @Test
  void aWebSocketClosesWith1008WhenItsTokenExpires() throws Exception {
    String token = fx.hs(Claims.of("short").subscribing("scores/**").expiresIn(3));
    try (WsClient ws = WsClient.connect(server.uri(), "", Tokens.authorization(token), false)) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"scores/expiry\"}");
      assertThat(reply(ws, 1).path("op").asText()).isEqualTo("subscribed");
      WsClient.Close close = ws.awaitClose(WAIT);
      assertThat(close.code()).as("closed as %s", close).isEqualTo(1008);
    }
  }

  @Test
  void anAuthRefreshKeepsTheConnection_andEndsSubscriptionsTheNewTokenDoesNotGrant() throws Exception {
    long exp = Tokens.nowSeconds() + 3;
    String first = fx.hs(new Claims("dana", List.of("scores/**", "chat/**"), null, null, exp, null));
    String second = fx.hs(Claims.of("dana").subscribing("chat/**").expiresIn(120));
    try (WsClient ws = WsClient.connect(server.uri(), "?access_token=" + Http.enc(first), Map.of(), false)) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"scores/refresh\"}");
      ws.send("{\"op\":\"subscribe\",\"id\":2,\"topic\":\"chat/refresh\"}");
      assertThat(reply(ws, 1).path("op").asText()).isEqualTo("subscribed");
      assertThat(reply(ws, 2).path("op").asText()).isEqualTo("subscribed");
      ws.send("{\"op\":\"auth\",\"id\":3,\"token\":\"" + second + "\"}");
      JsonNode revoked = reply(ws, 1);
      assertThat(revoked.path("op").asText()).isEqualTo("error");
      assertThat(revoked.path("code").asText()).isEqualTo("forbidden");
      assertThat(revoked.path("topic").asText()).isEqualTo("scores/refresh");
      assertThat(reply(ws, 3).path("op").asText()).isEqualTo("authed");
      ws.send("{\"op\":\"subscribe\",\"id\":4,\"topic\":\"scores/other\"}");
      assertThat(reply(ws, 4).path("code").asText()).isEqualTo("forbidden");
      // Past the first token's expiry (and the sweep after it), the connection lives on.
      while (System.currentTimeMillis() < exp * 1000 + 2500) {
        Thread.sleep(250);
      }
      ws.send("{\"op\":\"ping\",\"id\":5}");
      assertThat(reply(ws, 5).path("op").asText()).isEqualTo("pong");
      publishAsAdmin("scores/refresh", "{\"data\":\"not for dana\"}");
      publishAsAdmin("chat/refresh", "{\"data\":\"for dana\"}");
      JsonNode event = ws.await(m -> m.path("op").asText().equals("event"), WAIT);
      assertThat(event.path("topic").asText()).as("the revoked subscription delivers nothing").isEqualTo("chat/refresh");
      assertThat(ws.closeNow()).isNull();
    }
  }

  @Test
  void aBadAuthOpIsAnErrorUnauthorized_andAConnectionWithAValidPrincipalStays() throws Exception {
    try (WsClient ws = WsClient.connect(server.uri(), "", Map.of(), false)) {
      ws.send("{\"op\":\"auth\",\"id\":1,\"token\":\"" + fx.remember(Tokens.hs256("x".repeat(40), Claims.of("eve"))) + "\"}");
      JsonNode error = reply(ws, 1);
      assertThat(error.path("op").asText()).isEqualTo("error");
      assertThat(error.path("code").asText()).isEqualTo("unauthorized");
      ws.send("{\"op\":\"subscribe\",\"id\":2,\"topic\":\"public/stays\"}");
      assertThat(reply(ws, 2).path("op").asText()).as("still anonymous, which may read public/**").isEqualTo("subscribed");
      String alice = fx.hs(Claims.of("alice").subscribing("scores/**"));
      ws.send("{\"op\":\"auth\",\"id\":3,\"token\":\"" + alice + "\"}");
      assertThat(reply(ws, 3).path("op").asText()).isEqualTo("authed");
      ws.send("{\"op\":\"subscribe\",\"id\":4,\"topic\":\"scores/after-auth\"}");
      assertThat(reply(ws, 4).path("op").asText()).isEqualTo("subscribed");
      ws.send("{\"op\":\"subscribe\",\"id\":5,\"topic\":\"public/still\"}");
      assertThat(reply(ws, 5).path("op").asText()).as("anonymous grants come along").isEqualTo("subscribed");
    }
  }

  @Test
  void sseTakesTheTokenFromAccessToken_andEndsWithRetryWhenItExpires() throws Exception {
    String alice = fx.hs(Claims.of("alice").subscribing("scores/**"));
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=scores/sse&access_token=" + Http.enc(alice))) {
      assertThat(sse.status()).isEqualTo(200);
      assertThat(sse.nextEvent(WAIT).type()).isEqualTo("subscribed");
      publishAsAdmin("scores/sse", "{\"data\":{\"goals\":1}}");
      SseClient.Message m = sse.nextEvent(WAIT);
      assertThat(m.json().path("topic").asText()).isEqualTo("scores/sse");
    }
    try (SseClient denied = SseClient.open(server.uri(), "/v1/sse?topic=chat/sse&access_token=" + Http.enc(alice))) {
      assertThat(denied.status()).isEqualTo(403);
    }
    String brief = fx.hs(Claims.of("alice").subscribing("scores/**").expiresIn(3));
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=scores/sse&access_token=" + Http.enc(brief))) {
      assertThat(sse.status()).isEqualTo(200);
      List<SseClient.Message> all = sse.awaitEnd(WAIT);
      assertThat(sse.endedCleanly()).as("the stream ends with its chunked terminator").isTrue();
      assertThat(all.get(all.size() - 1).retry()).as("the last block asks EventSource to come back: %s", all).isNotNull();
    }
    // EventSource comes back with the same URL: the expired token is refused, which stops it.
    try (SseClient again = SseClient.open(server.uri(), "/v1/sse?topic=scores/sse&access_token=" + Http.enc(brief))) {
      assertThat(again.status()).isEqualTo(401);
    }
  }

  @Test
  void withAuthAndNoAllowedOrigins_onlyTheHubsOwnOriginMayOpenStreams() throws Exception {
    String port = Integer.toString(server.uri().getPort());
    assertThatThrownBy(() -> WsRawSocket.connect(server.uri(), 0, "Origin", "https://evil.example").close())
        .isInstanceOf(IOException.class).hasMessageContaining("403");
    try (WsRawSocket same = WsRawSocket.connect(server.uri(), 0, "Origin", "http://127.0.0.1:" + port)) {
      assertThat(same.subprotocol()).isNotNull();
    }
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=public/o", "Origin", "https://evil.example")) {
      assertThat(sse.status()).isEqualTo(403);
    }
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=public/o", "Origin", "http://127.0.0.1:" + port)) {
      assertThat(sse.status()).isEqualTo(200);
    }
    Http.Reply cross = http.get("/v1/state?topic=public/o", "Origin", "https://evil.example");
    assertThat(cross.header("access-control-allow-origin")).as("no CORS grant for another site").isNull();
    Http.Reply preflight = http.method("OPTIONS", "/v1/events?topic=public/o", null, "Origin", "https://evil.example",
        "Access-Control-Request-Method", "POST");
    assertThat(preflight.status()).isEqualTo(403);
  }
}
