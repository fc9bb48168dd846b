package io.tidings.server.webhooks;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * An endpoint whose cursor fell behind retention is reset as on every other transport: a
 * {@code reset} item, the topic's state as {@code put} items (in pages of the batch size), then
 * the events after the cursor the reset gave.
 */
class WebhookResetTest {
  private static final Duration WAIT = Duration.ofSeconds(60);

  @Test
  void aCursorBehindRetentionGetsAResetThenTheStateThenNewEvents() throws Exception {
    String config = """
        store: { retention_interval: 100ms }
        retention:
          - { topic: "trim/**", max_events: 5 }
        webhooks:
          allow_targets: ["127.0.0.1/32"]
          retry_schedule: [0s, 50ms]
        """;
    try (Receiver receiver = new Receiver();
        TidingsProcess server = TidingsProcess.builder().name("webhooks-reset")
            .data(Files.createTempDirectory("tidings-wh-reset-")).config(config).start()) {
      Http http = new Http(server);
      JsonNode ep = WebhookDeliveryTest.create(http, receiver.url("reset"), "[\"trim/t\"]",
          "\"batch\":{\"max_events\":4}");
      String id = ep.path("id").asText();
      http.publishOk("trim/t", "{\"type\":\"put\",\"key\":\"a\",\"data\":1}");
      receiver.await("reset", WAIT, l -> WebhookDeliveryTest.delivered(l).size() >= 1);
      assertThat(http.post("/v1/webhooks/" + id + "/disable", "application/json", "").status()).isEqualTo(200);
      StringBuilder batch = new StringBuilder("[");
      for (int i = 0; i < 30; i++) {
        batch.append(i == 0 ? "" : ",").append("{\"type\":\"put\",\"key\":\"k").append(i % 7).append("\",\"data\":")
            .append(i).append('}');
      }
      http.publishOk("trim/t", batch.append(']').toString());
      long end = System.nanoTime() + WAIT.toNanos();
      while (http.getOk("/v1/topics?prefix=trim/").path("topics").get(0).path("first_offset").asLong() < 10) {
        assertThat(System.nanoTime()).as("retention trims the topic").isLessThan(end);
        Thread.sleep(50);
      }
      assertThat(http.post("/v1/webhooks/" + id + "/enable", "application/json", "").status()).isEqualTo(200);
      // State: key a and k0..k6, 8 keys: the reset and 3 puts, then 4 puts, then 1 put.
      List<Receiver.Request> got = receiver.await("reset", WAIT,
          l -> WebhookDeliveryTest.delivered(l).stream().filter(e -> e.get(2).asText().equals("put")).count() >= 9);
      List<JsonNode> after = new ArrayList<>(WebhookDeliveryTest.delivered(got));
      after.remove(0);
      assertThat(after.get(0).get(2).asText()).isEqualTo("reset");
      String resetCursor = after.get(0).get(3).asText();
      assertThat(resetCursor).endsWith(".31");
      List<JsonNode> puts = after.subList(1, after.size());
      assertThat(puts).hasSize(8).allSatisfy(p -> {
        assertThat(p.get(2).asText()).isEqualTo("put");
        assertThat(p.get(3).asText()).as("a state entry carries the reset's cursor").isEqualTo(resetCursor);
      });
      assertThat(got.get(1).line().path("events")).as("first page: the reset and 3 entries").hasSize(4);

      http.publishOk("trim/t", "{\"data\":\"next\"}");
      got = receiver.await("reset", WAIT, l -> WebhookDeliveryTest.delivered(l).stream()
          .anyMatch(e -> e.get(1).asLong() == 32));
      List<JsonNode> all = WebhookDeliveryTest.delivered(got);
      assertThat(all.get(all.size() - 1).get(1).asLong()).isEqualTo(32);
      JsonNode status = http.getOk("/v1/webhooks/" + id);
      assertThat(status.path("cursors").path("trim/t").asText()).endsWith(".32");
    }
  }
}
