package io.tidings.core;

/**
 * Told how an engine's write path performs, for metrics. Called on the engine's own threads (for
 * the SQLite store: its writer, once a transaction has committed), so implementations must be quick
 * and never block.
 */
public interface StoreProbe {
  /** A probe that records nothing. */
  StoreProbe NONE = new StoreProbe() {
    @Override
    public void appended(long nanos) {}

    @Override
    public void committed(int requests, int events) {}
  };

  /** One append request became durable {@code nanos} after it was handed to the engine. */
  void appended(long nanos);

  /** One write transaction committed {@code requests} append requests holding {@code events} new events. */
  void committed(int requests, int events);
}
