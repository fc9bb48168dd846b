package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.IntNode;
import io.tidings.server.testing.TidingsProcess;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Subscriptions on each transport against one real in-memory server. */
class SubscribeTest {
  static final Duration WAIT = Duration.ofSeconds(20);
  private static TidingsProcess server;
  private static TidingsClient client;

  @BeforeAll
  static void start() throws Exception {
    server = TidingsProcess.builder().name("client-subscribe").memory().start();
    client = TidingsClient.builder(server.uri()).requestTimeout(Duration.ofSeconds(10)).build();
  }

  @AfterAll
  static void stop() {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
  }

  static String topic(String name) {
    return "sub-test/" + name + "-" + UUID.randomUUID().toString().substring(0, 8);
  }

  /** Options that use only {@code t}, with quick polling. */
  static SubscribeOptions only(Transport t) {
    return SubscribeOptions.builder()
        .transports(t)
        .backoff(Duration.ofMillis(50), Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(100), Duration.ofMillis(200))
        .build();
  }

  static void publish(TidingsClient c, String topic, int from, int to) {
    List<NewEvent> batch = new ArrayList<>();
    for (int i = from; i <= to; i++) {
      batch.add(NewEvent.message(IntNode.valueOf(i)));
    }
    c.publish(topic, batch);
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void replayThenLiveInOrderOverEveryTransport(Transport transport) {
    String a = topic("a");
    String b = topic("b");
    publish(client, a, 1, 5);
    publish(client, b, 1, 3);
    Recorder r = new Recorder();
    try (Subscription sub = client.subscribe(List.of(a, b), "earliest", only(transport), r)) {
      await().atMost(WAIT).until(() -> r.of(a).size() == 5 && r.of(b).size() == 3);
      assertThat(sub.transport()).isEqualTo(transport);
      assertThat(sub.status()).isEqualTo(Subscription.Status.LIVE);

      publish(client, a, 6, 8);
      for (int i = 4; i <= 6; i++) {
        client.publish(b, NewEvent.put("k" + i, IntNode.valueOf(i)));
      }
      await().atMost(WAIT).until(() -> r.of(a).size() == 8 && r.of(b).size() == 6);

      assertThat(r.offsets(a)).containsExactlyElementsOf(Recorder.range(1, 8));
      assertThat(r.offsets(b)).containsExactlyElementsOf(Recorder.range(1, 6));
      assertThat(r.of(a).get(7).data()).isEqualTo(IntNode.valueOf(8));
      assertThat(r.of(b).get(5).key()).isEqualTo("k6");
      assertThat(sub.cursor(a)).isEqualTo(client.changes(a, "earliest", 1000).cursor());
      assertThat(sub.cursors()).containsOnlyKeys(a, b);
      assertThat(r.resets).isEmpty();
      assertThat(r.errors).isEmpty();
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void nowStartsAtTheHeadAndACursorAfterIt(Transport transport) {
    String t = topic("now");
    publish(client, t, 1, 3);
    String third = client.changes(t, "earliest").cursor();
    publish(client, t, 4, 4);
    Recorder fromNow = new Recorder();
    Recorder fromCursor = new Recorder();
    try (Subscription s1 = client.subscribe(List.of(t), "now", only(transport), fromNow);
        Subscription s2 = client.subscribe(List.of(t), third, only(transport), fromCursor)) {
      assertThat(s2.topics()).containsExactly(t);
      await().atMost(WAIT).until(() -> !"now".equals(s1.cursor(t)) && fromCursor.of(t).size() == 1);
      publish(client, t, 5, 6);
      await().atMost(WAIT).until(() -> fromNow.of(t).size() == 2 && fromCursor.of(t).size() == 3);
      assertThat(fromNow.offsets(t)).containsExactly(5L, 6L);
      assertThat(fromCursor.offsets(t)).containsExactly(4L, 5L, 6L);
    }
  }

  @ParameterizedTest
  @EnumSource(value = Transport.class, names = {"WS", "SSE"})
  void notifyModeFetchesTheDataInFewerPullsThanNotifications(Transport transport) throws Exception {
    String t = topic("notify");
    Recorder r = new Recorder();
    SubscribeOptions options = only(transport).toBuilder().mode(SubscribeOptions.Mode.NOTIFY).build();
    int total = 300;
    try (Subscription sub = client.subscribe(List.of(t), "earliest", options, r)) {
      await().atMost(WAIT).until(() -> sub.status() == Subscription.Status.LIVE && !"earliest".equals(sub.cursor(t)));
      // Many notifications arrive while a pull is in flight: one pull fetches them all.
      CompletableFuture<?>[] publishers = new CompletableFuture<?>[3];
      for (int p = 0; p < publishers.length; p++) {
        publishers[p] = CompletableFuture.runAsync(() -> {
          for (int i = 0; i < total / 3; i++) {
            client.publish(t, NewEvent.put("k" + (i % 7), IntNode.valueOf(i)));
          }
        });
      }
      CompletableFuture.allOf(publishers).get(60, TimeUnit.SECONDS);
      await().atMost(WAIT).until(() -> r.of(t).size() == total);
      assertThat(r.offsets(t)).containsExactlyElementsOf(Recorder.range(1, total));
      assertThat(r.of(t)).allSatisfy(e -> assertThat(e.data()).isNotNull());
      long pulls = ((SubscriptionImpl) sub).pulls();
      assertThat(pulls).isPositive().isLessThan(total);
    }
  }

  @Test
  void anInvalidTopicEndsTheSubscriptionWithAnError() {
    for (Transport transport : Transport.values()) {
      Recorder r = new Recorder();
      try (Subscription sub = client.subscribe(List.of("bad//topic"), "earliest", only(transport), r)) {
        await().atMost(WAIT).until(() -> sub.status() == Subscription.Status.CLOSED);
        assertThat(sub.failure()).isNotNull();
        assertThat(sub.failure().code()).as(transport.toString()).isEqualTo("invalid_topic");
        assertThat(r.errors).hasSize(1);
      }
    }
  }

  @Test
  void aListenerMayCloseItsSubscription() {
    String t = topic("self-close");
    publish(client, t, 1, 10);
    List<Event> seen = new ArrayList<>();
    AtomicReference<Subscription> ref = new AtomicReference<>();
    Subscription sub = client.subscribe(t, "earliest", e -> {
      seen.add(e);
      if (e.offset() == 3) {
        ref.get().close();
      }
    });
    ref.set(sub);
    await().atMost(WAIT).until(() -> sub.status() == Subscription.Status.CLOSED);
    assertThat(seen).extracting(Event::offset).startsWith(1L, 2L, 3L).hasSizeLessThanOrEqualTo(3);
  }

  @Test
  @SuppressWarnings("try") // closes the stream inside its try on purpose
  void aStreamIsABlockingIterator() throws Exception {
    String t = topic("stream");
    publish(client, t, 1, 3);
    List<Long> offsets = new ArrayList<>();
    try (EventStream events = client.stream(List.of(t), "earliest")) {
      for (Event e : events) {
        offsets.add(e.offset());
        if (offsets.size() == 3) {
          break;
        }
      }
      assertThat(events.poll(Duration.ofMillis(200))).isNull();
      publish(client, t, 4, 4);
      assertThat(events.next().offset()).isEqualTo(4);

      // close() from another thread ends a next() that waits
      CompletableFuture<Throwable> blocked = CompletableFuture.supplyAsync(() -> {
        try {
          events.next();
          return null;
        } catch (Throwable x) {
          return x;
        }
      });
      Thread.sleep(300);
      assertThat(blocked).isNotDone();
      events.close();
      assertThat(blocked.get(10, TimeUnit.SECONDS)).isInstanceOf(NoSuchElementException.class);
    }
    assertThat(offsets).containsExactly(1L, 2L, 3L);
  }

  @Test
  void closingTheSubscriptionOfAFullStreamEndsItsThread() throws Exception {
    String t = topic("full-stream");
    publish(client, t, 1, 1000);
    publish(client, t, 1001, EventStream.CAPACITY + 200);
    try (EventStream events = client.stream(List.of(t), "earliest")) {
      // nobody reads: the buffer fills and the subscription's thread waits for room
      await().atMost(WAIT).until(() -> Cursors.offset(events.subscription().cursor(t)) > EventStream.CAPACITY);
      Thread.sleep(300);
      events.subscription().close();
      assertThat(subscriptionThreads()).isZero();
      assertThat(events.next().offset()).isEqualTo(1);
    }
  }

  @ParameterizedTest
  @EnumSource(Transport.class)
  void closeReleasesThreadsAndServerConnections(Transport transport) throws Exception {
    String t = topic("close");
    Recorder r = new Recorder();
    Subscription sub = client.subscribe(List.of(t), "now", only(transport), r);
    await().atMost(WAIT).until(() -> sub.status() == Subscription.Status.LIVE && !"now".equals(sub.cursor(t)));
    publish(client, t, 1, 1);
    await().atMost(WAIT).until(() -> r.events.size() == 1);
    if (transport != Transport.POLL) {
      await().atMost(WAIT).until(() -> serverGauge(transport) >= 1);
    }
    sub.close();
    assertThat(sub.status()).isEqualTo(Subscription.Status.CLOSED);
    assertThat(subscriptionThreads()).isZero();
    await().atMost(WAIT).until(() -> serverGauge(transport) == 0);
    assertThat(r.statuses).last().asString().startsWith("CLOSED");
  }

  static long subscriptionThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(th -> th.getName().startsWith(SubscriptionImpl.THREAD_PREFIX) && th.isAlive())
        .count();
  }

  /** What the server holds open for a transport, from /metrics. */
  static long serverGauge(Transport transport) throws Exception {
    String name = switch (transport) {
      case WS -> "tidings_push_connections_ws";
      case SSE -> "tidings_push_connections_sse";
      case LONG_POLL -> "tidings_long_polls_waiting";
      case POLL -> "tidings_long_polls_waiting";
    };
    return metric(server, name);
  }

  static long metric(TidingsProcess p, String name) throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(p.uri("/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    Matcher m = Pattern.compile("(?m)^" + name + "(?:\\{[^}]*\\})? ([0-9.eE+-]+)$").matcher(r.body());
    return m.find() ? (long) Double.parseDouble(m.group(1)) : -1;
  }
}
