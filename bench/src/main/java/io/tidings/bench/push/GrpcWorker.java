package io.tidings.bench.push;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tidings.proto.v1.Event;
import io.tidings.proto.v1.Mode;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.TopicSubscription;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.internal.VertxInternal;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
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
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAccumulator;
import java.util.concurrent.atomic.LongAdder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * A worker process of the push benchmark whose subscribers are gRPC streams: {@code --count}
 * calls of {@code tidings.v1.Tidings/Subscribe} (one topic each, {@code since: now}, full mode)
 * made with Vert.x's gRPC client over h2c, decoded into the generated {@link ServerMessage}
 * classes as any Java service would. It answers the coordinator ({@link PushBench}) with the same
 * line protocol as {@link PushWorker} (READY, MARK, EXPECT, COUNT, END, STATS, QUIT) and reports
 * the same counters, plus per-stream order: every subscriber checks that event offsets grow by
 * exactly one ({@code gaps}: offsets skipped, {@code out_of_order}: an offset not above the
 * previous one).
 *
 * <p>Connections: {@code --streams-per-connection S} calls share one HTTP/2 connection. S = 1,
 * the default, is what many independent services look like to a server, each with its own
 * channel; larger S is one service multiplexing its subscriptions. The client opens at most
 * {@code ceil(count / S)} connections, so S must not exceed the server's advertised
 * {@code SETTINGS_MAX_CONCURRENT_STREAMS} (Vert.x's default: 100), or the calls beyond it wait
 * and fail. The READY line says how many connections the streams ended up on.
 *
 * <p>The event loops pause {@code --park-micros} before each wait for I/O, as {@link PushWorker}'s
 * do ({@link ParkingTransport}), so both kinds of subscriber cost the server the same wake-ups.
 */
public final class GrpcWorker {
  private static final int MAX_ATTEMPTS = 3;
  private static final ServiceMethod<ServerMessage, SubscribeRequest> SUBSCRIBE = ServiceMethod.client(
      ServiceName.create("tidings.v1", "Tidings"), "Subscribe", GrpcMessageEncoder.encoder(),
      GrpcMessageDecoder.decoder(ServerMessage.newBuilder()));

  private enum State { WAITING, CONNECTING, SUBSCRIBED, FAILED, CLOSED }

  private final int first;
  private final int streamsPerConnection;
  private final int count;
  private final int topics;
  private final String topicPrefix;
  private final int connectConcurrency;
  private final int timeoutSeconds;
  private final List<String[]> headers;
  private final SocketAddress address;
  private final Vertx vertx;
  private final GrpcClient client;
  private final Sub[] subs;
  private final Map<ContextInternal, List<Sub>> byContext = new LinkedHashMap<>();
  private final PrintStream out;

  private final Recorder latency = new Recorder(3);
  private final LongAdder deliveries = new LongAdder();
  private final LongAdder dups = new LongAdder();
  private final LongAdder gaps = new LongAdder();
  private final LongAdder outOfOrder = new LongAdder();
  private final LongAdder exhausted = new LongAdder();
  private final LongAdder closedOther = new LongAdder();
  private final LongAdder disconnects = new LongAdder();
  private final LongAdder resets = new LongAdder();
  private final LongAdder heartbeats = new LongAdder();
  private final LongAdder otherFrames = new LongAdder();
  private final LongAccumulator lastDeliveryMicros = new LongAccumulator(Long::max, 0);
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger errorLogs = new AtomicInteger();

  private final ConcurrentLinkedQueue<Sub> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inflight = new AtomicInteger();
  private final AtomicInteger failed = new AtomicInteger();
  private final AtomicInteger retries = new AtomicInteger();
  private final Set<HttpConnection> connections = ConcurrentHashMap.newKeySet();
  private volatile boolean quitting;
  private CountDownLatch settled;

  private long[] prevHi;
  private long[] stepHi;
  private long deliveriesAtMark;
  private long dupsAtMark;
  private long gapsAtMark;
  private long outOfOrderAtMark;

  private GrpcWorker(URI base, int first, int count, int topics, String topicPrefix, int threads, long parkMicros,
      int streamsPerConnection, int connectConcurrency, int timeoutSeconds, List<String[]> headers,
      PrintStream out) {
    this.first = first;
    this.streamsPerConnection = streamsPerConnection;
    this.count = count;
    this.topics = topics;
    this.topicPrefix = topicPrefix;
    this.connectConcurrency = connectConcurrency;
    this.timeoutSeconds = timeoutSeconds;
    this.headers = headers;
    this.out = out;
    this.address = SocketAddress.inetSocketAddress(base.getPort() > 0 ? base.getPort() : 80, base.getHost());
    this.vertx = Vertx.builder()
        .with(new VertxOptions().setEventLoopPoolSize(threads).setBlockedThreadCheckInterval(60_000))
        .withTransport(new ParkingTransport(parkMicros))
        .build();
    int connections = (count + streamsPerConnection - 1) / streamsPerConnection;
    HttpClient http = vertx.httpClientBuilder()
        .with(new HttpClientOptions()
            .setProtocolVersion(HttpVersion.HTTP_2)
            .setHttp2ClearTextUpgrade(false) // h2c with prior knowledge, as gRPC clients do
            .setHttp2MultiplexingLimit(streamsPerConnection)
            .setTcpNoDelay(true)
            .setConnectTimeout(timeoutSeconds * 1000))
        // At most ceil(count / S) connections: while connections are being set up the pool would
        // otherwise open one per waiting call.
        .with(new PoolOptions().setHttp2MaxSize(connections))
        .build();
    this.client = GrpcClient.client(vertx, http);
    this.subs = new Sub[count];
    List<ContextInternal> contexts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      contexts.add(((VertxInternal) vertx).createEventLoopContext());
    }
    for (int i = 0; i < count; i++) {
      int g = first + i;
      ContextInternal ctx = contexts.get(i % threads);
      Sub s = new Sub(g, g % topics, ctx);
      subs[i] = s;
      byContext.computeIfAbsent(ctx, k -> new ArrayList<>()).add(s);
    }
    this.prevHi = new long[topics];
  }

  public static void main(String[] args) throws Exception {
    String url = null;
    int first = 0;
    int count = 1000;
    int topics = 1;
    String prefix = "push-";
    int threads = 1;
    long park = 0;
    int perConnection = 1;
    int conc = 100;
    int timeout = 30;
    List<String[]> headers = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      String v = i + 1 < args.length ? args[i + 1] : null;
      switch (a) {
        case "--url" -> { url = v; i++; }
        case "--first" -> { first = Integer.parseInt(v); i++; }
        case "--count" -> { count = Integer.parseInt(v); i++; }
        case "--topics" -> { topics = Integer.parseInt(v); i++; }
        case "--topic-prefix" -> { prefix = v; i++; }
        case "--threads" -> { threads = Integer.parseInt(v); i++; }
        case "--park-micros" -> { park = Long.parseLong(v); i++; }
        case "--streams-per-connection" -> { perConnection = Integer.parseInt(v); i++; }
        case "--connect-concurrency" -> { conc = Integer.parseInt(v); i++; }
        case "--timeout" -> { timeout = Integer.parseInt(v); i++; }
        case "--header" -> {
          int c = v.indexOf(':');
          // gRPC metadata keys are lower case.
          headers.add(new String[] {v.substring(0, c).trim().toLowerCase(java.util.Locale.ROOT),
              v.substring(c + 1).trim()});
          i++;
        }
        default -> throw new IllegalArgumentException("unknown gRPC worker option " + a);
      }
    }
    if (url == null) {
      throw new IllegalArgumentException("--url is required");
    }
    if (perConnection < 1) {
      throw new IllegalArgumentException("--streams-per-connection must be at least 1");
    }
    PrintStream stdout = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
        StandardCharsets.US_ASCII);
    // Nothing but protocol lines may go to stdout.
    System.setOut(System.err);
    URI base = URI.create(url);
    if (!"http".equals(base.getScheme())) {
      throw new IllegalArgumentException("only http:// (h2c) URLs are supported, not " + url);
    }
    GrpcWorker w = new GrpcWorker(base, first, count, topics, prefix, threads, park, perConnection, conc, timeout,
        headers, stdout);
    w.run();
  }

  private void run() throws Exception {
    long t0 = System.nanoTime();
    settled = new CountDownLatch(count);
    for (Sub s : subs) {
      queue.add(s);
    }
    pump();
    long budget = Math.max(120, count / 20L);
    if (!settled.await(budget, TimeUnit.SECONDS)) {
      System.err.println("grpc worker " + first + ": gave up waiting for streams after " + budget + " s");
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    if (open.get() < count && streamsPerConnection > 1) {
      System.err.println("grpc worker " + first + ": " + (count - open.get()) + " calls found no room on "
          + connections.size() + " connections: --streams-per-connection above the server's"
          + " SETTINGS_MAX_CONCURRENT_STREAMS?");
    }
    out.println("READY connected=" + open.get() + " failed=" + (count - open.get()) + " retries=" + retries.get()
        + " ms=" + ms + " io=" + Net.transportName() + " connections=" + connections.size());

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
    quit();
    System.exit(0);
  }

  // ------------------------------------------------------------------ commands (as PushWorker's)

  private String mark() throws Exception {
    onContexts(s -> {
      s.inStep = s.state == State.SUBSCRIBED;
      return 0L;
    });
    latency.getIntervalHistogram();
    deliveriesAtMark = deliveries.sum();
    dupsAtMark = dups.sum();
    gapsAtMark = gaps.sum();
    outOfOrderAtMark = outOfOrder.sum();
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
    long expected = onContexts(s -> s.inStep ? hi[s.topic] - prevHi[s.topic] : 0L);
    return "EXPECTED " + expected;
  }

  private String end() throws Exception {
    if (stepHi == null) {
      return "ERROR END without EXPECT";
    }
    long[] hi = stepHi;
    long[] prev = prevHi;
    long[] agg = new long[4]; // expected, missing, subscribers with missing, max missing
    for (Map.Entry<ContextInternal, List<Sub>> e : byContext.entrySet()) {
      long[] part = onContext(e.getKey(), () -> {
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
      });
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
        + " gaps=" + (gaps.sum() - gapsAtMark)
        + " out_of_order=" + (outOfOrder.sum() - outOfOrderAtMark)
        + " last_micros=" + lastDeliveryMicros.get()
        + " " + stats()
        + " hist=" + hist;
  }

  /** Counter names as PushWorker's: a stream ended with RESOURCE_EXHAUSTED is the slow-consumer close (closed_4008). */
  private String stats() {
    return "open=" + open.get()
        + " failed=" + failed.get()
        + " closed_4008=" + exhausted.sum()
        + " closed_other=" + closedOther.sum()
        + " disconnects=" + disconnects.sum()
        + " errors=0"
        + " resets=" + resets.sum()
        + " heartbeats=" + heartbeats.sum()
        + " other_frames=" + otherFrames.sum();
  }

  private interface SubFn {
    long apply(Sub s);
  }

  private <T> T onContext(ContextInternal ctx, java.util.concurrent.Callable<T> c) throws Exception {
    CompletableFuture<T> f = new CompletableFuture<>();
    ctx.runOnContext(v -> {
      try {
        f.complete(c.call());
      } catch (Throwable t) {
        f.completeExceptionally(t);
      }
    });
    return f.get(60, TimeUnit.SECONDS);
  }

  /** Runs {@code fn} over every subscriber on its own context; sums the results. */
  private long onContexts(SubFn fn) throws Exception {
    long sum = 0;
    for (Map.Entry<ContextInternal, List<Sub>> e : byContext.entrySet()) {
      sum += onContext(e.getKey(), () -> {
        long r = 0;
        for (Sub s : e.getValue()) {
          r += fn.apply(s);
        }
        return r;
      });
    }
    return sum;
  }

  private void quit() {
    quitting = true;
    for (Sub s : subs) {
      s.quitting = true;
    }
    try {
      vertx.close().toCompletionStage().toCompletableFuture().get(15, TimeUnit.SECONDS);
    } catch (Exception e) {
      System.err.println("grpc worker " + first + ": closing: " + e);
    }
  }

  // ------------------------------------------------------------------ subscribing

  private void pump() {
    while (!quitting && inflight.get() < connectConcurrency) {
      Sub s = queue.poll();
      if (s == null) {
        return;
      }
      inflight.incrementAndGet();
      s.context.runOnContext(v -> subscribe(s));
    }
  }

  /** On the subscriber's context. */
  private void subscribe(Sub s) {
    if (quitting) {
      return;
    }
    s.attempts++;
    s.state = State.CONNECTING;
    s.lastOffset = -1;
    int attempt = s.attempts;
    SubscribeRequest request = SubscribeRequest.newBuilder()
        .addTopics(TopicSubscription.newBuilder().setTopic(topicPrefix + s.topic).setSince("now"))
        .setMode(Mode.MODE_FULL)
        .build();
    client.request(address, SUBSCRIBE).onComplete(ar -> {
      if (ar.failed()) {
        attemptFailed(s, attempt, "request: " + ar.cause());
        return;
      }
      GrpcClientRequest<SubscribeRequest, ServerMessage> req = ar.result();
      s.request = req;
      for (String[] h : headers) {
        req.headers().add(h[0], h[1]);
      }
      req.send(request).onComplete(rr -> {
        if (rr.failed()) {
          attemptFailed(s, attempt, "call: " + rr.cause());
          return;
        }
        GrpcClientResponse<SubscribeRequest, ServerMessage> resp = rr.result();
        resp.handler(m -> message(s, attempt, m));
        resp.exceptionHandler(t -> ended(s, attempt, null, t.toString()));
        resp.endHandler(v -> ended(s, attempt, resp.status(), resp.statusMessage()));
      });
    });
    // A subscriber that is not confirmed in time is cancelled and retried.
    vertx.setTimer(timeoutSeconds * 1000L, id -> s.context.runOnContext(v -> {
      if (s.state == State.CONNECTING && s.attempts == attempt) {
        GrpcClientRequest<SubscribeRequest, ServerMessage> req = s.request;
        if (req != null) {
          req.cancel();
        }
        attemptFailed(s, attempt, "not subscribed within " + timeoutSeconds + " s");
      }
    }));
  }

  private void subscribed(Sub s) {
    if (s.state != State.CONNECTING) {
      return;
    }
    s.state = State.SUBSCRIBED;
    if (s.request != null && s.request.connection() != null) {
      connections.add(s.request.connection());
    }
    open.incrementAndGet();
    inflight.decrementAndGet();
    settled.countDown();
    pump();
  }

  private void attemptFailed(Sub s, int attempt, String why) {
    if (s.state != State.CONNECTING || s.attempts != attempt) {
      return;
    }
    s.request = null;
    inflight.decrementAndGet();
    if (s.attempts < MAX_ATTEMPTS) {
      s.state = State.WAITING;
      retries.incrementAndGet();
      logError("subscriber " + s.index + " attempt " + s.attempts + " failed (retrying): " + why);
      vertx.setTimer(250L * s.attempts, id -> {
        queue.add(s);
        pump();
      });
    } else {
      s.state = State.FAILED;
      failed.incrementAndGet();
      logError("subscriber " + s.index + " (topic " + topicPrefix + s.topic + ") failed: " + why);
      settled.countDown();
    }
    pump();
  }

  /** On the subscriber's context: the call ended, with a status or a broken stream. */
  private void ended(Sub s, int attempt, GrpcStatus status, String message) {
    if (s.attempts != attempt) {
      return;
    }
    if (s.state == State.CONNECTING) {
      attemptFailed(s, attempt, "ended before subscribed: " + status + " " + message);
    } else if (s.state == State.SUBSCRIBED) {
      s.state = State.CLOSED;
      open.decrementAndGet();
      if (s.quitting) {
        return;
      }
      if (status == GrpcStatus.RESOURCE_EXHAUSTED) {
        exhausted.increment();
      } else if (status != null) {
        closedOther.increment();
        logError("server ended subscriber " + s.index + ": " + status + " " + message);
      } else {
        disconnects.increment();
        logError("subscriber " + s.index + " broke off: " + message);
      }
    }
  }

  private void logError(String what) {
    if (errorLogs.incrementAndGet() <= 5) {
      System.err.println("grpc worker " + first + ": " + what);
    }
  }

  // ------------------------------------------------------------------ receiving

  private void message(Sub s, int attempt, ServerMessage m) {
    if (s.attempts != attempt) {
      return;
    }
    switch (m.getKindCase()) {
      case SUBSCRIBED -> subscribed(s);
      case EVENT -> event(s, m.getEvent());
      case RESET -> {
        resets.increment();
        s.lastOffset = -1; // the topic's state follows, then live events from the reset's cursor
      }
      case HEARTBEAT -> heartbeats.increment();
      default -> otherFrames.increment();
    }
  }

  private void event(Sub s, Event e) {
    long offset = e.getOffset();
    if (s.lastOffset >= 0) {
      if (offset <= s.lastOffset) {
        outOfOrder.increment();
      } else if (offset > s.lastOffset + 1) {
        gaps.add(offset - s.lastOffset - 1);
      }
    }
    s.lastOffset = Math.max(s.lastOffset, offset);
    if (!e.hasData()) {
      otherFrames.increment();
      return;
    }
    ByteBuf b = Unpooled.wrappedBuffer(e.getData().asReadOnlyByteBuffer());
    if (!Payload.parse(b, b.readerIndex(), b.writerIndex(), s.scratch)) {
      otherFrames.increment();
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

  /** One subscriber; its fields are used on its context only (but {@code quitting}). */
  private static final class Sub {
    final int index;
    final int topic;
    final ContextInternal context;
    final BitSet seen = new BitSet();
    final long[] scratch = new long[2];
    GrpcClientRequest<SubscribeRequest, ServerMessage> request;
    State state = State.WAITING;
    int attempts;
    long lastOffset = -1;
    boolean inStep;
    volatile boolean quitting;

    Sub(int index, int topic, ContextInternal context) {
      this.index = index;
      this.topic = topic;
      this.context = context;
    }
  }
}
