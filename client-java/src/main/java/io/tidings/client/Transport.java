package io.tidings.client;

/**
 * How a {@link Subscription} receives events, from the most to the least efficient. The default
 * order of {@link SubscribeOptions#transports()} is the declaration order.
 */
public enum Transport {
  /** WebSocket ({@code /v1/ws}): one connection, any number of topics, pushed events. */
  WS,
  /** Server-Sent Events ({@code /v1/sse}): one streamed HTTP response per subscription. */
  SSE,
  /** Long polling ({@code /v1/changes?wait=}): one held request per topic at a time. */
  LONG_POLL,
  /**
   * Polling ({@code /v1/changes} with {@code If-None-Match}), as often as the server's
   * {@code Tidings-Poll-Interval} advises within the caller's bounds.
   */
  POLL
}
