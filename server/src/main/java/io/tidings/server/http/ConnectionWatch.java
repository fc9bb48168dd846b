package io.tidings.server.http;

import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.impl.ConnectionBase;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/**
 * What one event loop's listener watches on its connections: the request timeout of every HTTP/1.x
 * connection ({@link RequestTimeout}) and, when {@code limits.rate.connections_per_second} is set,
 * which connection has not yet made its first request (that request spends a connection token).
 * Loop-confined.
 */
public final class ConnectionWatch {
  private final long requestTimeoutMillis;
  private final boolean trackFirstRequests;
  private final Set<HttpConnection> fresh = Collections.newSetFromMap(new IdentityHashMap<>());
  private boolean fromOpening;

  public ConnectionWatch(long requestTimeoutMillis, boolean trackFirstRequests) {
    this.requestTimeoutMillis = requestTimeoutMillis;
    this.trackFirstRequests = trackFirstRequests;
  }

  /** Watches request times of every connection {@code server} accepts, from its opening (call once it listens). */
  public void listening(io.vertx.core.http.HttpServer server) {
    fromOpening = AcceptHook.install(server, ch -> RequestTimeout.atAccept(ch, requestTimeoutMillis));
  }

  /**
   * The listener's connection handler (with h2c, Vert.x calls it once the first request has
   * arrived). Connections the accept hook could not watch are watched from here on.
   */
  public void opened(HttpConnection connection) {
    if (!fromOpening && connection instanceof ConnectionBase base && !RequestTimeout.watched(base.channel().pipeline())) {
      RequestTimeout.install(base.channel(), requestTimeoutMillis);
    }
    if (trackFirstRequests) {
      fresh.add(connection);
      connection.closeHandler(v -> fresh.remove(connection));
    }
  }

  /** Whether {@code request} is the first its connection made (true once per connection). */
  public boolean firstRequest(HttpServerRequest request) {
    return trackFirstRequests && fresh.remove(request.connection());
  }
}
