package io.tidings.server.push;

import io.netty.buffer.Unpooled;
import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.Feed;
import io.tidings.core.hub.Sink;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.Json;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/** One open {@code text/event-stream} response and the feeds of its topics. Loop-confined. */
final class SseStream implements Sink, PushConnection {
  private static final Buffer HEARTBEAT = Buffer.buffer(":\n\n");
  private static final long FORCE_CLOSE_MILLIS = 5_000;

  private final PushLoop loop;
  private final HttpServerRequest request;
  private final HttpServerResponse response;
  private final List<String> topics;
  private final boolean notifyOnly;
  private final TidingsConfig.Push config;
  private final PushStats stats;
  private final Outbound out;
  private final List<Feed> feeds = new ArrayList<>();
  private List<Cursor> from;
  private long lastWrite;
  private boolean finished;

  SseStream(PushLoop loop, HttpServerRequest request, List<String> topics, boolean notifyOnly,
      TidingsConfig.Push config, PushStats stats) {
    this.loop = loop;
    this.request = request;
    this.response = request.response();
    this.topics = topics;
    this.notifyOnly = notifyOnly;
    this.config = config;
    this.stats = stats;
    this.out = new Outbound(new Outbound.Socket() {
      @Override
      public boolean writeQueueFull() {
        return response.writeQueueFull();
      }

      @Override
      public void write(Object message) {
        response.write((Buffer) message);
      }
    }, config.outbound.maxBytes, config.outbound.maxMessages);
  }

  /** Writes the headers and {@code retry:}, then subscribes each topic from its cursor. */
  void start(List<Cursor> from) {
    this.from = from;
    response.closeHandler(v -> closed());
    response.exceptionHandler(e -> closed());
    response.drainHandler(v -> out.drained());
    loop.add(this);
    stats.sseConnections.incrementAndGet();
    send(Buffer.buffer("retry: " + retryMillis() + "\n\n"));
    for (String topic : topics) {
      feeds.add(loop.hub().feed(topic, notifyOnly, this));
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
  public void events(Feed feed, EventBatch batch, int from) {
    if (finished) {
      return;
    }
    if (topics.size() == 1) {
      byte[][] blocks = batch.encoded(notifyOnly ? WireFormats.SSE_NOTIFY_ID : WireFormats.SSE_FULL_ID);
      send(concat(blocks, from, null));
      return;
    }
    byte[][] blocks = batch.encoded(notifyOnly ? WireFormats.SSE_NOTIFY : WireFormats.SSE_FULL);
    List<Cursor> parts = positions();
    int index = feeds.indexOf(feed);
    List<Event> events = batch.events();
    byte[][] ids = new byte[blocks.length][];
    for (int i = from; i < blocks.length; i++) {
      parts.set(index, events.get(i).cursor());
      ids[i] = ("id: " + StreamCursor.encode(parts) + "\n").getBytes(StandardCharsets.US_ASCII);
    }
    send(concat(blocks, from, ids));
  }

  @Override
  public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
    if (finished) {
      return;
    }
    // With no state to follow the feed has already moved to continueAt, so the id can carry it.
    String id = stateFollows ? null : StreamCursor.encode(positions());
    byte[] json = WireFormats.resetJson(feed.topic(), continueAt, reason, null);
    send(wrap(WireFormats.sseBlock(id, "reset", json)));
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
    byte[][] blocks = new byte[Math.max(1, entries.size())][];
    if (entries.isEmpty()) {
      blocks[0] = ("id: " + finalId + "\n\n").getBytes(StandardCharsets.US_ASCII);
    }
    for (int i = 0; i < entries.size(); i++) {
      boolean last = continueAt != null && i == entries.size() - 1;
      byte[] json = WireFormats.putJson(feed.topic(), entries.get(i), last ? continueAt : previous, !notifyOnly, null);
      blocks[i] = WireFormats.sseBlock(last ? finalId : null, "put", json);
    }
    send(concat(blocks, 0, null));
  }

  @Override
  public void failed(Feed feed, String code, String message) {
    if (finished) {
      return;
    }
    byte[] json = Json.bytes(gen -> {
      gen.writeStartObject();
      gen.writeObjectFieldStart("error");
      gen.writeStringField("code", code);
      gen.writeStringField("message", message);
      gen.writeStringField("topic", feed.topic());
      gen.writeEndObject();
      gen.writeEndObject();
    });
    send(wrap(WireFormats.sseBlock(null, "error", json)));
    finish();
  }

  @Override
  public boolean writable() {
    return !finished && out.writable();
  }

  @Override
  public void whenWritable(Runnable task) {
    if (!finished) {
      out.whenWritable(task);
    }
  }

  @Override
  public void tick(long now) {
    if (finished) {
      return;
    }
    if (out.stalledFor(now) > config.outbound.stallTimeout.toMillis()) {
      stats.stalled.increment();
      finish();
      forceClose();
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

  private void send(Buffer buffer) {
    lastWrite = System.currentTimeMillis();
    if (!out.offer(buffer, buffer.length())) {
      stats.sseSlow.increment();
      finish();
    }
  }

  /** Ends the stream with a jittered {@code retry:} so that EventSource comes back later and resumes. */
  private void finish() {
    if (finished) {
      return;
    }
    finished = true;
    release();
    if (!response.ended() && !response.closed()) {
      response.write(Buffer.buffer("retry: " + retryMillis() + "\n\n"));
      response.end();
      // A client that reads nothing never lets the end through: then drop the connection.
      long timer = loop.context().owner().setTimer(FORCE_CLOSE_MILLIS, id -> forceClose());
      response.closeHandler(v -> loop.context().owner().cancelTimer(timer));
    }
  }

  private void forceClose() {
    if (response.closed()) {
      return;
    }
    if (request.version() == HttpVersion.HTTP_2) {
      response.reset();
    } else {
      request.connection().close();
    }
  }

  private void closed() {
    if (!finished) {
      finished = true;
      release();
    }
  }

  private void release() {
    out.close();
    for (Feed f : feeds) {
      f.close();
    }
    loop.remove(this);
    stats.sseConnections.decrementAndGet();
  }

  private static Buffer wrap(byte[] bytes) {
    return BufferInternal.buffer(Unpooled.wrappedBuffer(bytes));
  }

  private static Buffer concat(byte[][] blocks, int from, byte[][] prefixes) {
    if (prefixes == null && blocks.length - from == 1) {
      return wrap(blocks[from]);
    }
    int size = 0;
    for (int i = from; i < blocks.length; i++) {
      size += blocks[i].length + (prefixes == null ? 0 : prefixes[i].length);
    }
    byte[] all = new byte[size];
    int at = 0;
    for (int i = from; i < blocks.length; i++) {
      if (prefixes != null) {
        System.arraycopy(prefixes[i], 0, all, at, prefixes[i].length);
        at += prefixes[i].length;
      }
      System.arraycopy(blocks[i], 0, all, at, blocks[i].length);
      at += blocks[i].length;
    }
    return wrap(all);
  }
}
