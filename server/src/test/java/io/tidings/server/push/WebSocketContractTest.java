package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.epochOf;
import static io.tidings.server.push.PushSupport.offsets;
import static io.tidings.server.push.PushSupport.publishNumbered;
import static io.tidings.server.push.PushSupport.subscribe;
import static io.tidings.server.push.PushSupport.withoutOp;
import static io.tidings.server.push.PushSupport.wsUntil;
import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import io.tidings.server.testing.WsRawSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code GET /v1/ws}: the JSON protocol, its errors and close codes, pings and the idle close (contract §5.2). */
class WebSocketContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final String CONFIG = """
      server:
        event_loops: 2
      push:
        ws: { ping_interval: 1s, idle_timeout: 5s, max_frame_size: 64KiB, max_subscriptions: 3 }
      """;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("ws-contract").memory().config(CONFIG).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return "ws/" + hint + "-" + SEQ.incrementAndGet();
  }

  /** A number as the parser of replies reads it (an int node for small values, a long node else). */
  private static JsonNode num(long n) {
    try {
      return Http.JSON.readTree(Long.toString(n));
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode str(String s) {
    return JsonNodeFactory.instance.textNode(s);
  }

  /** Sends a frame and returns the reply carrying {@code id} (any op). */
  private static JsonNode call(WsClient ws, String frame, JsonNode id) throws InterruptedException {
    ws.send(frame);
    return ws.await(m -> !m.path("op").asText().equals("event") && m.path("id").equals(id), WAIT);
  }

  /** Sends a frame that has no usable id and returns the next error. */
  private static JsonNode callNoId(WsClient ws, String frame) throws InterruptedException {
    ws.send(frame);
    return ws.await(m -> m.path("op").asText().equals("error"), WAIT);
  }

  private static void assertErrorFrame(JsonNode reply, String code, JsonNode id) {
    assertThat(reply.path("op").asText()).as("an error: %s", reply).isEqualTo("error");
    assertThat(reply.path("code").asText()).as("code of %s", reply).isEqualTo(code);
    assertThat(reply.path("message").asText()).as("message of %s", reply).isNotBlank();
    if (id == null) {
      assertThat(reply.has("id")).as("no id in %s", reply).isFalse();
    } else {
      assertThat(reply.get("id")).as("id echoed in %s", reply).isEqualTo(id);
    }
  }

  private static void assertAlive(WsClient ws) throws InterruptedException {
    JsonNode pong = call(ws, "{\"op\":\"ping\",\"id\":\"alive\"}", str("alive"));
    assertThat(pong.path("op").asText()).isEqualTo("pong");
    assertThat(ws.closeNow()).isNull();
  }

  @Test
  void aPlainGetIs426_andOtherMethods405() {
    Http.Reply plain = http.get("/v1/ws");
    assertError(plain, 426, "upgrade_required");
    assertThat(plain.header("Upgrade")).isEqualToIgnoringCase("websocket");
    Http.Reply post = http.post("/v1/ws", "application/json", "{}");
    assertError(post, 405, "method_not_allowed");
    assertThat(post.header("Allow")).contains("GET");
  }

  @Test
  void theSubprotocolIsChosenWhenAsked_andOptional() throws Exception {
    try (WsClient asked = WsClient.connect(server.uri(), "tidings.v1"); WsClient plain = WsClient.connect(server.uri())) {
      assertThat(asked.subprotocol()).isEqualTo("tidings.v1");
      assertThat(plain.subprotocol()).isEmpty();
      assertAlive(asked);
      assertAlive(plain);
    }
  }

  @Test
  void subscribe_replaysThenFollowsLive_withTheEventsOfChanges_andUnsubscribeStopsIt() throws Exception {
    String t = topic("sub");
    http.publishOk(t, "[{\"id\":\"a\",\"data\":{\"x\":1.50}},{\"type\":\"put\",\"key\":\"k\",\"data\":\"v\"},{\"type\":\"delete\",\"key\":\"k\"}]");
    List<JsonNode> changes = http.allChanges(t, 100);
    String epoch = epochOf(changes.get(0).get("cursor").asText());
    try (WsClient ws = WsClient.connect(server.uri(), "tidings.v1")) {
      JsonNode subscribed = call(ws, "{\"op\":\"subscribe\",\"id\":7,\"topic\":\"" + t + "\",\"since\":\"earliest\"}", num(7));
      assertThat(subscribed.path("op").asText()).isEqualTo("subscribed");
      assertThat(subscribed.get("id").isIntegralNumber()).as("a number id stays a number").isTrue();
      assertThat(subscribed.path("topic").asText()).isEqualTo(t);
      assertThat(subscribed.path("cursor").asText()).as("earliest is the position before offset 1").isEqualTo(epoch + ".0");

      List<JsonNode> replay = wsUntil(ws, t, 3, WAIT);
      assertThat(replay).hasSize(3);
      for (int i = 0; i < 3; i++) {
        assertThat(replay.get(i).path("op").asText()).isEqualTo("event");
        assertThat(withoutOp(replay.get(i))).as("the event object of /v1/changes").isEqualTo(changes.get(i));
      }

      JsonNode published = http.publishOk(t, "{\"data\":\"live\"}");
      JsonNode live = wsUntil(ws, t, 4, WAIT).get(0);
      assertThat(live.path("cursor").asText()).isEqualTo(published.get("cursor").asText());
      assertThat(live.path("data").asText()).isEqualTo("live");

      JsonNode unsubscribed = call(ws, "{\"op\":\"unsubscribe\",\"id\":\"u-1\",\"topic\":\"" + t + "\"}", str("u-1"));
      assertThat(unsubscribed.path("op").asText()).isEqualTo("unsubscribed");
      assertThat(unsubscribed.path("topic").asText()).isEqualTo(t);

      // After unsubscribing nothing more comes; subscribing again from a cursor resumes exactly there.
      String c4 = published.get("cursor").asText();
      publishNumbered(http, t, "after", 5, 2);
      JsonNode again = subscribe(ws, "again", t, c4);
      assertThat(again.path("cursor").asText()).isEqualTo(c4);
      List<JsonNode> rest = wsUntil(ws, t, 6, WAIT);
      assertExactly("events after resubscribing", offsets(rest), 5, 6);
      assertAlive(ws);
      assertThat(offsets(new ArrayList<>(rest))).doesNotHaveDuplicates();

      // since=now (and no since at all) starts at the head.
      JsonNode now = subscribe(ws, 8, topic("now"), null);
      assertThat(now.path("cursor").asText()).endsWith(".0");
      call(ws, "{\"op\":\"unsubscribe\",\"id\":9,\"topic\":\"" + t + "\"}", num(9));
      JsonNode fromNow = subscribe(ws, 10, t, "now");
      assertThat(fromNow.path("cursor").asText()).isEqualTo(PushSupport.head(http, t));
    }
  }

  @Test
  void severalSubscriptionsOnOneConnection_eachInOrder() throws Exception {
    String a = topic("two-a");
    String b = topic("two-b");
    try (WsClient ws = WsClient.connect(server.uri())) {
      subscribe(ws, 1, a, "earliest");
      subscribe(ws, 2, b, "earliest");
      for (int i = 0; i < 5; i++) {
        publishNumbered(http, a, "a", i * 3 + 1, 3);
        publishNumbered(http, b, "b", i * 2 + 1, 2);
      }
      List<JsonNode> gotA = new ArrayList<>();
      List<JsonNode> gotB = new ArrayList<>();
      while (gotA.size() < 15 || gotB.size() < 10) {
        JsonNode m = ws.next(WAIT);
        assertThat(m).isNotNull();
        if (m.path("op").asText().equals("event")) {
          (m.get("topic").asText().equals(a) ? gotA : gotB).add(m);
        }
      }
      assertExactly("topic a", offsets(gotA), 1, 15);
      assertExactly("topic b", offsets(gotB), 1, 10);
    }
  }

  @Test
  void idsAreEchoedAsSent_numbersAndStrings() throws Exception {
    try (WsClient ws = WsClient.connect(server.uri())) {
      for (JsonNode id : List.of(num(0), num(-3), num(9007199254740993L), str(""), str("req-1"), str("ünï\"code"),
          str("x".repeat(128)))) {
        String frame = "{\"op\":\"ping\",\"id\":" + id + "}";
        JsonNode pong = call(ws, frame, id);
        assertThat(pong.path("op").asText()).isEqualTo("pong");
        assertThat(pong.get("id")).isEqualTo(id);
        assertThat(pong.get("id").getNodeType()).isEqualTo(id.getNodeType());
      }
      // No id: a reply without one.
      ws.send("{\"op\":\"ping\"}");
      JsonNode pong = ws.await(m -> m.path("op").asText().equals("pong"), WAIT);
      assertThat(pong.has("id")).isFalse();
      ws.send("{\"op\":\"ping\",\"id\":null}");
      assertThat(ws.await(m -> m.path("op").asText().equals("pong"), WAIT).has("id")).isFalse();
      // Ids that are neither: invalid_request, without an id.
      for (String bad : List.of("{\"op\":\"ping\",\"id\":{\"a\":1}}", "{\"op\":\"ping\",\"id\":[1]}",
          "{\"op\":\"ping\",\"id\":1.5}", "{\"op\":\"ping\",\"id\":true}", "{\"op\":\"ping\",\"id\":\"" + "x".repeat(129) + "\"}")) {
        assertErrorFrame(callNoId(ws, bad), "invalid_request", null);
      }
      assertAlive(ws);
    }
  }

  @Test
  void everyRefusalIsAnErrorFrameWithTheIdEchoed_andTheConnectionStaysOpen() throws Exception {
    String t = topic("errors");
    String head = publishNumbered(http, t, "e", 1, 3);
    String epoch = epochOf(head);
    try (WsClient ws = WsClient.connect(server.uri())) {
      subscribe(ws, 1, t, "earliest");
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":2,\"topic\":\"" + t + "\"}", num(2)), "already_subscribed", num(2));
      assertErrorFrame(call(ws, "{\"op\":\"unsubscribe\",\"id\":\"n\",\"topic\":\"ws/never\"}", str("n")), "not_subscribed", str("n"));
      assertErrorFrame(call(ws, "{\"op\":\"dance\",\"id\":3}", num(3)), "unknown_op", num(3));
      assertErrorFrame(call(ws, "{\"id\":4}", num(4)), "invalid_request", num(4));
      assertErrorFrame(call(ws, "{\"op\":5,\"id\":5}", num(5)), "invalid_request", num(5));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":6,\"topic\":\"" + t + "-x\",\"extra\":1}", num(6)), "invalid_request", num(6));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":7,\"topic\":\"" + t + "-x\",\"mode\":\"loud\"}", num(7)), "invalid_request", num(7));
      for (String notAnObject : List.of("[1,2]", "\"text\"", "42", "null", "true")) {
        assertErrorFrame(callNoId(ws, notAnObject), "invalid_request", null);
      }
      // Topics.
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":8}", num(8)), "invalid_topic", num(8));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":9,\"topic\":\"/x\"}", num(9)), "invalid_topic", num(9));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":10,\"topic\":\"a//b\"}", num(10)), "invalid_topic", num(10));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":11,\"topic\":7}", num(11)), "invalid_topic", num(11));
      assertErrorFrame(call(ws, "{\"op\":\"unsubscribe\",\"id\":12,\"topic\":\"a/./b\"}", num(12)), "invalid_topic", num(12));
      assertErrorFrame(call(ws, "{\"op\":\"publish\",\"id\":13,\"topic\":\"bad topic\",\"events\":[{}]}", num(13)), "invalid_topic", num(13));
      // Cursors: malformed, not a string, past the head (refused once the head is known).
      String u = t + "-cursor";
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":14,\"topic\":\"" + u + "\",\"since\":\"garbage\"}", num(14)), "invalid_cursor", num(14));
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":15,\"topic\":\"" + u + "\",\"since\":5}", num(15)), "invalid_cursor", num(15));
      JsonNode ahead = call(ws, "{\"op\":\"subscribe\",\"id\":16,\"topic\":\"" + t + "-2\",\"since\":\"" + epoch + ".99\"}", num(16));
      assertErrorFrame(ahead, "invalid_cursor", num(16));
      // The refused subscription does not count: the same topic can be subscribed now.
      subscribe(ws, 17, t + "-2", "earliest");
      // Events.
      assertErrorFrame(call(ws, "{\"op\":\"publish\",\"id\":18,\"topic\":\"" + t + "\",\"events\":[{\"type\":\"put\"}]}", num(18)), "invalid_event", num(18));
      assertErrorFrame(call(ws, "{\"op\":\"publish\",\"id\":19,\"topic\":\"" + t + "\",\"events\":[{\"type\":\"NO\"}]}", num(19)), "invalid_event", num(19));
      assertErrorFrame(call(ws, "{\"op\":\"publish\",\"id\":20,\"topic\":\"" + t + "\",\"events\":[]}", num(20)), "invalid_body", num(20));
      assertErrorFrame(call(ws, "{\"op\":\"publish\",\"id\":21,\"topic\":\"" + t + "\"}", num(21)), "invalid_body", num(21));
      // Auth needs a token.
      assertErrorFrame(call(ws, "{\"op\":\"auth\",\"id\":22}", num(22)), "invalid_request", num(22));
      assertErrorFrame(call(ws, "{\"op\":\"auth\",\"id\":23,\"token\":\"\"}", num(23)), "invalid_request", num(23));
      JsonNode authed = call(ws, "{\"op\":\"auth\",\"id\":24,\"token\":\"t0k\"}", num(24));
      assertThat(authed.path("op").asText()).isEqualTo("authed");
      // Subscriptions per connection (3 configured: two are open).
      subscribe(ws, 25, t + "-3", null);
      assertErrorFrame(call(ws, "{\"op\":\"subscribe\",\"id\":26,\"topic\":\"" + t + "-4\"}", num(26)), "too_many_subscriptions", num(26));
      call(ws, "{\"op\":\"unsubscribe\",\"id\":27,\"topic\":\"" + t + "-3\"}", num(27));
      subscribe(ws, 28, t + "-4", null);

      assertAlive(ws);
      // Nothing was stored by the refused publishes.
      assertThat(http.getOk("/v1/topics?prefix=" + enc(t)).get("topics")).hasSize(1);
      assertThat(http.getOk("/v1/topics?prefix=" + enc(t)).get("topics").get(0).get("last_offset").asLong()).isEqualTo(3);
      assertThat(http.getOk("/v1/topics?prefix=bad").get("topics")).isEmpty();
    }
  }

  @Test
  void publish_answersPublishedWithOffsetsAndCursors_andDeduplicatesIds() throws Exception {
    String t = topic("pub");
    try (WsClient ws = WsClient.connect(server.uri()); WsClient watcher = WsClient.connect(server.uri())) {
      subscribe(watcher, "w", t, "earliest");
      JsonNode published = call(ws, "{\"op\":\"publish\",\"id\":\"p1\",\"topic\":\"" + t
          + "\",\"events\":[{\"id\":\"x\",\"data\":1},{\"type\":\"put\",\"key\":\"k\",\"data\":{\"v\":2}},{\"data\":3}]}", str("p1"));
      assertThat(published.path("op").asText()).as("%s", published).isEqualTo("published");
      assertThat(published.path("topic").asText()).isEqualTo(t);
      JsonNode events = published.get("events");
      assertThat(events).hasSize(3);
      assertThat(events.get(0).get("id").asText()).isEqualTo("x");
      assertThat(events.get(1).get("id").isNull()).isTrue();
      for (int i = 0; i < 3; i++) {
        assertThat(events.get(i).get("offset").asLong()).isEqualTo(i + 1);
        assertThat(events.get(i).get("duplicate").asBoolean()).isFalse();
        assertThat(epochOf(events.get(i).get("cursor").asText()) + "." + (i + 1)).isEqualTo(events.get(i).get("cursor").asText());
      }
      assertThat(published.get("cursor")).isEqualTo(events.get(2).get("cursor"));

      JsonNode again = call(ws, "{\"op\":\"publish\",\"id\":2,\"topic\":\"" + t
          + "\",\"events\":{\"id\":\"x\",\"data\":\"ignored\"}}", num(2));
      assertThat(again.path("op").asText()).isEqualTo("published");
      assertThat(again.get("events").get(0).get("duplicate").asBoolean()).isTrue();
      assertThat(again.get("events").get(0).get("offset").asLong()).isEqualTo(1);

      // What was published over WebSocket is what every transport reads.
      List<JsonNode> changes = http.allChanges(t, 100);
      assertThat(changes).hasSize(3);
      List<JsonNode> seen = wsUntil(watcher, t, 3, WAIT);
      for (int i = 0; i < 3; i++) {
        assertThat(withoutOp(seen.get(i))).isEqualTo(changes.get(i));
      }
      assertThat(http.getOk("/v1/state?topic=" + enc(t)).get("entries").get(0).get("data").get("v").asInt()).isEqualTo(2);
    }
  }

  @Test
  void notifyMode_sendsEventsWithoutData_andFullModeWithIt() throws Exception {
    String t = topic("notify");
    http.publishOk(t, "[{\"data\":{\"big\":1}},{\"type\":\"put\",\"key\":\"k\",\"data\":2}]");
    try (WsClient ws = WsClient.connect(server.uri())) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"" + t + "\",\"since\":\"earliest\",\"mode\":\"notify\"}");
      List<JsonNode> got = wsUntil(ws, t, 2, WAIT);
      assertThat(got).allSatisfy(e -> assertThat(e.has("data")).as("%s", e).isFalse());
      assertThat(got.get(1).get("key").asText()).isEqualTo("k");
      http.publishOk(t, "{\"data\":\"live\"}");
      assertThat(wsUntil(ws, t, 3, WAIT).get(0).has("data")).isFalse();
    }
    try (WsClient ws = WsClient.connect(server.uri())) {
      ws.send("{\"op\":\"subscribe\",\"id\":1,\"topic\":\"" + t + "\",\"since\":\"earliest\",\"mode\":\"full\"}");
      assertThat(wsUntil(ws, t, 3, WAIT)).allSatisfy(e -> assertThat(e.has("data")).isTrue());
    }
  }

  @Test
  void textThatIsNotJson_andBinaryFrames_close1003() throws Exception {
    for (String text : List.of("hello", "{\"op\":", "")) {
      try (WsClient ws = WsClient.connect(server.uri())) {
        ws.send(text);
        assertThat(ws.awaitClose(WAIT).code()).as("close for text %s", text).isEqualTo(1003);
      }
    }
    try (WsClient ws = WsClient.connect(server.uri())) {
      ws.sendBinary("{\"op\":\"ping\"}".getBytes(StandardCharsets.UTF_8));
      assertThat(ws.awaitClose(WAIT).code()).isEqualTo(1003);
    }
  }

  @Test
  void aFrameOrMessageOverTheSizeLimit_closes1009() throws Exception {
    String big = "{\"op\":\"ping\",\"id\":\"" + "x".repeat(70 * 1024) + "\"}";
    try (WsRawSocket raw = WsRawSocket.connect(server.uri(), 0)) {
      raw.sendText(big);
      assertThat(closeFrame(raw).closeCode()).as("one frame over 64 KiB").isEqualTo(1009);
    }
    try (WsRawSocket raw = WsRawSocket.connect(server.uri(), 0)) {
      byte[] half = "x".repeat(40 * 1024).getBytes(StandardCharsets.UTF_8);
      raw.sendFrame(WsRawSocket.TEXT, false, half);
      raw.sendFrame(WsRawSocket.CONTINUATION, true, half);
      assertThat(closeFrame(raw).closeCode()).as("a message of two frames over 64 KiB").isEqualTo(1009);
    }
    try (WsClient ws = WsClient.connect(server.uri())) {
      ws.send(big);
      assertThat(ws.awaitClose(WAIT).code()).isEqualTo(1009);
    }
    // Just under the limit is fine.
    try (WsClient ws = WsClient.connect(server.uri())) {
      String id = "y".repeat(100);
      String padded = "{\"op\":\"ping\",\"id\":\"" + id + "\",\"pad\":\"" + "z".repeat(60 * 1024) + "\"}";
      JsonNode pong = call(ws, padded, str(id));
      assertThat(pong.path("op").asText()).isEqualTo("pong");
      assertAlive(ws);
    }
  }

  /** Reads frames (skipping pings and data) until the close frame. */
  private static WsRawSocket.Frame closeFrame(WsRawSocket raw) throws Exception {
    while (true) {
      WsRawSocket.Frame f = raw.readFrame(WAIT);
      assertThat(f).as("a close frame before the connection ends").isNotNull();
      if (f.opcode() == WsRawSocket.CLOSE) {
        return f;
      }
    }
  }

  @Test
  void theServerPings_aClientThatAnswersStays_andOneThatSaysNothingIsClosed() throws Exception {
    try (WsClient answering = WsClient.connect(server.uri()); WsRawSocket silent = WsRawSocket.connect(server.uri(), 0)) {
      long started = System.nanoTime();
      int pings = 0;
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      WsRawSocket.Frame close = null;
      while (close == null) {
        assertThat(System.nanoTime()).as("the silent client is closed in time").isLessThan(deadline);
        WsRawSocket.Frame f = silent.readFrame(WAIT);
        assertThat(f).as("a close frame before the connection ends").isNotNull();
        if (f.opcode() == WsRawSocket.PING) {
          pings++;
        } else if (f.opcode() == WsRawSocket.CLOSE) {
          close = f;
        }
      }
      assertThat(pings).as("pings (every 1s) before the idle close (5s)").isPositive();
      assertThat(close.closeCode()).as("idle close: %s", close.closeReason()).isEqualTo(1001);
      // The JDK client answers every ping: well past the idle timeout it is still there.
      long until = started + Duration.ofSeconds(8).toNanos();
      while (answering.pings() < 3 || System.nanoTime() < until) {
        Thread.sleep(100);
        assertThat(answering.closeNow()).as("a client that answers pings is kept").isNull();
      }
      assertAlive(answering);
    }
  }
}
