package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.head;
import static io.tidings.server.push.PushSupport.offsetOf;
import static io.tidings.server.push.PushSupport.offsets;
import static io.tidings.server.push.PushSupport.publishNumbered;
import static io.tidings.server.push.PushSupport.withoutOp;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One cursor for every transport (contract §1, §5): a client that hops between WebSocket, SSE and
 * {@code /v1/changes}, dropping the connection each time and resuming with the cursor of the last
 * event it saw, ends with the whole log exactly once, while a publisher keeps appending.
 */
class ResumeAcrossTransportsTest {
  private static final String TOPIC = "hop/log";

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("resume-across").config("server: { event_loops: 2 }\n").start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** Reads {@code n} events of a single-topic SSE stream; the stream's last id is the last event's cursor. */
  private static List<JsonNode> sseEvents(SseClient sse, int n) throws InterruptedException {
    List<JsonNode> out = new ArrayList<>();
    while (out.size() < n) {
      SseClient.Message m = PushSupport.nextSseEvent(sse, WAIT);
      assertThat(m).as("the stream ended (%s)", sse.endCause()).isNotNull();
      assertThat(m.id()).isEqualTo(m.json().get("cursor").asText());
      out.add(m.json());
    }
    return out;
  }

  private static List<JsonNode> wsEvents(WsClient ws, int n) throws InterruptedException {
    List<JsonNode> out = new ArrayList<>();
    while (out.size() < n) {
      JsonNode m = ws.next(WAIT);
      assertThat(m).as("closed: %s", ws.closeNow()).isNotNull();
      if (m.path("op").asText().equals("event")) {
        out.add(withoutOp(m));
      } else {
        assertThat(m.path("op").asText()).as("%s", m).isEqualTo("subscribed");
      }
    }
    return out;
  }

  private static String last(List<JsonNode> events) {
    return events.get(events.size() - 1).get("cursor").asText();
  }

  @Test
  void hoppingBetweenWebSocketSseAndChanges_withTheLastCursor_losesAndRepeatsNothing() throws Exception {
    publishNumbered(http, TOPIC, "pre", 1, 600);
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    Future<?> publisher = pool.submit(() -> {
      for (int i = 0; !stop.get(); i++) {
        http.publishOk(TOPIC, PushSupport.messages("live-" + i, 0, 1 + i % 3));
        Thread.sleep(3);
      }
      return null;
    });
    List<JsonNode> got = new ArrayList<>();
    try {
      // WebSocket from the beginning, then the connection is dropped without a goodbye.
      WsClient ws = WsClient.connect(server.uri());
      PushSupport.subscribe(ws, 1, TOPIC, "earliest");
      got.addAll(wsEvents(ws, 250));
      ws.abort();

      // SSE from the WebSocket's last cursor (as since)...
      try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(TOPIC) + "&since=" + enc(last(got)))) {
        got.addAll(sseEvents(sse, 250));
        assertThat(sse.lastEventId()).isEqualTo(last(got));
      }
      // ...and from SSE's last id (as Last-Event-ID, the way EventSource reconnects).
      try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(TOPIC), "Last-Event-ID", last(got))) {
        got.addAll(sseEvents(sse, 100));
      }
      // WebSocket from SSE's id.
      try (WsClient again = WsClient.connect(server.uri())) {
        PushSupport.subscribe(again, "2", TOPIC, last(got));
        got.addAll(wsEvents(again, 150));
      }
      // /v1/changes from the WebSocket's cursor, and back to SSE with its cursor.
      JsonNode page = http.getOk("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(last(got)) + "&limit=120&wait=10");
      page.get("events").forEach(got::add);
      String changesCursor = page.get("cursor").asText();
      assertThat(changesCursor).isEqualTo(last(got));
      try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(TOPIC) + "&since=" + enc(changesCursor))) {
        got.addAll(sseEvents(sse, 100));
      }
      // /v1/changes from SSE's id, then WebSocket from the changes cursor.
      page = http.getOk("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(last(got)) + "&limit=80&wait=10");
      page.get("events").forEach(got::add);
      try (WsClient ws3 = WsClient.connect(server.uri())) {
        PushSupport.subscribe(ws3, 3, TOPIC, page.get("cursor").asText());
        got.addAll(wsEvents(ws3, 50));
        stop.set(true);
        publisher.get(1, TimeUnit.MINUTES);
        long end = offsetOf(head(http, TOPIC));
        // The publisher may have stopped right at the last event already read.
        if (got.get(got.size() - 1).get("offset").asLong() < end) {
          List<JsonNode> rest = PushSupport.wsUntil(ws3, TOPIC, end, WAIT);
          rest.forEach(e -> got.add(withoutOp(e)));
        }
      }
    } finally {
      stop.set(true);
      pool.shutdownNow();
    }
    long end = offsetOf(head(http, TOPIC));
    assertExactly("the events across all hops", offsets(got), 1, end);
    assertThat(got).as("the same event objects everywhere").isEqualTo(http.allChanges(TOPIC, 1000));
  }
}
