package io.tidings.bench.push;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.DatagramChannel;
import io.netty.channel.socket.InternetProtocolFamily;
import io.vertx.core.datagram.DatagramSocketOptions;
import io.vertx.core.net.ClientOptionsBase;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.transport.Transport;

/**
 * A Vert.x transport whose event loops are those of {@link Net#group(int, String, long)}: native
 * epoll (or NIO, as {@link Net} decides) with a pause before each wait for I/O. The gRPC
 * subscribers run on Vert.x's client, and this keeps their event loops behaving like the
 * WebSocket subscribers' plain Netty ones, so that the server pays the same wake-ups for both.
 * Everything but the I/O handlers is Vert.x's own transport.
 */
final class ParkingTransport implements Transport {
  private final Transport base;
  private final long parkMicros;

  ParkingTransport(long parkMicros) {
    this.base = Net.epoll() ? Transport.EPOLL : Transport.NIO;
    this.parkMicros = parkMicros;
  }

  @Override
  public String name() {
    return base.name() + (parkMicros > 0 ? "+park" + parkMicros + "us" : "");
  }

  @Override
  public boolean available() {
    return base.available();
  }

  @Override
  public Throwable unavailabilityCause() {
    return base.unavailabilityCause();
  }

  @Override
  public io.vertx.core.spi.transport.Transport implementation() {
    io.vertx.core.spi.transport.Transport impl = base.implementation();
    return new io.vertx.core.spi.transport.Transport() {
      @Override
      public IoHandlerFactory ioHandlerFactory() {
        return Net.ioHandlerFactory(parkMicros);
      }

      @Override
      public boolean supportsDomainSockets() {
        return impl.supportsDomainSockets();
      }

      @Override
      public boolean supportFileRegion() {
        return impl.supportFileRegion();
      }

      @Override
      public boolean isAvailable() {
        return impl.isAvailable();
      }

      @Override
      public Throwable unavailabilityCause() {
        return impl.unavailabilityCause();
      }

      @Override
      public java.net.SocketAddress convert(SocketAddress address) {
        return impl.convert(address);
      }

      @Override
      public SocketAddress convert(java.net.SocketAddress address) {
        return impl.convert(address);
      }

      @Override
      public DatagramChannel datagramChannel() {
        return impl.datagramChannel();
      }

      @Override
      public DatagramChannel datagramChannel(InternetProtocolFamily family) {
        return impl.datagramChannel(family);
      }

      @Override
      public ChannelFactory<? extends Channel> channelFactory(boolean domainSocket) {
        return impl.channelFactory(domainSocket);
      }

      @Override
      public ChannelFactory<? extends ServerChannel> serverChannelFactory(boolean domainSocket) {
        return impl.serverChannelFactory(domainSocket);
      }

      @Override
      public void configure(DatagramChannel channel, DatagramSocketOptions options) {
        impl.configure(channel, options);
      }

      @Override
      public void configure(ClientOptionsBase options, int connectTimeout, boolean domainSocket, Bootstrap bootstrap) {
        impl.configure(options, connectTimeout, domainSocket, bootstrap);
      }

      @Override
      public void configure(NetServerOptions options, boolean domainSocket, ServerBootstrap bootstrap) {
        impl.configure(options, domainSocket, bootstrap);
      }
    };
  }
}
