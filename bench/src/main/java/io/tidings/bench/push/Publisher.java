package io.tidings.bench.push;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Publishes benchmark messages at a fixed rate over a pool of keep-alive HTTP/1.1 connections
 * (one request in flight per connection), on one event loop. Message j of a run goes to topic
 * {@code j % topics} with the next sequence number of that topic; its payload carries the wall
 * clock at the moment the request is written. When every connection is busy the schedule falls
 * behind and catches up as acknowledgements come back; what was due but not sent when the run
 * ends is not sent (the result's {@code published} then falls short of {@code rate × seconds}).
 */
final class Publisher implements AutoCloseable {
  private final Dialect dialect;
  private final int topics;
  private final String topicPrefix;
  private final int payloadBytes;
  private final HttpHeaders extraHeaders;
  private final int maxConnections;
  private final EventLoopGroup group;
  private final EventLoop loop;
  private final long[] seq;
  private final ArrayDeque<Conn> idle = new ArrayDeque<>();
  private int connections;
  private long messageIndex;

  // the current run (loop thread only)
  private Run run;

  Publisher(Dialect dialect, int topics, String topicPrefix, int payloadBytes, int maxConnections,
      HttpHeaders extraHeaders) {
    this.dialect = dialect;
    this.topics = topics;
    this.topicPrefix = topicPrefix;
    this.payloadBytes = payloadBytes;
    this.maxConnections = maxConnections;
    this.extraHeaders = extraHeaders;
    this.group = Net.group(1, "push-publisher");
    this.loop = group.next();
    this.seq = new long[topics];
  }

  /** Result of one {@link #run}. */
  static final class Result {
    long published;     // acknowledged with 2xx
    long errors;        // non-2xx or failed requests
    long attempted;     // requests written
    long due;           // rate × seconds
    double seconds;     // from the first request to the last acknowledgement
    long[] hi;          // per topic: the highest sequence number sent so far
    Histogram ack = new Histogram(60_000_000L, 3); // µs
    String firstError;
  }

  private final class Run {
    final double rate;
    final long total;
    final long startNanos;
    final long endNanos;
    final CompletableFuture<Result> done = new CompletableFuture<>();
    final Result result = new Result();
    long sent;
    int inflight;
    boolean scheduling = true;
    long lastAckNanos;
    ScheduledFuture<?> ticker;

    Run(double rate, double seconds) {
      this.rate = rate;
      this.total = Math.max(1, Math.round(rate * seconds));
      this.startNanos = System.nanoTime();
      this.endNanos = startNanos + (long) (seconds * 1e9);
      result.due = total;
    }
  }

  /** Publishes {@code rate} messages a second for {@code seconds}; completes when all are acknowledged. */
  CompletableFuture<Result> run(double rate, double seconds) {
    CompletableFuture<Result> f = new CompletableFuture<>();
    loop.execute(() -> {
      Run r = new Run(rate, seconds);
      run = r;
      r.done.whenComplete((v, e) -> {
        if (e != null) {
          f.completeExceptionally(e);
        } else {
          f.complete(v);
        }
      });
      r.ticker = loop.scheduleAtFixedRate(this::tick, 0, 1, TimeUnit.MILLISECONDS);
    });
    return f;
  }

  private void tick() {
    Run r = run;
    if (r == null) {
      return;
    }
    long now = System.nanoTime();
    if (r.scheduling) {
      long due = Math.min(r.total, (long) Math.floor(r.rate * (now - r.startNanos) / 1e9) + 1);
      while (r.sent < due) {
        Conn c = idle.pollLast();
        if (c == null) {
          if (connections < maxConnections) {
            open();
          }
          break;
        }
        send(r, c);
      }
      if (now >= r.endNanos || r.sent >= r.total) {
        r.scheduling = false;
      }
    }
    if (!r.scheduling && r.inflight == 0) {
      finish(r);
    } else if (!r.scheduling && now - r.endNanos > 60_000_000_000L) {
      r.result.firstError = r.result.firstError == null ? r.inflight + " requests unanswered after 60 s"
          : r.result.firstError;
      r.result.errors += r.inflight;
      finish(r);
    }
  }

  private void finish(Run r) {
    if (r.done.isDone()) {
      return;
    }
    r.ticker.cancel(false);
    r.result.hi = seq.clone();
    long end = r.lastAckNanos > 0 ? r.lastAckNanos : System.nanoTime();
    r.result.seconds = (end - r.startNanos) / 1e9;
    run = null;
    r.done.complete(r.result);
  }

  private void send(Run r, Conn c) {
    int topic = (int) (messageIndex++ % topics);
    long s = ++seq[topic];
    String body = dialect.publishBody(Payload.build(s, Payload.nowMicros(), payloadBytes));
    ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
    FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST,
        dialect.publishUri(topicPrefix + topic), content);
    req.headers().set(HttpHeaderNames.HOST, dialect.hostHeader())
        .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
        .set(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes())
        .add(extraHeaders);
    r.sent++;
    r.inflight++;
    r.result.attempted++;
    c.run = r;
    c.sentNanos = System.nanoTime();
    c.ch.writeAndFlush(req).addListener(f -> {
      if (!f.isSuccess()) {
        failed(c, "write failed: " + f.cause());
      }
    });
  }

  private void open() {
    connections++;
    new Bootstrap().group(loop).channel(Net.channelClass())
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 10_000)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 20), new Handler());
          }
        })
        .connect(dialect.host(), dialect.port()).addListener(f -> {
          if (f.isSuccess()) {
            Conn c = new Conn(((io.netty.channel.ChannelFuture) f).channel());
            c.ch.pipeline().get(Handler.class).conn = c;
            idle.addLast(c);
          } else {
            connections--;
            Run r = run;
            if (r != null && r.result.firstError == null) {
              r.result.firstError = "connect failed: " + f.cause();
            }
          }
        });
  }

  private void failed(Conn c, String why) {
    Run r = c.run;
    if (r != null) {
      c.run = null;
      r.inflight--;
      r.result.errors++;
      if (r.result.firstError == null) {
        r.result.firstError = why;
      }
    }
    if (c.ch.isOpen()) {
      c.ch.close();
    }
  }

  private static final class Conn {
    final Channel ch;
    Run run;
    long sentNanos;
    boolean dead;

    Conn(Channel ch) {
      this.ch = ch;
    }
  }

  private final class Handler extends SimpleChannelInboundHandler<FullHttpResponse> {
    Conn conn;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse resp) {
      Conn c = conn;
      Run r = c.run;
      if (r == null) {
        return;
      }
      long now = System.nanoTime();
      c.run = null;
      r.inflight--;
      r.lastAckNanos = now;
      int code = resp.status().code();
      if (code >= 200 && code < 300) {
        r.result.published++;
        r.result.ack.recordValue(Math.min(60_000_000L, Math.max(0, (now - c.sentNanos) / 1000)));
      } else {
        r.result.errors++;
        if (r.result.firstError == null) {
          r.result.firstError = "HTTP " + code + " " + resp.content().toString(StandardCharsets.UTF_8);
        }
      }
      if (HttpHeaderValues.CLOSE.contentEqualsIgnoreCase(resp.headers().get(HttpHeaderNames.CONNECTION, ""))) {
        ctx.close();
        return;
      }
      if (!c.dead) {
        idle.addLast(c);
      }
      // Keep the schedule without waiting for the next tick.
      if (run == r && r.scheduling) {
        tick();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      Conn c = conn;
      if (c != null) {
        c.dead = true;
        idle.remove(c);
        connections--;
        if (c.run != null) {
          failed(c, "connection closed with a request in flight");
        }
      }
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  /** Opens {@code n} connections ahead of the first run (bounded wait). */
  void warmConnections(int n) throws InterruptedException {
    loop.execute(() -> {
      for (int i = 0; i < n && connections < maxConnections; i++) {
        open();
      }
    });
    for (int i = 0; i < 100; i++) {
      CompletableFuture<Integer> f = new CompletableFuture<>();
      loop.execute(() -> f.complete(idle.size()));
      try {
        if (f.get(5, TimeUnit.SECONDS) >= n) {
          return;
        }
      } catch (Exception e) {
        return;
      }
      Thread.sleep(50);
    }
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }
}
