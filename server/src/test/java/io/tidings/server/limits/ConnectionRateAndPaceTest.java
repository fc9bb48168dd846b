package io.tidings.server.limits;

import static io.tidings.server.limits.RateLimitTest.assertRateLimited;
import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.Http;
import io.tidings.server.testing.RawHttp;
import io.tidings.server.testing.TidingsProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code limits.rate.connections_per_second} (new connections per client IP, here without auth) and
 * {@code limits.poll_advice_factor} (a poll repeated much sooner than {@code Tidings-Poll-Interval}
 * advises). Each test acts from loopback addresses of its own, so the tests share no bucket.
 */
class ConnectionRateAndPaceTest {
  private static TidingsProcess server;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("connection-rate").memory().config("""
        limits:
          rate: { connections_per_second: 0.2 }
          poll_advice_factor: 2
        pull:
          poll_interval: { min: 4s, max: 4s, jitter: 0.1 }
        """).start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void newConnectionsBeyondTheRate_are429AndClosed_whileAKeptAliveConnectionGoesOn() throws Exception {
    try (RawHttp.Conn kept = RawHttp.Conn.open(server.uri(), "127.0.0.11")) {
      assertThat(kept.request("GET", "/v1/topics", null).status()).isEqualTo(200);
      try (RawHttp.Conn second = RawHttp.Conn.open(server.uri(), "127.0.0.11")) {
        Http.Reply refused = second.request("GET", "/v1/topics", null);
        assertRateLimited(refused);
        assertThat(refused.header("Connection")).isEqualToIgnoringCase("close");
        assertThat(second.closedByServer(10_000)).as("the refused connection is closed").isTrue();
      }
      for (int i = 0; i < 5; i++) {
        assertThat(kept.request("GET", "/v1/topics", null).status()).as("request %d on the kept connection", i)
            .isEqualTo(200);
      }
      try (RawHttp.Conn upgrade = RawHttp.Conn.open(server.uri(), "127.0.0.11")) {
        Http.Reply r = upgrade.request("GET", "/v1/ws", null, "Upgrade", "websocket", "Connection", "Upgrade",
            "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version", "13");
        assertRateLimited(r);
      }
    }
    try (RawHttp.Conn elsewhere = RawHttp.Conn.open(server.uri(), "127.0.0.12")) {
      assertThat(elsewhere.request("GET", "/v1/topics", null).status()).as("another IP").isEqualTo(200);
    }
    try (RawHttp.Conn health = RawHttp.Conn.open(server.uri(), "127.0.0.11")) {
      assertThat(health.request("GET", "/healthz", null).status()).as("health checks are never limited").isEqualTo(200);
    }
  }

  @Test
  void anSseStreamOnAKeptConnectionIsANewConnectionToo() throws Exception {
    try (RawHttp.Conn kept = RawHttp.Conn.open(server.uri(), "127.0.0.13")) {
      assertThat(kept.request("GET", "/v1/state?topic=pace/sse", null).status()).isEqualTo(200);
      assertRateLimited(kept.request("GET", "/v1/sse?topic=pace/sse", null, "Accept", "text/event-stream"));
    }
  }

  @Test
  void pollingTheSameCursorFasterThanAdvised_is429_untilTheAdvisedPaceAllowsIt() throws Exception {
    try (RawHttp.Conn c = RawHttp.Conn.open(server.uri(), "127.0.0.14");
        RawHttp.Conn neighbour = RawHttp.Conn.open(server.uri(), "127.0.0.15")) {
      Http.Reply first = c.request("GET", "/v1/changes?topic=pace/a&since=now", null);
      assertThat(first.status()).isEqualTo(200);
      assertThat(Double.parseDouble(first.header("Tidings-Poll-Interval"))).isGreaterThanOrEqualTo(3.5);
      // Advice 4 s ± 10 %, factor 2: the same poll within 1.8 s is refused.
      Http.Reply again = c.request("GET", "/v1/changes?topic=pace/a&since=now", null);
      assertRateLimited(again);
      assertThat(again.header("Tidings-Poll-Interval")).as("an error carries no advice").isNull();
      assertThat(c.request("GET", "/v1/changes?topic=pace/b&since=now", null).status()).as("another topic")
          .isEqualTo(200);
      String cursor = first.json().path("cursor").asText();
      assertThat(c.request("GET", "/v1/changes?topic=pace/a&since=" + cursor, null).status()).as("another cursor")
          .isEqualTo(200);
      assertThat(neighbour.request("GET", "/v1/changes?topic=pace/a&since=now", null).status())
          .as("another client").isEqualTo(200);
      assertThat(c.request("GET", "/v1/state?topic=pace/a", null).status()).isEqualTo(200);
      assertRateLimited(c.request("GET", "/v1/state?topic=pace/a", null));
      Thread.sleep(Integer.parseInt(again.header("Retry-After")) * 1000L + 200);
      assertThat(c.request("GET", "/v1/changes?topic=pace/a&since=now", null).status())
          .as("after Retry-After").isEqualTo(200);
    }
  }
}
