package io.tidings.server.push;

import io.tidings.core.hub.Hub;
import io.tidings.core.hub.HubLoop;
import io.vertx.core.Context;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The push connections of one event loop and their shared housekeeping: one timer per loop sweeps
 * them for heartbeats and dead peers, instead of a timer per connection.
 */
public final class PushLoop {
  private final Context context;
  private final HubLoop hub;
  private final Set<PushConnection> connections = new LinkedHashSet<>();
  private List<Outbound> unflushed = new ArrayList<>();
  private List<Outbound> spare = new ArrayList<>();
  private boolean flushScheduled;
  private long sweeper = -1;

  public PushLoop(Hub hub, Context context) {
    this.context = context;
    Thread owner = Thread.currentThread();
    this.hub = hub.loop(task -> context.runOnContext(v -> task.run()), owner,
        (delay, task) -> context.owner().setTimer(Math.max(1, delay), id -> task.run()));
  }

  /** The hub's side of this loop: push connections subscribe their feeds through it. */
  public HubLoop hub() {
    return hub;
  }

  /** The Vert.x context of this loop. */
  public Context context() {
    return context;
  }

  /** Starts sweeping {@code connection} once a second ({@link PushConnection#tick}) until it is removed. */
  public void add(PushConnection connection) {
    connections.add(connection);
    if (sweeper < 0) {
      sweeper = context.owner().setPeriodic(1000, id -> sweep());
    }
  }

  /** Stops sweeping {@code connection}; call when it closes. */
  public void remove(PushConnection connection) {
    connections.remove(connection);
  }

  /**
   * Flushes {@code out} once the loop has run the tasks already queued: when deliveries pile up
   * (a burst of publishes), a connection gets one write for all of them instead of one each.
   */
  public void flushSoon(Outbound out) {
    if (out.markUnflushed()) {
      unflushed.add(out);
    }
    if (!flushScheduled) {
      flushScheduled = true;
      context.runOnContext(v -> flushAll());
    }
  }

  private void flushAll() {
    flushScheduled = false;
    // A flush can make a socket writable, which resumes a catch-up that queues more and asks for
    // another flush: those land in the other list and get a pass of their own.
    List<Outbound> batch = unflushed;
    unflushed = spare;
    spare = batch;
    for (Outbound out : batch) {
      out.flushNow();
    }
    batch.clear();
  }

  /** Push connections open on this loop. */
  public int size() {
    return connections.size();
  }

  private void sweep() {
    if (connections.isEmpty()) {
      return;
    }
    long now = System.currentTimeMillis();
    for (PushConnection c : new ArrayList<>(connections)) {
      c.tick(now);
    }
  }

  /** Asks every client to come back later and closes its connection. Runs on the loop. */
  public void shutdown() {
    List<PushConnection> all = new ArrayList<>(connections);
    for (PushConnection c : all) {
      c.shutdown();
    }
    if (sweeper >= 0) {
      context.owner().cancelTimer(sweeper);
      sweeper = -1;
    }
  }
}
