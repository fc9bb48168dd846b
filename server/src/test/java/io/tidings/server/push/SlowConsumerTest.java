package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.metric;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsRawSocket;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Consumers that stop reading (contract §5): they are disconnected with a resumable signal (4008 on
 * WebSocket, {@code retry:} and the end on SSE) once their bounded queue is full, they never hold up
 * the others, and the server's memory stays bounded however much is published past them.
 *
 * <p>A consumer that stops reading is a raw socket with a tiny receive buffer that does the
 * handshake and then reads nothing, so the server's socket fills quickly.
 */
class SlowConsumerTest {
  private static final String WS_SLOW = "tidings_push_slow_consumers_ws_total";
  private static final String SSE_SLOW = "tidings_push_slow_consumers_sse_total";
  private static final String DROPPED = "tidings_push_dropped_total";
  /** About half a kilobyte per event. */
  private static final String PAYLOAD = "x".repeat(450);
  /** About 1.5 KB per event. */
  private static final String BIG_PAYLOAD = "y".repeat(1450);
  private static final String CONFIG = """
      server: { event_loops: 2 }
      store: { retention_interval: 200ms }
      retention:
        - { topic: "slow/**", max_events: 3000 }
      push:
        outbound: { max_bytes: 64KiB, max_messages: 256 }
      """;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("slow-consumer").memory().config(CONFIG).start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String batch(int n, int seq) {
    return batch(n, seq, PAYLOAD);
  }

  private static String batch(int n, int seq, String payload) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < n; i++) {
      b.append(i > 0 ? "," : "").append("{\"data\":{\"seq\":").append(seq).append(",\"i\":").append(i)
          .append(",\"pad\":\"").append(payload).append("\"}}");
    }
    return b.append(']').toString();
  }

  /** Something that tells how far the readers that must keep up have got: the lowest offset all of them reached. */
  private interface Progress {
    long await(long atLeast) throws Exception;
  }

  /**
   * Publishes batches of about 150 KB until {@code metricName} reaches {@code target}, each batch
   * only once the readers that must keep up have everything before the previous one (so that, on a
   * loaded machine too, they are never more than two batches behind, well within what their sockets
   * absorb, while the stalled one falls further and further behind; the kernel alone takes a
   * megabyte or more of it). Returns when the metric was seen.
   */
  private static long publishUntil(String topic, String metricName, double target, Progress progress) throws Exception {
    long beforePrevious = PushSupport.offsetOf(PushSupport.head(http, topic));
    long previous = beforePrevious;
    for (int seq = 0; seq < 1000; seq++) {
      progress.await(beforePrevious);
      JsonNode r = http.publishOk(topic, batch(100, seq, BIG_PAYLOAD));
      beforePrevious = previous;
      previous = PushSupport.offsetOf(r.get("cursor").asText());
      if (metric(http, metricName) >= target) {
        return System.nanoTime();
      }
    }
    throw new AssertionError(metricName + " did not reach " + target + " after 100,000 events");
  }

  private static WsRawSocket stalledWs(String topic) throws IOException {
    WsRawSocket raw = WsRawSocket.connect(server.uri(), 4096);
    raw.sendText("{\"op\":\"subscribe\",\"id\":\"slow\",\"topic\":\"" + topic + "\"}");
    return raw;
  }

  /**
   * Reads what a stalled WebSocket got: its reply, then consecutive events, then the 4008 close
   * frame. The server cuts a connection that does not answer its close within 5 s, so the close
   * frame is required only when reading started well within that.
   */
  private static void assertClosedAsSlowConsumer(WsRawSocket raw, long closedAt) throws IOException {
    boolean prompt = System.nanoTime() - closedAt < TimeUnit.SECONDS.toNanos(4);
    WsRawSocket.Frame f = raw.readFrame(WAIT);
    assertThat(f).isNotNull();
    assertThat(f.json().path("op").asText()).isEqualTo("subscribed");
    long next = -1;
    int events = 0;
    while (true) {
      f = raw.readFrame(WAIT);
      if (f == null) {
        assertThat(prompt).as("the connection ended without a close frame, although it was read within 4 s").isFalse();
        break;
      }
      if (f.opcode() == WsRawSocket.CLOSE) {
        assertThat(f.closeCode()).as("close: %s", f.closeReason()).isEqualTo(4008);
        break;
      }
      if (f.opcode() == WsRawSocket.TEXT) {
        JsonNode e = f.json();
        assertThat(e.path("op").asText()).isEqualTo("event");
        long offset = e.get("offset").asLong();
        assertThat(next < 0 || offset == next).as("what was sent before the close is gapless (%s after %s)", offset, next - 1).isTrue();
        next = offset + 1;
        events++;
      }
    }
    assertThat(events).as("the stalled client got some events before it fell behind").isPositive();
  }

  @Test
  void aStalledWebSocketIsClosed4008_whileAHundredOtherSubscribersGetEverythingInOrder() throws Exception {
    String topic = "slow/fanout";
    String wsUrl = server.uri().toString().replaceFirst("^http", "ws") + "/v1/ws";
    double slowBefore = metric(http, WS_SLOW);
    double droppedBefore = metric(http, DROPPED);
    try (NodeScript fanout = NodeScript.start("push-ws-fanout", Duration.ofMinutes(5), Map.of(), wsUrl, topic, "100", "now")) {
      assertThat(fanout.awaitJson(WAIT).get("ready").asInt()).isEqualTo(100);
      JsonNode[] done = new JsonNode[1];
      long[] reached = {0};
      Progress progress = atLeast -> {
        while (reached[0] < atLeast && done[0] == null) {
          JsonNode line = fanout.awaitJson(Duration.ofMinutes(2));
          if (line.has("progress")) {
            reached[0] = line.get("progress").asLong();
          } else if (line.has("done")) {
            done[0] = line;
          }
        }
        return reached[0];
      };
      try (WsRawSocket slow = stalledWs(topic)) {
        // It reads nothing, so the server's count tells when its subscription is in place.
        awaitMetric("tidings_push_subscriptions", 101);
        long closedAt = publishUntil(topic, WS_SLOW, slowBefore + 1, progress);
        assertClosedAsSlowConsumer(slow, closedAt);
      }
      // The others were never held up: more events, then the end marker.
      http.publishOk(topic, batch(50, 9999));
      long endOffset = http.publishOk(topic, "{\"type\":\"end\"}").get("events").get(0).get("offset").asLong();
      System.out.println("slow-consumer: " + endOffset + " events to 100 WebSocket subscribers");
      progress.await(Long.MAX_VALUE);
      assertThat(done[0]).as("the subscribers' summary").isNotNull();
      assertThat(done[0].get("done").asBoolean()).isTrue();
      List<String> failures = new ArrayList<>();
      for (JsonNode r : done[0].get("results")) {
        if (!r.get("ok").asBoolean() || r.get("last").asLong() != endOffset
            || r.get("received").asLong() != endOffset - r.get("start").asLong()) {
          failures.add(r.toString());
        }
      }
      assertThat(failures).as("subscribers that missed, repeated or reordered events").isEmpty();
      assertThat(done[0].get("results")).hasSize(100);
      assertThat(fanout.waitFor(WAIT)).isZero();
    }
    assertThat(metric(http, WS_SLOW)).as("exactly one slow consumer").isEqualTo(slowBefore + 1);
    assertThat(metric(http, DROPPED)).as("what the slow consumer's queue held was discarded, and counted")
        .isGreaterThan(droppedBefore);
  }

  @Test
  void aStalledSseStreamGetsRetryAndItsEnd_andIsCounted() throws Exception {
    String topic = "slow/sse";
    double before = metric(http, SSE_SLOW);
    double droppedBefore = metric(http, DROPPED);
    try (SseClient slow = SseClient.openPaused(server.uri(), "/v1/sse?topic=" + enc(topic), 4096);
        SseClient fast = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(topic))) {
      assertThat(fast.next(WAIT).retry()).isNotNull();
      awaitMetric("tidings_push_connections_sse", 2);
      List<JsonNode> fastEvents = new ArrayList<>();
      long closedAt = publishUntil(topic, SSE_SLOW, before + 1, atLeast -> {
        if (atLeast > 0 && (fastEvents.isEmpty() || fastEvents.get(fastEvents.size() - 1).get("offset").asLong() < atLeast)) {
          fastEvents.addAll(PushSupport.sseUntil(fast, topic, atLeast, WAIT));
        }
        return atLeast;
      });
      boolean prompt;
      slow.resume();
      prompt = System.nanoTime() - closedAt < TimeUnit.SECONDS.toNanos(4);
      assertThat(slow.status()).isEqualTo(200);
      List<SseClient.Message> blocks = slow.awaitEnd(WAIT);
      long next = -1;
      for (SseClient.Message m : blocks) {
        if (m.isEvent() && !m.type().equals("subscribed")) {
          long offset = m.json().get("offset").asLong();
          assertThat(next < 0 || offset == next).as("gapless before the end (%s after %s)", offset, next - 1).isTrue();
          next = offset + 1;
        }
      }
      assertThat(blocks.get(0).retry()).as("the stream's first block").isNotNull();
      if (prompt) {
        assertThat(slow.endedCleanly()).as("read within 4 s of the overflow: the response ends properly (%s)", slow.endCause()).isTrue();
      }
      if (slow.endedCleanly()) {
        SseClient.Message last = blocks.get(blocks.size() - 1);
        assertThat(last.retry()).as("a stream ended for being slow says when to come back: %s", last).isNotNull();
        assertThat(last.isEvent()).isFalse();
      }
      // The fast stream kept everything.
      long head = PushSupport.offsetOf(PushSupport.head(http, topic));
      if (fastEvents.isEmpty() || fastEvents.get(fastEvents.size() - 1).get("offset").asLong() < head) {
        fastEvents.addAll(PushSupport.sseUntil(fast, topic, head, WAIT));
      }
      PushSupport.assertExactly("the fast stream", PushSupport.offsets(fastEvents), 1, head);
    }
    assertThat(metric(http, SSE_SLOW)).isEqualTo(before + 1);
    assertThat(metric(http, DROPPED)).isGreaterThan(droppedBefore);
  }

  @Test
  void oneBurstEightTimesTheQueue_reachesSubscribersThatRead_withoutCountingThemAsSlow() throws Exception {
    String topic = "slow/burst";
    double ws = metric(http, WS_SLOW);
    double sse = metric(http, SSE_SLOW);
    try (io.tidings.server.testing.WsClient reader = io.tidings.server.testing.WsClient.connect(server.uri());
        SseClient stream = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(topic))) {
      PushSupport.subscribe(reader, 1, topic, "now");
      assertThat(stream.next(WAIT).retry()).isNotNull();
      assertThat(stream.next(WAIT).event()).isEqualTo("subscribed");
      // One publish of about 500 KB, delivered to each connection in one go: the 64 KiB queue only
      // holds what the socket cannot take, and a reading client's socket takes it.
      http.publishOk(topic, batch(333, 0, BIG_PAYLOAD));
      assertThat(PushSupport.wsUntil(reader, topic, 333, WAIT)).hasSize(333);
      assertThat(PushSupport.sseUntil(stream, topic, 333, WAIT)).hasSize(333);
    }
    assertThat(metric(http, WS_SLOW)).isEqualTo(ws);
    assertThat(metric(http, SSE_SLOW)).isEqualTo(sse);
  }

  @Test
  void memoryStaysBounded_whenMuchMoreThanTheQueueLimitIsPublishedPastStalledConsumers() throws Exception {
    String topic = "slow/memory";
    long baseline = heapAfterGc();
    double wsBefore = metric(http, WS_SLOW);
    double sseBefore = metric(http, SSE_SLOW);
    List<AutoCloseable> stalled = new ArrayList<>();
    try {
      for (int i = 0; i < 5; i++) {
        stalled.add(stalledWs(topic));
        stalled.add(SseClient.openPaused(server.uri(), "/v1/sse?topic=" + enc(topic), 4096));
      }
      awaitMetric("tidings_push_subscriptions", 10);
      // 12 MB past ten stalled consumers: unbounded queues would hold 120 MB.
      for (int seq = 0; seq < 240; seq++) {
        http.publishOk(topic, batch(100, seq));
      }
      awaitMetricAtLeast(WS_SLOW, wsBefore + 5);
      awaitMetricAtLeast(SSE_SLOW, sseBefore + 5);
      long after = heapAfterGc();
      System.out.println("slow-consumer: heap after GC " + (baseline >> 20) + " MB before, " + (after >> 20) + " MB after");
      assertThat(after - baseline).as("heap growth after GC (baseline %d MB, after %d MB)", baseline >> 20, after >> 20)
          .isLessThan(32L << 20);
    } finally {
      for (AutoCloseable c : stalled) {
        c.close();
      }
    }
  }

  private static long heapAfterGc() throws Exception {
    Process jcmd = new ProcessBuilder(java.nio.file.Path.of(System.getProperty("java.home"), "bin", "jcmd").toString(),
        Long.toString(server.process().pid()), "GC.run").redirectErrorStream(true).start();
    jcmd.getInputStream().readAllBytes();
    assertThat(jcmd.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(jcmd.exitValue()).isZero();
    return PushSupport.heapUsed(http);
  }

  private static void awaitMetric(String name, double atLeast) throws InterruptedException {
    awaitMetricAtLeast(name, atLeast);
  }

  private static void awaitMetricAtLeast(String name, double atLeast) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (metric(http, name) < atLeast) {
      assertThat(System.nanoTime()).as("%s reaches %s (now %s)", name, atLeast, metric(http, name)).isLessThan(deadline);
      Thread.sleep(50);
    }
  }
}
