package io.tidings.server.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServer;
import java.lang.reflect.Field;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts a handler first into the pipeline of every connection a Vert.x {@link HttpServer} accepts,
 * from the moment it is accepted. Vert.x has no public hook for that: with h2c enabled it tells its
 * connection handler about a connection only once the first request has arrived, and a slowloris
 * client never gets that far. So this reaches, by reflection, the listening socket's Netty channel
 * and adds a handler in front of its acceptor. Should a Vert.x upgrade move those fields, it logs a
 * warning and returns false, and callers fall back to what the public API allows.
 */
public final class AcceptHook {
  private static final Logger LOG = LoggerFactory.getLogger(AcceptHook.class);
  private static final String NAME = "tidings-accept";

  private AcceptHook() {}

  /**
   * Makes every connection {@code server} accepts from now on start with the handler
   * {@code perConnection} makes for it. Listeners sharing a port share one socket: the first call
   * installs the hook and later ones find it there.
   */
  public static boolean install(HttpServer server, Function<Channel, ChannelHandler> perConnection) {
    try {
      Object tcp = field(server, "tcpServer");
      Object actual = field(tcp, "actualServer");
      Future<?> bound = (Future<?>) field(actual != null ? actual : tcp, "bindFuture");
      Channel listening = (Channel) bound.result();
      synchronized (AcceptHook.class) {
        if (listening.pipeline().get(NAME) == null) {
          listening.pipeline().addFirst(NAME, new Acceptor(perConnection));
        }
      }
      return true;
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.warn("cannot watch new connections from their opening ({}); server.request_timeout applies from the "
          + "first request on", e.toString());
      return false;
    }
  }

  private static Object field(Object target, String name) throws ReflectiveOperationException {
    for (Class<?> c = target.getClass(); c != null; c = c.getSuperclass()) {
      try {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f.get(target);
      } catch (NoSuchFieldException e) {
        // look in the superclass
      }
    }
    throw new NoSuchFieldException(target.getClass().getName() + "." + name);
  }

  @ChannelHandler.Sharable
  private static final class Acceptor extends ChannelInboundHandlerAdapter {
    private final Function<Channel, ChannelHandler> perConnection;

    Acceptor(Function<Channel, ChannelHandler> perConnection) {
      this.perConnection = perConnection;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel child) {
        child.pipeline().addFirst(RequestTimeout.IN, perConnection.apply(child));
      }
      ctx.fireChannelRead(msg);
    }
  }
}
