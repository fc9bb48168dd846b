package io.tidings.bench.push;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.util.ReferenceCountUtil;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * One worker process of the push benchmark: holds {@code --count} WebSocket or SSE subscribers
 * (global indexes {@code --first} … {@code --first + count - 1}; subscriber g listens to topic
 * {@code g % topics}), records publish→receive latency and which sequence numbers each
 * subscriber got, and answers the coordinator ({@link PushBench}) over stdin/stdout, one line
 * per command:
 *
 * <pre>
 *   (on start, when every subscriber is connected or has failed)
 *                        READY connected=N failed=F ms=T io=epoll
 *   MARK              -> OK              step starts: latency histogram and counters restart
 *   EXPECT h0,h1,...  -> EXPECTED n      the step published seqs up to h_k on topic k
 *   COUNT             -> COUNT delivered open
 *   END               -> RESULT k=v ... hist=BASE64 (compressed HdrHistogram, µs)
 *   STATS             -> STATS k=v ...
 *   QUIT              -> BYE             closes every connection and exits
 * </pre>
 *
 * Logs go to stderr. Each process should hold well under the per-process open-file limit
 * (the coordinator gives each at most 5,000 by default).
 */
public final class PushWorker {
  private static final int MAX_ATTEMPTS = 3;
  private static final byte[] SUBSCRIBED = "\"op\":\"subscribed\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] OP_ERROR = "\"op\":\"error\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] OP_RESET = "\"op\":\"reset\"".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DATA = "data:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] RETRY = "retry:".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT_RESET = "event: reset".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT_SUBSCRIBED = "event: subscribed".getBytes(StandardCharsets.US_ASCII);

  private enum State { WAITING, CONNECTING, SUBSCRIBED, FAILED, CLOSED }

  private final Dialect dialect;
  private final boolean ws;
  private final int first;
  private final int count;
  private final int topics;
  private final String topicPrefix;
  private final int connectConcurrency;
  private final int timeoutSeconds;
  private final HttpHeaders extraHeaders;
  private final EventLoopGroup group;
  private final Sub[] subs;
  private final Map<EventLoop, List<Sub>> byLoop = new LinkedHashMap<>();
  private final PrintStream out;

  private final Recorder latency = new Recorder(3);
  private final LongAdder deliveries = new LongAdder();
  private final LongAdder dups = new LongAdder();
  private final LongAdder closed4008 = new LongAdder();
  private final LongAdder closedOther = new LongAdder();
  private final LongAdder disconnects = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder resets = new LongAdder();
  private final LongAdder otherFrames = new LongAdder();
  private final LongAccumulator lastDeliveryMicros = new LongAccumulator(Long::max, 0);
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger errorLogs = new AtomicInteger();

  private final ConcurrentLinkedQueue<Sub> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inflight = new AtomicInteger();
  private final AtomicInteger failed = new AtomicInteger();
  private final AtomicInteger retries = new AtomicInteger();
  private CountDownLatch settled;

  private long[] prevHi;
  private long[] stepHi;
  private long deliveriesAtMark;
  private long dupsAtMark;

  private PushWorker(Dialect dialect, boolean ws, int first, int count, int topics, String topicPrefix,
      int threads, long parkMicros, int connectConcurrency, int timeoutSeconds, HttpHeaders extraHeaders,
      PrintStream out) {
    this.dialect = dialect;
    this.ws = ws;
    this.first = first;
    this.count = count;
    this.topics = topics;
    this.topicPrefix = topicPrefix;
    this.connectConcurrency = connectConcurrency;
    this.timeoutSeconds = timeoutSeconds;
    this.extraHeaders = extraHeaders;
    this.out = out;
    this.group = Net.group(threads, "push-worker", parkMicros);
    this.subs = new Sub[count];
    for (int i = 0; i < count; i++) {
      int g = first + i;
      EventLoop loop = group.next();
      Sub s = new Sub(g, g % topics, loop);
      subs[i] = s;
      byLoop.computeIfAbsent(loop, k -> new ArrayList<>()).add(s);
    }
    this.prevHi = new long[topics];
  }

  public static void main(String[] args) throws Exception {
    String url = null;
    String target = "tidings";
    String transport = "ws";
    int first = 0;
    int count = 1000;
    int topics = 1;
    String prefix = "push-";
    int threads = 1;
    long park = 0;
    int conc = 100;
    int timeout = 30;
    String pub = "/pub";
    String wsPath = "/ws";
    String ssePath = "/sse";
    HttpHeaders headers = new DefaultHttpHeaders();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--url" -> { url = v; i++; }
        case "--target" -> { target = v; i++; }
        case "--transport" -> { transport = v; i++; }
        case "--first" -> { first = Integer.parseInt(v); i++; }
        case "--count" -> { count = Integer.parseInt(v); i++; }
        case "--topics" -> { topics = Integer.parseInt(v); i++; }
        case "--topic-prefix" -> { prefix = v; i++; }
        case "--threads" -> { threads = Integer.parseInt(v); i++; }
        case "--park-micros" -> { park = Long.parseLong(v); i++; }
        case "--connect-concurrency" -> { conc = Integer.parseInt(v); i++; }
        case "--timeout" -> { timeout = Integer.parseInt(v); i++; }
        case "--nchan-pub" -> { pub = v; i++; }
        case "--nchan-ws" -> { wsPath = v; i++; }
        case "--nchan-sse" -> { ssePath = v; i++; }
        case "--header" -> {
          int c = v.indexOf(':');
          headers.add(v.substring(0, c).trim(), v.substring(c + 1).trim());
          i++;
        }
        default -> throw new IllegalArgumentException("unknown worker option " + a);
      }
    }
    if (url == null) {
      throw new IllegalArgumentException("--url is required");
    }
    if (!transport.equals("ws") && !transport.equals("sse")) {
      throw new IllegalArgumentException("--transport must be ws or sse");
    }
    PrintStream stdout = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
        StandardCharsets.US_ASCII);
    // Nothing but protocol lines may go to stdout.
    System.setOut(System.err);
    Dialect d = new Dialect(target, URI.create(url), pub, wsPath, ssePath);
    PushWorker w = new PushWorker(d, transport.equals("ws"), first, count, topics, prefix, threads, park, conc,
        timeout, headers, stdout);
    w.run();
  }

  private void run() throws Exception {
    long t0 = System.nanoTime();
    settled = new CountDownLatch(count);
    for (Sub s : subs) {
      queue.add(s);
    }
    pump();
    // Generous: a slow server accepts a few hundred connections a second.
    long budget = Math.max(120, count / 20L);
    if (!settled.await(budget, TimeUnit.SECONDS)) {
      System.err.println("worker " + first + ": gave up waiting for connections after " + budget + " s");
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    out.println("READY connected=" + open.get() + " failed=" + (count - open.get()) + " retries=" + retries.get()
        + " ms=" + ms + " io=" + Net.transportName());

    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII));
    String line;
    while ((line = in.readLine()) != null) {
      line = line.trim();
      if (line.isEmpty()) {
        continue;
      }
      String cmd = line.contains(" ") ? line.substring(0, line.indexOf(' ')) : line;
      String arg = line.contains(" ") ? line.substring(line.indexOf(' ') + 1) : "";
      switch (cmd) {
        case "MARK" -> out.println(mark());
        case "EXPECT" -> out.println(expect(arg));
        case "COUNT" -> out.println("COUNT " + (deliveries.sum() - deliveriesAtMark) + " " + open.get());
        case "END" -> out.println(end());
        case "STATS" -> out.println("STATS " + stats());
        case "QUIT" -> {
          quit();
          out.println("BYE");
          out.flush();
          System.exit(0);
        }
        default -> out.println("ERROR unknown command " + cmd);
      }
    }
    // The coordinator is gone.
    quit();
    System.exit(0);
  }

  // ------------------------------------------------------------------ commands

  private String mark() throws Exception {
    onLoops(s -> {
      s.inStep = s.state == State.SUBSCRIBED;
      return 0L;
    });
    latency.getIntervalHistogram();
    deliveriesAtMark = deliveries.sum();
    dupsAtMark = dups.sum();
    return "OK";
  }

  private String expect(String arg) throws Exception {
    String[] f = arg.split(",");
    if (f.length != topics) {
      return "ERROR expected " + topics + " high-water marks, got " + f.length;
    }
    long[] hi = new long[topics];
    for (int i = 0; i < topics; i++) {
      hi[i] = Long.parseLong(f[i]);
    }
    stepHi = hi;
    long expected = onLoops(s -> s.inStep ? hi[s.topic] - prevHi[s.topic] : 0L);
    return "EXPECTED " + expected;
  }

  private String end() throws Exception {
    if (stepHi == null) {
      return "ERROR END without EXPECT";
    }
    long[] hi = stepHi;
    long[] prev = prevHi;
    long[] agg = new long[4]; // expected, missing, subscribers with missing, max missing
    for (Map.Entry<EventLoop, List<Sub>> e : byLoop.entrySet()) {
      long[] part = e.getKey().submit(() -> {
        long[] r = new long[4];
        for (Sub s : e.getValue()) {
          if (!s.inStep) {
            continue;
          }
          long lo = prev[s.topic] + 1;
          long h = hi[s.topic];
          r[0] += h - lo + 1;
          long miss = 0;
          if (h >= lo) {
            int i = s.seen.nextClearBit((int) lo);
            while (i <= h) {
              miss++;
              i = s.seen.nextClearBit(i + 1);
            }
          }
          r[1] += miss;
          if (miss > 0) {
            r[2]++;
            r[3] = Math.max(r[3], miss);
          }
        }
        return r;
      }).get(60, TimeUnit.SECONDS);
      agg[0] += part[0];
      agg[1] += part[1];
      agg[2] += part[2];
      agg[3] = Math.max(agg[3], part[3]);
    }
    prevHi = hi;
    stepHi = null;
    Histogram h = latency.getIntervalHistogram();
    ByteBuffer bb = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
    int n = h.encodeIntoCompressedByteBuffer(bb);
    String hist = Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(bb.array(), n));
    return "RESULT deliveries=" + (deliveries.sum() - deliveriesAtMark)
        + " expected=" + agg[0]
        + " missing=" + agg[1]
        + " subs_missing=" + agg[2]
        + " max_missing=" + agg[3]
        + " dup=" + (dups.sum() - dupsAtMark)
        + " last_micros=" + lastDeliveryMicros.get()
        + " " + stats()
        + " hist=" + hist;
  }

  private String stats() {
    return "open=" + open.get()
        + " failed=" + failed.get()
        + " closed_4008=" + closed4008.sum()
        + " closed_other=" + closedOther.sum()
        + " disconnects=" + disconnects.sum()
        + " errors=" + errors.sum()
        + " resets=" + resets.sum()
        + " other_frames=" + otherFrames.sum();
  }

  private interface SubFn {
    long apply(Sub s);
  }

  /** Runs {@code fn} over every subscriber on its own event loop; sums the results. */
  private long onLoops(SubFn fn) throws Exception {
    long sum = 0;
    for (Map.Entry<EventLoop, List<Sub>> e : byLoop.entrySet()) {
      Callable<Long> c = () -> {
        long r = 0;
        for (Sub s : e.getValue()) {
          r += fn.apply(s);
        }
        return r;
      };
      sum += e.getKey().submit(c).get(60, TimeUnit.SECONDS);
    }
    return sum;
  }

  private void quit() {
    List<io.netty.channel.ChannelFuture> closing = new ArrayList<>();
    for (Sub s : subs) {
      Channel ch = s.channel;
      if (ch != null && ch.isOpen()) {
        s.quitting = true;
        closing.add(ch.close());
      }
    }
    for (io.netty.channel.ChannelFuture f : closing) {
      f.awaitUninterruptibly(10, TimeUnit.SECONDS);
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }

  // ------------------------------------------------------------------ connecting

  private void pump() {
    while (inflight.get() < connectConcurrency) {
      Sub s = queue.poll();
      if (s == null) {
        return;
      }
      inflight.incrementAndGet();
      s.loop.execute(() -> connect(s));
    }
  }

  private void connect(Sub s) {
    s.attempts++;
    s.state = State.CONNECTING;
    String topic = topicPrefix + s.topic;
    Bootstrap b = new Bootstrap()
        .group(s.loop)
        .channel(Net.channelClass())
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutSeconds * 1000)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            if (ws) {
              HttpHeaders h = new DefaultHttpHeaders().add(extraHeaders);
              WebSocketClientProtocolConfig cfg = WebSocketClientProtocolConfig.newBuilder()
                  .webSocketUri(dialect.wsUri(topic))
                  .version(WebSocketVersion.V13)
                  .customHeaders(h)
                  .handleCloseFrames(false)
                  .dropPongFrames(true)
                  .handshakeTimeoutMillis(timeoutSeconds * 1000L)
                  .maxFramePayloadLength(1 << 20)
                  .withUTF8Validator(false)
                  .build();
              ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(1 << 16),
                  new WebSocketClientProtocolHandler(cfg), new WebSocketFrameAggregator(1 << 20),
                  new WsHandler(s, topic));
            } else {
              ch.pipeline().addLast(new HttpClientCodec(), new SseHandler(s, topic));
            }
          }
        });
    b.connect(dialect.host(), dialect.port()).addListener((ChannelFutureListener) f -> {
      if (!f.isSuccess()) {
        attemptFailed(s, f.cause() == null ? "connect failed" : f.cause().toString());
        return;
      }
      s.channel = f.channel();
      // A subscriber that is not confirmed in time is dropped and retried.
      s.loop.schedule(() -> {
        if (s.state == State.CONNECTING && s.channel == f.channel()) {
          s.failReason = "not subscribed within " + timeoutSeconds + " s";
          f.channel().close();
        }
      }, timeoutSeconds, TimeUnit.SECONDS);
    });
  }

  /** On the subscriber's loop. */
  private void subscribed(Sub s) {
    if (s.state != State.CONNECTING) {
      return;
    }
    s.state = State.SUBSCRIBED;
    open.incrementAndGet();
    inflight.decrementAndGet();
    settled.countDown();
    pump();
  }

  /** On the subscriber's loop (or the connect listener's): this attempt is over. */
  private void attemptFailed(Sub s, String why) {
    if (s.state != State.CONNECTING) {
      return;
    }
    s.channel = null;
    inflight.decrementAndGet();
    if (s.attempts < MAX_ATTEMPTS) {
      s.state = State.WAITING;
      retries.incrementAndGet();
      if (errorLogs.incrementAndGet() <= 5) {
        System.err.println("subscriber " + s.index + " attempt " + s.attempts + " failed (retrying): " + why);
      }
      s.loop.schedule(() -> {
        queue.add(s);
        pump();
      }, 250L * s.attempts, TimeUnit.MILLISECONDS);
    } else {
      s.state = State.FAILED;
      failed.incrementAndGet();
      if (errorLogs.incrementAndGet() <= 5) {
        System.err.println("subscriber " + s.index + " (topic " + topicPrefix + s.topic + ") failed: " + why);
      }
      settled.countDown();
    }
    pump();
  }

  /** On the subscriber's loop: the channel closed. */
  private void closed(Sub s, Channel ch) {
    if (s.channel != ch && s.channel != null) {
      return;
    }
    if (s.state == State.CONNECTING) {
      attemptFailed(s, s.failReason != null ? s.failReason : "closed before subscribed");
    } else if (s.state == State.SUBSCRIBED) {
      s.state = State.CLOSED;
      open.decrementAndGet();
      if (!s.quitting && !s.closeFrame) {
        disconnects.increment();
      }
    }
  }

  private void logError(String what) {
    if (errorLogs.incrementAndGet() <= 5) {
      System.err.println("worker " + first + ": " + what);
    }
  }

  // ------------------------------------------------------------------ receiving

  /** A message body (a WebSocket frame, an SSE data line) of subscriber {@code s}. */
  private void message(Sub s, ByteBuf b, int from, int to) {
    if (!Payload.parse(b, from, to, s.scratch)) {
      if (Payload.contains(b, from, to, OP_RESET)) {
        resets.increment();
      } else if (Payload.contains(b, from, to, OP_ERROR)) {
        errors.increment();
        logError("error frame: " + b.toString(from, Math.min(to - from, 300), StandardCharsets.UTF_8));
      } else {
        otherFrames.increment();
      }
      return;
    }
    long now = Payload.nowMicros();
    long seq = s.scratch[0];
    latency.recordValue(Math.max(0, now - s.scratch[1]));
    deliveries.increment();
    lastDeliveryMicros.accumulate(now);
    if (seq > 0 && seq < Integer.MAX_VALUE) {
      int i = (int) seq;
      if (s.seen.get(i)) {
        dups.increment();
      } else {
        s.seen.set(i);
      }
    }
  }

  private final class WsHandler extends SimpleChannelInboundHandler<WebSocketFrame> {
    private final Sub s;
    private final String topic;

    WsHandler(Sub s, String topic) {
      this.s = s;
      this.topic = topic;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
        if (dialect.wsSubscribeFrame()) {
          ctx.writeAndFlush(new TextWebSocketFrame(dialect.subscribeFrame(1, topic)));
        } else {
          subscribed(s);
        }
      } else if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_TIMEOUT) {
        s.failReason = "WebSocket handshake timed out";
        ctx.close();
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
      if (frame instanceof TextWebSocketFrame) {
        ByteBuf b = frame.content();
        int from = b.readerIndex();
        int to = b.writerIndex();
        if (s.state == State.CONNECTING && dialect.wsSubscribeFrame()) {
          if (Payload.contains(b, from, to, SUBSCRIBED)) {
            subscribed(s);
          } else if (Payload.contains(b, from, to, OP_ERROR)) {
            s.failReason = "subscribe refused: " + b.toString(StandardCharsets.UTF_8);
            ctx.close();
          }
          return;
        }
        message(s, b, from, to);
      } else if (frame instanceof CloseWebSocketFrame close) {
        s.closeFrame = true;
        if (close.statusCode() == 4008) {
          closed4008.increment();
        } else {
          closedOther.increment();
          logError("server closed subscriber " + s.index + ": " + close.statusCode() + " " + close.reasonText());
        }
        if (s.state == State.CONNECTING) {
          s.failReason = "closed by the server: " + close.statusCode() + " " + close.reasonText();
        }
        ctx.writeAndFlush(new CloseWebSocketFrame(close.statusCode(), null))
            .addListener(ChannelFutureListener.CLOSE);
      } else if (frame instanceof io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame) {
        ByteBuf b = frame.content();
        message(s, b, b.readerIndex(), b.writerIndex());
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      closed(s, ctx.channel());
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (s.state == State.CONNECTING) {
        s.failReason = cause.toString();
      } else if (!s.quitting) {
        logError("subscriber " + s.index + ": " + cause);
      }
      ctx.close();
    }
  }

  private final class SseHandler extends ChannelInboundHandlerAdapter {
    private final Sub s;
    private final String topic;
    private ByteBuf carry;
    private boolean subscribedEvent;

    SseHandler(Sub s, String topic) {
      this.s = s;
      this.topic = topic;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, dialect.sseUri(topic),
          Unpooled.EMPTY_BUFFER);
      req.headers().set(HttpHeaderNames.HOST, dialect.hostHeader())
          .set(HttpHeaderNames.ACCEPT, "text/event-stream")
          .set(HttpHeaderNames.CACHE_CONTROL, "no-cache")
          .add(extraHeaders);
      ctx.writeAndFlush(req);
      super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      try {
        if (msg instanceof HttpResponse r) {
          if (r.status().code() != 200) {
            s.failReason = "SSE request answered " + r.status();
            ctx.close();
            return;
          }
          // Nchan subscribes on the request itself; Tidings confirms with "event: subscribed".
          if (dialect.nchan()) {
            subscribed(s);
          }
        }
        if (msg instanceof HttpContent c) {
          feed(ctx, c.content());
          if (msg instanceof LastHttpContent && s.state != State.CONNECTING) {
            ctx.close(); // the server ended the stream
          }
        }
      } finally {
        ReferenceCountUtil.release(msg);
      }
    }

    private void feed(ChannelHandlerContext ctx, ByteBuf content) {
      int r = content.readerIndex();
      int w = content.writerIndex();
      while (r < w) {
        int nl = content.indexOf(r, w, (byte) '\n');
        if (nl < 0) {
          if (carry == null) {
            carry = Unpooled.buffer(256);
          }
          carry.writeBytes(content, r, w - r);
          return;
        }
        if (carry != null && carry.isReadable()) {
          carry.writeBytes(content, r, nl - r);
          line(ctx, carry, carry.readerIndex(), carry.writerIndex());
          carry.clear();
        } else {
          line(ctx, content, r, nl);
        }
        r = nl + 1;
      }
    }

    private void line(ChannelHandlerContext ctx, ByteBuf b, int from, int to) {
      if (to > from && b.getByte(to - 1) == '\r') {
        to--;
      }
      if (to == from) {
        subscribedEvent = false; // end of an event
      } else if (Payload.startsWith(b, from, to, DATA)) {
        if (s.state == State.CONNECTING) {
          subscribed(s);
        }
        if (!subscribedEvent) {
          message(s, b, from + DATA.length, to);
        }
      } else if (Payload.startsWith(b, from, to, EVENT_SUBSCRIBED)) {
        // Tidings confirms the subscription with "event: subscribed" once it is live.
        subscribedEvent = true;
        if (s.state == State.CONNECTING) {
          subscribed(s);
        }
      } else if (Payload.startsWith(b, from, to, RETRY)) {
        // A server that sends no "subscribed" event: count the stream as live shortly after.
        if (s.state == State.CONNECTING) {
          Channel ch = ctx.channel();
          s.loop.schedule(() -> {
            if (s.state == State.CONNECTING && s.channel == ch && ch.isActive()) {
              subscribed(s);
            }
          }, 2, TimeUnit.SECONDS);
        }
      } else if (Payload.startsWith(b, from, to, EVENT_RESET)) {
        resets.increment();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      if (carry != null) {
        carry.release();
        carry = null;
      }
      closed(s, ctx.channel());
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (s.state == State.CONNECTING) {
        s.failReason = cause.toString();
      } else if (!s.quitting) {
        logError("subscriber " + s.index + ": " + cause);
      }
      ctx.close();
    }
  }

  /** One subscriber; all its fields are used on its event loop only (but {@code quitting}). */
  private static final class Sub {
    final int index;
    final int topic;
    final EventLoop loop;
    final BitSet seen = new BitSet();
    final long[] scratch = new long[2];
    volatile Channel channel;
    State state = State.WAITING;
    int attempts;
    boolean inStep;
    boolean closeFrame;
    volatile boolean quitting;
    String failReason;

    Sub(int index, int topic, EventLoop loop) {
      this.index = index;
      this.topic = topic;
      this.loop = loop;
    }
  }
}
