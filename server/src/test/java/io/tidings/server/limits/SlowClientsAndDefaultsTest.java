package io.tidings.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.RawHttp;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A server with no {@code limits} section and a short {@code server.request_timeout}: clients that
 * trickle a request byte by byte (slowloris) are cut off while everyone else is served; long-lived
 * connections (WebSocket, SSE, long polls, idle keep-alive) are not; nothing is rate limited.
 */
class SlowClientsAndDefaultsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("slow-clients").memory().config("""
        server:
          request_timeout: 2s
        """).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Writes {@code head}, then {@code trickle} one byte every 200 ms on another thread, until stopped or cut off. */
  private static AtomicBoolean trickle(RawHttp.Conn c, String head, String trickle) throws IOException {
    c.write(head.getBytes(StandardCharsets.US_ASCII));
    AtomicBoolean stop = new AtomicBoolean();
    Thread t = new Thread(() -> {
      try {
        for (int i = 0; i < trickle.length() && !stop.get(); i++) {
          Thread.sleep(200);
          c.write(new byte[] {(byte) trickle.charAt(i)});
        }
      } catch (IOException | InterruptedException e) {
        // cut off
      }
    }, "slowloris");
    t.setDaemon(true);
    t.start();
    return stop;
  }

  @Test
  void aRequestHeadTrickledByteByByte_isCutOff_whileOthersAreServed() throws Exception {
    try (RawHttp.Conn slow = RawHttp.Conn.open(server.uri(), null)) {
      long started = System.nanoTime();
      AtomicBoolean stop = trickle(slow, "GET /v1/topics HTTP/1.1\r\nHost: x\r\nX-Slow: ", "a".repeat(150));
      for (int i = 0; i < 5; i++) {
        assertThat(http.get("/healthz").status()).isEqualTo(200);
        assertThat(http.get("/v1/topics").status()).isEqualTo(200);
      }
      boolean closed = slow.closedByServer(20_000);
      long millis = (System.nanoTime() - started) / 1_000_000;
      stop.set(true);
      assertThat(closed).as("the trickling connection is closed within 20 s").isTrue();
      assertThat(millis).as("not before server.request_timeout (2 s)").isGreaterThanOrEqualTo(1_500);
    }
  }

  @Test
  void aBodyTrickledByteByByte_isCutOff_andStoresNothing() throws Exception {
    try (RawHttp.Conn slow = RawHttp.Conn.open(server.uri(), null)) {
      String body = "{\"data\":\"" + "x".repeat(100) + "\"}";
      AtomicBoolean stop = trickle(slow, "POST /v1/events?topic=slow/body HTTP/1.1\r\nHost: x\r\n"
          + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n", body);
      boolean closed = slow.closedByServer(20_000);
      stop.set(true);
      assertThat(closed).as("the trickling upload is cut off").isTrue();
    }
    assertThat(http.getOk("/v1/changes?topic=slow/body").path("events").size()).isZero();
  }

  @Test
  void longLivedConnectionsOutliveTheRequestTimeout() throws Exception {
    try (WsClient ws = WsClient.connect(server.uri());
        SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=slow/live");
        RawHttp.Conn keptAlive = RawHttp.Conn.open(server.uri(), null)) {
      assertThat(sse.nextEvent(WAIT).type()).isEqualTo("subscribed");
      assertThat(keptAlive.request("GET", "/v1/topics", null).status()).isEqualTo(200);
      CompletableFuture<Http.Reply> longPoll = http.getAsync("/v1/changes?topic=slow/idle&since=now&wait=4");
      Thread.sleep(3_500);
      ws.send("{\"op\":\"ping\",\"id\":1}");
      assertThat(ws.await(m -> m.path("op").asText().equals("pong"), WAIT)).as("the WebSocket is open").isNotNull();
      http.publishOk("slow/live", "{\"data\":1}");
      assertThat(sse.nextEvent(WAIT).json().path("data").asInt()).as("the stream is open").isEqualTo(1);
      assertThat(keptAlive.request("GET", "/v1/topics", null).status()).as("an idle keep-alive connection is open")
          .isEqualTo(200);
      Http.Reply held = longPoll.get(30, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(held.status()).as("a long poll held past the request timeout: %s", held).isEqualTo(200);
      assertThat(held.millis()).isGreaterThanOrEqualTo(3_000);
    }
  }

  @Test
  void withoutLimitsNothingIsRateLimited() throws Exception {
    List<Integer> statuses = new ArrayList<>();
    String etag = null;
    for (int i = 0; i < 100; i++) {
      statuses.add(http.publish("free/a", "{\"data\":" + i + "}").status());
      Http.Reply state = etag == null ? http.get("/v1/state?topic=free/a") : http.get("/v1/state?topic=free/a",
          "If-None-Match", etag);
      etag = state.header("ETag");
      statuses.add(state.status());
      statuses.add(http.get("/v1/changes?topic=free/a&since=now").status());
    }
    for (int i = 0; i < 50; i++) {
      try (RawHttp.Conn c = RawHttp.Conn.open(server.uri(), null)) {
        statuses.add(c.request("GET", "/v1/topics", null).status());
      }
    }
    assertThat(statuses).hasSize(350).allSatisfy(s -> assertThat(s).isBetween(200, 304));
    try (WsClient ws = WsClient.connect(server.uri())) {
      for (int i = 0; i < 50; i++) {
        ws.send("{\"op\":\"subscribe\",\"id\":" + i + ",\"topic\":\"free/ws-" + i + "\"}");
        ws.send("{\"op\":\"publish\",\"id\":" + (1000 + i) + ",\"topic\":\"free/ws\",\"events\":[{\"data\":1}]}");
      }
      for (int i = 0; i < 50; i++) {
        int id = i;
        JsonNode sub = ws.await(m -> m.path("id").asInt(-1) == id, WAIT);
        assertThat(sub.path("op").asText()).as("%s", sub).isEqualTo("subscribed");
        JsonNode pub = ws.await(m -> m.path("id").asInt(-1) == 1000 + id, WAIT);
        assertThat(pub.path("op").asText()).as("%s", pub).isEqualTo("published");
      }
    }
    String metrics = http.get("/metrics").body();
    for (String kind : List.of("publish", "subscribe", "poll", "connection")) {
      assertThat(Http.metricIn(metrics, "tidings_rate_limited_total", "kind=\"" + kind + "\"")).contains(0.0);
    }
  }

  @Test
  void tooManyHeaderBytes_are431() throws Exception {
    StringBuilder request = new StringBuilder("GET /v1/topics HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 400; i++) {
      request.append("X-Header-").append(i).append(": ").append("v".repeat(40)).append("\r\n");
    }
    Http.Reply r = RawHttp.send(server.uri(), request.append("\r\n").toString().getBytes(StandardCharsets.US_ASCII));
    assertThat(r.status()).as("%s", r).isEqualTo(431);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("headers_too_large");
  }
}
