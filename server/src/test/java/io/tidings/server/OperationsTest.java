package io.tidings.server;

import static io.tidings.server.testing.Contract.assertError;
import static io.tidings.server.testing.Contract.pollInterval;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.CommandRun;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Health, readiness, metrics (contract §6), configuration (§7) and graceful shutdown. */
class OperationsTest {
  private static TidingsProcess server;
  private static Http http;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("operations").memory().start();
    http = new Http(server);
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void healthzAndReadyz_are200Json() {
    for (String path : List.of("/healthz", "/readyz")) {
      Http.Reply r = http.get(path);
      assertThat(r.status()).as("%s: %s", path, r).isEqualTo(200);
      assertThat(r.header("Content-Type")).startsWith("application/json");
      assertThat(r.json().isObject()).isTrue();
      assertThat(http.head(path).status()).isEqualTo(200);
      assertThat(r.header("Cache-Control")).as("probes must not be cached").isEqualTo("no-store");
    }
    assertError(http.method("POST", "/healthz", "", "Content-Type", "application/json"), 405, "method_not_allowed");
  }

  @Test
  void metrics_isPrometheusText_countingPublishedEventsWithoutDuplicates_andRequestsByRouteAndStatus() {
    String topic = "ops/metrics";
    double before = http.metric("tidings_events_published_total").orElse(0.0);
    http.publishOk(topic, "[{\"id\":\"m1\",\"data\":1},{\"id\":\"m2\",\"data\":2}]");
    http.publishOk(topic, "[{\"id\":\"m1\",\"data\":1},{\"data\":3}]"); // one duplicate, one new
    assertError(http.publish("bad topic", "{}"), 400, "invalid_topic");

    Http.Reply r = http.get("/metrics");
    assertThat(r.status()).isEqualTo(200);
    assertThat(r.header("Content-Type")).startsWith("text/plain");
    assertThat(r.body()).contains("tidings_events_published_total").contains("tidings_http_requests_total");
    assertThat(r.body()).contains("# TYPE tidings_events_published_total counter");
    assertThat(Http.metricIn(r.body(), "tidings_events_published_total").orElseThrow())
        .as("3 new events; the duplicate is not counted").isEqualTo(before + 3);
    assertThat(Http.metricIn(r.body(), "tidings_http_requests_total", "route=\"/v1/events\"", "status=\"201\"").orElseThrow())
        .isGreaterThanOrEqualTo(2);
    assertThat(Http.metricIn(r.body(), "tidings_http_requests_total", "route=\"/v1/events\"", "status=\"400\"").orElseThrow())
        .isGreaterThanOrEqualTo(1);
    // Every sample line is "name[{labels}] value".
    for (String line : r.body().split("\n")) {
      if (!line.isEmpty() && !line.startsWith("#")) {
        assertThat(line).matches("[a-zA-Z_:][a-zA-Z0-9_:]*(\\{.*\\})? [-+0-9.eEInfNa]+( [0-9]+)?");
      }
    }
  }

  @Test
  void unknownPathsDoNotBecomeMetricLabels() {
    for (int i = 0; i < 5; i++) {
      http.get("/probe-" + i);
    }
    String text = http.get("/metrics").body();
    assertThat(text).doesNotContain("/probe-");
  }

  @Test
  void h2cIsServedOnTheSamePort() throws Exception {
    java.net.http.HttpClient h2 = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_2).build();
    String topic = "ops/h2c";
    http.publishOk(topic, "{\"type\":\"put\",\"key\":\"k\",\"data\":1}");
    List<java.net.http.HttpResponse<String>> answers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      answers.add(h2.send(java.net.http.HttpRequest.newBuilder(server.uri("/v1/state?topic=" + enc(topic))).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()));
    }
    for (java.net.http.HttpResponse<String> r : answers) {
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("\"key\":\"k\"");
    }
    assertThat(answers.get(2).version()).as("after the h2c upgrade").isEqualTo(java.net.http.HttpClient.Version.HTTP_2);
  }

  // ---------------------------------------------------------------- configuration

  static Stream<Arguments> badConfigs() {
    return Stream.of(
        Arguments.of("unknown top-level key", "colour: red\n", "colour"),
        Arguments.of("unknown nested key", "pull:\n  poll_interval:\n    mx: 5s\n", "pull.poll_interval.mx"),
        Arguments.of("unknown key in a retention rule", "retention:\n  - { topic: \"a/**\", max_evnts: 5 }\n", "max_evnts"),
        Arguments.of("number that is not one", "server:\n  event_loops: many\n", "server.event_loops"),
        Arguments.of("duration that is not one", "store:\n  retention_interval: soon\n", "store.retention_interval"),
        Arguments.of("min above max", "pull:\n  poll_interval: { min: 5s, max: 1s }\n", "pull.poll_interval.min"));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("badConfigs")
  void badConfigFile_makesServeExitNonZero_namingTheKey(String what, String yaml, String key) throws Exception {
    Path file = Files.createTempFile("tidings-bad-", ".yaml");
    Files.writeString(file, yaml);
    Path data = Files.createTempDirectory("tidings-bad-data-");
    CommandRun.Result r = CommandRun.tidings(Map.of(), 30, "serve", "--port", "0", "--store", "memory", "--data", data.toString(),
        "--config", file.toString());
    assertThat(r.timedOut()).as("serve should refuse the config and exit, but kept running:\n%s", r.output()).isFalse();
    assertThat(r.exitCode()).as("exit code; output:\n%s", r.output()).isNotZero();
    assertThat(r.output()).as("the message names the key").contains(key);
    assertThat(r.output()).doesNotContain("listening on");
  }

  @Test
  void unknownKeyInAnEnvironmentVariable_makesServeExitNonZero_namingIt() throws Exception {
    Path data = Files.createTempDirectory("tidings-bad-env-");
    CommandRun.Result r = CommandRun.tidings(Map.of("TIDINGS_PULL__BOGUS_KEY", "1"), 30,
        "serve", "--port", "0", "--store", "memory", "--data", data.toString());
    assertThat(r.timedOut()).as("kept running:\n%s", r.output()).isFalse();
    assertThat(r.exitCode()).as("output:\n%s", r.output()).isNotZero();
    assertThat(r.output()).containsIgnoringCase("bogus_key");
  }

  @Test
  void environmentOverridesTheConfigFile_andFlagsOverrideTheEnvironment() throws Exception {
    try (TidingsProcess p = TidingsProcess.builder().name("operations-env").memory()
        .config("pull:\n  poll_interval: { min: 1s, max: 20s }\n")
        .env("TIDINGS_PULL__POLL_INTERVAL__MAX", "2s")
        .env("TIDINGS_STORE__KIND", "sqlite")
        .env("TIDINGS_SERVER__PORT", "1")
        .start()) {
      Http h = new Http(p);
      // --port 0 and --store memory (flags) beat the environment.
      assertThat(p.uri().getPort()).isNotEqualTo(1);
      assertThat(String.join("\n", p.output())).contains("store: memory");
      // The environment's max of 2 s beats the file's 20 s: an idle topic is advised about 2 s (±20%).
      List<Double> values = new ArrayList<>();
      for (int i = 0; i < 30; i++) {
        values.add(pollInterval(h.get("/v1/state?topic=" + enc("ops/env"))));
      }
      assertThat(values).allSatisfy(v -> assertThat(v).isBetween(1.6, 2.4));
      assertThat(new HashSet<>(values)).as("jittered: %s", values).hasSizeGreaterThan(5);
    }
  }

  // ---------------------------------------------------------------- shutdown

  @Test
  void sigterm_answersAHeldLongPollPromptly_andExitsZero() throws Exception {
    TidingsProcess p = TidingsProcess.builder().name("operations-sigterm").memory().start();
    try {
      Http h = new Http(p).with(Http.newClient());
      JsonNode published = h.publishOk("ops/shutdown", "{\"data\":1}");
      String cursor = published.get("cursor").asText();
      CompletableFuture<Http.Reply> poll = h.getAsync("/v1/changes?topic=ops%2Fshutdown&since=" + enc(cursor) + "&wait=60");
      await().atMost(Duration.ofSeconds(10)).until(() -> h.metric("tidings_long_polls_waiting").orElse(0.0) >= 1);

      long t0 = System.nanoTime();
      CompletableFuture<Integer> exit = CompletableFuture.supplyAsync(() -> {
        try {
          return p.stop();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      Http.Reply r = poll.get(45, TimeUnit.SECONDS);
      long answeredMs = (System.nanoTime() - t0) / 1_000_000;
      // Far inside the poll's 60 s wait: the shutdown answered it, the timer did not.
      assertThat(answeredMs).as("ms from SIGTERM to the long poll's answer").isLessThan(20_000);
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertThat(r.json().get("events")).isEmpty();
      assertThat(r.json().get("cursor").asText()).isEqualTo(cursor);

      int code = exit.get(30, TimeUnit.SECONDS);
      long exitedMs = (System.nanoTime() - t0) / 1_000_000;
      assertThat(code).as("exit code after SIGTERM; output:\n%s", String.join("\n", p.output())).isZero();
      // Well under the 30 s shutdown grace: nothing was left to wait for.
      assertThat(exitedMs).as("ms from SIGTERM to exit").isLessThan(25_000);
    } finally {
      p.close();
    }
  }
}
