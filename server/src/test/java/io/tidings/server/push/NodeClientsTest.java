package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real third-party clients against a real server: the {@code eventsource} npm package and Chromium's
 * EventSource (through playwright-core) each follow a
 * stream across a {@code kill -9} and restart of the server (it reconnects by itself, with
 * Last-Event-ID) without losing or repeating an event, and the {@code ws} npm package drives the
 * whole WebSocket protocol, errors and close code included.
 */
class NodeClientsTest {
  private static final String CONFIG = "push: { sse: { retry: 300ms } }\n";

  /** The {@code eventsource} npm package, and the browser's own EventSource in headless Chromium. */
  @ParameterizedTest
  @ValueSource(strings = {"push-eventsource", "push-browser-eventsource"})
  void eventSource_followsTheStreamAcrossAKillAndRestart_withNoLossAndNoDuplicate(String script) throws Exception {
    Path data = Files.createTempDirectory("tidings-node-es-");
    String topic = "node/es";
    TidingsProcess first = TidingsProcess.builder().name("node-es-1").data(data).config(CONFIG).start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    try {
      Http http = new Http(first);
      PushSupport.publishNumbered(http, topic, "a", 1, 30);
      try (NodeScript es = NodeScript.start(script, Duration.ofMinutes(3), Map.of(),
          first.uri("/v1/sse?topic=" + enc(topic) + "&since=earliest").toString())) {
        List<JsonNode> lines = new ArrayList<>();
        Map<Long, Integer> seen = new HashMap<>();
        awaitOffset(es, lines, seen, 30);
        // More events, and the server dies while they may still be on their way.
        PushSupport.publishNumbered(http, topic, "b", 31, 20);
        first.kill();
        second = TidingsProcess.builder().name("node-es-2").data(data).port(port).config(CONFIG).start();
        Http again = new Http(second);
        PushSupport.publishNumbered(again, topic, "c", 51, 10);
        awaitOffset(es, lines, seen, 60);

        assertThat(seen.keySet()).as("offsets received").hasSize(60);
        assertThat(seen.values()).as("each offset exactly once").allMatch(n -> n == 1);
        List<Long> order = new ArrayList<>();
        for (JsonNode l : lines) {
          if (l.has("offset")) {
            order.add(l.get("offset").asLong());
            assertThat(l.get("id").asText()).as("lastEventId is the event's cursor").isEqualTo(l.get("cursor").asText());
          }
        }
        PushSupport.assertExactly("eventsource across the restart", order, 1, 60);
        assertThat(lines.stream().filter(l -> l.has("open")).count()).as("connections opened: %s", lines).isGreaterThanOrEqualTo(2);
        assertThat(lines.stream().anyMatch(l -> l.has("error"))).as("the drop was noticed").isTrue();
        // The reconnection resumed from the last event seen before the drop.
        JsonNode resumed = lines.stream().filter(l -> l.has("subscribed")).skip(1).findFirst().orElseThrow();
        long resumedAt = PushSupport.offsetOf(resumed.get("id").asText());
        assertThat(resumedAt).isBetween(30L, 50L);
      }
    } finally {
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  /** Reads the script's lines until a message event with offset {@code last} has been printed. */
  private static void awaitOffset(NodeScript es, List<JsonNode> lines, Map<Long, Integer> seen, long last)
      throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
    while (!seen.containsKey(last)) {
      assertThat(System.nanoTime()).as("offset %d reached; lines: %s", last, lines).isLessThan(deadline);
      JsonNode line = es.awaitJson(Duration.ofMinutes(2));
      lines.add(line);
      if (line.has("offset")) {
        seen.merge(line.get("offset").asLong(), 1, Integer::sum);
      }
    }
  }

  @Test
  void theWsPackage_drivesSubscribePublishUnsubscribePingAndErrors() throws Exception {
    try (TidingsProcess server = TidingsProcess.builder().name("node-ws").memory().start()) {
      String topic = "node/ws";
      Http http = new Http(server);
      http.publishOk(topic, "{\"data\":\"before\"}");
      String url = server.uri().toString().replaceFirst("^http", "ws") + "/v1/ws";
      try (NodeScript ws = NodeScript.start("push-ws-client", Duration.ofMinutes(2), Map.of(), url, topic)) {
        Map<String, JsonNode> steps = new HashMap<>();
        while (!steps.containsKey("close")) {
          JsonNode line = ws.awaitJson(WAIT);
          assertThat(line.path("step").asText()).as("%s", line).isNotIn("failed", "socket-error");
          steps.put(line.get("step").asText(), line);
        }
        assertThat(steps.get("open").get("protocol").asText()).isEqualTo("tidings.v1");
        assertThat(reply(steps, "ping")).isEqualTo(Http.JSON.readTree("{\"op\":\"pong\",\"id\":\"p1\"}"));
        JsonNode subscribed = reply(steps, "subscribe");
        assertThat(subscribed.get("op").asText()).isEqualTo("subscribed");
        assertThat(subscribed.get("id").asInt()).isEqualTo(1);
        assertThat(subscribed.get("cursor").asText()).endsWith(".0");
        JsonNode published = reply(steps, "publish");
        assertThat(published.get("op").asText()).isEqualTo("published");
        assertThat(published.get("events")).hasSize(2);
        assertThat(published.get("events").get(0).get("offset").asLong()).isEqualTo(2);
        assertThat(published.get("events").get(0).get("duplicate").asBoolean()).isFalse();
        JsonNode again = reply(steps, "publish-again");
        assertThat(again.get("events").get(0).get("duplicate").asBoolean()).isTrue();
        assertThat(again.get("events").get(0).get("offset").asLong()).isEqualTo(2);
        assertThat(reply(steps, "subscribe-twice").get("code").asText()).isEqualTo("already_subscribed");
        assertThat(reply(steps, "unsubscribe").get("op").asText()).isEqualTo("unsubscribed");
        assertThat(reply(steps, "unsubscribe-twice").get("code").asText()).isEqualTo("not_subscribed");
        assertThat(reply(steps, "unknown-op").get("code").asText()).isEqualTo("unknown_op");
        assertThat(reply(steps, "bad-topic").get("code").asText()).isEqualTo("invalid_topic");
        assertThat(reply(steps, "bad-cursor").get("code").asText()).isEqualTo("invalid_cursor");
        assertThat(reply(steps, "bad-event").get("code").asText()).isEqualTo("invalid_event");
        assertThat(reply(steps, "auth").get("op").asText()).isEqualTo("authed");
        assertThat(reply(steps, "publish-unsubscribed").get("op").asText()).isEqualTo("published");
        assertThat(reply(steps, "ping-after").get("op").asText()).isEqualTo("pong");
        for (String step : List.of("subscribe-twice", "unsubscribe-twice", "unknown-op", "bad-topic", "bad-cursor", "bad-event")) {
          JsonNode r = reply(steps, step);
          assertThat(r.get("op").asText()).isEqualTo("error");
          assertThat(r.get("message").asText()).isNotBlank();
        }

        // The replay (offset 1) and the two published events, in order, as /v1/changes has them.
        JsonNode events = steps.get("events").get("events");
        List<JsonNode> changes = http.allChanges(topic, 100);
        assertThat(events).hasSize(3);
        for (int i = 0; i < 3; i++) {
          assertThat(PushSupport.withoutOp(events.get(i))).isEqualTo(changes.get(i));
        }
        assertThat(changes).hasSize(4);
        assertThat(steps.get("close").get("code").asInt()).as("non-JSON text closes with 1003").isEqualTo(1003);
        assertThat(ws.waitFor(WAIT)).isZero();
      }
    }
  }

  private static JsonNode reply(Map<String, JsonNode> steps, String step) {
    JsonNode s = steps.get(step);
    assertThat(s).as("step %s ran", step).isNotNull();
    return s.get("reply");
  }
}
