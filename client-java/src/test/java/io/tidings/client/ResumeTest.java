package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.node.IntNode;
import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** A server restart in the middle of a publishing run: every subscription gets each event once. */
class ResumeTest {
  @Test
  void everyTransportResumesAcrossARestartWithoutLossOrRepeats() throws Exception {
    Path data = Files.createTempDirectory("tidings-resume-");
    String t = SubscribeTest.topic("restart");
    TidingsProcess first = TidingsProcess.builder().name("client-resume-a").data(data).start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    Map<Transport, Recorder> recorders = new EnumMap<>(Transport.class);
    Map<Transport, Subscription> subs = new EnumMap<>(Transport.class);
    AtomicBoolean publishing = new AtomicBoolean(true);
    AtomicInteger published = new AtomicInteger();
    try (TidingsClient client = TidingsClient.builder(first.uri()).requestTimeout(Duration.ofSeconds(5)).build()) {
      for (Transport tr : Transport.values()) {
        Recorder r = new Recorder();
        recorders.put(tr, r);
        subs.put(tr, client.subscribe(List.of(t), "earliest", SubscribeTest.only(tr), r));
      }
      // One publisher, retrying each event with its id until the server takes it: ids make the
      // retries safe, so offsets 1..n are exactly the events published.
      CompletableFuture<Void> publisher = CompletableFuture.runAsync(() -> {
        int i = 0;
        while (publishing.get()) {
          i++;
          while (true) {
            try {
              client.publish(t, NewEvent.message(IntNode.valueOf(i)).withId("e" + i));
              published.set(i);
              break;
            } catch (TidingsException e) {
              sleep(50);
            }
          }
          sleep(10);
        }
      });
      await().atMost(Duration.ofSeconds(20)).until(() -> published.get() >= 40);
      first.stop();
      second = TidingsProcess.builder().name("client-resume-b").data(data).port(port).start();
      int after = published.get();
      await().atMost(Duration.ofSeconds(30)).until(() -> published.get() >= after + 40);
      publishing.set(false);
      publisher.get(30, TimeUnit.SECONDS);
      int n = published.get();
      for (Transport tr : Transport.values()) {
        Recorder r = recorders.get(tr);
        await().atMost(Duration.ofSeconds(30)).until(() -> r.of(t).size() >= n);
      }
      Thread.sleep(300);
      for (Transport tr : Transport.values()) {
        Recorder r = recorders.get(tr);
        assertThat(r.offsets(t)).as(tr.toString()).containsExactlyElementsOf(Recorder.range(1, n));
        assertThat(r.of(t).get(n - 1).data()).isEqualTo(IntNode.valueOf(n));
        assertThat(r.statuses).as(tr.toString()).anyMatch(s -> s.startsWith("RECONNECTING"));
        assertThat(subs.get(tr).transport()).isEqualTo(tr);
      }
    } finally {
      publishing.set(false);
      subs.values().forEach(Subscription::close);
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
