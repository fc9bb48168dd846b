package io.tidings.server.push;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.Feed;
import io.tidings.core.hub.Sink;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.Json;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.limits.Ticket;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One open {@code text/event-stream} and the feeds of its topics. Over HTTP/1.1 the connection is
 * taken from Vert.x and written directly as chunks ({@link Raw}); over HTTP/2 (or 1.0) it stays a
 * Vert.x response ({@link Vertx}). Loop-confined.
 */
final class SseStream implements Sink, PushConnection {
  private static final byte[] HEARTBEAT = ":\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final long FORCE_CLOSE_MILLIS = 5_000;

  private final PushLoop loop;
  private final List<String> topics;
  private final boolean notifyOnly;
  private final TidingsConfig.Push config;
  private final PushStats stats;
  private final List<Feed> feeds = new ArrayList<>();
  private final long expiresAt;
  private final AccessLog.Entry log;
  private final Ticket ticket;
  private Wire wire;
  private Outbound out;
  private List<Cursor> from;
  private long lastWrite;
  private boolean finished;
  /** Subscriptions this stream added to the transport's count. */
  private int counted;

  /** How bytes reach the client. */
  private abstract static class Wire implements Outbound.Socket {
    /** Frames a payload of this stream for the socket (as a chunk, or as it is). */
    abstract Object frame(byte[] payload);

    /** Bytes already framed by a shared encoding. */
    abstract Object framed(byte[] bytes);

    /** Whether shared encodings must be the chunked ones. */
    abstract boolean chunked();

    /** Writes {@code last} and ends the stream; drops the connection if it cannot get through. */
    abstract void end(byte[] last);

    abstract void forceClose();
  }

  /** @param expiresAt epoch millis when the stream's credentials expire and it ends ({@code Long.MAX_VALUE}: never) */
  SseStream(PushLoop loop, List<String> topics, boolean notifyOnly, TidingsConfig.Push config, PushStats stats,
      long expiresAt, AccessLog.Entry log, Ticket ticket) {
    this.ticket = ticket;
    this.expiresAt = expiresAt;
    this.log = log;
    this.loop = loop;
    this.topics = topics;
    this.notifyOnly = notifyOnly;
    this.config = config;
    this.stats = stats;
  }

  /**
   * Answers {@code request} with the stream's headers and {@code retry:}, then subscribes each
   * topic from its cursor. {@code headers} are extra response headers (CORS).
   */
  void start(HttpServerRequest request, List<Cursor> from, Map<String, String> headers) {
    this.from = from;
    wire = Hijack.possible(request) ? new Raw(request, headers) : new Vertx(request);
    out = new Outbound(wire, config.outbound.maxBytes, config.outbound.maxMessages, stats.dropped);
    loop.add(this);
    stats.sseConnections.incrementAndGet();
    send(("retry: " + retryMillis() + "\n\n").getBytes(StandardCharsets.US_ASCII));
    // The start position as an id, on an event with data (clients ignore an id-only block): a
    // stream that began at "now" and drops before its first event resumes from here, not from a
    // later "now" that would skip what was published in between.
    String start = StreamCursor.encode(from);
    send(WireFormats.sseBlock(start, "subscribed", Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeArrayFieldStart("topics");
      for (String t : topics) {
        gen.writeString(t);
      }
      gen.writeEndArray();
      gen.writeStringField("cursor", start);
      gen.writeEndObject();
    })));
    for (String topic : topics) {
      feeds.add(loop.hub().feed(topic, notifyOnly, this));
    }
    if (!finished) {
      counted = feeds.size();
      stats.sseSubscriptions.addAndGet(counted);
    }
    for (int i = 0; i < feeds.size() && !finished; i++) {
      feeds.get(i).start(from.get(i));
    }
  }

  private long retryMillis() {
    long base = config.sse.retry.toMillis();
    return Math.max(1, Math.round(base * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble())));
  }

  @Override
  public void subscribed(Feed feed, Cursor start) {
    // SSE has no acknowledgement: the stream itself is the answer.
  }

  @Override
  public void events(Feed feed, EventBatch batch, int first) {
    if (finished) {
      return;
    }
    if (topics.size() == 1) {
      byte[][] blocks = batch.encoded(wire.chunked()
          ? (notifyOnly ? WireFormats.SSE_NOTIFY_ID_CHUNK : WireFormats.SSE_FULL_ID_CHUNK)
          : (notifyOnly ? WireFormats.SSE_NOTIFY_ID : WireFormats.SSE_FULL_ID));
      for (int i = first; i < blocks.length && !finished; i++) {
        offer(wire.framed(blocks[i]), blocks[i].length);
      }
    } else {
      byte[][] blocks = batch.encoded(notifyOnly ? WireFormats.SSE_NOTIFY : WireFormats.SSE_FULL);
      List<Cursor> parts = positions();
      int index = feeds.indexOf(feed);
      List<Event> events = batch.events();
      for (int i = first; i < blocks.length && !finished; i++) {
        parts.set(index, events.get(i).cursor());
        byte[] id = ("id: " + StreamCursor.encode(parts) + "\n").getBytes(StandardCharsets.US_ASCII);
        byte[] block = new byte[id.length + blocks[i].length];
        System.arraycopy(id, 0, block, 0, id.length);
        System.arraycopy(blocks[i], 0, block, id.length, blocks[i].length);
        offer(wire.frame(block), block.length);
      }
    }
    loop.flushSoon(out);
  }

  @Override
  public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
    // With no state to follow the feed has already moved to continueAt, so the id can carry it.
    String id = stateFollows ? null : StreamCursor.encode(positions());
    send(WireFormats.sseBlock(id, "reset", WireFormats.resetJson(feed.topic(), continueAt, reason, stateFollows, null)));
  }

  @Override
  public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {
    if (finished) {
      return;
    }
    // Only the last put carries an id: a client cut off in the middle resumes from before the
    // reset, and is reset again, rather than from a position whose state it never received.
    String finalId = null;
    if (continueAt != null) {
      List<Cursor> parts = positions();
      parts.set(feeds.indexOf(feed), continueAt);
      finalId = StreamCursor.encode(parts);
    }
    if (entries.isEmpty()) {
      offer(wire.frame(("id: " + finalId + "\n\n").getBytes(StandardCharsets.US_ASCII)), 0);
    }
    for (int i = 0; i < entries.size() && !finished; i++) {
      boolean last = continueAt != null && i == entries.size() - 1;
      byte[] json = WireFormats.putJson(feed.topic(), entries.get(i), last ? continueAt : previous, !notifyOnly, null);
      byte[] block = WireFormats.sseBlock(last ? finalId : null, "put", json);
      offer(wire.frame(block), block.length);
    }
    loop.flushSoon(out);
  }

  @Override
  public void failed(Feed feed, String code, String message) {
    byte[] json = Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeObjectFieldStart("error");
      gen.writeStringField("code", code);
      gen.writeStringField("message", message);
      gen.writeStringField("topic", feed.topic());
      gen.writeEndObject();
      gen.writeEndObject();
    });
    send(WireFormats.sseBlock(null, "error", json));
    finish();
  }

  @Override
  public boolean writable() {
    return out.writable();
  }

  @Override
  public void whenWritable(Runnable task) {
    out.whenWritable(task);
  }

  @Override
  public void tick(long now) {
    if (finished) {
      return;
    }
    if (out.stalled(now, config.outbound.stallTimeout.toMillis())) {
      stats.stalled.increment();
      finish();
      wire.forceClose();
      return;
    }
    if (now >= expiresAt) {
      // The token has expired: end with retry:, so that EventSource comes back (with the fresh
      // token in its URL if the page renewed it, or to a 401 that tells it to stop if not).
      finish();
      return;
    }
    if (now - lastWrite >= config.sse.heartbeat.toMillis()) {
      send(HEARTBEAT);
    }
  }

  @Override
  public void shutdown() {
    finish();
  }

  private List<Cursor> positions() {
    List<Cursor> parts = new ArrayList<>(feeds.size());
    for (int i = 0; i < feeds.size(); i++) {
      // A feed not started yet (one before it delivered at once) is still at its start.
      Cursor c = feeds.get(i).cursor();
      parts.add(c != null ? c : from.get(i));
    }
    return parts;
  }

  private void send(byte[] payload) {
    if (finished) {
      return;
    }
    offer(wire.frame(payload), payload.length);
    out.flush();
  }

  private void offer(Object message, int bytes) {
    lastWrite = System.currentTimeMillis();
    if (!out.offer(message, bytes)) {
      stats.sseSlow.increment();
      finish();
    }
  }

  /** Ends the stream with a jittered {@code retry:} so that EventSource comes back later and resumes. */
  private void finish() {
    if (finished) {
      return;
    }
    release();
    wire.end(("retry: " + retryMillis() + "\n\n").getBytes(StandardCharsets.US_ASCII));
  }

  private void release() {
    if (finished) {
      return;
    }
    finished = true;
    out.close();
    for (Feed f : feeds) {
      f.close();
    }
    loop.remove(this);
    stats.sseConnections.decrementAndGet();
    stats.sseSubscriptions.addAndGet(-counted);
    counted = 0;
    log.end(200, out == null ? 0 : out.written());
    ticket.release();
  }

  /** HTTP/1.1 written straight to the Netty channel, chunk by chunk. */
  private final class Raw extends Wire {
    private static final byte[] LAST_CHUNK = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private final Channel channel;

    Raw(HttpServerRequest request, Map<String, String> headers) {
      StringBuilder head = new StringBuilder(256).append("HTTP/1.1 200 OK\r\n");
      for (Map.Entry<String, String> h : headers.entrySet()) {
        head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
      }
      head.append("transfer-encoding: chunked\r\n\r\n");
      channel = Hijack.take(request, new ChannelInboundHandlerAdapter() {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
          // A stream's client has nothing more to say; whatever it sends is dropped.
          ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
          if (ctx.channel().isWritable() && out != null) {
            out.drained();
          }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
          ctx.close();
        }
      });
      channel.closeFuture().addListener(f -> release());
      channel.write(Unpooled.wrappedBuffer(head.toString().getBytes(StandardCharsets.US_ASCII)), channel.voidPromise());
    }

    @Override
    Object frame(byte[] payload) {
      return Unpooled.wrappedBuffer(WireFormats.chunk(payload));
    }

    @Override
    Object framed(byte[] bytes) {
      return Unpooled.wrappedBuffer(bytes);
    }

    @Override
    boolean chunked() {
      return true;
    }

    @Override
    public boolean writeQueueFull() {
      return !channel.isWritable();
    }

    @Override
    public void write(Object message) {
      channel.write(message, channel.voidPromise());
    }

    @Override
    public void flush() {
      channel.flush();
    }

    @Override
    void end(byte[] last) {
      if (!channel.isActive()) {
        return;
      }
      channel.write(Unpooled.wrappedBuffer(WireFormats.chunk(last)), channel.voidPromise());
      channel.writeAndFlush(Unpooled.wrappedBuffer(LAST_CHUNK)).addListener(ChannelFutureListener.CLOSE);
      // A client that reads nothing never lets the end through: then drop the connection.
      channel.eventLoop().schedule(() -> {
        channel.close();
      }, FORCE_CLOSE_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    void forceClose() {
      channel.close();
    }
  }

  /** A Vert.x response: HTTP/2 streams (and HTTP/1.0), which share or cannot keep their connection. */
  private final class Vertx extends Wire {
    private final HttpServerRequest request;
    private final HttpServerResponse response;

    Vertx(HttpServerRequest request) {
      this.request = request;
      this.response = request.response();
      response.setChunked(true);
      response.closeHandler(v -> release());
      response.exceptionHandler(e -> release());
      response.drainHandler(v -> out.drained());
    }

    @Override
    Object frame(byte[] payload) {
      return BufferInternal.buffer(Unpooled.wrappedBuffer(payload));
    }

    @Override
    Object framed(byte[] bytes) {
      return frame(bytes);
    }

    @Override
    boolean chunked() {
      return false;
    }

    @Override
    public boolean writeQueueFull() {
      return response.writeQueueFull();
    }

    @Override
    public void write(Object message) {
      response.write((Buffer) message);
    }

    @Override
    public void flush() {
      // Vert.x flushes each write of a response itself.
    }

    @Override
    void end(byte[] last) {
      if (response.ended() || response.closed()) {
        return;
      }
      long timer = loop.context().owner().setTimer(FORCE_CLOSE_MILLIS, id -> forceClose());
      response.closeHandler(v -> loop.context().owner().cancelTimer(timer));
      response.write(BufferInternal.buffer(Unpooled.wrappedBuffer(last)));
      response.end().onComplete(ar -> loop.context().owner().cancelTimer(timer));
    }

    @Override
    void forceClose() {
      if (response.closed()) {
        return;
      }
      if (request.version() == io.vertx.core.http.HttpVersion.HTTP_2) {
        response.reset();
      } else {
        request.connection().close();
      }
    }
  }
}
