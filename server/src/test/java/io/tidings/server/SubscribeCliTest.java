package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tidings.server.testing.Contract;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.TidingsProcess;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code tidings subscribe} as a real process: against a scripted fake hub (for what a real hub
 * does only rarely: drops mid-event, retry:, 503, close codes) and against the real server.
 */
class SubscribeCliTest {
  /** The same (exact-number) parser {@link Http} reads the hub's answers with, so events compare equal. */
  private static final ObjectMapper JSON = Http.JSON;
  private static Vertx vertx;
  private static TidingsProcess server;

  @BeforeAll
  static void startVertx() {
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stopVertx() throws Exception {
    if (server != null) {
      server.close();
    }
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  // ---------------------------------------------------------------- against a scripted fake hub

  @Test
  void sse_resumesWithLastEventIdAfterADropMidEvent_printsAResetAndItsState_andHonoursRetry() throws Exception {
    try (FakeHub hub = FakeHub.start(); Subscriber sub = Subscriber.start("subscribe", "t/a", "t/b", "--since", "earliest",
        "--url", hub.uri())) {
      SseCall first = hub.nextSse();
      assertThat(first.params().getAll("topic")).containsExactly("t/a", "t/b");
      assertThat(first.params().get("since")).isEqualTo("earliest");
      assertThat(first.params().get("mode")).isNull();
      assertThat(first.headers().get("Last-Event-ID")).isNull();
      assertThat(first.headers().get("Accept")).isEqualTo("text/event-stream");
      first.open().write("retry: 700\n\n: hi\n\n"
          + "id: s1\nevent: message\ndata: {\"topic\":\"t/a\",\"offset\":1,\"cursor\":\"a1\",\"type\":\"message\",\"data\":1.50}\n\n"
          + "id: s2\nevent: put\ndata: {\"topic\":\"t/b\",\"offset\":1,\"cursor\":\"b1\",\"type\":\"put\",\"key\":\"k\",\n"
          + "data: \"data\":{\"x\":\"\u00e9\"}}\n\n"
          + "id: s3\nevent: message\ndata: {\"topic\":\"t/a\",\"offset\":2,\"cur");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/a\",\"offset\":1,\"cursor\":\"a1\",\"type\":\"message\",\"data\":1.50}");
      assertThat(sub.nextLine()).as("multi-line data, compacted")
          .isEqualTo("{\"topic\":\"t/b\",\"offset\":1,\"cursor\":\"b1\",\"type\":\"put\",\"key\":\"k\",\"data\":{\"x\":\"\u00e9\"}}");
      Thread.sleep(300);
      long dropped = System.nanoTime();
      first.request().connection().close();

      SseCall second = hub.nextSse();
      assertThat((System.nanoTime() - dropped) / 1_000_000).as("retry: 700 is the least delay").isGreaterThanOrEqualTo(650);
      assertThat(second.headers().get("Last-Event-ID")).as("the id of the half-received event does not count").isEqualTo("s2");
      assertThat(second.params().get("since")).isNull();
      assertThat(second.params().getAll("topic")).containsExactly("t/a", "t/b");
      second.open().write("retry: 100\n\nevent: reset\ndata: {\"topic\":\"t/a\",\"cursor\":\"a9\",\"reason\":\"cursor_expired\"}\n\n"
          + "event: put\ndata: {\"topic\":\"t/a\",\"offset\":7,\"cursor\":\"a0\",\"type\":\"put\",\"key\":\"x\",\"data\":7}\n\n");
      assertThat(sub.nextLine()).isEqualTo("{\"reset\":{\"topic\":\"t/a\",\"cursor\":\"a9\",\"reason\":\"cursor_expired\"}}");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/a\",\"offset\":7,\"cursor\":\"a0\",\"type\":\"put\",\"key\":\"x\",\"data\":7}");
      second.request().response().end();

      SseCall third = hub.nextSse();
      assertThat(third.headers().get("Last-Event-ID")).as("events without an id keep the last one").isEqualTo("s2");
      third.open().write("id: s10\nevent: put\ndata: {\"topic\":\"t/a\",\"offset\":9,\"cursor\":\"a9\",\"type\":\"put\",\"key\":\"y\",\"data\":9}\n\n");
      assertThat(JSON.readTree(sub.nextLine()).get("offset").asLong()).isEqualTo(9);
      third.request().connection().close();
      assertThat(hub.nextSse().headers().get("Last-Event-ID")).isEqualTo("s10");

      sub.process().destroy();
      assertThat(sub.waitFor()).as("SIGTERM ends it with 0; stderr: %s", sub.stderr()).isZero();
      assertThat(sub.stderr()).contains("reconnecting in");
    }
  }

  @Test
  void sse_aRefusalEndsWithTheHubsMessageAndExitOne() throws Exception {
    try (FakeHub hub = FakeHub.start(); Subscriber sub = Subscriber.start("subscribe", "bad//topic", "--notify",
        "--url", hub.uri())) {
      SseCall call = hub.nextSse();
      assertThat(call.params().get("mode")).isEqualTo("notify");
      call.request().response().setStatusCode(400).putHeader("Content-Type", "application/json")
          .end("{\"error\":{\"code\":\"invalid_topic\",\"message\":\"topic names may not contain //\"}}");
      assertThat(sub.waitFor()).isEqualTo(1);
      assertThat(sub.stderr()).contains("400 invalid_topic: topic names may not contain //");
      assertThat(sub.lines()).isEmpty();
    }
  }

  @Test
  void sse_unavailableIsRetriedAfterRetryAfter_unauthorizedEndsWithTwo() throws Exception {
    try (FakeHub hub = FakeHub.start(); Subscriber sub = Subscriber.start("subscribe", "t", "--url", hub.uri())) {
      long answered = System.nanoTime();
      hub.nextSse().request().response().setStatusCode(503).putHeader("Retry-After", "2")
          .putHeader("Content-Type", "application/json")
          .end("{\"error\":{\"code\":\"unavailable\",\"message\":\"engine down\"}}");
      SseCall again = hub.nextSse();
      assertThat((System.nanoTime() - answered) / 1_000_000).as("waited for Retry-After").isGreaterThanOrEqualTo(1900);
      again.request().response().setStatusCode(401).putHeader("Content-Type", "application/json")
          .end("{\"error\":{\"code\":\"unauthorized\",\"message\":\"credentials needed\"}}");
      assertThat(sub.waitFor()).isEqualTo(2);
      assertThat(sub.stderr()).contains("503 unavailable: engine down").contains("401 unauthorized: credentials needed");
    }
  }

  @Test
  void ws_resubscribesEachTopicFromItsOwnCursor_after4008And1012_andStopsWithTwoOn1008() throws Exception {
    try (FakeHub hub = FakeHub.start(); Subscriber sub = Subscriber.start("subscribe", "t/a", "t/b", "--transport", "ws",
        "--since", "c0", "--notify", "--url", hub.uri())) {
      WsCall first = hub.nextWs();
      JsonNode subA = first.nextOp();
      JsonNode subB = first.nextOp();
      assertThat(subA.get("op").asText()).isEqualTo("subscribe");
      assertThat(subA.get("topic").asText()).isEqualTo("t/a");
      assertThat(subA.get("since").asText()).isEqualTo("c0");
      assertThat(subA.get("mode").asText()).isEqualTo("notify");
      assertThat(subB.get("topic").asText()).isEqualTo("t/b");
      assertThat(subB.get("since").asText()).isEqualTo("c0");
      assertThat(subB.get("id").asInt()).isNotEqualTo(subA.get("id").asInt());
      first.send("{\"op\":\"subscribed\",\"id\":" + subA.get("id") + ",\"topic\":\"t/a\",\"cursor\":\"c0\"}");
      first.send("{\"op\":\"event\",\"topic\":\"t/a\",\"offset\":1,\"cursor\":\"a1\",\"type\":\"message\"}");
      first.send("{\"op\":\"event\",\"topic\":\"t/b\",\"offset\":1,\"cursor\":\"b1\",\"type\":\"message\"}");
      first.send("{\"op\":\"event\",\"topic\":\"t/a\",\"offset\":2,\"cursor\":\"a2\",\"type\":\"message\"}");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/a\",\"offset\":1,\"cursor\":\"a1\",\"type\":\"message\"}");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/b\",\"offset\":1,\"cursor\":\"b1\",\"type\":\"message\"}");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/a\",\"offset\":2,\"cursor\":\"a2\",\"type\":\"message\"}");
      first.socket().close((short) 4008, "slow consumer");

      WsCall second = hub.nextWs();
      assertThat(List.of(second.nextOp(), second.nextOp())).extracting(op -> op.get("topic").asText() + "@" + op.get("since").asText())
          .containsExactly("t/a@a2", "t/b@b1");
      second.send("{\"op\":\"reset\",\"topic\":\"t/b\",\"cursor\":\"b5\",\"reason\":\"cursor_expired\"}");
      second.send("{\"op\":\"event\",\"topic\":\"t/b\",\"offset\":5,\"cursor\":\"b5\",\"type\":\"put\",\"key\":\"k\"}");
      second.send("{\"op\":\"error\",\"code\":\"bad_frame\",\"message\":\"not for a subscribe\"}");
      assertThat(sub.nextLine()).isEqualTo("{\"reset\":{\"topic\":\"t/b\",\"cursor\":\"b5\",\"reason\":\"cursor_expired\"}}");
      assertThat(sub.nextLine()).isEqualTo("{\"topic\":\"t/b\",\"offset\":5,\"cursor\":\"b5\",\"type\":\"put\",\"key\":\"k\"}");
      second.socket().close((short) 1012, "restart");

      WsCall third = hub.nextWs();
      assertThat(List.of(third.nextOp(), third.nextOp())).extracting(op -> op.get("topic").asText() + "@" + op.get("since").asText())
          .containsExactly("t/a@a2", "t/b@b5");
      third.socket().close((short) 1008, "token expired");
      assertThat(sub.waitFor()).isEqualTo(2);
      assertThat(sub.stderr()).contains("1008").contains("token expired").contains("bad_frame");
    }
  }

  @Test
  void ws_aSubscribeErrorEndsWithExitOne() throws Exception {
    try (FakeHub hub = FakeHub.start(); Subscriber sub = Subscriber.start("subscribe", "t", "--transport", "ws",
        "--url", hub.uri())) {
      WsCall call = hub.nextWs();
      JsonNode op = call.nextOp();
      assertThat(op.has("since")).as("no --since: the hub's default").isFalse();
      call.send("{\"op\":\"error\",\"id\":" + op.get("id") + ",\"code\":\"invalid_cursor\",\"message\":\"malformed\"}");
      assertThat(sub.waitFor()).isEqualTo(1);
      assertThat(sub.stderr()).contains("cannot subscribe to t: invalid_cursor: malformed");
    }
  }

  // ---------------------------------------------------------------- against the real server

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  void printsEveryEventOfEveryTopicInOrder_replayedThenLive_exactlyAsTheHubKeepsThem(String transport) throws Exception {
    String a = "sub/" + transport + "/order/a";
    String b = "sub/" + transport + "/order/b";
    Http http = new Http(server());
    http.publishMessages(a, 3);
    http.publishOk(b, "[{\"type\":\"put\",\"key\":\"k\",\"data\":{\"x\":1.50,\"s\":\"\u00e9\u4e2d\"}},{\"type\":\"delete\",\"key\":\"k\"}]");
    try (Subscriber sub = Subscriber.start("subscribe", a, b, "--since", "earliest", "--transport", transport,
        "--url", server().uri().toString())) {
      List<JsonNode> printed = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        printed.add(JSON.readTree(sub.nextLine()));
      }
      for (int i = 0; i < 4; i++) {
        http.publishOk(i % 2 == 0 ? a : b, "{\"id\":\"live-" + i + "\",\"data\":" + i + "}");
      }
      for (int i = 0; i < 4; i++) {
        printed.add(JSON.readTree(sub.nextLine()));
      }
      assertThat(sub.lines().poll(1, TimeUnit.SECONDS)).as("nothing more").isNull();
      assertThat(ofTopic(printed, a)).containsExactlyElementsOf(http.allChanges(a, 1000));
      assertThat(ofTopic(printed, b)).containsExactlyElementsOf(http.allChanges(b, 1000));
      sub.process().destroy();
      assertThat(sub.waitFor()).as("SIGTERM: exit 0; stderr: %s", sub.stderr()).isZero();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  void sinceStartsAfterTheGivenCursor_andNotifyDropsTheData(String transport) throws Exception {
    String topic = "sub/" + transport + "/since";
    Http http = new Http(server());
    JsonNode ack = http.publishOk(topic, "[{\"type\":\"put\",\"key\":\"a\",\"data\":1},"
        + "{\"type\":\"put\",\"key\":\"b\",\"data\":2},{\"data\":\"three\"}]");
    String afterFirst = ack.get("events").get(0).get("cursor").asText();
    try (Subscriber sub = Subscriber.start("subscribe", topic, "--since", afterFirst, "--notify", "--transport", transport,
        "--url", server().uri().toString())) {
      JsonNode second = JSON.readTree(sub.nextLine());
      JsonNode third = JSON.readTree(sub.nextLine());
      assertThat(second.get("offset").asLong()).isEqualTo(2);
      assertThat(second.get("key").asText()).isEqualTo("b");
      assertThat(second.get("type").asText()).isEqualTo("put");
      assertThat(third.get("offset").asLong()).isEqualTo(3);
      http.publishOk(topic, "{\"data\":\"four\"}");
      JsonNode fourth = JSON.readTree(sub.nextLine());
      assertThat(fourth.get("offset").asLong()).isEqualTo(4);
      assertThat(List.of(second, third, fourth)).allSatisfy(e -> {
        assertThat(e.has("data")).as("notify mode: no data in %s", e).isFalse();
        assertThat(e.get("topic").asText()).isEqualTo(topic);
        assertThat(e.get("cursor").asText()).matches(Contract.CURSOR);
      });
      assertThat(sub.lines().poll(1, TimeUnit.SECONDS)).as("nothing more").isNull();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  void anInvalidTopicEndsWithTheHubsMessageAndExitOne(String transport) throws Exception {
    try (Subscriber sub = Subscriber.start("subscribe", "ok/topic", "bad//topic", "--transport", transport,
        "--url", server().uri().toString())) {
      assertThat(sub.waitFor()).isEqualTo(1);
      assertThat(sub.stderr()).contains("invalid_topic");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  void resumesAfterTheHubIsKilledAndRestarted_withNoLossAndNoDuplicate_whileAPublisherKeepsWriting(String transport)
      throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Path data = Files.createTempDirectory("tidings-subscribe-restart-");
    String[] topics = {"sub/restart/a", "sub/restart/b"};
    int total = 240;
    AtomicReference<TidingsProcess> hub = new AtomicReference<>(
        TidingsProcess.builder().name("subscribe-" + transport).port(port).data(data).start());
    URI base = hub.get().uri();
    AtomicInteger published = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Thread publisher = new Thread(() -> {
      Http http = new Http(base).with(Http.newClient());
      for (int n = 1; n <= total && !stop.get(); n++) {
        // The same id on every retry: a publish whose answer was lost in the kill is not appended twice.
        String body = "{\"id\":\"p-" + n + "\",\"data\":" + n + "}";
        while (!stop.get()) {
          try {
            if (http.publish(topics[n % 2], body).status() == 201) {
              published.set(n);
              break;
            }
          } catch (RuntimeException down) {
            // the hub is down: try again
          }
          sleep(100);
        }
        sleep(15);
      }
    }, "publisher");
    try (Subscriber sub = Subscriber.start("subscribe", topics[0], topics[1], "--since", "earliest",
        "--transport", transport, "--url", base.toString())) {
      publisher.start();
      List<JsonNode> printed = new ArrayList<>();
      while (printed.size() < 40) {
        printed.add(JSON.readTree(sub.nextLine()));
      }
      hub.get().kill();
      Thread.sleep(500);
      hub.set(TidingsProcess.builder().name("subscribe-" + transport + "-2").port(port).data(data).start());
      publisher.join(120_000);
      assertThat(published.get()).as("the publisher finished").isEqualTo(total);
      Http http = new Http(base);
      List<JsonNode> expectedA = http.allChanges(topics[0], 1000);
      List<JsonNode> expectedB = http.allChanges(topics[1], 1000);
      assertThat(expectedA.size() + expectedB.size()).as("one event per publish id").isEqualTo(total);
      while (printed.size() < total) {
        printed.add(JSON.readTree(sub.nextLine(Duration.ofSeconds(60))));
      }
      assertThat(sub.lines().poll(2, TimeUnit.SECONDS)).as("nothing more than the log holds").isNull();
      assertThat(ofTopic(printed, topics[0])).containsExactlyElementsOf(expectedA);
      assertThat(ofTopic(printed, topics[1])).containsExactlyElementsOf(expectedB);
      assertThat(sub.stderr()).contains("reconnecting in");
    } finally {
      stop.set(true);
      publisher.join(10_000);
      hub.get().close();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"sse", "ws"})
  void whenTheHubLosesItsHistory_printsAResetThenTheStateThenGoesOnLive(String transport) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    String topic = "sub/" + transport + "/epoch";
    TidingsProcess memory = TidingsProcess.builder().name("subscribe-epoch-" + transport).port(port).memory().start();
    try (Subscriber sub = Subscriber.start("subscribe", topic, "--since", "earliest", "--transport", transport,
        "--url", memory.uri().toString())) {
      Http http = new Http(memory.uri());
      http.publishOk(topic, "[{\"type\":\"put\",\"key\":\"a\",\"data\":1},{\"type\":\"put\",\"key\":\"b\",\"data\":2}]");
      assertThat(JSON.readTree(sub.nextLine()).get("key").asText()).isEqualTo("a");
      assertThat(JSON.readTree(sub.nextLine()).get("key").asText()).isEqualTo("b");
      memory.kill();
      // A memory hub restarted has lost its history: a new epoch, so the subscriber's cursor is void.
      memory = TidingsProcess.builder().name("subscribe-epoch-" + transport + "-2").port(port).memory().start();
      http.publishOk(topic, "{\"type\":\"put\",\"key\":\"c\",\"data\":3}");
      JsonNode reset = JSON.readTree(sub.nextLine(Duration.ofSeconds(60)));
      assertThat(reset.has("reset")).as("a reset line: %s", reset).isTrue();
      assertThat(reset.at("/reset/topic").asText()).isEqualTo(topic);
      assertThat(reset.at("/reset/cursor").asText()).matches(Contract.CURSOR);
      assertThat(reset.at("/reset/reason").asText()).isNotBlank();
      JsonNode c = JSON.readTree(sub.nextLine());
      assertThat(c.get("type").asText()).isEqualTo("put");
      assertThat(c.get("key").asText()).isEqualTo("c");
      http.publishOk(topic, "{\"data\":\"live\"}");
      JsonNode live = JSON.readTree(sub.nextLine());
      assertThat(live.get("offset").asLong()).isEqualTo(2);
      assertThat(live.get("data").asText()).isEqualTo("live");
      assertThat(sub.lines().poll(1, TimeUnit.SECONDS)).as("nothing more").isNull();
    } finally {
      memory.close();
    }
  }

  private static List<JsonNode> ofTopic(List<JsonNode> events, String topic) {
    return events.stream().filter(e -> e.path("topic").asText().equals(topic)).toList();
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The shared real server, started on first use. */
  private static synchronized TidingsProcess server() throws IOException {
    if (server == null) {
      server = TidingsProcess.builder().name("subscribe").start();
    }
    return server;
  }

  // ---------------------------------------------------------------- helpers

  /** One SSE request to the fake hub. */
  record SseCall(HttpServerRequest request, MultiMap params, MultiMap headers) {
    /** Starts the 200 event stream and returns the response to write to. */
    io.vertx.core.http.HttpServerResponse open() {
      return request.response().setChunked(true).putHeader("Content-Type", "text/event-stream")
          .putHeader("Cache-Control", "no-cache");
    }
  }

  /** One WebSocket to the fake hub, with the text frames it received. */
  record WsCall(ServerWebSocket socket, BlockingQueue<String> frames) {
    JsonNode nextOp() throws Exception {
      String frame = frames.poll(30, TimeUnit.SECONDS);
      assertThat(frame).as("a frame from the subscriber").isNotNull();
      return JSON.readTree(frame);
    }

    void send(String text) throws Exception {
      socket.writeTextMessage(text).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  /** A hub whose every answer the test writes by hand. */
  static final class FakeHub implements AutoCloseable {
    private final BlockingQueue<SseCall> sse = new LinkedBlockingQueue<>();
    private final BlockingQueue<WsCall> ws = new LinkedBlockingQueue<>();
    private HttpServer server;

    static FakeHub start() throws Exception {
      FakeHub hub = new FakeHub();
      hub.server = vertx.createHttpServer()
          .webSocketHandler(socket -> {
            BlockingQueue<String> frames = new LinkedBlockingQueue<>();
            socket.textMessageHandler(frames::add);
            hub.ws.add(new WsCall(socket, frames));
          })
          .requestHandler(req -> {
            if (req.path().equals("/v1/sse")) {
              hub.sse.add(new SseCall(req, MultiMap.caseInsensitiveMultiMap().addAll(req.params()),
                  MultiMap.caseInsensitiveMultiMap().addAll(req.headers())));
            } else {
              req.response().setStatusCode(404).end();
            }
          })
          .listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return hub;
    }

    String uri() {
      return "http://127.0.0.1:" + server.actualPort();
    }

    SseCall nextSse() throws InterruptedException {
      SseCall call = sse.poll(30, TimeUnit.SECONDS);
      assertThat(call).as("an SSE request").isNotNull();
      return call;
    }

    WsCall nextWs() throws InterruptedException {
      WsCall call = ws.poll(30, TimeUnit.SECONDS);
      assertThat(call).as("a WebSocket").isNotNull();
      return call;
    }

    @Override
    public void close() {
      server.close().toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
    }
  }

  /** {@code tidings subscribe ...} as a child process: stdout lines queued, stderr kept apart. */
  static final class Subscriber implements AutoCloseable {
    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final StringBuffer stderr = new StringBuffer();

    private Subscriber(Process process) {
      this.process = process;
      Thread out = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          String line;
          while ((line = in.readLine()) != null) {
            lines.add(line);
          }
        } catch (IOException ignored) {
          // the process ended
        }
      }, "subscriber-out");
      out.setDaemon(true);
      out.start();
      Thread err = new Thread(() -> {
        try (InputStream in = process.getErrorStream()) {
          byte[] buf = new byte[4096];
          int n;
          while ((n = in.read(buf)) >= 0) {
            stderr.append(new String(buf, 0, n, StandardCharsets.UTF_8));
          }
        } catch (IOException ignored) {
          // the process ended
        }
      }, "subscriber-err");
      err.setDaemon(true);
      err.start();
    }

    static Subscriber start(String... args) throws IOException {
      List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath(), "io.tidings.server.Main"));
      cmd.addAll(List.of(args));
      ProcessBuilder pb = new ProcessBuilder(cmd);
      pb.environment().keySet().removeIf(k -> k.startsWith("TIDINGS_"));
      // Output must be UTF-8 whatever the locale.
      pb.environment().put("LC_ALL", "C");
      pb.environment().remove("LANG");
      Subscriber s = new Subscriber(pb.start());
      Runtime.getRuntime().addShutdownHook(new Thread(s::close));
      return s;
    }

    Process process() {
      return process;
    }

    /** The next stdout line, failing (with stderr) when none comes within 30 s. */
    String nextLine() throws InterruptedException {
      return nextLine(Duration.ofSeconds(30));
    }

    String nextLine(Duration timeout) throws InterruptedException {
      String line = lines.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(line).as("a line from subscribe within %s; its stderr:\n%s", timeout, stderr).isNotNull();
      return line;
    }

    BlockingQueue<String> lines() {
      return lines;
    }

    String stderr() {
      return stderr.toString();
    }

    int waitFor() throws InterruptedException {
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).as("subscribe ended; its stderr:\n%s", stderr).isTrue();
      return process.exitValue();
    }

    @Override
    public void close() {
      if (process.isAlive()) {
        process.destroyForcibly();
        try {
          process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    private static String classpath() {
      String cp = System.getProperty("surefire.test.class.path");
      return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }
  }
}
