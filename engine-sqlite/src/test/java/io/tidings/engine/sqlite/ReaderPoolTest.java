package io.tidings.engine.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.core.EngineUnavailableException;
import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReaderPoolTest {
  @TempDir
  Path dir;

  @Test
  void aFullReadQueueFailsFastAndAClosedPoolRefuses() throws Exception {
    Database db = new Database(dir);
    String epoch;
    try (Connection c = db.openWriter()) {
      epoch = Database.prepare(c);
    }
    ReaderPool pool = new ReaderPool(db, epoch, 1, 1);
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CompletableFuture<String> busy = pool.submit("blocked read", c -> {
      running.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      c.ping();
      return "first";
    });
    assertThat(running.await(10, TimeUnit.SECONDS)).isTrue();
    CompletableFuture<String> queued = pool.submit("queued read", c -> "second");
    CompletableFuture<String> refused = pool.submit("one too many", c -> "third");
    assertThat(refused).isCompletedExceptionally();
    assertThat(cause(refused)).isInstanceOf(EngineUnavailableException.class).hasMessageContaining("overloaded");

    release.countDown();
    assertThat(busy.get(10, TimeUnit.SECONDS)).isEqualTo("first");
    assertThat(queued.get(10, TimeUnit.SECONDS)).isEqualTo("second");

    pool.close(Duration.ofSeconds(10));
    CompletableFuture<String> late = pool.submit("late", c -> "late");
    assertThat(cause(late)).isInstanceOf(EngineUnavailableException.class).hasMessageContaining("closed");
  }

  private static Throwable cause(CompletableFuture<?> f) throws InterruptedException {
    try {
      f.get(10, TimeUnit.SECONDS);
      throw new AssertionError("expected a failure");
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (TimeoutException e) {
      throw new AssertionError(e);
    }
  }
}
