package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.CommandRun;
import io.tidings.server.testing.TidingsProcess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The client commands, run as real processes against a real server. */
class CliTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();
  private static TidingsProcess server;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("cli").start();
  }

  @AfterAll
  static void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void publishPutsAKeyAndPrintsTheAcknowledgement() throws Exception {
    CommandRun.Result r = CommandRun.tidings(Map.of(), 60, "publish", "cli/put", "--type", "put", "--key", "home",
        "--id", "p-1", "{\"goals\":2}", "--url", server.uri().toString());
    assertThat(r.exitCode()).as(r.output()).isZero();
    JsonNode ack = JSON.readTree(r.output().lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow());
    assertThat(ack.get("events").get(0).get("offset").asLong()).isEqualTo(1);
    JsonNode state = get("/v1/state?topic=cli/put");
    assertThat(state.get("entries").get(0).get("key").asText()).isEqualTo("home");
    assertThat(state.get("entries").get(0).get("data").get("goals").asInt()).isEqualTo(2);
  }

  @Test
  void publishUsesTidingsUrlFromTheEnvironment_andRefusesDataThatIsNotJson() throws Exception {
    CommandRun.Result bad = CommandRun.tidings(Map.of("TIDINGS_URL", server.uri().toString()), 60,
        "publish", "cli/bad", "not json");
    assertThat(bad.exitCode()).as(bad.output()).isEqualTo(2);
    assertThat(bad.output()).contains("not JSON");
    CommandRun.Result ok = CommandRun.tidings(Map.of("TIDINGS_URL", server.uri().toString()), 60,
        "publish", "cli/bad", "\"fine\"");
    assertThat(ok.exitCode()).as(ok.output()).isZero();
    assertThat(get("/v1/changes?topic=cli/bad").get("events")).hasSize(1);
  }

  @Test
  void publishReportsTheServersErrorAndExitsNonZero() throws Exception {
    CommandRun.Result r = CommandRun.tidings(Map.of(), 60, "publish", "bad//topic", "1", "--url", server.uri().toString());
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.output()).contains("400 invalid_topic");
  }

  @Test
  void publishReadsDataFromStandardInput() throws Exception {
    Process p = command("publish", "cli/stdin", "-", "--url", server.uri().toString()).start();
    p.getOutputStream().write("{\"from\":\"stdin\"}".getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isZero();
    assertThat(get("/v1/changes?topic=cli/stdin").get("events").get(0).get("data").get("from").asText()).isEqualTo("stdin");
  }

  @Test
  void pollPrintsEveryEventAsOneJsonLine_pagingThroughMore() throws Exception {
    for (int i = 1; i <= 5; i++) {
      publish("cli/poll", "{\"data\":" + i + "}");
    }
    CommandRun.Result r = CommandRun.tidings(Map.of(), 60, "poll", "cli/poll", "--limit", "2", "--url", server.uri().toString());
    assertThat(r.exitCode()).as(r.output()).isZero();
    List<Long> offsets = new ArrayList<>();
    for (String line : r.output().lines().filter(l -> l.startsWith("{")).toList()) {
      offsets.add(JSON.readTree(line).get("offset").asLong());
    }
    assertThat(offsets).containsExactly(1L, 2L, 3L, 4L, 5L);
    assertThat(r.output()).contains("cursor: ");
  }

  @Test
  void pollPrintsUtf8WhateverTheLocale() throws Exception {
    publish("cli/utf8", "{\"data\":\"\u00e9\u4e2d\"}");
    CommandRun.Result r = CommandRun.tidings(Map.of("LC_ALL", "C", "LANG", "C"), 60, "poll", "cli/utf8",
        "--url", server.uri().toString());
    assertThat(r.exitCode()).as(r.output()).isZero();
    assertThat(r.output()).contains("\"data\":\"\u00e9\u4e2d\"");
  }

  @Test
  void pollFollowPrintsEventsAsTheyArrive_andRidesOutARestart() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path data = Files.createTempDirectory("tidings-cli-follow-");
    TidingsProcess own = TidingsProcess.builder().name("cli-follow").port(port).data(data).start();
    Process follow = command("poll", "cli/follow", "--follow", "--url", own.uri().toString()).start();
    BlockingQueue<String> lines = lines(follow);
    try {
      publishTo(own, "cli/follow", "{\"data\":\"one\"}");
      assertThat(JSON.readTree(lines.poll(30, TimeUnit.SECONDS)).get("data").asText()).isEqualTo("one");
      own.kill();
      own = TidingsProcess.builder().name("cli-follow-2").port(port).data(data).start();
      publishTo(own, "cli/follow", "{\"data\":\"two\"}");
      String next = lines.poll(60, TimeUnit.SECONDS);
      assertThat(next).as("an event after the restart").isNotNull();
      assertThat(JSON.readTree(next).get("offset").asLong()).isEqualTo(2);
      assertThat(lines.poll(1, TimeUnit.SECONDS)).as("nothing repeated").isNull();
    } finally {
      follow.destroyForcibly();
      own.close();
    }
  }

  @Test
  void pollFollowFromAnExpiredCursorPrintsTheStateAsPutsThenContinues() throws Exception {
    TidingsProcess trimming = TidingsProcess.builder().name("cli-trim").memory()
        .config("retention: [{topic: \"cli/**\", max_events: 2}]\nstore: {retention_interval: 100ms}\n").start();
    Process follow = null;
    try {
      String old = null;
      for (String key : new String[] {"a", "b", "c", "a", "b"}) {
        JsonNode ack = JSON.readTree(send(trimming, "cli/trim", "{\"type\":\"put\",\"key\":\"" + key + "\",\"data\":\"" + key + "\"}"));
        old = old == null ? ack.get("cursor").asText() : old;
      }
      follow = command("poll", "cli/trim", "--follow", "--since", old, "--url", trimming.uri().toString()).start();
      BlockingQueue<String> lines = lines(follow);
      List<String> keys = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        JsonNode line = JSON.readTree(lines.poll(30, TimeUnit.SECONDS));
        assertThat(line.get("type").asText()).isEqualTo("put");
        keys.add(line.get("key").asText());
      }
      assertThat(keys).containsExactly("a", "b", "c");
      send(trimming, "cli/trim", "{\"data\":\"after\"}");
      JsonNode next = JSON.readTree(lines.poll(30, TimeUnit.SECONDS));
      assertThat(next.get("offset").asLong()).isEqualTo(6);
      assertThat(next.get("data").asText()).isEqualTo("after");
    } finally {
      if (follow != null) {
        follow.destroyForcibly();
      }
      trimming.close();
    }
  }

  private static BlockingQueue<String> lines(Process process) {
    BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          if (line.startsWith("{")) {
            lines.add(line);
          }
        }
      } catch (Exception ignored) {
        // the process ended
      }
    });
    reader.setDaemon(true);
    reader.start();
    return lines;
  }

  private static String send(TidingsProcess target, String topic, String body) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(target.uri() + "/v1/events?topic=" + topic))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return r.body();
  }

  private static ProcessBuilder command(String... args) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath(), "io.tidings.server.Main"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_"));
    return pb;
  }

  private static String classpath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
  }

  private static JsonNode get(String pathAndQuery) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(server.uri(pathAndQuery)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static void publish(String topic, String body) throws Exception {
    publishTo(server, topic, body);
  }

  private static void publishTo(TidingsProcess target, String topic, String body) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(target.uri() + "/v1/events?topic=" + topic))
        .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
  }
}
