package io.tidings.server.delivery;

/**
 * The dispatcher's clock and timers. The running server uses the event loop's; a test substitutes
 * one whose time it moves by hand, to check a retry schedule of hours in milliseconds.
 */
public interface Timers {
  /** The current time, epoch milliseconds. */
  long now();

  /** Runs {@code task} on the dispatcher's context after {@code delayMillis}; returns an id for {@link #cancel}. */
  long schedule(long delayMillis, Runnable task);

  /** Cancels a scheduled task that has not run. */
  void cancel(long id);

  /** Event-loop timers of {@code vertx}, run on the context that schedules them. */
  static Timers of(io.vertx.core.Vertx vertx) {
    return new Timers() {
      @Override
      public long now() {
        return System.currentTimeMillis();
      }

      @Override
      public long schedule(long delayMillis, Runnable task) {
        return vertx.setTimer(Math.max(1, delayMillis), id -> task.run());
      }

      @Override
      public void cancel(long id) {
        vertx.cancelTimer(id);
      }
    };
  }
}
