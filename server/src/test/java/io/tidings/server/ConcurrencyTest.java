package io.tidings.server;

import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Concurrent publishers on one topic: offsets are gapless and unique, each batch is one unit,
 * readers following along see every event once and in order, and the state is the replay of
 * the log. Runs against both engines.
 */
class ConcurrencyTest {
  private static final int THREADS = 8;
  private static final int EVENTS_PER_THREAD = 250;
  private static final int TOTAL = THREADS * EVENTS_PER_THREAD;
  private static final int KEYS = 20;

  private static final Map<String, TidingsProcess> SERVERS = new HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    String config = "server:\n  event_loops: 2\n";
    SERVERS.put("sqlite", TidingsProcess.builder().name("concurrency-sqlite").config(config).start());
    SERVERS.put("memory", TidingsProcess.builder().name("concurrency-memory").config(config).memory().start());
  }

  @AfterAll
  static void stop() {
    SERVERS.values().forEach(TidingsProcess::close);
  }

  /** What one publisher sent in one request, and what it was told. */
  private record Sent(int thread, int seq, List<JsonNode> events, JsonNode response) {}

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"sqlite", "memory"})
  void eightConcurrentPublishers_getGaplessUniqueOffsets_andStateEqualsTheReplayOfTheLog(String store) throws Exception {
    Http http = new Http(SERVERS.get(store)).with(Http.newClient());
    String topic = "concurrency/" + store;
    ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
    CountDownLatch go = new CountDownLatch(1);

    // A reader following the topic with long polls while it is written.
    Future<List<JsonNode>> follower = pool.submit(() -> {
      List<JsonNode> seen = new ArrayList<>();
      String since = "earliest";
      go.await();
      while (seen.size() < TOTAL) {
        JsonNode page = http.getOk("/v1/changes?topic=" + enc(topic) + "&since=" + enc(since) + "&wait=10&limit=137");
        page.get("events").forEach(seen::add);
        since = page.get("cursor").asText();
      }
      return seen;
    });

    List<Future<List<Sent>>> publishers = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      publishers.add(pool.submit(() -> {
        Random random = new Random(1000 + thread);
        List<Sent> sent = new ArrayList<>();
        go.await();
        int published = 0;
        for (int seq = 0; published < EVENTS_PER_THREAD; seq++) {
          int n = Math.min(EVENTS_PER_THREAD - published, 1 + random.nextInt(4));
          List<JsonNode> batch = new ArrayList<>();
          for (int j = 0; j < n; j++) {
            String id = "t" + thread + "-" + (published + j);
            String key = "k" + random.nextInt(KEYS);
            String json = random.nextInt(4) == 0
                ? "{\"id\":\"" + id + "\",\"type\":\"delete\",\"key\":\"" + key + "\"}"
                : "{\"id\":\"" + id + "\",\"type\":\"put\",\"key\":\"" + key + "\",\"data\":{\"by\":\"" + id + "\"}}";
            batch.add(Http.JSON.readTree(json));
          }
          String body = batch.size() == 1 ? batch.get(0).toString() : batch.toString();
          sent.add(new Sent(thread, seq, batch, http.publishOk(topic, body)));
          published += n;
        }
        return sent;
      }));
    }
    go.countDown();

    List<Sent> all = new ArrayList<>();
    for (Future<List<Sent>> f : publishers) {
      all.addAll(f.get(120, TimeUnit.SECONDS));
    }

    // Offsets 1..2000, each given once, consecutive within a batch, rising per publisher.
    List<Long> offsets = new ArrayList<>();
    Map<String, Long> offsetById = new HashMap<>();
    Map<String, String> cursorById = new HashMap<>();
    Map<Long, JsonNode> sentByOffset = new HashMap<>();
    Map<Integer, Long> lastOffsetOfThread = new HashMap<>();
    for (Sent s : all) {
      JsonNode outcomes = s.response().get("events");
      assertThat(outcomes).hasSize(s.events().size());
      for (int i = 0; i < outcomes.size(); i++) {
        JsonNode o = outcomes.get(i);
        assertThat(o.get("duplicate").asBoolean()).isFalse();
        assertThat(o.get("id").asText()).isEqualTo(s.events().get(i).get("id").asText());
        long offset = o.get("offset").asLong();
        offsets.add(offset);
        offsetById.put(o.get("id").asText(), offset);
        cursorById.put(o.get("id").asText(), o.get("cursor").asText());
        sentByOffset.put(offset, s.events().get(i));
        if (i > 0) {
          assertThat(offset).as("a batch is one unit: consecutive offsets").isEqualTo(outcomes.get(i - 1).get("offset").asLong() + 1);
        }
      }
      assertThat(s.response().get("cursor").asText()).isEqualTo(outcomes.get(outcomes.size() - 1).get("cursor").asText());
    }
    for (int t = 0; t < THREADS; t++) {
      long previous = 0;
      for (Sent s : all) {
        if (s.thread() == t) {
          long first = s.response().get("events").get(0).get("offset").asLong();
          assertThat(first).as("a later request of one publisher gets later offsets").isGreaterThan(previous);
          previous = s.response().get("events").get(s.events().size() - 1).get("offset").asLong();
        }
      }
      lastOffsetOfThread.put(t, previous);
    }
    Collections.sort(offsets);
    List<Long> expected = new ArrayList<>();
    for (long i = 1; i <= TOTAL; i++) {
      expected.add(i);
    }
    assertThat(offsets).as("offsets over all 201 answers").isEqualTo(expected);
    assertThat(new HashSet<>(cursorById.values())).hasSize(TOTAL);

    // The log, read back in pages, is exactly what was acknowledged.
    List<JsonNode> log = http.allChanges(topic, 333);
    assertThat(log).extracting(e -> e.get("offset").asLong()).isEqualTo(expected);
    for (JsonNode e : log) {
      String id = e.get("id").asText();
      assertThat(offsetById.get(id)).as("offset of %s", id).isEqualTo(e.get("offset").asLong());
      assertThat(e.get("cursor").asText()).isEqualTo(cursorById.get(id));
      JsonNode sent = sentByOffset.get(e.get("offset").asLong());
      assertThat(e.get("type").asText()).isEqualTo(sent.get("type").asText());
      assertThat(e.get("key").asText()).isEqualTo(sent.get("key").asText());
      assertThat(e.get("data")).isEqualTo(sent.get("data"));
    }

    // The follower saw every event once, in order.
    List<JsonNode> followed = follower.get(60, TimeUnit.SECONDS);
    assertThat(followed).extracting(e -> e.get("offset").asLong()).isEqualTo(expected);

    // State = replay of the log.
    Map<String, JsonNode> replay = new TreeMap<>();
    for (JsonNode e : log) {
      if (e.get("type").asText().equals("put")) {
        replay.put(e.get("key").asText(), e);
      } else {
        replay.remove(e.get("key").asText());
      }
    }
    List<JsonNode> state = http.allState(topic, 7);
    assertThat(state).extracting(s -> s.get("key").asText()).containsExactlyElementsOf(replay.keySet());
    for (JsonNode entry : state) {
      JsonNode last = replay.get(entry.get("key").asText());
      assertThat(entry.get("data")).as("data of %s", entry.get("key")).isEqualTo(last.get("data"));
      assertThat(entry.get("offset").asLong()).isEqualTo(last.get("offset").asLong());
      assertThat(entry.get("time").asText()).isEqualTo(last.get("time").asText());
    }
    JsonNode head = http.getOk("/v1/topics?prefix=" + enc(topic)).get("topics").get(0);
    assertThat(head.get("last_offset").asLong()).isEqualTo(TOTAL);
    assertThat(head.get("keys").asLong()).isEqualTo(replay.size());

    // Everything was acknowledged exactly once: republishing any id is a duplicate.
    assertThat(lastOffsetOfThread).hasSize(THREADS);
    JsonNode again = http.publishOk(topic, "[{\"id\":\"t3-17\",\"data\":0},{\"id\":\"t7-249\",\"data\":0}]");
    assertThat(again.get("events")).extracting(o -> o.get("duplicate").asBoolean()).containsExactly(true, true);
    assertThat(again.get("events").get(0).get("offset").asLong()).isEqualTo(offsetById.get("t3-17"));
    assertThat(again.get("events").get(1).get("offset").asLong()).isEqualTo(offsetById.get("t7-249"));
    pool.shutdownNow();
  }
}
