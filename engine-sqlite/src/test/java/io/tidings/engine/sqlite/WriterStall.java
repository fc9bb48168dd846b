package io.tidings.engine.sqlite;

import static org.assertj.core.api.Assertions.assertThat;

import io.tidings.core.Engine;
import io.tidings.core.NewEvent;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Holds the writer thread inside a listener until released, so that appends and record writes
 * queue up behind it. Its stalling append goes to topic {@code stall}.
 */
final class WriterStall {
  final CountDownLatch entered = new CountDownLatch(1);
  final CountDownLatch release = new CountDownLatch(1);
  private final AtomicBoolean armed = new AtomicBoolean(true);
  private final AutoCloseable handle;

  WriterStall(Engine engine) {
    handle = engine.observe((head, events) -> {
      if (armed.compareAndSet(true, false)) {
        entered.countDown();
        try {
          release.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    });
    // The stalling append: its listener call blocks the writer.
    engine.append("stall", List.of(NewEvent.message("stall")));
    try {
      assertThat(entered.await(30, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Lets the writer go on. */
  void release() {
    release.countDown();
    try {
      handle.close();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
