package io.tidings.server.ops;

import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.NodeScript;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The series of {@code /metrics} that issue #5 asks for, on a server with the SQLite store and two
 * event loops: polls by endpoint and status, subscriptions by transport, the publish-to-deliver,
 * store append and batch histograms, event-loop lag and queues, JVM and process series; and
 * {@code docs/operations.md} documents every {@code tidings_} series the server exports.
 */
class ObservabilityTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String CONFIG = """
      server: { event_loops: 2 }
      store: { retention_interval: 200ms }
      retention:
        - { topic: "obs/trimmed", max_events: 2 }
      """;

  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("observability").config(CONFIG).start();
    http = new Http(server).with(Http.newClient());
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  private static String scrape() {
    Http.Reply r = http.get("/metrics");
    assertThat(r.status()).isEqualTo(200);
    return r.body();
  }

  private static double value(String text, String name, String... labels) {
    return Http.metricIn(text, name, labels).orElseThrow(() -> new AssertionError(name + " " + List.of(labels)
        + " is not in /metrics"));
  }

  private static double metric(String name, String... labels) {
    return value(scrape(), name, labels);
  }

  @Test
  void pollsAreCountedByEndpointAndStatus_includingNotModifiedAndGone() {
    String before = scrape();
    for (String endpoint : List.of("state", "changes")) {
      for (String status : List.of("200", "304", "410", "429")) {
        // Every series exists from the start, at 0 until it happens.
        assertThat(Http.metricIn(before, "tidings_polls_total", "endpoint=\"" + endpoint + "\"", "status=\"" + status + "\""))
            .as("tidings_polls_total{endpoint=%s,status=%s}", endpoint, status).isPresent();
      }
    }
    String topic = "obs/polls";
    http.publishOk(topic, "{\"type\":\"put\",\"key\":\"k\",\"data\":1}");
    Http.Reply state = http.get("/v1/state?topic=" + enc(topic));
    assertThat(state.status()).isEqualTo(200);
    assertThat(http.get("/v1/state?topic=" + enc(topic), "If-None-Match", state.header("ETag")).status()).isEqualTo(304);
    Http.Reply changes = http.get("/v1/changes?topic=" + enc(topic) + "&since=earliest");
    assertThat(changes.status()).isEqualTo(200);
    // At the head nothing is new: the poller's ETag gets a 304.
    String atHead = "/v1/changes?topic=" + enc(topic) + "&since=" + enc(changes.json().get("cursor").asText());
    Http.Reply empty = http.get(atHead);
    assertThat(http.get(atHead, "If-None-Match", empty.header("ETag")).status()).isEqualTo(304);

    // A cursor from before what retention kept: 410.
    String trimmed = "obs/trimmed";
    JsonNode first = http.publishOk(trimmed, "{\"data\":0}");
    String epoch = first.get("cursor").asText().split("\\.")[0];
    for (int i = 1; i <= 6; i++) {
      http.publishOk(trimmed, "{\"data\":" + i + "}");
    }
    await().atMost(WAIT).until(() -> http.get("/v1/changes?topic=" + enc(trimmed) + "&since=" + epoch + ".0").status() == 410);

    String after = scrape();
    for (String[] c : new String[][] {{"state", "200"}, {"state", "304"}, {"changes", "200"}, {"changes", "304"},
        {"changes", "410"}}) {
      String[] labels = {"endpoint=\"" + c[0] + "\"", "status=\"" + c[1] + "\""};
      assertThat(value(after, "tidings_polls_total", labels)).as("polls %s %s", c[0], c[1])
          .isGreaterThanOrEqualTo(value(before, "tidings_polls_total", labels) + 1);
    }
  }

  @Test
  void subscriptionsAreCountedByTransport_andLiveDeliveriesAreTimedOncePerAppendAndLoop() throws Exception {
    String a = "obs/subs-a";
    String b = "obs/subs-b";
    String c = "obs/subs-c";
    String before = scrape();
    double sse = value(before, "tidings_push_subscriptions_sse");
    double ws = value(before, "tidings_push_subscriptions_ws");
    double timed = value(before, "tidings_push_delivery_latency_seconds_count");
    try (SseClient stream = SseClient.open(server.uri(), "/v1/sse?topic=" + enc(a) + "&topic=" + enc(b));
        WsClient socket = WsClient.connect(server.uri())) {
      assertThat(stream.next(WAIT).retry()).isNotNull();
      assertThat(stream.next(WAIT).event()).isEqualTo("subscribed");
      for (String topic : List.of(a, b, c)) {
        socket.send("{\"op\":\"subscribe\",\"id\":\"" + topic + "\",\"topic\":\"" + topic + "\"}");
        assertThat(socket.await(m -> m.path("op").asText().equals("subscribed") && m.path("topic").asText().equals(topic), WAIT))
            .isNotNull();
      }
      await().atMost(WAIT).untilAsserted(() -> {
        String now = scrape();
        assertThat(value(now, "tidings_push_subscriptions_sse")).isEqualTo(sse + 2);
        assertThat(value(now, "tidings_push_subscriptions_ws")).isEqualTo(ws + 3);
        assertThat(value(now, "tidings_push_subscriptions"))
            .as("the hub's total is the sum of the transports'").isEqualTo(sse + ws + 5);
      });

      http.publishOk(a, "{\"data\":\"one\"}");
      assertThat(stream.nextEvent(WAIT).json().get("data").asText()).isEqualTo("one");
      assertThat(socket.await(m -> m.path("op").asText().equals("event") && m.path("topic").asText().equals(a), WAIT))
          .isNotNull();
      // Two subscribers of one append: one measurement per event loop that wrote to them (one or two).
      await().atMost(WAIT).untilAsserted(() -> assertThat(metric("tidings_push_delivery_latency_seconds_count"))
          .isBetween(timed + 1, timed + 2));
      assertThat(metric("tidings_push_delivery_latency_seconds_bucket", "le=\"+Inf\"")).isPositive();
    }
    await().atMost(WAIT).untilAsserted(() -> {
      String now = scrape();
      assertThat(value(now, "tidings_push_subscriptions_sse")).isEqualTo(sse);
      assertThat(value(now, "tidings_push_subscriptions_ws")).isEqualTo(ws);
    });
  }

  @Test
  void storeAppendLatencyAndBatchSizes_areHistograms() {
    String before = scrape();
    double appends = value(before, "tidings_store_append_latency_seconds_count");
    double events = value(before, "tidings_store_batch_events_sum");
    double commits = value(before, "tidings_store_batch_requests_count");
    for (int i = 0; i < 5; i++) {
      http.publishOk("obs/store", "[{\"data\":1},{\"data\":2},{\"data\":3}]");
    }
    String after = scrape();
    assertThat(value(after, "tidings_store_append_latency_seconds_count")).isGreaterThanOrEqualTo(appends + 5);
    assertThat(value(after, "tidings_store_batch_events_sum")).isGreaterThanOrEqualTo(events + 15);
    assertThat(value(after, "tidings_store_batch_requests_count")).isGreaterThan(commits);
    assertThat(value(after, "tidings_store_append_latency_seconds_bucket", "le=\"+Inf\""))
        .isEqualTo(value(after, "tidings_store_append_latency_seconds_count"));
    assertThat(after).contains("# TYPE tidings_store_append_latency_seconds histogram")
        .contains("# TYPE tidings_store_batch_events histogram")
        .contains("# TYPE tidings_push_delivery_latency_seconds histogram");
  }

  @Test
  void eventLoopLagAndQueues_perLoop_andJvmAndProcessSeries() {
    await().atMost(WAIT).untilAsserted(() -> {
      String text = scrape();
      for (String loop : List.of("0", "1")) {
        assertThat(value(text, "tidings_event_loop_lag_seconds_count", "loop=\"" + loop + "\"")).isPositive();
        assertThat(value(text, "tidings_event_loop_pending_tasks", "loop=\"" + loop + "\"")).isNotNegative();
      }
    });
    String text = scrape();
    for (String name : List.of("jvm_memory_used_bytes", "jvm_gc_pause_seconds", "jvm_threads_live_threads",
        "process_cpu_usage", "process_files_open_files", "process_uptime_seconds", "jvm_info")) {
      assertThat(text).as(name).containsPattern("(?m)^" + name + "[{ _]");
    }
    // Without auth the admin page is open, like everything else.
    Http.Reply page = http.get("/admin");
    assertThat(page.status()).isEqualTo(200);
    assertThat(page.header("Content-Type")).startsWith("text/html");
    assertThat(http.get("/admin/snapshot").status()).isEqualTo(200);
  }

  @Test
  void operationsDocumentsEverySeriesTheServerExports() throws Exception {
    // Some series appear once something happened: make sure they have.
    http.publishOk("obs/doc", "{\"data\":1}");
    String text = scrape();
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile("(?m)^# TYPE (tidings_[a-z0-9_]+) ").matcher(text);
    while (m.find()) {
      // A histogram's _max gauge is documented with the histogram.
      names.add(m.group(1).replaceFirst("_max$", ""));
    }
    assertThat(names).hasSizeGreaterThan(20);
    String doc = Files.readString(NodeScript.repoRoot().resolve("docs/operations.md"));
    List<String> missing = new ArrayList<>();
    for (String name : names) {
      if (!doc.contains(name)) {
        missing.add(name);
      }
    }
    assertThat(missing).as("series missing from docs/operations.md").isEmpty();
  }
}
