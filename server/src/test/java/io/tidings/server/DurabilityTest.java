package io.tidings.server;

import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The embedded SQLite store across {@code kill -9}: a {@code 201} means durable (contract §3), the
 * epoch survives a restart on the same data, and a wiped store is a new history (§1).
 */
class DurabilityTest {
  private static final String TOPIC = "durable/orders";

  private static TidingsProcess sqlite(Path dir, String name) throws IOException {
    return TidingsProcess.builder().name(name).data(dir).start();
  }

  @Test
  void acknowledgedEvents_surviveKill9_withTheSameOffsetsCursorsAndState_andIdsStayDeduplicated() throws Exception {
    Path dir = Files.createTempDirectory("tidings-durable-");
    Map<String, Long> offsetById = new ConcurrentHashMap<>();
    Map<String, String> cursorById = new ConcurrentHashMap<>();
    List<JsonNode> eventsBefore;
    List<JsonNode> stateBefore;
    JsonNode headBefore;
    JsonNode otherBefore;

    TidingsProcess first = sqlite(dir, "durability-1");
    try {
      Http http = new Http(first).with(Http.newClient());
      ExecutorService pool = Executors.newFixedThreadPool(4);
      List<Future<?>> work = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        work.add(pool.submit(() -> {
          for (int req = thread; req < 100; req += 4) {
            StringBuilder batch = new StringBuilder("[");
            for (int j = 0; j < 10; j++) {
              int n = req * 10 + j;
              String id = "d-" + n;
              String event = n % 7 == 3
                  ? "{\"id\":\"" + id + "\",\"type\":\"delete\",\"key\":\"k" + (n % 50) + "\"}"
                  : n % 5 == 0
                      ? "{\"id\":\"" + id + "\",\"data\":{\"note\":" + n + ",\"x\":1.50}}"
                      : "{\"id\":\"" + id + "\",\"type\":\"put\",\"key\":\"k" + (n % 50) + "\",\"data\":{\"n\":" + n + "}}";
              batch.append(j > 0 ? "," : "").append(event);
            }
            JsonNode r = http.publishOk(TOPIC, batch.append("]").toString());
            for (JsonNode o : r.get("events")) {
              assertThat(o.get("duplicate").asBoolean()).isFalse();
              offsetById.put(o.get("id").asText(), o.get("offset").asLong());
              cursorById.put(o.get("id").asText(), o.get("cursor").asText());
            }
          }
          return null;
        }));
      }
      for (Future<?> f : work) {
        f.get(120, TimeUnit.SECONDS);
      }
      pool.shutdown();
      http.publishMessages("durable/other", 7);

      assertThat(offsetById).hasSize(1000);
      assertThat(new HashSet<>(offsetById.values())).hasSize(1000);
      eventsBefore = http.allChanges(TOPIC, 1000);
      stateBefore = http.allState(TOPIC, 10_000);
      headBefore = http.getOk("/v1/topics?prefix=" + enc(TOPIC)).get("topics").get(0);
      otherBefore = http.getOk("/v1/topics?prefix=" + enc("durable/other")).get("topics").get(0);
      assertThat(eventsBefore).hasSize(1000);
      assertThat(stateBefore).isNotEmpty();
    } finally {
      first.kill();
    }
    assertThat(first.process().isAlive()).isFalse();

    TidingsProcess second = sqlite(dir, "durability-2");
    try {
      Http http = new Http(second);
      // Every acknowledged event, at the offset and cursor it was acknowledged with.
      List<JsonNode> eventsAfter = http.allChanges(TOPIC, 1000);
      assertThat(eventsAfter).hasSize(1000);
      for (JsonNode e : eventsAfter) {
        String id = e.get("id").asText();
        assertThat(e.get("offset").asLong()).as("offset of %s", id).isEqualTo(offsetById.get(id));
        assertThat(e.get("cursor").asText()).as("cursor of %s (same epoch)", id).isEqualTo(cursorById.get(id));
      }
      assertThat(eventsAfter).as("events, byte for byte").isEqualTo(eventsBefore);
      assertThat(eventsAfter.get(0).get("offset").asLong()).isEqualTo(1);
      assertThat(http.allState(TOPIC, 10_000)).as("state").isEqualTo(stateBefore);
      assertThat(http.getOk("/v1/topics?prefix=" + enc(TOPIC)).get("topics").get(0)).isEqualTo(headBefore);
      assertThat(http.getOk("/v1/topics?prefix=" + enc("durable/other")).get("topics").get(0)).isEqualTo(otherBefore);

      // A cursor handed out before the crash resumes exactly after its event.
      JsonNode resumed = http.getOk("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(cursorById.get("d-499")) + "&limit=3");
      assertThat(resumed.get("events")).extracting(e -> e.get("offset").asLong())
          .containsExactly(offsetById.get("d-499") + 1, offsetById.get("d-499") + 2, offsetById.get("d-499") + 3);

      // Ids acknowledged before the crash are still remembered.
      JsonNode again = http.publishOk(TOPIC, "[{\"id\":\"d-0\",\"data\":1},{\"id\":\"d-999\",\"type\":\"put\",\"key\":\"k1\",\"data\":\"x\"},{\"id\":\"after-crash\",\"data\":2}]");
      assertThat(again.get("events")).extracting(o -> o.get("duplicate").asBoolean()).containsExactly(true, true, false);
      assertThat(again.get("events").get(0).get("offset").asLong()).isEqualTo(offsetById.get("d-0"));
      assertThat(again.get("events").get(1).get("offset").asLong()).isEqualTo(offsetById.get("d-999"));
      assertThat(again.get("events").get(2).get("offset").asLong()).as("new events continue the log").isEqualTo(1001);
      assertThat(http.allState(TOPIC, 10_000)).as("a duplicate changes no state").isEqualTo(stateBefore);
    } finally {
      second.close();
    }
  }

  @Test
  void killDuringPublishing_losesNoAcknowledgedEvent_andLeavesNoGap() throws Exception {
    Path dir = Files.createTempDirectory("tidings-crash-");
    String topic = "durable/crash";
    Map<String, Long> acked = new ConcurrentHashMap<>();
    AtomicInteger requests = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();

    TidingsProcess first = sqlite(dir, "durability-crash-1");
    Http http = new Http(first).with(Http.newClient());
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> work = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int thread = t;
      work.add(pool.submit(() -> {
        for (int i = 0; !stop.get(); i++) {
          String a = "c" + thread + "-" + i + "a";
          String b = "c" + thread + "-" + i + "b";
          try {
            requests.incrementAndGet();
            Http.Reply r = http.publish(topic, "[{\"id\":\"" + a + "\",\"type\":\"put\",\"key\":\"t" + thread + "\",\"data\":" + i
                + "},{\"id\":\"" + b + "\",\"data\":" + i + "}]");
            if (r.status() == 201) {
              for (JsonNode o : r.json().get("events")) {
                acked.put(o.get("id").asText(), o.get("offset").asLong());
              }
            }
          } catch (UncheckedIOException | IllegalStateException e) {
            return null; // the server is gone
          }
        }
        return null;
      }));
    }
    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> acked.size() >= 600);
    first.kill();
    stop.set(true);
    for (Future<?> f : work) {
      f.get(60, TimeUnit.SECONDS);
    }
    pool.shutdown();
    Map<String, Long> ackedAtKill = new HashMap<>(acked);

    try (TidingsProcess second = sqlite(dir, "durability-crash-2")) {
      Http after = new Http(second);
      List<JsonNode> log = after.allChanges(topic, 1000);
      Map<String, Long> stored = new HashMap<>();
      for (int i = 0; i < log.size(); i++) {
        JsonNode e = log.get(i);
        assertThat(e.get("offset").asLong()).as("gapless from 1").isEqualTo(i + 1);
        assertThat(stored.put(e.get("id").asText(), e.get("offset").asLong())).as("id %s stored once", e.get("id")).isNull();
      }
      for (Map.Entry<String, Long> a : ackedAtKill.entrySet()) {
        assertThat(stored.get(a.getKey())).as("acknowledged %s", a.getKey()).isEqualTo(a.getValue());
      }
      // Batches are atomic: an "a" event is stored exactly when its "b" partner is.
      for (String id : stored.keySet()) {
        String partner = id.endsWith("a") ? id.substring(0, id.length() - 1) + "b" : id.substring(0, id.length() - 1) + "a";
        assertThat(stored).as("partner of %s", id).containsKey(partner);
      }
      // The state is the latest put per publisher thread.
      for (JsonNode entry : after.allState(topic, 100)) {
        String key = entry.get("key").asText();
        JsonNode lastPut = null;
        for (JsonNode e : log) {
          if (key.equals(e.path("key").asText(null))) {
            lastPut = e;
          }
        }
        assertThat(lastPut).isNotNull();
        assertThat(entry.get("offset").asLong()).isEqualTo(lastPut.get("offset").asLong());
        assertThat(entry.get("data")).isEqualTo(lastPut.get("data"));
      }
    }
  }

  @Test
  void wipedDataDir_isANewHistory_soOldCursorsAre410() throws Exception {
    Path dir = Files.createTempDirectory("tidings-wiped-");
    List<String> oldCursors = new ArrayList<>();
    TidingsProcess first = sqlite(dir, "durability-wipe-1");
    try {
      new Http(first).publishMessages(TOPIC, 5).get("events").forEach(o -> oldCursors.add(o.get("cursor").asText()));
    } finally {
      first.kill();
    }
    wipe(dir);

    try (TidingsProcess second = sqlite(dir, "durability-wipe-2")) {
      Http http = new Http(second);
      // Before and after the new history reaches the old offsets: never read as positions here.
      assertError(http.get("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(oldCursors.get(0))), 410, "cursor_expired");
      JsonNode fresh = http.publishMessages(TOPIC, 3);
      assertThat(fresh.get("events").get(0).get("offset").asLong()).isEqualTo(1);
      assertThat(fresh.get("events").get(0).get("cursor").asText()).as("same offset, other history").isNotEqualTo(oldCursors.get(0));
      for (String old : List.of(oldCursors.get(0), oldCursors.get(1), oldCursors.get(2), oldCursors.get(4))) {
        JsonNode body = assertError(http.get("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(old)), 410, "cursor_expired");
        assertThat(body.toString()).contains("state_url");
      }
      assertThat(http.allChanges(TOPIC, 100)).hasSize(3);
      // The old ETag does not validate the new state either.
      assertThat(http.get("/v1/state?topic=" + enc(TOPIC), "If-None-Match", "\"" + oldCursors.get(2) + "\"").status()).isEqualTo(200);
    }
  }

  @Test
  void restartWithoutACrash_keepsTheHistory() throws Exception {
    Path dir = Files.createTempDirectory("tidings-restart-");
    String cursor;
    TidingsProcess first = sqlite(dir, "durability-restart-1");
    try {
      cursor = new Http(first).publishMessages(TOPIC, 4).get("cursor").asText();
      assertThat(first.stop()).isZero();
    } finally {
      first.close();
    }
    try (TidingsProcess second = sqlite(dir, "durability-restart-2")) {
      Http http = new Http(second);
      JsonNode head = http.getOk("/v1/changes?topic=" + enc(TOPIC) + "&since=" + enc(cursor));
      assertThat(head.get("events")).isEmpty();
      assertThat(head.get("cursor").asText()).isEqualTo(cursor);
      assertThat(http.get("/v1/state?topic=" + enc(TOPIC), "If-None-Match", "\"" + cursor + "\"").status()).isEqualTo(304);
    }
  }

  private static void wipe(Path dir) throws IOException {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> {
        try {
          Files.delete(p);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
    try (Stream<Path> left = Files.list(dir)) {
      assertThat(left).isEmpty();
    }
  }
}
