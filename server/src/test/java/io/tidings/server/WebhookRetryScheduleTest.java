package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.delivery.Timers;
import io.tidings.server.testing.Http;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The default retry schedule of webhooks (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h,
 * then every 10 h) and disabling after five days, checked on a server whose delivery clock the
 * test moves by hand: days pass in milliseconds, to the millisecond.
 */
class WebhookRetryScheduleTest {
  private TidingsServer server;
  private HttpServer receiver;

  /** Timers that fire only when the test moves time forward. */
  static final class ManualTimers implements Timers {
    private record Due(long at, long id, Runnable task) {}

    private final PriorityQueue<Due> due = new PriorityQueue<>((a, b) -> a.at != b.at ? Long.compare(a.at, b.at)
        : Long.compare(a.id, b.id));
    private long now = 1_800_000_000_000L;
    private long ids;

    @Override
    public synchronized long now() {
      return now;
    }

    @Override
    public synchronized long schedule(long delayMillis, Runnable task) {
      due.add(new Due(now + Math.max(0, delayMillis), ++ids, task));
      return ids;
    }

    @Override
    public synchronized void cancel(long id) {
      due.removeIf(d -> d.id == id);
    }

    /** Moves time forward by {@code millis}, running what falls due on the way. */
    void advance(long millis) {
      long target;
      synchronized (this) {
        target = now + millis;
      }
      while (true) {
        Due next;
        synchronized (this) {
          next = due.peek();
          if (next == null || next.at > target) {
            now = target;
            return;
          }
          due.poll();
          now = Math.max(now, next.at);
        }
        next.task.run();
      }
    }
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
    if (receiver != null) {
      receiver.stop(0);
    }
  }

  @Test
  void attemptsFollowTheScheduleExactly_thenTheEndpointIsDisabledAfterFiveDaysOfFailing() throws Exception {
    AtomicInteger attempts = new AtomicInteger();
    receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext("/hook", exchange -> {
      exchange.getRequestBody().readAllBytes();
      attempts.incrementAndGet();
      exchange.sendResponseHeaders(500, -1);
      exchange.close();
    });
    receiver.start();
    ManualTimers timers = new ManualTimers();
    TidingsConfig config = new TidingsConfig();
    config.server.port = 0;
    config.server.eventLoops = 1;
    config.store.kind = "memory";
    config.webhooks.allowTargets = List.of("127.0.0.1/32");
    config.webhooks.retryJitter = 0;
    server = TidingsServer.start(config, null, timers);
    Http http = new Http(URI.create("http://127.0.0.1:" + server.port()));
    JsonNode ep = http.post("/v1/webhooks", "application/json", "{\"url\":\"http://127.0.0.1:"
        + receiver.getAddress().getPort() + "/hook\",\"topics\":[\"retry/t\"]}").json();
    String id = ep.path("id").asText();
    http.publishMessages("retry/t", 1);
    await().atMost(Duration.ofSeconds(30)).until(() -> attempts.get() == 1);

    long[] schedule = {5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, 36_000_000};
    int expected = 1;
    for (long delay : schedule) {
      awaitPendingAttempt(http, id, expected + 1);
      timers.advance(delay - 1);
      Thread.sleep(50);
      assertThat(attempts.get()).as("no attempt 1 ms before the %d ms delay", delay).isEqualTo(expected);
      timers.advance(1);
      int want = ++expected;
      await().atMost(Duration.ofSeconds(30)).until(() -> attempts.get() == want);
    }
    // Every 10 h after the schedule, until five days of failing: then disabled, with its message kept.
    long failing = 0;
    for (long d : schedule) {
      failing += d;
    }
    while (failing < Duration.ofDays(5).toMillis()) {
      awaitPendingAttempt(http, id, expected + 1);
      timers.advance(36_000_000);
      failing += 36_000_000;
      int want = ++expected;
      await().atMost(Duration.ofSeconds(30)).until(() -> attempts.get() == want);
    }
    await().atMost(Duration.ofSeconds(30)).until(() -> !http.getOk("/v1/webhooks/" + id).path("enabled").asBoolean());
    JsonNode disabled = http.getOk("/v1/webhooks/" + id);
    assertThat(disabled.path("disabled_reason").asText()).isEqualTo("failing");
    assertThat(disabled.path("pending").path("topic").asText()).as("the message is kept").isEqualTo("retry/t");
    timers.advance(Duration.ofDays(30).toMillis());
    Thread.sleep(100);
    assertThat(attempts.get()).as("nothing goes to a disabled endpoint").isEqualTo(expected);
  }

  /** Waits until the endpoint's pending message is set for attempt {@code attempt} (the failure is stored). */
  private static void awaitPendingAttempt(Http http, String id, int attempt) {
    await().atMost(Duration.ofSeconds(30)).until(() ->
        http.getOk("/v1/webhooks/" + id).path("pending").path("attempt").asInt() == attempt);
  }
}
