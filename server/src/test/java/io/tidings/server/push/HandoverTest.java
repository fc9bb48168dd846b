package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.WAIT;
import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.head;
import static io.tidings.server.push.PushSupport.offsetOf;
import static io.tidings.server.push.PushSupport.publishNumbered;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The replay-to-live handover under concurrent publishing (contract §5): subscribers that resume
 * from a cursor in the middle of the history, or right at the moving head, while four publishers
 * keep appending, end with every later event exactly once and in offset order. SSE (one topic and
 * several) and WebSocket, on the SQLite store, with two event loops so publishers and subscribers
 * cross threads.
 */
class HandoverTest {
  private static final String ONE = "handover/one";
  private static final List<String> MULTI = List.of("handover/m0", "handover/m1", "handover/m2");
  private static final int ROUNDS = 5;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("handover").config("server: { event_loops: 2 }\n").start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  /** One subscriber reading on its own thread; what it saw, by topic. */
  private static final class Subscriber {
    final String name;
    /** Where each topic starts (the offset of the last event it is not to receive). */
    final Map<String, Long> start;
    final List<JsonNode> events = java.util.Collections.synchronizedList(new ArrayList<>());
    final AutoCloseable connection;
    volatile Throwable error;
    volatile boolean closing;

    Subscriber(String name, Map<String, Long> start, AutoCloseable connection) {
      this.name = name;
      this.start = start;
      this.connection = connection;
    }

    boolean reached(Map<String, Long> last) {
      Map<String, Long> seen = new HashMap<>();
      synchronized (events) {
        for (JsonNode e : events) {
          seen.merge(e.get("topic").asText(), e.get("offset").asLong(), Math::max);
        }
      }
      for (String topic : start.keySet()) {
        if (seen.getOrDefault(topic, start.get(topic)) < last.get(topic)) {
          return false;
        }
      }
      return true;
    }

    void check(Map<String, Long> last) {
      assertThat(error).as("%s failed", name).isNull();
      Map<String, List<Long>> byTopic = new LinkedHashMap<>();
      synchronized (events) {
        for (JsonNode e : events) {
          byTopic.computeIfAbsent(e.get("topic").asText(), k -> new ArrayList<>()).add(e.get("offset").asLong());
        }
      }
      assertThat(start.keySet()).as("%s: topics", name).containsAll(byTopic.keySet());
      for (String topic : start.keySet()) {
        assertExactly(name + " on " + topic + " from offset " + start.get(topic),
            byTopic.getOrDefault(topic, List.of()), start.get(topic) + 1, last.get(topic));
      }
    }
  }

  /** The offsets in a stream cursor over several topics ({@code <epoch>.<o1>~<o2>~...}, the format SseContractTest checks). */
  private static List<Long> streamPositions(String id) {
    List<Long> out = new ArrayList<>();
    for (String part : id.split("~")) {
      out.add(Long.parseLong(part.substring(part.lastIndexOf('.') + 1)));
    }
    return out;
  }

  private static Subscriber sse(ExecutorService pool, String name, List<String> topics, String cursor,
      Map<String, Long> start, boolean byHeader) throws Exception {
    String query = topics.stream().map(t -> "topic=" + enc(t)).collect(Collectors.joining("&"));
    SseClient c = byHeader
        ? SseClient.open(server.uri(), "/v1/sse?" + query + "&since=earliest", "Last-Event-ID", cursor)
        : SseClient.open(server.uri(), "/v1/sse?" + query + "&since=" + enc(cursor));
    assertThat(c.status()).as("%s: %s", name, c.body()).isEqualTo(200);
    Subscriber s = new Subscriber(name, start, c);
    pool.submit(() -> {
      try {
        SseClient.Message m;
        while ((m = PushSupport.nextSseEvent(c, Duration.ofMinutes(5))) != null) {
          if (!m.type().equals("message")) {
            throw new AssertionError(name + ": unexpected " + m);
          }
          s.events.add(m.json());
        }
      } catch (Throwable e) {
        if (!s.closing) {
          s.error = e;
        }
      }
    });
    return s;
  }

  private static Subscriber ws(ExecutorService pool, String name, String topic, String cursor) throws Exception {
    WsClient c = WsClient.connect(server.uri());
    PushSupport.subscribe(c, name, topic, cursor);
    Subscriber s = new Subscriber(name, Map.of(topic, offsetOf(cursor)), c);
    pool.submit(() -> {
      try {
        JsonNode m;
        while ((m = c.next(Duration.ofMinutes(5))) != null) {
          if (!m.path("op").asText().equals("event")) {
            throw new AssertionError(name + ": unexpected " + m);
          }
          s.events.add(m);
        }
      } catch (Throwable e) {
        if (!s.closing) {
          s.error = e;
        }
      }
    });
    return s;
  }

  @Test
  void subscribersResumingMidHistoryOrAtTheMovingHead_getEveryLaterEventOnceInOrder() throws Exception {
    List<String> all = new ArrayList<>(MULTI);
    all.add(ONE);
    for (String t : all) {
      publishNumbered(http, t, "pre-" + t, 1, t.equals(ONE) ? 2000 : 700);
    }
    List<JsonNode> history = http.allChanges(ONE, 1000);
    assertThat(history).hasSize(2000);

    // A stream cursor over several topics, taken from a stream in the middle of their history.
    String multiQuery = MULTI.stream().map(t -> "topic=" + enc(t)).collect(Collectors.joining("&"));
    String midStreamCursor;
    Map<String, Long> midStart = new HashMap<>();
    MULTI.forEach(t -> midStart.put(t, 0L));
    try (SseClient c = SseClient.open(server.uri(), "/v1/sse?" + multiQuery + "&since=earliest")) {
      for (int i = 0; i < 1800; i++) {
        JsonNode e = PushSupport.nextSseEvent(c, WAIT).json();
        midStart.put(e.get("topic").asText(), e.get("offset").asLong());
      }
      midStreamCursor = c.lastEventId();
    }

    AtomicBoolean stop = new AtomicBoolean();
    Map<String, String> latest = new ConcurrentHashMap<>();
    ExecutorService publishers = Executors.newFixedThreadPool(4);
    List<Future<Integer>> work = new ArrayList<>();
    for (int p = 0; p < 4; p++) {
      int id = p;
      work.add(publishers.submit(() -> {
        Random random = new Random(42 + id);
        int published = 0;
        for (int seq = 0; !stop.get(); seq++) {
          String topic = all.get(random.nextInt(all.size()));
          int n = random.nextInt(3) == 0 ? 1 + random.nextInt(8) : 1;
          JsonNode r = http.publishOk(topic, PushSupport.messages("p" + id + "-" + seq, 0, n));
          latest.merge(topic, r.get("cursor").asText(), (a, b) -> offsetOf(a) >= offsetOf(b) ? a : b);
          published += n;
        }
        return published;
      }));
    }

    ExecutorService readers = Executors.newCachedThreadPool();
    List<Subscriber> subscribers = new ArrayList<>();
    try {
      Random random = new Random(7);
      for (int round = 0; round < ROUNDS; round++) {
        Thread.sleep(400);
        // From an event in the middle of the history...
        JsonNode middle = history.get(500 + random.nextInt(1000));
        String mid = middle.get("cursor").asText();
        subscribers.add(sse(readers, "sse-mid-" + round, List.of(ONE), mid, Map.of(ONE, offsetOf(mid)), round % 2 == 0));
        subscribers.add(ws(readers, "ws-mid-" + round, ONE, mid));
        // ...and from the newest acknowledged cursor: the handover races the publishers.
        String hot = latest.getOrDefault(ONE, history.get(1999).get("cursor").asText());
        subscribers.add(sse(readers, "sse-hot-" + round, List.of(ONE), hot, Map.of(ONE, offsetOf(hot)), round % 2 == 1));
        subscribers.add(ws(readers, "ws-hot-" + round, ONE, latest.getOrDefault(ONE, hot)));
        // Several topics in one stream: from the stream cursor taken before, and from a fresh one.
        subscribers.add(sse(readers, "sse-multi-mid-" + round, MULTI, midStreamCursor, midStart, round % 2 == 0));
        String hotStream;
        try (SseClient c = SseClient.open(server.uri(), "/v1/sse?" + multiQuery)) {
          for (int i = 0; i < 20; i++) {
            PushSupport.nextSseEvent(c, WAIT);
          }
          hotStream = c.lastEventId();
        }
        Map<String, Long> hotStart = new HashMap<>();
        for (int i = 0; i < MULTI.size(); i++) {
          hotStart.put(MULTI.get(i), streamPositions(hotStream).get(i));
        }
        subscribers.add(sse(readers, "sse-multi-hot-" + round, MULTI, hotStream, hotStart, round % 2 == 1));
      }
      Thread.sleep(400);
    } finally {
      stop.set(true);
      publishers.shutdown();
    }
    int published = 0;
    for (Future<Integer> f : work) {
      published += f.get(2, TimeUnit.MINUTES);
    }
    assertThat(published).as("events published while subscribers joined").isPositive();
    System.out.println("handover: " + published + " events published concurrently; " + subscribers.size() + " subscribers");

    Map<String, Long> last = new HashMap<>();
    for (String t : all) {
      last.put(t, offsetOf(head(http, t)));
    }
    long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
    for (Subscriber s : subscribers) {
      while (!s.reached(last) && s.error == null && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
    }
    // A little longer: anything beyond the head would be a duplicate or an invention.
    Thread.sleep(300);
    for (Subscriber s : subscribers) {
      s.closing = true;
      s.connection.close();
    }
    readers.shutdown();
    for (Subscriber s : subscribers) {
      System.out.println("handover: " + s.name + " from " + s.start + " received " + s.events.size());
      s.check(last);
    }
    // The events themselves are the stored ones.
    Map<Long, String> ids = new HashMap<>();
    http.allChanges(ONE, 1000).forEach(e -> ids.put(e.get("offset").asLong(), e.get("id").asText()));
    for (Subscriber s : subscribers) {
      synchronized (s.events) {
        for (JsonNode e : s.events) {
          if (e.get("topic").asText().equals(ONE)) {
            assertThat(e.get("id").asText()).as("%s: id of offset %s", s.name, e.get("offset")).isEqualTo(ids.get(e.get("offset").asLong()));
          }
        }
      }
    }
  }
}
