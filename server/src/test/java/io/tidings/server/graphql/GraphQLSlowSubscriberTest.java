package io.tidings.server.graphql;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsRawSocket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A GraphQL subscriber that stops reading (contract §5): its bounded buffer fills, it is closed with
 * 4008 (slow consumer: reconnect and resume from the last cursor), what it got before is gapless,
 * and a subscriber of the same topic that keeps up receives everything, in order.
 */
class GraphQLSlowSubscriberTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String SLOW = "tidings_push_slow_consumers_graphql_total";
  /** About 1.5 KB per event. */
  private static final String PAYLOAD = "y".repeat(1450);
  private static final String CONFIG = """
      server: { event_loops: 2 }
      push:
        outbound: { max_bytes: 64KiB, max_messages: 256 }
      """;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("graphql-slow").memory().config(CONFIG).start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static double metric(String name) {
    return http.metric(name).orElse(0.0);
  }

  private static String batch(int n, int seq) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      b.append(i > 0 ? "," : "").append("{\"data\":{\"seq\":").append(seq).append(",\"i\":").append(i)
          .append(",\"pad\":\"").append(PAYLOAD).append("\"}}");
    }
    return b.append(']').toString();
  }

  /** Reads the healthy subscriber's events up to {@code offset}, checking that they come one after another. */
  private static long follow(NodeScript healthy, long[] last, long offset) throws Exception {
    while (last[0] < offset) {
      JsonNode line = healthy.awaitJson(WAIT);
      assertThat(line).as("healthy subscriber output (stderr: %s)", healthy.stderr()).isNotNull();
      assertThat(line.has("event")).as("%s", line).isTrue();
      long got = line.get("event").get("offset").asLong();
      assertThat(got).as("the healthy subscriber's events are consecutive").isEqualTo(last[0] + 1);
      last[0] = got;
    }
    return last[0];
  }

  @Test
  void aStalledSubscriberIsClosed4008WhileAnotherGetsEverythingInOrder() throws Exception {
    String topic = "slow/gql";
    String url = server.uri("/v1/graphql").toString().replaceFirst("^http", "ws");
    double slowBefore = metric(SLOW);
    try (NodeScript healthy = NodeScript.start("graphql-ws-client", Duration.ofMinutes(3), Map.of(), "stream", url,
            "[\"" + topic + "\"]", "earliest", "full", "1000000000", "-");
        WsRawSocket stalled = WsRawSocket.connect(server.uri(), "/v1/graphql", 4096,
            "Sec-WebSocket-Protocol", "graphql-transport-ws")) {
      assertThat(stalled.subprotocol()).isEqualTo("graphql-transport-ws");
      stalled.sendText("{\"type\":\"connection_init\"}");
      assertThat(stalled.readFrame(WAIT).json().get("type").asText()).isEqualTo("connection_ack");
      stalled.sendText("{\"id\":\"s\",\"type\":\"subscribe\",\"payload\":{\"query\":"
          + "\"subscription { events(topics: [\\\"" + topic + "\\\"], since: \\\"earliest\\\") { offset cursor data } }\"}}");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (http.metric("tidings_push_subscriptions_graphql").orElse(0.0) < 2) {
        assertThat(System.nanoTime()).as("both subscriptions start").isLessThan(deadline);
        Thread.sleep(20);
      }

      // Batches of about 150 KB, each once the healthy subscriber has everything before the previous one.
      long[] healthyLast = {0};
      long beforePrevious = 0;
      long previous = 0;
      long closedAt = 0;
      for (int seq = 0; seq < 1000 && closedAt == 0; seq++) {
        follow(healthy, healthyLast, beforePrevious);
        JsonNode r = http.publishOk(topic, batch(100, seq));
        beforePrevious = previous;
        previous = r.get("events").get(99).get("offset").asLong();
        if (metric(SLOW) >= slowBefore + 1) {
          closedAt = System.nanoTime();
        }
      }
      assertThat(closedAt).as("the stalled subscriber was cut").isPositive();

      // What the stalled one got: the ack was read; then next messages, gapless, then the close.
      boolean prompt = System.nanoTime() - closedAt < TimeUnit.SECONDS.toNanos(4);
      long next = 1;
      int events = 0;
      while (true) {
        WsRawSocket.Frame f = stalled.readFrame(WAIT);
        if (f == null) {
          assertThat(prompt).as("the connection ended without a close frame, although it was read within 4 s").isFalse();
          break;
        }
        if (f.opcode() == WsRawSocket.CLOSE) {
          assertThat(f.closeCode()).as("close: %s", f.closeReason()).isEqualTo(4008);
          assertThat(f.closeReason()).contains("resume");
          break;
        }
        if (f.opcode() == WsRawSocket.TEXT) {
          JsonNode m = f.json();
          assertThat(m.get("type").asText()).isEqualTo("next");
          assertThat(m.get("id").asText()).isEqualTo("s");
          long offset = m.at("/payload/data/events/offset").asLong();
          assertThat(offset).as("what was sent before the close is gapless").isEqualTo(next);
          next = offset + 1;
          events++;
        }
      }
      assertThat(events).as("the stalled subscriber got events before it fell behind").isPositive();

      // The healthy one was never held up: it gets the rest, and the end.
      long end = http.publishOk(topic, "{\"type\":\"end\"}").get("events").get(0).get("offset").asLong();
      follow(healthy, healthyLast, end);
      assertThat(healthyLast[0]).isEqualTo(end);
    }
    assertThat(metric(SLOW)).as("exactly one slow consumer").isEqualTo(slowBefore + 1);
  }
}
