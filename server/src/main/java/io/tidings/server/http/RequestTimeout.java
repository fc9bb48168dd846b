package io.tidings.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.concurrent.TimeUnit;

/**
 * Closes an HTTP/1.x connection whose request does not arrive whole (head and body) within
 * {@code server.request_timeout} of its first byte (for a new connection: of its opening). This
 * stops slowloris clients, which trickle a request byte by byte so that the idle timeout never
 * fires and hold connections forever. Idle keep-alive connections between requests are left to
 * {@code server.idle_timeout}.
 *
 * <p>Two small handlers around Vert.x's HTTP decoder share one deadline: the one in front sees the
 * first bytes of a request and arms it, the one behind sees the decoder's {@link LastHttpContent}
 * (the end of a request) and disarms it. One check per connection is scheduled at a time, and it
 * is not cancelled and re-made per request: busy keep-alive connections cost one timer task per
 * timeout period, not one per request. Push connections remove both handlers when they leave
 * Vert.x ({@link #remove}).
 */
public final class RequestTimeout {
  static final String IN = "tidings-request-start";
  static final String OUT = "tidings-request-end";
  private static final String DECODER = "httpDecoder";

  private final Channel channel;
  private final long timeoutNanos;
  private long deadline;
  private boolean armed;
  private boolean checkScheduled;
  private boolean removed;

  private RequestTimeout(Channel channel, long timeoutNanos) {
    this.channel = channel;
    this.timeoutNanos = timeoutNanos;
  }

  /** Watches {@code channel} if it speaks HTTP/1.x (HTTP/2 has no such decoder). Call on its event loop. */
  public static void install(Channel channel, long timeoutMillis) {
    ChannelPipeline p = channel.pipeline();
    if (p.get(DECODER) == null || p.get(IN) != null) {
      return;
    }
    RequestTimeout t = new RequestTimeout(channel, TimeUnit.MILLISECONDS.toNanos(timeoutMillis));
    p.addBefore(DECODER, IN, t.new Start());
    p.addAfter(DECODER, OUT, t.new End());
    t.arm();
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
    long left = deadline - System.nanoTime();
    if (left > 0) {
      checkScheduled = true;
      channel.eventLoop().schedule(this::check, left, TimeUnit.NANOSECONDS);
      return;
    }
    // Mid-request there is no clean answer to give (a response may be under way): hang up.
    channel.close();
  }

  private final class Start extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (ctx.pipeline().get(DECODER) == null) {
        // The connection left HTTP/1.x some other way (an h2c upgrade): stop watching.
        removed = true;
        remove(ctx.pipeline());
      } else if (!armed) {
        arm();
      }
      ctx.fireChannelRead(msg);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      removed = true;
    }
  }

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
