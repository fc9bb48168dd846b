package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.epochOf;
import static io.tidings.server.push.PushSupport.head;
import static io.tidings.server.push.PushSupport.offsetOf;
import static io.tidings.server.push.PushSupport.offsets;
import static io.tidings.server.push.PushSupport.publishNumbered;
import static io.tidings.server.push.PushSupport.sseUntil;
import static io.tidings.server.push.PushSupport.subscribe;
import static io.tidings.server.push.PushSupport.wsUntil;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Resets (contract §1, §5): a cursor whose events retention has trimmed, or that belongs to another
 * history of the store (a memory store restarted), is answered with {@code reset}, the topic's state
 * as {@code put} events, then live events, on both transports, with the id and cursor rules that let
 * a client cut off half-way come back safely. Catch-up and state pages of large events reach a
 * client that reads (they are paced, not dumped into its bounded queue).
 */
class ResetTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  /** Small pages, so that state and catch-up take several reads; a small outbound queue. */
  private static final String CONFIG = """
      server: { event_loops: 2 }
      store: { retention_interval: 100ms }
      retention:
        - { topic: "reset/**", max_events: 10 }
      push:
        catch_up_page: 4
        outbound: { max_bytes: 64KiB, max_messages: 256 }
      """;
  private static final String BIG = "b".repeat(60_000);

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("reset").memory().config(CONFIG).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return "reset/" + hint + "-" + SEQ.incrementAndGet();
  }

  /**
   * Puts k1..k5, two messages, then (after the returned cursor, of offset 2) enough to trim it:
   * messages, k2 updated, k5 deleted. The state ends as k1, k2 (v2), k3, k4.
   */
  private static String trimmedTopicWithState(String t) throws InterruptedException {
    JsonNode first = http.publishOk(t, "[{\"type\":\"put\",\"key\":\"k1\",\"data\":{\"v\":1}},"
        + "{\"type\":\"put\",\"key\":\"k2\",\"data\":{\"v\":1}},{\"type\":\"put\",\"key\":\"k3\",\"data\":{\"v\":1}},"
        + "{\"type\":\"put\",\"key\":\"k4\",\"data\":[1,2]},{\"type\":\"put\",\"key\":\"k5\",\"data\":\"five\"},"
        + "{\"data\":\"m\"},{\"data\":\"m\"}]");
    String old = first.get("events").get(1).get("cursor").asText();
    publishNumbered(http, t, "fill", 1, 20);
    http.publishOk(t, "[{\"type\":\"put\",\"key\":\"k2\",\"data\":{\"v\":2}},{\"type\":\"delete\",\"key\":\"k5\"}]");
    publishNumbered(http, t, "fill", 21, 3);
    awaitTrimmed(t, old);
    return old;
  }

  /** Waits for retention to have trimmed past {@code cursor} ({@code /v1/changes} answers 410). */
  private static void awaitTrimmed(String t, String cursor) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (http.get("/v1/changes?topic=" + enc(t) + "&since=" + enc(cursor)).status() != 410) {
      assertThat(System.nanoTime()).as("retention trims %s", t).isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  @Test
  void sse_aTrimmedCursorGetsResetThenTheStateAsPuts_onlyTheLastWithAnId_thenLiveEvents() throws Exception {
    String t = topic("sse");
    String old = trimmedTopicWithState(t);
    String head = head(http, t);
    List<JsonNode> state = http.allState(t, 100);
    assertThat(state).extracting(e -> e.get("key").asText()).containsExactly("k1", "k2", "k3", "k4");

    for (boolean byHeader : new boolean[] {false, true}) {
      String path = "/v1/sse?topic=" + enc(t) + (byHeader ? "&since=earliest" : "&since=" + enc(old));
      try (SseClient sse = byHeader ? SseClient.open(server.uri(), path, "Last-Event-ID", old) : SseClient.open(server.uri(), path)) {
        assertThat(sse.status()).isEqualTo(200);
        assertThat(sse.next(WAIT).retry()).isNotNull();
        SseClient.Message subscribed = sse.next(WAIT);
        assertThat(subscribed.event()).isEqualTo("subscribed");
        assertThat(subscribed.id()).as("the stream starts from the cursor given").isEqualTo(old);

        SseClient.Message reset = sse.nextEvent(WAIT);
        assertThat(reset.event()).isEqualTo("reset");
        assertThat(reset.id()).as("with state to follow, the reset carries no id").isNull();
        assertThat(reset.json().get("topic").asText()).isEqualTo(t);
        assertThat(reset.json().get("reason").asText()).isEqualTo("retention");
        assertThat(reset.json().get("cursor").asText()).isEqualTo(head);
        assertThat(reset.json().get("state").asBoolean()).as("state follows").isTrue();

        for (int i = 0; i < state.size(); i++) {
          SseClient.Message put = sse.nextEvent(WAIT);
          JsonNode e = put.json();
          boolean last = i == state.size() - 1;
          assertThat(put.event()).isEqualTo("put");
          assertThat(e.get("type").asText()).isEqualTo("put");
          assertThat(e.get("topic").asText()).isEqualTo(t);
          assertThat(e.get("key")).isEqualTo(state.get(i).get("key"));
          assertThat(e.get("data")).isEqualTo(state.get(i).get("data"));
          assertThat(e.get("offset")).isEqualTo(state.get(i).get("offset"));
          assertThat(e.get("time")).isEqualTo(state.get(i).get("time"));
          assertThat(put.id()).as("id of put %d: only the last has one", i).isEqualTo(last ? head : null);
          assertThat(e.get("cursor").asText()).as("cursor of put %d", i).isEqualTo(last ? head : old);
        }
        assertThat(sse.lastEventId()).isEqualTo(head);

        // Then live, after the reset's cursor.
        JsonNode more = http.publishOk(t, "{\"data\":\"after\"}");
        List<JsonNode> live = sseUntil(sse, t, offsetOf(more.get("cursor").asText()), WAIT);
        assertExactly("live after the reset", offsets(live), offsetOf(head) + 1, offsetOf(more.get("cursor").asText()));
        head = more.get("cursor").asText();
      }
    }
  }

  @Test
  void sse_withAnEmptyState_theResetItselfCarriesTheId() throws Exception {
    String t = topic("empty");
    String old = http.publishOk(t, "[{\"data\":1},{\"data\":2}]").get("events").get(0).get("cursor").asText();
    publishNumbered(http, t, "fill", 1, 15);
    awaitTrimmed(t, old);
    String head = head(http, t);
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(t) + "&since=" + enc(old))) {
      SseClient.Message reset = PushSupport.nextSseEvent(sse, WAIT);
      assertThat(reset.event()).isEqualTo("reset");
      assertThat(reset.id()).isEqualTo(head);
      assertThat(reset.json().get("cursor").asText()).isEqualTo(head);
      assertThat(reset.json().get("state").asBoolean(true)).as("no state follows").isFalse();
      JsonNode more = http.publishOk(t, "{\"data\":\"after\"}");
      SseClient.Message next = PushSupport.nextSseEvent(sse, WAIT);
      assertThat(next.event()).isEqualTo("message");
      assertThat(next.id()).isEqualTo(more.get("cursor").asText());
      assertThat(next.json().get("offset").asLong()).isEqualTo(offsetOf(head) + 1);
    }
  }

  @Test
  void ws_aTrimmedCursorGetsResetThenPuts_theLastCarryingTheResetCursor_thenLiveEvents() throws Exception {
    String t = topic("ws");
    String old = trimmedTopicWithState(t);
    String head = head(http, t);
    List<JsonNode> state = http.allState(t, 100);
    try (WsClient ws = WsClient.connect(server.uri())) {
      JsonNode subscribed = subscribe(ws, "r", t, old);
      assertThat(subscribed.get("cursor").asText()).isEqualTo(old);
      JsonNode reset = ws.next(WAIT);
      assertThat(reset.get("op").asText()).isEqualTo("reset");
      assertThat(reset.get("topic").asText()).isEqualTo(t);
      assertThat(reset.get("reason").asText()).isEqualTo("retention");
      assertThat(reset.get("cursor").asText()).isEqualTo(head);
      assertThat(reset.get("state").asBoolean()).as("state follows").isTrue();
      for (int i = 0; i < state.size(); i++) {
        JsonNode put = ws.next(WAIT);
        boolean last = i == state.size() - 1;
        assertThat(put.get("op").asText()).isEqualTo("event");
        assertThat(put.get("type").asText()).isEqualTo("put");
        assertThat(put.get("key")).isEqualTo(state.get(i).get("key"));
        assertThat(put.get("data")).isEqualTo(state.get(i).get("data"));
        assertThat(put.get("offset")).isEqualTo(state.get(i).get("offset"));
        assertThat(put.get("cursor").asText()).as("cursor of put %d", i).isEqualTo(last ? head : old);
      }
      JsonNode more = http.publishOk(t, "[{\"data\":1},{\"type\":\"put\",\"key\":\"k9\",\"data\":9}]");
      List<JsonNode> live = wsUntil(ws, t, offsetOf(more.get("cursor").asText()), WAIT);
      assertExactly("live after the reset", offsets(live), offsetOf(head) + 1, offsetOf(more.get("cursor").asText()));
    }
    // In notify mode the puts carry no data.
    try (WsClient ws = WsClient.connect(server.uri())) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"" + t + "\",\"since\":\"" + old + "\",\"mode\":\"notify\"}");
      assertThat(ws.await(m -> m.path("op").asText().equals("reset"), WAIT).get("reason").asText()).isEqualTo("retention");
      JsonNode put = ws.await(m -> m.path("op").asText().equals("event"), WAIT);
      assertThat(put.get("type").asText()).isEqualTo("put");
      assertThat(put.has("data")).isFalse();
    }
  }

  @Test
  void sse_aStreamOverSeveralTopics_resetsOnlyTheTrimmedOne_andItsIdsKeepTheOthers() throws Exception {
    String t = topic("multi-trim");
    String u = topic("multi-kept");
    http.publishOk(t, "[{\"type\":\"put\",\"key\":\"a\",\"data\":1},{\"type\":\"put\",\"key\":\"b\",\"data\":2}]");
    publishNumbered(http, u, "u", 1, 3);
    String query = "/v1/sse?topic=" + enc(t) + "&topic=" + enc(u);
    String streamCursor;
    try (SseClient sse = SseClient.open(server.uri(), query + "&since=earliest")) {
      List<JsonNode> seen = new ArrayList<>();
      while (seen.size() < 5) {
        seen.add(PushSupport.nextSseEvent(sse, WAIT).json());
      }
      streamCursor = sse.lastEventId();
    }
    publishNumbered(http, t, "fill", 1, 12);
    awaitTrimmed(t, epochOf(head(http, t)) + ".2");
    publishNumbered(http, u, "u", 4, 2);
    String headT = head(http, t);

    try (SseClient sse = SseClient.open(server.uri(), query + "&since=earliest", "Last-Event-ID", streamCursor)) {
      assertThat(sse.nextEvent(WAIT).event()).isEqualTo("subscribed");
      // Blocks of both topics may interleave; follow each.
      List<Long> uOffsets = new ArrayList<>();
      long uPosition = 3;
      SseClient.Message reset = null;
      List<SseClient.Message> puts = new ArrayList<>();
      String finalId = null;
      while (uOffsets.size() < 2 || puts.size() < 2) {
        SseClient.Message m = sse.nextEvent(WAIT);
        JsonNode e = m.json();
        if (m.event().equals("reset")) {
          reset = m;
          assertThat(e.get("topic").asText()).isEqualTo(t);
          assertThat(e.get("cursor").asText()).isEqualTo(headT);
        } else if (e.get("topic").asText().equals(u)) {
          uOffsets.add(e.get("offset").asLong());
          uPosition = e.get("offset").asLong();
          String[] parts = m.id().split("~");
          assertThat(Long.parseLong(parts[1])).isEqualTo(uPosition);
        } else {
          assertThat(reset).as("the reset comes before the state").isNotNull();
          puts.add(m);
          if (m.id() != null) {
            finalId = m.id();
            String[] parts = m.id().split("~");
            assertThat(parts[0]).as("the last put's id holds the reset's cursor for %s", t).isEqualTo(headT);
            assertThat(Long.parseLong(parts[1])).as("and the other topic's position").isEqualTo(uPosition);
          }
        }
      }
      assertThat(uOffsets).containsExactly(4L, 5L);
      assertThat(puts).extracting(p -> p.json().get("key").asText()).containsExactly("a", "b");
      assertThat(puts.get(0).id()).isNull();
      assertThat(finalId).isNotNull();
      assertThat(reset.json().get("reason").asText()).isEqualTo("retention");
    }
  }

  @Test
  void aCursorFromAnotherHistory_memoryStoreRestarted_isResetWithReasonEpoch() throws Exception {
    String t = "epoch/topic";
    String old;
    int port;
    try (TidingsProcess first = TidingsProcess.builder().name("reset-epoch-1").memory().start()) {
      Http h = new Http(first);
      old = h.publishOk(t, "[{\"type\":\"put\",\"key\":\"k1\",\"data\":1},{\"type\":\"put\",\"key\":\"k2\",\"data\":2},{\"data\":3}]")
          .get("cursor").asText();
      port = first.uri().getPort();
      first.kill();
    }
    try (TidingsProcess second = TidingsProcess.builder().name("reset-epoch-2").memory().port(port).start()) {
      Http h = new Http(second);
      String head = h.publishOk(t, "[{\"type\":\"put\",\"key\":\"k1\",\"data\":\"new\"},{\"type\":\"put\",\"key\":\"k9\",\"data\":9}]")
          .get("cursor").asText();
      assertThat(epochOf(head)).as("a restarted memory store is a new history").isNotEqualTo(epochOf(old));
      List<JsonNode> state = h.allState(t, 100);
      assertThat(h.get("/v1/changes?topic=" + enc(t) + "&since=" + enc(old)).status()).isEqualTo(410);

      try (SseClient sse = SseClient.open(second.uri(), "/v1/sse?topic=" + enc(t), "Last-Event-ID", old)) {
        SseClient.Message reset = PushSupport.nextSseEvent(sse, WAIT);
        assertThat(reset.event()).isEqualTo("reset");
        assertThat(reset.json().get("reason").asText()).isEqualTo("epoch");
        assertThat(reset.json().get("cursor").asText()).isEqualTo(head);
        SseClient.Message p1 = sse.nextEvent(WAIT);
        SseClient.Message p2 = sse.nextEvent(WAIT);
        assertThat(List.of(p1.json().get("key").asText(), p2.json().get("key").asText())).containsExactly("k1", "k9");
        assertThat(p1.json().get("data")).isEqualTo(state.get(0).get("data"));
        assertThat(p1.id()).isNull();
        assertThat(p2.id()).isEqualTo(head);
        JsonNode more = h.publishOk(t, "{\"data\":\"live\"}");
        assertThat(sse.nextEvent(WAIT).id()).isEqualTo(more.get("cursor").asText());
      }
      try (WsClient ws = WsClient.connect(second.uri())) {
        subscribe(ws, 1, t, old);
        JsonNode reset = ws.next(WAIT);
        assertThat(reset.get("op").asText()).isEqualTo("reset");
        assertThat(reset.get("reason").asText()).isEqualTo("epoch");
        assertThat(ws.next(WAIT).get("cursor").asText()).isEqualTo(old);
        assertThat(ws.next(WAIT).get("cursor").asText()).isEqualTo(reset.get("cursor").asText());
        JsonNode more = h.publishOk(t, "{\"data\":\"live 2\"}");
        assertThat(ws.next(WAIT).get("cursor").asText()).isEqualTo(more.get("cursor").asText());
      }
    }
  }

  @Test
  void largeStateAndLargeCatchUps_reachAClientThatReads_withoutCountingItAsSlow() throws Exception {
    // 60 KB per event, four per store page: a page is several times the 64 KiB outbound queue.
    String t = topic("big");
    StringBuilder puts = new StringBuilder("[");
    for (int i = 0; i < 12; i++) {
      puts.append(i > 0 ? "," : "").append("{\"type\":\"put\",\"key\":\"k").append(i < 10 ? "0" : "").append(i)
          .append("\",\"data\":\"").append(BIG).append("\"}");
    }
    String old = http.publishOk(t, puts.append("]").toString()).get("events").get(0).get("cursor").asText();
    for (int i = 0; i < 4; i++) {
      http.publishOk(t, "[" + String.join(",", java.util.Collections.nCopies(3, "{\"data\":\"" + BIG + "\"}")) + "]");
    }
    awaitTrimmed(t, old);
    String head = head(http, t);
    double slowWs = PushSupport.metric(http, "tidings_push_slow_consumers_ws_total");
    double slowSse = PushSupport.metric(http, "tidings_push_slow_consumers_sse_total");

    try (WsClient ws = WsClient.connect(server.uri())) {
      subscribe(ws, 1, t, old);
      assertThat(ws.next(WAIT).get("op").asText()).isEqualTo("reset");
      for (int i = 0; i < 12; i++) {
        JsonNode put = ws.next(WAIT);
        assertThat(put).as("put %d (closed: %s)", i, ws.closeNow()).isNotNull();
        assertThat(put.get("key").asText()).isEqualTo(String.format("k%02d", i));
        assertThat(put.get("data").asText()).hasSize(BIG.length());
      }
    }
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(t) + "&since=" + enc(old))) {
      assertThat(PushSupport.nextSseEvent(sse, WAIT).event()).isEqualTo("reset");
      for (int i = 0; i < 12; i++) {
        SseClient.Message put = sse.nextEvent(WAIT);
        assertThat(put).as("put %d (%s)", i, sse.endCause()).isNotNull();
        assertThat(put.json().get("data").asText()).hasSize(BIG.length());
      }
      assertThat(sse.lastEventId()).isEqualTo(head);
    }
    // Catch-up of retained history from earliest: ten events of 60 KB.
    try (WsClient ws = WsClient.connect(server.uri())) {
      subscribe(ws, 2, t, "earliest");
      List<JsonNode> events = wsUntil(ws, t, offsetOf(head), WAIT);
      assertThat(events).hasSize(10);
    }
    try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(t) + "&since=earliest")) {
      assertThat(sseUntil(sse, t, offsetOf(head), WAIT)).hasSize(10);
    }
    assertThat(PushSupport.metric(http, "tidings_push_slow_consumers_ws_total")).isEqualTo(slowWs);
    assertThat(PushSupport.metric(http, "tidings_push_slow_consumers_sse_total")).isEqualTo(slowSse);
  }
}
