package io.tidings.server.push;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.tidings.server.http.RequestTimeout;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.impl.ConnectionBase;
import java.util.List;

/**
 * Takes an HTTP/1.1 connection away from Vert.x once it becomes a push connection (a WebSocket or
 * an event stream). From then on only Netty's channel and our small handler remain: the request,
 * response and connection objects of Vert.x, with their queues (kilobytes each), become garbage,
 * and events are written as pre-encoded bytes shared by every connection. Idle connections are
 * what a push server holds most of, so their size decides how many fit.
 */
final class Hijack {
  // Vert.x's HTTP/1.x handlers; TLS ("ssl") stays in front of ours. The h2c upgrade handler is
  // left alone: it removes itself once the first request has passed, which may be this very one.
  private static final List<String> VERTX_HANDLERS =
      List.of("handler", "idle", "chunkedWriter", "inflater", "deflater", "httpEncoder");
  private static final String DECODER = "httpDecoder";

  private Hijack() {}

  /** Whether {@code request}'s connection can be taken over (HTTP/1.1 on a Netty channel). */
  static boolean possible(HttpServerRequest request) {
    return request.version() == HttpVersion.HTTP_1_1 && request.connection() instanceof ConnectionBase;
  }

  /**
   * Replaces Vert.x's handlers with {@code handlers} (added in order at the end of the pipeline).
   * Bytes the client sent after the request reach the first of them. Call on the channel's event loop.
   */
  static Channel take(HttpServerRequest request, ChannelHandler... handlers) {
    Channel channel = ((ConnectionBase) request.connection()).channel();
    ChannelPipeline pipeline = channel.pipeline();
    // A push connection has sent its whole request: server.request_timeout no longer applies.
    RequestTimeout.remove(pipeline);
    for (String name : VERTX_HANDLERS) {
      if (pipeline.get(name) != null) {
        pipeline.remove(name);
      }
    }
    for (int i = 0; i < handlers.length; i++) {
      pipeline.addLast("tidings-" + i, handlers[i]);
    }
    // Last, so that whatever the decoder still holds is handed to our first handler.
    if (pipeline.get(DECODER) != null) {
      pipeline.remove(DECODER);
    }
    channel.config().setAutoRead(true);
    return channel;
  }
}
