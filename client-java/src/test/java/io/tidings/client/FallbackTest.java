package io.tidings.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tidings.server.testing.TidingsProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Transports refused by the server's configuration: fall back, then move up again. */
class FallbackTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static SubscribeOptions quick() {
    return SubscribeOptions.builder()
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500))
        .upgradeAfter(Duration.ofSeconds(1))
        .pollInterval(Duration.ofMillis(100), Duration.ofMillis(200))
        .build();
  }

  @Test
  void withoutWebSocketItUsesSseAndMovesToWebSocketWhenItComesBack() throws Exception {
    Path data = Files.createTempDirectory("tidings-fallback-");
    String t = SubscribeTest.topic("upgrade");
    Recorder r = new Recorder();
    TidingsProcess first = TidingsProcess.builder().name("client-fallback-a").data(data)
        .config("push: { ws: { enabled: false } }\n").start();
    int port = first.uri().getPort();
    TidingsProcess second = null;
    try (TidingsClient client = TidingsClient.builder(first.uri()).build();
        Subscription sub = client.subscribe(List.of(t), "earliest", quick(), r)) {
      SubscribeTest.publish(client, t, 1, 10);
      await().atMost(WAIT).until(() -> r.of(t).size() == 10);
      assertThat(sub.transport()).isEqualTo(Transport.SSE);
      // Probes keep failing while the server refuses WebSocket.
      Thread.sleep(2_500);
      assertThat(sub.transport()).isEqualTo(Transport.SSE);

      first.stop();
      second = TidingsProcess.builder().name("client-fallback-b").data(data).port(port).start();
      SubscribeTest.publish(client, t, 11, 20);
      await().atMost(WAIT).until(() -> sub.transport() == Transport.WS);
      SubscribeTest.publish(client, t, 21, 30);
      await().atMost(WAIT).until(() -> r.of(t).size() >= 30);
      Thread.sleep(300);
      assertThat(r.offsets(t)).containsExactlyElementsOf(Recorder.range(1, 30));
      assertThat(r.liveOn).containsKeys(Transport.SSE, Transport.WS);
    } finally {
      first.close();
      if (second != null) {
        second.close();
      }
    }
  }

  @Test
  void withoutWebSocketAndSseItLongPolls() throws Exception {
    String t = SubscribeTest.topic("longpoll");
    Recorder r = new Recorder();
    try (TidingsProcess server = TidingsProcess.builder().name("client-fallback-lp").memory()
            .config("push: { ws: { enabled: false }, sse: { enabled: false } }\n").start();
        TidingsClient client = TidingsClient.builder(server.uri()).build();
        Subscription sub = client.subscribe(List.of(t), "earliest", quick(), r)) {
      SubscribeTest.publish(client, t, 1, 5);
      await().atMost(WAIT).until(() -> r.of(t).size() == 5);
      assertThat(sub.transport()).isEqualTo(Transport.LONG_POLL);
      Thread.sleep(1_500); // an upgrade probe or two, refused
      SubscribeTest.publish(client, t, 6, 8);
      await().atMost(WAIT).until(() -> r.of(t).size() == 8);
      assertThat(r.offsets(t)).containsExactlyElementsOf(Recorder.range(1, 8));
      assertThat(sub.transport()).isEqualTo(Transport.LONG_POLL);
      assertThat(r.liveOn).containsOnlyKeys(Transport.LONG_POLL);
    }
  }
}
