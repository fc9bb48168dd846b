package io.tidings.server.ops;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import io.vertx.core.Context;
import io.vertx.core.internal.ContextInternal;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Watches one event loop: a timer on the loop measures how late it fires (the loop's scheduling
 * delay, or lag: how long a task queued now would wait), and a gauge reads the loop's queue
 * length at scrape time. A loop blocked by slow code shows as lag long before clients time out.
 * Loop-confined, except the gauges.
 */
public final class LoopMonitor {
  /** How often the lag is sampled. */
  static final long INTERVAL_MILLIS = 500;

  private final Context context;
  private final Timer lag;
  private volatile long lastLagNanos;
  private long expectedAt;
  private long timer = -1;
  private boolean stopped;

  /**
   * @param index the loop's number, the {@code loop} label of its series
   */
  public LoopMonitor(Context context, Metrics metrics, int index) {
    this.context = context;
    String loop = Integer.toString(index);
    this.lag = Timer.builder("tidings.event_loop.lag")
        .description("How late a timer on the event loop fires: time a task waits for the loop (sampled every "
            + INTERVAL_MILLIS + " ms)")
        .tag("loop", loop)
        .serviceLevelObjectives(Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
            Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
            Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10))
        .register(metrics.registry());
    if (context instanceof ContextInternal internal
        && internal.nettyEventLoop() instanceof SingleThreadEventExecutor executor) {
      // pendingTasks() reads the size of the loop's task queue: cheap and safe from any thread.
      Gauge.builder("tidings.event_loop.pending_tasks", executor, SingleThreadEventExecutor::pendingTasks)
          .description("Tasks queued on the event loop, waiting to run")
          .tag("loop", loop)
          .register(metrics.registry());
    }
  }

  /** Starts sampling; call on the loop. */
  public void start() {
    arm();
  }

  private void arm() {
    if (stopped) {
      return;
    }
    expectedAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(INTERVAL_MILLIS);
    timer = context.owner().setTimer(INTERVAL_MILLIS, id -> fired());
  }

  private void fired() {
    long late = Math.max(0, System.nanoTime() - expectedAt);
    lastLagNanos = late;
    lag.record(late, TimeUnit.NANOSECONDS);
    arm();
  }

  /** The lag measured last, in nanoseconds. */
  public long lastLagNanos() {
    return lastLagNanos;
  }

  /** Stops sampling; call on the loop. */
  public void stop() {
    stopped = true;
    if (timer >= 0) {
      context.owner().cancelTimer(timer);
    }
  }
}
