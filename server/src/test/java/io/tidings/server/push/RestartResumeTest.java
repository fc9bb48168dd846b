package io.tidings.server.push;

import static io.tidings.server.push.PushSupport.assertExactly;
import static io.tidings.server.push.PushSupport.offsetOf;
import static io.tidings.server.push.PushSupport.offsets;
import static io.tidings.server.testing.Http.enc;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.tidings.server.testing.Http;
import io.tidings.server.testing.SseClient;
import io.tidings.server.testing.TidingsProcess;
import io.tidings.server.testing.WsClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Push across a crash of the server with the embedded SQLite store: SSE and WebSocket subscribers
 * follow a topic while a publisher writes; the server is killed ({@code kill -9}) and started again
 * on the same port and data; the subscribers reconnect with their last cursor and end with every
 * stored event exactly once, including every acknowledged one, and nothing that was not stored.
 */
class RestartResumeTest {
  private static final String TOPIC = "restart/feed";
  private static final Duration LONG = Duration.ofMinutes(2);

  /** A subscriber that reconnects with its last cursor whenever its connection ends, until stopped. */
  private abstract static class Follower implements Runnable {
    final List<JsonNode> events = Collections.synchronizedList(new ArrayList<>());
    final AtomicBoolean stop = new AtomicBoolean();
    volatile java.net.URI base;
    volatile int connections;
    volatile Throwable error;
    String cursor = "earliest";

    abstract void follow() throws Exception;

    @Override
    public void run() {
      while (!stop.get()) {
        try {
          follow();
        } catch (IOException | UncheckedIOException | IllegalStateException e) {
          // the server is away: try again shortly
        } catch (Throwable e) {
          if (!stop.get()) {
            error = e;
          }
          return;
        }
        sleep(100);
      }
    }

    void add(JsonNode e) {
      events.add(e);
      cursor = e.get("cursor").asText();
    }

    long lastOffset() {
      synchronized (events) {
        return events.isEmpty() ? 0 : events.get(events.size() - 1).get("offset").asLong();
      }
    }
  }

  private static final class SseFollower extends Follower {
    volatile SseClient current;

    @Override
    void follow() throws Exception {
      String path = "/v1/sse?topic=" + enc(TOPIC) + "&since=earliest";
      try (SseClient sse = cursor.equals("earliest") ? SseClient.open(base, path) : SseClient.open(base, path, "Last-Event-ID", cursor)) {
        current = sse;
        if (sse.status() != 200) {
          return;
        }
        connections++;
        SseClient.Message m;
        while (!stop.get() && (m = sse.nextEvent(Duration.ofMinutes(5))) != null) {
          if (m.type().equals("subscribed")) {
            assertThat(m.id()).as("the stream resumes where this client stood").isEqualTo(cursor.equals("earliest") ? m.id() : cursor);
            continue;
          }
          assertThat(m.type()).as("%s", m).isEqualTo("message");
          add(m.json());
          assertThat(sse.lastEventId()).isEqualTo(cursor);
        }
      }
    }
  }

  private static final class WsFollower extends Follower {
    volatile WsClient current;

    @Override
    void follow() throws Exception {
      WsClient ws = WsClient.connect(base);
      current = ws;
      try {
        PushSupport.subscribe(ws, connections, TOPIC, cursor);
        connections++;
        JsonNode m;
        while (!stop.get() && (m = ws.next(Duration.ofMinutes(5))) != null) {
          assertThat(m.path("op").asText()).as("%s", m).isEqualTo("event");
          add(PushSupport.withoutOp(m));
        }
      } catch (AssertionError e) {
        if (ws.closeNow() == null) {
          throw e;
        }
        // the connection died under the subscribe: reconnect
      } finally {
        ws.abort();
      }
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Test
  void subscribersReconnectAfterKill9AndRestart_andEndWithEveryStoredEventOnce() throws Exception {
    Path data = Files.createTempDirectory("tidings-push-restart-");
    TidingsProcess first = TidingsProcess.builder().name("push-restart-1").data(data).start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    ExecutorService pool = Executors.newCachedThreadPool();
    SseFollower sse = new SseFollower();
    WsFollower ws = new WsFollower();
    sse.base = first.uri();
    ws.base = first.uri();
    Set<String> acknowledged = Collections.synchronizedSet(new HashSet<>());
    AtomicBoolean stopPublishing = new AtomicBoolean();
    try {
      Http http = new Http(first).with(Http.newClient());
      PushSupport.publishNumbered(http, TOPIC, "pre", 1, 200);
      acknowledgeAll(acknowledged, "pre", 1, 200);
      Future<?> sseDone = pool.submit(sse);
      Future<?> wsDone = pool.submit(ws);

      // A publisher that retries each batch (same ids) until it is acknowledged.
      Future<Integer> publisher = pool.submit(() -> {
        int batches = 0;
        for (int i = 0; !stopPublishing.get(); i++) {
          String body = PushSupport.messages("live-" + i, 0, 1 + i % 4);
          while (true) {
            try {
              Http.Reply r = http.publish(TOPIC, body);
              if (r.status() == 201) {
                r.json().get("events").forEach(e -> acknowledged.add(e.get("id").asText()));
                batches++;
                break;
              }
            } catch (UncheckedIOException e) {
              // the server is down
            }
            sleep(100);
          }
          sleep(2);
        }
        return batches;
      });

      awaitOffsets(List.of(sse, ws), 300);
      first.kill();
      assertThat(first.process().isAlive()).isFalse();
      second = TidingsProcess.builder().name("push-restart-2").data(data).port(port).start();
      long before = Math.max(sse.lastOffset(), ws.lastOffset());
      awaitOffsets(List.of(sse, ws), before + 300);
      stopPublishing.set(true);
      int batches = publisher.get(1, TimeUnit.MINUTES);
      assertThat(batches).isPositive();

      Http after = new Http(second);
      List<JsonNode> stored = after.allChanges(TOPIC, 1000);
      long head = offsetOf(PushSupport.head(after, TOPIC));
      assertThat(stored).hasSize((int) head);
      awaitOffsets(List.of(sse, ws), head);
      sleep(300);
      for (Follower f : List.of(sse, ws)) {
        f.stop.set(true);
      }
      if (sse.current != null) {
        sse.current.close();
      }
      if (ws.current != null) {
        ws.current.abort();
      }
      sseDone.get(1, TimeUnit.MINUTES);
      wsDone.get(1, TimeUnit.MINUTES);

      Set<String> storedIds = new HashSet<>();
      stored.forEach(e -> storedIds.add(e.get("id").asText()));
      assertThat(storedIds).as("every acknowledged event is stored").containsAll(acknowledged);
      System.out.println("restart: " + head + " events, " + acknowledged.size() + " acknowledged; connections: SSE "
          + sse.connections + ", WebSocket " + ws.connections);
      for (Follower f : List.of(sse, ws)) {
        String name = f == sse ? "SSE" : "WebSocket";
        assertThat(f.error).as("%s failed", name).isNull();
        assertThat(f.connections).as("%s reconnected", name).isGreaterThanOrEqualTo(2);
        assertExactly(name + " subscriber", offsets(f.events), 1, head);
        assertThat(f.events).as("%s: the stored events, as stored", name).isEqualTo(stored);
      }
    } finally {
      stopPublishing.set(true);
      sse.stop.set(true);
      ws.stop.set(true);
      pool.shutdownNow();
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  private static void acknowledgeAll(Set<String> acknowledged, String prefix, int from, int count) {
    for (int i = from; i < from + count; i++) {
      acknowledged.add(prefix + "-" + i);
    }
  }

  private static void awaitOffsets(List<Follower> followers, long offset) throws InterruptedException {
    long deadline = System.nanoTime() + LONG.toNanos();
    for (Follower f : followers) {
      while (f.lastOffset() < offset) {
        assertThat(f.error).isNull();
        assertThat(System.nanoTime()).as("a subscriber reaches offset %d (at %d)", offset, f.lastOffset()).isLessThan(deadline);
        Thread.sleep(20);
      }
    }
  }
}
