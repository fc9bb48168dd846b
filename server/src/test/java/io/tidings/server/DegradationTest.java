package io.tidings.server;

import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The store becomes unavailable under a running server (another process holds the SQLite write
 * lock, as a backup tool or a stuck writer would): publishes are refused with 503 and Retry-After
 * and change nothing, {@code /readyz} fails while {@code /healthz} stays up, subscribers stay
 * connected and are told nothing false, and everything recovers by itself once the lock is gone.
 */
class DegradationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void aLockedStore_refusesPublishes_failsReadiness_keepsSubscribers_andRecoversAlone() throws Exception {
    Path data = Files.createTempDirectory("tidings-degrade-");
    String topic = "degrade/t";
    try (TidingsProcess server = TidingsProcess.builder().name("degrade").data(data).start()) {
      Http http = new Http(server);
      http.publishOk(topic, "[{\"data\":1},{\"data\":2},{\"data\":3}]");
      try (SseClient sse = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(topic) + "&since=earliest")) {
        for (int i = 1; i <= 3; i++) {
          SseClient.Message m = sse.nextEvent(m2 -> !"subscribed".equals(m2.event()), WAIT);
          assertThat(m.json().get("offset").asLong()).isEqualTo(i);
        }

        try (Connection lock = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("tidings.db"))) {
          try (Statement s = lock.createStatement()) {
            s.execute("PRAGMA busy_timeout=10000");
            s.execute("BEGIN EXCLUSIVE");
          }

          Http.Reply refused = http.publish(topic, "{\"data\":\"lost?\"}");
          assertThat(refused.status()).as("%s", refused).isEqualTo(503);
          assertThat(refused.json().path("error").path("code").asText()).isEqualTo("unavailable");
          assertThat(refused.header("Retry-After")).matches("[1-9][0-9]*");
          assertThat(http.get("/healthz").status()).isEqualTo(200);
          await().atMost(WAIT).until(() -> http.get("/readyz").status() == 503);
          // Reads still work from the last committed state.
          assertThat(http.getOk("/v1/changes?topic=" + enc(topic) + "&since=earliest").get("events")).hasSize(3);
          // The subscriber hears nothing false: no reset, no error, no end; at most heartbeats.
          assertThat(sse.drainQueued()).noneMatch(SseClient.Message::isEvent);
          assertThat(sse.ended()).isFalse();

          try (Statement s = lock.createStatement()) {
            s.execute("ROLLBACK");
          }
        }

        await().atMost(WAIT).until(() -> http.get("/readyz").status() == 200);
        JsonNode ok = http.publishOk(topic, "{\"data\":4}");
        assertThat(ok.get("events").get(0).get("offset").asLong()).as("the refused publish left no trace").isEqualTo(4);
        SseClient.Message live = sse.nextEvent(WAIT);
        assertThat(live.event()).isEqualTo("message");
        assertThat(live.json().get("offset").asLong()).isEqualTo(4);
        assertThat(live.json().get("data").asInt()).isEqualTo(4);
      }
      List<JsonNode> all = http.allChanges(topic, 100);
      assertThat(all).extracting(e -> e.get("data").asInt()).containsExactly(1, 2, 3, 4);
    }
  }
}
