package io.tidings.server.push;

/** A long-lived push connection, as its event loop's {@link PushLoop} sees it. */
public interface PushConnection {
  /** Called about once a second: heartbeats, idle and stall checks. */
  void tick(long now);

  /** The server is stopping: tell the client to come back later, then close. */
  void shutdown();
}
