package io.tidings.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.Http2ConnectionHandler;
import java.util.concurrent.TimeUnit;

/**
 * Closes an HTTP/1.x connection whose request does not arrive whole (head and body) within
 * {@code server.request_timeout} of its first byte, and a new connection whose first request does
 * not arrive within that time of its opening. This stops slowloris clients, which trickle a request
 * byte by byte so that the idle timeout never fires, and hold connections forever. Idle keep-alive
 * connections between requests are left to {@code server.idle_timeout}.
 *
 * <p>Two small handlers share one deadline: {@link Start}, first in the pipeline from the moment the
 * connection is accepted ({@link AcceptHook}), arms it when bytes arrive while no request is under
 * way; {@link End}, right behind Vert.x's HTTP decoder, disarms it at the decoder's
 * {@link LastHttpContent} (the end of a request). One check per connection is scheduled at a time,
 * and it is not cancelled and re-made per request: a busy keep-alive connection costs one timer task
 * per timeout period. Connections that turn into HTTP/2 drop both handlers; push connections remove
 * them when they leave Vert.x ({@link #remove}).
 */
public final class RequestTimeout {
  static final String IN = "tidings-request-start";
  static final String OUT = "tidings-request-end";
  private static final String DECODER = "httpDecoder";
  /** Vert.x's connection handler, last in the pipeline from the start; HTTP/1.x's decoder goes somewhere before it. */
  private static final String HANDLER = "handler";

  private final Channel channel;
  private final long timeoutNanos;
  private long deadline;
  private boolean armed;
  private boolean checkScheduled;
  private boolean removed;
  private boolean sawDecoder;

  private RequestTimeout(Channel channel, long timeoutNanos) {
    this.channel = channel;
    this.timeoutNanos = timeoutNanos;
  }

  /**
   * The handler to put first in a new connection's pipeline (it may not be registered yet): it
   * watches the connection from its opening.
   */
  public static ChannelHandler atAccept(Channel channel, long timeoutMillis) {
    return new RequestTimeout(channel, TimeUnit.MILLISECONDS.toNanos(timeoutMillis)).new Start(true);
  }

  /**
   * Watches a connection that is already serving its first request (the fallback when connections
   * cannot be watched from their opening). Call on its event loop.
   */
  public static void install(Channel channel, long timeoutMillis) {
    ChannelPipeline p = channel.pipeline();
    if (p.get(DECODER) == null || p.get(IN) != null) {
      return;
    }
    RequestTimeout t = new RequestTimeout(channel, TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
    t.sawDecoder = true;
    p.addBefore(DECODER, IN, t.new Start(false));
    p.addAfter(DECODER, OUT, t.new End());
  }

  /** Whether {@code pipeline} is watched. */
  public static boolean watched(ChannelPipeline pipeline) {
    return pipeline.get(IN) != null;
  }

  /** Removes the handlers (a connection taken away from HTTP). Call on the channel's event loop. */
  public static void remove(ChannelPipeline pipeline) {
    if (pipeline.get(IN) != null) {
      pipeline.remove(IN);
    }
    if (pipeline.get(OUT) != null) {
      pipeline.remove(OUT);
    }
  }

  private void arm() {
    armed = true;
    deadline = System.nanoTime() + timeoutNanos;
    if (!checkScheduled) {
      checkScheduled = true;
      channel.eventLoop().schedule(this::check, timeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  private void check() {
    checkScheduled = false;
    if (removed || !armed || !channel.isActive()) {
      return;
    }
    if (settle(channel.pipeline())) {
      return;
    }
    long left = deadline - System.nanoTime();
    if (left > 0) {
      checkScheduled = true;
      channel.eventLoop().schedule(this::check, left, TimeUnit.NANOSECONDS);
      return;
    }
    // Mid-request there is no clean answer to give (a response may be under way): hang up.
    channel.close();
  }

  /**
   * Puts {@link End} in front of Vert.x's connection handler, hence behind the HTTP/1.x decoder
   * wherever Vert.x inserts it (it does so while reading the first bytes, after telling HTTP/1.x from
   * a prior-knowledge h2c preface, or after TLS); or stops watching a connection that speaks HTTP/2.
   * Returns whether watching has stopped.
   */
  private boolean settle(ChannelPipeline p) {
    if (removed) {
      return true;
    }
    if (p.get(Http2ConnectionHandler.class) != null || (sawDecoder && p.get(DECODER) == null)) {
      removed = true;
      armed = false;
      remove(p);
      return true;
    }
    if (p.get(OUT) == null && p.get(HANDLER) != null) {
      p.addBefore(HANDLER, OUT, new End());
    }
    return false;
  }

  /** First in the pipeline: sees every byte that arrives, and arms the deadline for a new request. */
  private final class Start extends ChannelInboundHandlerAdapter {
    private final boolean fromOpening;

    Start(boolean fromOpening) {
      this.fromOpening = fromOpening;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      if (fromOpening && ctx.channel().isActive()) {
        arm();
      }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      if (fromOpening && !armed) {
        arm();
      }
      ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      ChannelPipeline p = ctx.pipeline();
      if (!settle(p) && !armed) {
        arm();
      }
      ctx.fireChannelRead(msg);
      if (!removed && p.get(DECODER) != null) {
        sawDecoder = true;
      }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      removed = true;
    }
  }

  /** Right behind the decoder: a request has arrived whole. */
  private final class End extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof LastHttpContent) {
        armed = false;
      }
      ctx.fireChannelRead(msg);
    }
  }
}
