package io.tidings.server.scale;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.server.testing.TidingsProcess;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * 10,000 long polls held at once cost the server no thread and a few kilobytes each, and one
 * publish answers exactly the ones on its topic. The server runs in its own process; the polls
 * come from this one.
 */
class LongPollScaleTest {
  private static final int POLLS = 10_000;
  private static final int OTHER_TOPIC_POLLS = 200;

  private static TidingsProcess server;
  private static Vertx vertx;
  private static HttpClient client;
  private static final java.net.http.HttpClient JDK = java.net.http.HttpClient.newHttpClient();

  @BeforeAll
  static void start() throws IOException {
    server = TidingsProcess.builder().name("long-poll-scale").memory()
.start();
    vertx = Vertx.vertx();
    client = vertx.createHttpClient(
        new HttpClientOptions().setDefaultHost("127.0.0.1").setDefaultPort(server.uri().getPort())
            .setKeepAlive(true).setIdleTimeout(120),
        new PoolOptions().setHttp1MaxSize(POLLS + OTHER_TOPIC_POLLS + 10).setMaxWaitQueueSize(-1));
  }

  @AfterAll
  static void stop() {
    if (vertx != null) {
      vertx.close().toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
    }
    if (server != null) {
      server.close();
    }
  }

  @Test
  void tenThousandHeldLongPollsCostNoThreadAndAPublishWakesOnlyItsTopic() throws Exception {
    String cursor = publish("scale/other", "{\"data\":0}");
    String quiet = publish("scale/hot", "{\"data\":0}");
    gc();
    double threadsBefore = metric("jvm_threads_live_threads");
    double heapBefore = heapUsed();

    List<Future<JsonObject>> hot = new ArrayList<>();
    for (int i = 0; i < POLLS; i++) {
      hot.add(poll("/v1/changes?topic=scale/hot&since=" + quiet + "&wait=60"));
    }
    List<Future<JsonObject>> other = new ArrayList<>();
    for (int i = 0; i < OTHER_TOPIC_POLLS; i++) {
      other.add(poll("/v1/changes?topic=scale/other&since=" + cursor + "&wait=60"));
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (metric("tidings_long_polls_waiting") < POLLS + OTHER_TOPIC_POLLS && System.nanoTime() < deadline) {
      Thread.sleep(200);
    }
    assertThat(metric("tidings_long_polls_waiting")).isEqualTo(POLLS + OTHER_TOPIC_POLLS);
    gc();
    double threadsHeld = metric("jvm_threads_live_threads");
    double heapHeld = heapUsed();
    double bytesPerPoll = (heapHeld - heapBefore) / (POLLS + OTHER_TOPIC_POLLS);
    System.out.printf("held %d long polls: threads %.0f -> %.0f, heap %.1f MiB -> %.1f MiB (%.0f bytes per poll)%n",
        POLLS + OTHER_TOPIC_POLLS, threadsBefore, threadsHeld, heapBefore / 1048576, heapHeld / 1048576, bytesPerPoll);
    // A thread per poll would add 10,000; allow the JVM's own housekeeping threads to come and go.
    assertThat(threadsHeld - threadsBefore).isLessThan(10);
    assertThat(bytesPerPoll).isLessThan(16 * 1024);

    long published = System.nanoTime();
    publish("scale/hot", "{\"data\":\"wake\"}");
    Future.all(hot).toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    long allAnswered = System.nanoTime();
    System.out.printf("one publish answered %d long polls in %d ms%n", POLLS,
        TimeUnit.NANOSECONDS.toMillis(allAnswered - published));
    for (Future<JsonObject> f : hot) {
      JsonObject body = f.result();
      assertThat(body.getJsonArray("events")).hasSize(1);
      assertThat(body.getJsonArray("events").getJsonObject(0).getString("data")).isEqualTo("wake");
    }
    // The other topic's polls are still held: none was woken by a publish elsewhere.
    assertThat(other).allSatisfy(f -> assertThat(f.isComplete()).isFalse());
    assertThat(metric("tidings_long_polls_waiting")).isEqualTo(OTHER_TOPIC_POLLS);
    publish("scale/other", "{\"data\":1}");
    Future.all(other).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertThat(metric("tidings_long_polls_waiting")).isZero();
  }

  private static Future<JsonObject> poll(String uri) {
    return client.request(HttpMethod.GET, uri)
        .compose(req -> req.send())
        .compose(resp -> {
          if (resp.statusCode() != 200) {
            return Future.failedFuture("status " + resp.statusCode());
          }
          return resp.body();
        })
        .map(Buffer::toJsonObject);
  }

  private static String publish(String topic, String event) throws Exception {
    HttpResponse<String> r = JDK.send(HttpRequest.newBuilder(server.uri("/v1/events?topic=" + topic))
        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(event)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(201);
    return new JsonObject(r.body()).getString("cursor");
  }

  private static double metric(String name) throws Exception {
    String text = JDK.send(HttpRequest.newBuilder(server.uri("/metrics")).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + "(?:\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(text);
    assertThat(m.find()).as("metric %s in /metrics", name).isTrue();
    return Double.parseDouble(m.group(1));
  }

  private static double heapUsed() throws Exception {
    String text = JDK.send(HttpRequest.newBuilder(server.uri("/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    Matcher m = Pattern.compile("(?m)^jvm_memory_used_bytes\\{area=\"heap\",[^}]*\\} ([0-9.eE+-]+)$").matcher(text);
    double sum = 0;
    while (m.find()) {
      sum += Double.parseDouble(m.group(1));
    }
    return sum;
  }

  private static void gc() throws Exception {
    Process p = new ProcessBuilder(URI.create("file://" + System.getProperty("java.home")).getPath() + "/bin/jcmd",
        Long.toString(server.process().pid()), "GC.run").redirectErrorStream(true).start();
    p.getInputStream().readAllBytes();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(300);
  }
}
