package io.tidings.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tidings.core.AppendListener;
import io.tidings.core.AppendResult;
import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.NewEvent;
import io.tidings.core.ReadResult;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.StatePage;
import io.tidings.core.StoreProbe;
import io.tidings.core.TopicHead;
import io.tidings.core.memory.MemoryEngine;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.testing.Http;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Graceful degradation as operators see it: while the store cannot be reached, {@code /readyz}
 * answers 503 (so a load balancer stops sending traffic) but {@code /healthz} stays 200 (so the
 * process is not restarted for it), requests that need the store get {@code 503 unavailable} with
 * {@code Retry-After}, and metrics and the admin snapshot keep answering. Once the store is back,
 * everything recovers without a restart. The store is a memory engine that can be switched off.
 */
class ReadinessTest {
  private TidingsServer server;

  /** A memory engine whose every operation fails as unreachable while {@link #down} is set. */
  static final class SwitchableEngine implements Engine {
    final MemoryEngine inner = new MemoryEngine(RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, Clock.systemUTC());
    volatile boolean down;

    private <T> CompletionStage<T> unlessDown(Supplier<CompletionStage<T>> op) {
      return down ? CompletableFuture.failedFuture(new EngineUnavailableException("the store is switched off")) : op.get();
    }

    @Override
    public CompletionStage<Void> start() {
      return inner.start();
    }

    @Override
    public CompletionStage<AppendResult> append(String topic, List<NewEvent> events) {
      return unlessDown(() -> inner.append(topic, events));
    }

    @Override
    public CompletionStage<ReadResult> read(String topic, long afterOffset, int limit) {
      return unlessDown(() -> inner.read(topic, afterOffset, limit));
    }

    @Override
    public CompletionStage<StatePage> state(String topic, String afterKey, int limit) {
      return unlessDown(() -> inner.state(topic, afterKey, limit));
    }

    @Override
    public CompletionStage<TopicHead> head(String topic) {
      return unlessDown(() -> inner.head(topic));
    }

    @Override
    public CompletionStage<List<TopicHead>> topics(String prefix, String after, int limit) {
      return unlessDown(() -> inner.topics(prefix, after, limit));
    }

    @Override
    public io.tidings.core.Records records() {
      return inner.records();
    }

    @Override
    public CompletionStage<Void> ping() {
      return unlessDown(inner::ping);
    }

    @Override
    public AutoCloseable observe(AppendListener listener) {
      return inner.observe(listener);
    }

    @Override
    public void probe(StoreProbe probe) {
      inner.probe(probe);
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  @AfterEach
  void stop() {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void readyzFailsWhileTheStoreIsUnreachable_healthzDoesNot_andBothRecoverWithoutARestart() {
    SwitchableEngine engine = new SwitchableEngine();
    TidingsConfig config = new TidingsConfig();
    config.server.port = 0;
    config.server.eventLoops = 1;
    config.store.kind = "memory";
    server = TidingsServer.start(config, engine);
    Http http = new Http(URI.create("http://127.0.0.1:" + server.port()));

    assertThat(http.get("/readyz").status()).isEqualTo(200);
    http.publishOk("ready/a", "{\"data\":1}");

    engine.down = true;
    Http.Reply ready = http.get("/readyz");
    assertThat(ready.status()).as("%s", ready).isEqualTo(503);
    assertThat(ready.json().path("error").path("code").asText()).isEqualTo("unavailable");
    assertThat(ready.header("Retry-After")).isNotNull();
    assertThat(ready.header("Cache-Control")).isEqualTo("no-store");
    assertThat(http.get("/healthz").status()).as("the process is alive: no restart").isEqualTo(200);
    Http.Reply publish = http.publish("ready/a", "{\"data\":2}");
    assertThat(publish.status()).isEqualTo(503);
    assertThat(publish.header("Retry-After")).isNotNull();
    assertThat(http.get("/v1/state?topic=ready%2Fa").status()).isEqualTo(503);
    assertThat(http.get("/metrics").status()).as("metrics do not need the store").isEqualTo(200);
    assertThat(http.get("/admin/snapshot").status()).as("nor does the admin snapshot").isEqualTo(200);

    engine.down = false;
    await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/readyz").status() == 200);
    http.publishOk("ready/a", "{\"data\":3}");
    assertThat(http.get("/v1/state?topic=ready%2Fa").status()).isEqualTo(200);
  }
}
