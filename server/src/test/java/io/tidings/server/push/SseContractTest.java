package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.epochOf;
import static io.tidings.server.push.PushSupport.nextSseEvent;
import static io.tidings.server.push.PushSupport.offsets;
import static io.tidings.server.push.PushSupport.publishNumbered;
import static io.tidings.server.push.PushSupport.sseUntil;
import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Contract;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code GET /v1/sse}: headers, framing, stream cursors, errors before the stream, notify mode, heartbeats (contract §5.1). */
class SseContractTest {
  private static final AtomicInteger SEQ = new AtomicInteger();
  private static final String CONFIG = """
      server:
        event_loops: 2
      push:
        sse: { retry: 2s, heartbeat: 1s }
      """;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("sse-contract").memory().config(CONFIG).start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String topic(String hint) {
    return "sse/" + hint + "-" + SEQ.incrementAndGet();
  }

  private static SseClient open(String query, String... headers) throws Exception {
    SseClient c = SseClient.open(server.uri(), "/v1/sse?" + query, headers);
    assertThat(c.status()).as("status of /v1/sse?%s: %s", query, c.body()).isEqualTo(200);
    return c;
  }

  @Test
  void headersThenRetryFirst_thenEachEventWithItsTopicCursorAsId_andTheSameJsonAsChanges() throws Exception {
    String t = topic("frame");
    http.publishOk(t, "[{\"id\":\"a\",\"data\":{\"x\":1.50,\"s\":\"é\\n\"}},{\"type\":\"put\",\"key\":\"k\",\"data\":[1,2]},"
        + "{\"type\":\"delete\",\"key\":\"k\"},{\"type\":\"score.v2\",\"data\":null}]");
    List<JsonNode> changes = http.allChanges(t, 100);
    assertThat(changes).hasSize(4);

    try (SseClient sse = open("topic=" + enc(t) + "&since=earliest")) {
      assertThat(sse.header("Content-Type")).startsWith("text/event-stream");
      assertThat(sse.header("Cache-Control")).isEqualTo("no-cache, no-transform");
      assertThat(sse.header("X-Accel-Buffering")).isEqualTo("no");

      SseClient.Message first = sse.next(WAIT);
      assertThat(first.retry()).as("the first block is retry: %s", first).isNotNull();
      assertThat(first.retry()).as("retry: 2s jittered by ±20%%").isBetween(1600L, 2400L);
      assertThat(first.data()).isNull();
      assertThat(first.id()).isNull();
      assertThat(first.event()).isNull();

      // Then where the stream starts, as an id on an event with data.
      String epoch = epochOf(changes.get(0).get("cursor").asText());
      SseClient.Message subscribed = sse.next(WAIT);
      assertThat(subscribed.event()).isEqualTo("subscribed");
      assertThat(subscribed.id()).as("earliest: the position before offset 1").isEqualTo(epoch + ".0");
      assertThat(subscribed.json()).isEqualTo(Http.JSON.readTree("{\"topics\":[\"" + t + "\"],\"cursor\":\"" + epoch + ".0\"}"));

      for (JsonNode expected : changes) {
        SseClient.Message m = sse.nextEvent(WAIT);
        assertThat(m.id()).as("id of %s", m).isEqualTo(expected.get("cursor").asText());
        assertThat(m.event()).as("event of %s", m).isEqualTo(expected.get("type").asText());
        assertThat(m.data()).as("data is one line").doesNotContain("\n");
        assertThat(m.json()).as("the event object is the one /v1/changes returns").isEqualTo(expected);
      }

      // Then live, in the same shape.
      JsonNode published = http.publishOk(t, "{\"type\":\"put\",\"key\":\"z\",\"data\":{\"live\":true}}");
      SseClient.Message live = sse.nextEvent(WAIT);
      assertThat(live.id()).isEqualTo(published.get("cursor").asText());
      assertThat(live.event()).isEqualTo("put");
      assertThat(live.json()).isEqualTo(http.getOk("/v1/changes?topic=" + enc(t) + "&since="
          + enc(changes.get(3).get("cursor").asText())).get("events").get(0));
    }
  }

  @Test
  void sinceDefaultsToNow_earliestReplaysEverything_andACursorResumesRightAfterIt() throws Exception {
    String t = topic("since");
    String c2 = publishNumbered(http, t, "s", 1, 2);
    publishNumbered(http, t, "s", 3, 2);
    try (SseClient now = open("topic=" + enc(t));
        SseClient earliest = open("topic=" + enc(t) + "&since=earliest");
        SseClient fromCursor = open("topic=" + enc(t) + "&since=" + enc(c2));
        SseClient explicitNow = open("topic=" + enc(t) + "&since=now")) {
      // A stream's start is fixed before its first block (retry:) is sent: what is published after that follows.
      for (SseClient c : List.of(now, earliest, fromCursor, explicitNow)) {
        assertThat(c.next(WAIT).retry()).isNotNull();
      }
      publishNumbered(http, t, "s", 5, 1);
      assertExactly("since omitted (now)", offsets(sseUntil(now, t, 5, WAIT)), 5, 5);
      assertExactly("since=now", offsets(sseUntil(explicitNow, t, 5, WAIT)), 5, 5);
      assertExactly("since=earliest", offsets(sseUntil(earliest, t, 5, WAIT)), 1, 5);
      assertExactly("since=cursor of offset 2", offsets(sseUntil(fromCursor, t, 5, WAIT)), 3, 5);
    }
  }

  @Test
  void lastEventIdWinsOverSince_andABlankOneIsIgnored() throws Exception {
    String t = topic("leid");
    publishNumbered(http, t, "l", 1, 6);
    List<JsonNode> all = http.allChanges(t, 100);
    String c2 = all.get(1).get("cursor").asText();
    String c4 = all.get(3).get("cursor").asText();
    try (SseClient sse = open("topic=" + enc(t) + "&since=" + enc(c2), "Last-Event-ID", c4)) {
      assertExactly("Last-Event-ID offset 4 over since offset 2", offsets(sseUntil(sse, t, 6, WAIT)), 5, 6);
    }
    try (SseClient sse = open("topic=" + enc(t) + "&since=earliest", "Last-Event-ID", c4)) {
      assertExactly("Last-Event-ID over since=earliest", offsets(sseUntil(sse, t, 6, WAIT)), 5, 6);
    }
    try (SseClient sse = open("topic=" + enc(t) + "&since=" + enc(c2), "Last-Event-ID", "")) {
      assertExactly("an empty Last-Event-ID leaves since in charge", offsets(sseUntil(sse, t, 6, WAIT)), 3, 6);
    }
  }

  @Test
  void aStreamCursorBuiltByAClient_mixesTopicCursorsWithEarliestAndNow() throws Exception {
    String a = topic("mixed-a");
    String b = topic("mixed-b");
    String c = topic("mixed-c");
    List<JsonNode> aEvents = http.publishOk(a, "[{\"data\":1},{\"data\":2},{\"data\":3}]").get("events").findValues("cursor");
    http.publishOk(b, "[{\"data\":1},{\"data\":2}]");
    http.publishOk(c, "[{\"data\":1}]");
    // a from its first event's cursor (as a WebSocket gave it), b from the start, c from now.
    String since = aEvents.get(0).asText() + "~earliest~now";
    try (SseClient sse = open("topic=" + enc(a) + "&topic=" + enc(b) + "&topic=" + enc(c) + "&since=" + enc(since))) {
      SseClient.Message subscribed = sse.nextEvent(WAIT);
      assertThat(subscribed.event()).isEqualTo("subscribed");
      assertThat(subscribed.id()).as("the keywords resolved to positions").doesNotContain("earliest").doesNotContain("now");
      http.publishOk(c, "{\"data\":2}");
      List<String> got = new java.util.ArrayList<>();
      for (int i = 0; i < 5; i++) {
        JsonNode e = sse.nextEvent(WAIT).json();
        String t = e.get("topic").asText();
        got.add((t.equals(a) ? "a" : t.equals(b) ? "b" : "c") + e.get("offset").asLong());
      }
      assertThat(got).containsExactlyInAnyOrder("a2", "a3", "b1", "b2", "c2");
    }
    assertThat(http.get("/v1/sse?topic=" + enc(a) + "&topic=" + enc(b) + "&since=earliest~5").status())
        .as("a bare offset needs an epoch before it").isEqualTo(400);
  }

  @Test
  void severalTopics_shareOneStreamCursor_inParameterOrder_thatResumesThemAll() throws Exception {
    String a = topic("multi-a");
    String b = topic("multi-b");
    String c = topic("multi-c");
    List<String> topics = List.of(a, b, c);
    publishNumbered(http, a, "a", 1, 3);
    publishNumbered(http, b, "b", 1, 2);
    String query = topics.stream().map(x -> "topic=" + enc(x)).collect(Collectors.joining("&"));
    String epoch = epochOf(PushSupport.head(http, a));

    Map<String, Long> position = new HashMap<>(Map.of(a, 0L, b, 0L, c, 0L));
    String lastId;
    try (SseClient sse = open(query + "&since=earliest")) {
      SseClient.Message subscribed = sse.nextEvent(WAIT);
      assertThat(subscribed.event()).isEqualTo("subscribed");
      assertStreamId(subscribed.id(), epoch, topics, position);
      assertThat(subscribed.json().get("topics")).hasSize(3);
      assertThat(subscribed.json().get("topics").get(1).asText()).isEqualTo(b);
      assertThat(subscribed.json().get("cursor").asText()).isEqualTo(subscribed.id());
      int seen = 0;
      String id = null;
      while (seen < 5) {
        SseClient.Message m = sse.nextEvent(WAIT);
        JsonNode e = m.json();
        String topic = e.get("topic").asText();
        assertThat(e.get("offset").asLong()).as("%s in order", topic).isEqualTo(position.get(topic) + 1);
        position.put(topic, e.get("offset").asLong());
        assertStreamId(m.id(), epoch, topics, position);
        id = m.id();
        seen++;
      }
      // Live events of an empty topic update its position.
      publishNumbered(http, c, "c", 1, 1);
      SseClient.Message m = sse.nextEvent(WAIT);
      assertThat(m.json().get("topic").asText()).isEqualTo(c);
      position.put(c, 1L);
      assertStreamId(m.id(), epoch, topics, position);
      lastId = m.id();
      assertThat(lastId).isNotEqualTo(id);
    }

    publishNumbered(http, a, "a", 4, 2);
    publishNumbered(http, c, "c", 2, 1);
    // Resumed from the stream cursor, by header or by since: only what came after, for each topic.
    for (String[] how : List.of(new String[] {"Last-Event-ID", lastId}, new String[] {"since", lastId})) {
      String q = how[0].equals("since") ? query + "&since=" + enc(lastId) : query + "&since=earliest";
      String[] headers = how[0].equals("since") ? new String[0] : new String[] {"Last-Event-ID", lastId};
      try (SseClient sse = open(q, headers)) {
        assertThat(sse.nextEvent(WAIT).id()).as("the stream starts where it resumes").isEqualTo(lastId);
        Map<String, List<Long>> got = new HashMap<>();
        Map<String, Long> pos = new HashMap<>(position);
        for (int i = 0; i < 3; i++) {
          SseClient.Message m = sse.nextEvent(WAIT);
          JsonNode e = m.json();
          got.computeIfAbsent(e.get("topic").asText(), k -> new ArrayList<>()).add(e.get("offset").asLong());
          pos.put(e.get("topic").asText(), e.get("offset").asLong());
          assertStreamId(m.id(), epoch, topics, pos);
        }
        assertThat(got).as("resumed by %s", how[0]).isEqualTo(Map.of(a, List.of(4L, 5L), c, List.of(2L)));
      }
    }
  }

  /** A stream cursor over several topics: {@code <epoch>.<o1>~<o2>~...} in the order of the topic parameters. */
  private static void assertStreamId(String id, String epoch, List<String> topics, Map<String, Long> position) {
    assertThat(id).matches(Contract.CURSOR);
    String[] parts = id.split("~", -1);
    assertThat(parts).as("one position per topic in %s", id).hasSize(topics.size());
    assertThat(parts[0]).as("the first part carries the epoch: %s", id).isEqualTo(epoch + "." + position.get(topics.get(0)));
    for (int i = 1; i < parts.length; i++) {
      String part = parts[i].contains(".") ? parts[i].substring(parts[i].lastIndexOf('.') + 1) : parts[i];
      assertThat(Long.parseLong(part)).as("position of %s in %s", topics.get(i), id).isEqualTo(position.get(topics.get(i)));
    }
  }

  @Test
  void refusals_areJsonErrorsBeforeTheStream_andStoreNothing() throws Exception {
    String t = topic("err");
    String c = publishNumbered(http, t, "e", 1, 3);
    String epoch = epochOf(c);
    String sse = "/v1/sse?topic=" + enc(t);
    String two = sse + "&topic=" + enc(t + "-2");
    String[][] cases = {
        {sse + "&since=garbage", "invalid_cursor"},
        {sse + "&since=" + enc(epoch + ".01"), "invalid_cursor"},
        {sse + "&since=" + enc(epoch + ".1~2"), "invalid_cursor"},
        {two + "&since=" + enc(epoch + ".1"), "invalid_cursor"},
        {two + "&since=" + enc(epoch + ".1~2~3"), "invalid_cursor"},
        {two + "&since=" + enc("~"), "invalid_cursor"},
        {sse + "&since=" + enc(epoch + ".4"), "invalid_cursor"},
        {sse + "&since=" + enc(epoch + ".999999"), "invalid_cursor"},
        {"/v1/sse", "invalid_topic"},
        {"/v1/sse?topic=", "invalid_topic"},
        {"/v1/sse?topic=%2Fstarts-with-slash", "invalid_topic"},
        {"/v1/sse?topic=a%2F%2Fb", "invalid_topic"},
        {"/v1/sse?topic=a%2F..%2Fb", "invalid_topic"},
        {"/v1/sse?topic=has%20space", "invalid_topic"},
        {"/v1/sse?topic=" + "x".repeat(201), "invalid_topic"},
        {sse + "&topic=bad%2F%2Ftopic", "invalid_topic"},
        {"/v1/sse?" + IntStream.range(0, 33).mapToObj(i -> "topic=sse%2Fmany-" + i).collect(Collectors.joining("&")),
            "too_many_topics"},
        {sse + "&topic=" + enc(t), null},
    };
    for (String[] k : cases) {
      Http.Reply r = http.get(k[0], "Accept", "text/event-stream");
      JsonNode body = assertError(r, 400, k[1]);
      assertThat(body.toString()).as("for %s", k[0]).isNotEmpty();
    }
    // The header is checked like since.
    assertError(http.get(sse, "Last-Event-ID", "nope"), 400, "invalid_cursor");
    assertError(http.get(sse, "Last-Event-ID", epoch + ".77"), 400, "invalid_cursor");
    // Not a GET.
    Http.Reply post = http.post(sse, "application/json", "{}");
    assertError(post, 405, "method_not_allowed");
    assertThat(post.header("Allow")).contains("GET");

    // Nothing was stored, and the topic is as it was.
    assertThat(http.getOk("/v1/topics?prefix=sse%2Fmany").get("topics")).isEmpty();
    assertThat(http.getOk("/v1/topics?prefix=" + enc(t)).get("topics")).hasSize(1);
    assertThat(http.getOk("/v1/topics?prefix=" + enc(t)).get("topics").get(0).get("last_offset").asLong()).isEqualTo(3);

    // 32 topics are fine.
    String many = IntStream.range(0, 32).mapToObj(i -> "topic=" + enc(t + "-m" + i)).collect(Collectors.joining("&"));
    try (SseClient ok = open(many + "&since=earliest")) {
      assertThat(ok.next(WAIT).retry()).isNotNull();
    }
  }

  @Test
  void notifyMode_sendsEventsWithoutData() throws Exception {
    String t = topic("notify");
    http.publishOk(t, "[{\"data\":{\"big\":\"payload\"}},{\"type\":\"put\",\"key\":\"k\",\"data\":7},{\"type\":\"delete\",\"key\":\"k\"}]");
    List<JsonNode> full = http.allChanges(t, 100);
    try (SseClient sse = open("topic=" + enc(t) + "&since=earliest&mode=notify")) {
      for (JsonNode expected : full) {
        SseClient.Message m = nextSseEvent(sse, WAIT);
        JsonNode e = m.json();
        assertThat(e.has("data")).as("no data in notify mode: %s", e).isFalse();
        JsonNode withoutData = expected.deepCopy();
        ((com.fasterxml.jackson.databind.node.ObjectNode) withoutData).remove("data");
        assertThat(e).isEqualTo(withoutData);
        assertThat(m.id()).isEqualTo(expected.get("cursor").asText());
      }
      http.publishOk(t, "{\"data\":\"live\"}");
      assertThat(nextSseEvent(sse, WAIT).json().has("data")).isFalse();
    }
  }

  @Test
  void anIdleStreamGetsHeartbeatComments_andStaysUsable() throws Exception {
    String t = topic("heartbeat");
    try (SseClient sse = open("topic=" + enc(t))) {
      assertThat(sse.next(WAIT).retry()).isNotNull();
      assertThat(sse.next(WAIT).event()).isEqualTo("subscribed");
      SseClient.Message beat = sse.next(Duration.ofSeconds(30));
      assertThat(beat.comments()).as("a comment line (heartbeat every 1s): %s", beat).isNotEmpty();
      assertThat(beat.isEvent()).isFalse();
      assertThat(beat.id()).isNull();
      SseClient.Message again = sse.next(Duration.ofSeconds(30));
      assertThat(again.comments()).as("heartbeats keep coming: %s", again).isNotEmpty();
      publishNumbered(http, t, "h", 1, 1);
      assertThat(nextSseEvent(sse, WAIT).json().get("offset").asLong()).isEqualTo(1);
    }
  }

  @Test
  void headAnswersTheStreamHeadersWithoutABody() {
    Http.Reply r = http.head("/v1/sse?topic=" + enc(topic("head")));
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("text/event-stream");
    assertThat(r.body()).isEmpty();
  }
}
