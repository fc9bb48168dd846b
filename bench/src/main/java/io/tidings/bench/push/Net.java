package io.tidings.bench.push;

import io.netty.channel.DefaultSelectStrategyFactory;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SelectStrategy;
import io.netty.channel.SelectStrategyFactory;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.channels.spi.SelectorProvider;
import java.util.concurrent.locks.LockSupport;

/** Netty transport choice: native epoll where it loads, NIO otherwise (or with -Dtidings.bench.nio=true). */
final class Net {
  private Net() {}

  static boolean epoll() {
    return !Boolean.getBoolean("tidings.bench.nio") && Epoll.isAvailable();
  }

  static String transportName() {
    return epoll() ? "epoll" : "nio";
  }

  static EventLoopGroup group(int threads, String name) {
    return group(threads, name, 0);
  }

  /**
   * Event loops that, with {@code parkMicros > 0}, pause that long before each wait for I/O. On
   * loopback a sender pays for waking the receiver's thread: a subscriber loop that went back to
   * {@code epoll_wait} after every frame would make the server wake it for each delivery (an
   * inter-processor interrupt, costly on a VM), which a server never pays for clients on other
   * machines. Pausing lets frames gather, so one wake-up serves many of them; it adds at most the
   * pause to the measured latency.
   */
  static EventLoopGroup group(int threads, String name, long parkMicros) {
    return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), ioHandlerFactory(parkMicros));
  }

  /** The I/O handlers of {@link #group(int, String, long)}'s loops (also used under Vert.x: {@link ParkingTransport}). */
  static IoHandlerFactory ioHandlerFactory(long parkMicros) {
    SelectStrategyFactory strategy = parkMicros <= 0 ? DefaultSelectStrategyFactory.INSTANCE : () -> (supplier, hasTasks) -> {
      LockSupport.parkNanos(parkMicros * 1_000L);
      return hasTasks ? supplier.get() : SelectStrategy.SELECT;
    };
    return epoll() ? EpollIoHandler.newFactory(0, strategy) : NioIoHandler.newFactory(SelectorProvider.provider(), strategy);
  }

  static Class<? extends SocketChannel> channelClass() {
    return epoll() ? EpollSocketChannel.class : NioSocketChannel.class;
  }
}
