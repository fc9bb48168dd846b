package io.tidings.server.grpc;

import io.netty.buffer.Unpooled;
import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.core.StateEntry;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.Feed;
import io.tidings.core.hub.Sink;
import io.tidings.proto.v1.Heartbeat;
import io.tidings.proto.v1.Mode;
import io.tidings.proto.v1.Reset;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.Subscribed;
import io.tidings.proto.v1.TopicSubscription;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.limits.Ticket;
import io.tidings.server.push.Outbound;
import io.tidings.server.push.PushConnection;
import io.tidings.server.push.PushLoop;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.internal.buffer.BufferInternal;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * One {@code Subscribe} call: the {@link Sink} of its topics' feeds, writing pre-encoded gRPC
 * messages to its HTTP/2 stream only while the stream takes them (its flow-control window is open),
 * through a bounded {@link Outbound} queue. A client that does not keep up is cut with
 * {@code RESOURCE_EXHAUSTED}, and the trailers say where to resume each topic: the position after
 * the last message actually handed to the stream ({@code tidings-resume-bin}, a serialized
 * {@link SubscribeRequest} to send back as it is, and {@code tidings-resume-cursor}, one
 * {@code "topic cursor"} value per topic). Loop-confined.
 */
final class GrpcSubscription implements Sink, PushConnection {
  /** Binary trailer: a serialized {@link SubscribeRequest} resuming every topic after its last delivered message. */
  static final String RESUME_BIN = "tidings-resume-bin";
  /** Text trailer, one value per topic: {@code "<topic> <cursor>"}. */
  static final String RESUME_CURSOR = "tidings-resume-cursor";

  /** One topic of the call and the position its client has been given. */
  static final class Topic {
    final String name;
    final Position since;
    final boolean notifyOnly;
    final Mode mode;
    Feed feed;
    /** Where the client resumes: the start or last delivered cursor once known, else the position asked for. */
    private String epoch;
    private long offset;
    private final String asked;

    Topic(String name, String asked, Position since, boolean notifyOnly, Mode mode) {
      this.name = name;
      this.asked = asked;
      this.since = since;
      this.notifyOnly = notifyOnly;
      this.mode = mode;
    }

    void at(String epoch, long offset) {
      this.epoch = epoch;
      this.offset = offset;
    }

    String resume() {
      return epoch != null ? new Cursor(epoch, offset).encode() : asked;
    }
  }

  private final PushLoop loop;
  private final GrpcServerResponse<SubscribeRequest, ServerMessage> call;
  private final GrpcCall caller;
  private final HttpServerResponse http;
  private final TidingsConfig.Push config;
  private final GrpcStats stats;
  private final Principal principal;
  private final Ticket ticket;
  private final SubscribeRequest request;
  private final List<Topic> topics;
  private final Map<Feed, Topic> byFeed = new HashMap<>();
  private final Outbound out;
  private final Marks marks = new Marks();
  private final long heartbeatMillis;
  private long lastSent;
  private boolean closed;
  private boolean streamOver;

  GrpcSubscription(PushLoop loop, GrpcServerResponse<SubscribeRequest, ServerMessage> call, GrpcCall caller,
      TidingsConfig.Push config, GrpcStats stats, LongAdder dropped, Principal principal, Ticket ticket,
      SubscribeRequest request, List<Topic> topics) {
    this.loop = loop;
    this.call = call;
    this.caller = caller;
    HttpServerResponse http = caller.http.response();
    this.http = http;
    this.config = config;
    this.stats = stats;
    this.principal = principal;
    this.ticket = ticket;
    this.request = request;
    this.topics = topics;
    this.heartbeatMillis = Math.max(1000, config.grpc.heartbeat.toMillis());
    this.out = new Outbound(new Outbound.Socket() {
      @Override
      public boolean writeQueueFull() {
        // Once the stream is over nothing is written: let the queue drain into nothing.
        return !streamOver && !http.ended() && http.writeQueueFull();
      }

      @Override
      public void write(Object message) {
        marks.pop();
        if (!streamOver && !http.ended()) {
          http.write((Buffer) message);
        }
      }

      @Override
      public void flush() {
        // Vert.x flushes HTTP/2 writes itself, once per event-loop pass.
      }
    }, config.outbound.maxBytes, config.outbound.maxMessages, dropped);
  }

  /** Sends the response headers and starts every topic's feed. */
  void start() {
    try {
      if (caller.closed() || http.ended()) {
        throw new IllegalStateException("the stream is over");
      }
      call.writeHead();
    } catch (IllegalStateException gone) {
      // The client left while the call was being checked.
      ticket.release();
      closed = true;
      return;
    }
    http.drainHandler(v -> out.drained());
    caller.onClose(() -> {
      streamOver = true;
      release();
    });
    lastSent = System.currentTimeMillis();
    loop.add(this);
    stats.streams.incrementAndGet();
    stats.subscriptions.addAndGet(topics.size());
    for (Topic t : topics) {
      t.feed = loop.hub().feed(t.name, t.notifyOnly, this);
      byFeed.put(t.feed, t);
    }
    for (Topic t : topics) {
      if (!closed) {
        t.feed.start(t.since);
      }
    }
  }

  // ---- Sink

  @Override
  public void subscribed(Feed feed, Cursor start) {
    Topic t = byFeed.get(feed);
    // Nothing of this topic has been sent before: its start is exactly where a client resumes.
    t.at(start.epoch(), start.offset());
    send(ServerMessage.newBuilder().setSubscribed(
        Subscribed.newBuilder().setTopic(feed.topic()).setCursor(start.encode())).build(), null, null);
  }

  @Override
  public void events(Feed feed, EventBatch batch, int from) {
    Topic t = byFeed.get(feed);
    byte[][] frames = batch.encoded(feed.notifyOnly() ? ProtoEvents.NOTIFY : ProtoEvents.FULL);
    List<Event> events = batch.events();
    for (int i = from; i < frames.length && !closed; i++) {
      Event e = events.get(i);
      offer(frames[i], t, e.epoch(), e.offset());
    }
    loop.flushSoon(out);
  }

  @Override
  public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
    Topic t = byFeed.get(feed);
    // With state to follow, the client stands where it was until the last state entry has arrived.
    send(ServerMessage.newBuilder().setReset(Reset.newBuilder().setTopic(feed.topic())
        .setCursor(continueAt.encode()).setReason(reason)).build(), stateFollows ? null : t, continueAt);
  }

  @Override
  public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {
    Topic t = byFeed.get(feed);
    for (int i = 0; i < entries.size() && !closed; i++) {
      Cursor cursor = continueAt != null && i == entries.size() - 1 ? continueAt : previous;
      offer(ProtoEvents.frame(ServerMessage.newBuilder()
          .setEvent(ProtoEvents.put(feed.topic(), entries.get(i), cursor, !feed.notifyOnly())).build()),
          t, cursor.epoch(), cursor.offset());
    }
    loop.flushSoon(out);
  }

  @Override
  public void failed(Feed feed, String code, String message) {
    int status = switch (code) {
      case "invalid_cursor" -> 400;
      case "unavailable" -> 503;
      default -> 500;
    };
    finish(new ApiException(status, code, feed.topic() + ": " + message), true);
  }

  @Override
  public boolean writable() {
    return out.writable();
  }

  @Override
  public void whenWritable(Runnable task) {
    out.whenWritable(task);
  }

  // ---- PushConnection

  @Override
  public void tick(long now) {
    if (closed) {
      return;
    }
    if (out.stalled(now, config.outbound.stallTimeout.toMillis())) {
      // The stream's window has stayed shut: the client is gone or stuck. Nothing more can reach it.
      stats.stalled.increment();
      release();
      resetStream();
      return;
    }
    if (principal.expired(now)) {
      finish(new ApiException(401, "unauthorized", "the token has expired; call again with a new one"), true);
      return;
    }
    if (now - lastSent >= heartbeatMillis && out.writable()) {
      send(ServerMessage.newBuilder().setHeartbeat(Heartbeat.newBuilder().setTime(ProtoEvents.time(now))).build(),
          null, null);
    }
  }

  @Override
  public void shutdown() {
    finish(new ApiException(503, "unavailable", "the server is restarting; call again with the resume cursors"), true);
  }

  // ---- writing

  /** Sends one message now; {@code at}, when given, is where {@code t}'s client stands once it is out. */
  private void send(ServerMessage message, Topic t, Cursor at) {
    offer(ProtoEvents.frame(message), t, at == null ? null : at.epoch(), at == null ? 0 : at.offset());
    out.flush();
  }

  private void offer(byte[] frame, Topic t, String epoch, long offset) {
    if (closed) {
      return;
    }
    lastSent = System.currentTimeMillis();
    marks.push(epoch == null ? null : t, epoch, offset);
    if (!out.offer(BufferInternal.buffer(Unpooled.wrappedBuffer(frame)), frame.length)) {
      marks.dropLast();
      stats.slow.increment();
      finish(new ApiException(429, "slow_consumer",
          "slow consumer: the stream fell too far behind; call again with the resume cursors in the trailers"), true);
    }
  }

  /**
   * Ends the call with {@code e}'s status after what is already written; {@code resume} adds the
   * resume trailers. A client that never reads again is cut off after the stall timeout.
   */
  private void finish(ApiException e, boolean resume) {
    if (closed) {
      return;
    }
    release();
    if (streamOver) {
      return;
    }
    try {
      MultiMap trailers = call.trailers();
      GrpcErrors.decorate(trailers, e);
      if (resume) {
        trailers.set(RESUME_BIN, Base64.getEncoder().withoutPadding().encodeToString(resumeRequest().toByteArray()));
        for (Topic t : topics) {
          trailers.add(RESUME_CURSOR, t.name + " " + t.resume());
        }
      }
      call.status(GrpcErrors.status(e.status())).statusMessage(e.getMessage()).end();
    } catch (IllegalStateException ended) {
      return;
    }
    loop.context().owner().setTimer(Math.max(1000, config.outbound.stallTimeout.toMillis()), id -> {
      if (!streamOver) {
        resetStream();
      }
    });
  }

  /** The request that resumes every topic after the last message handed to the stream. */
  SubscribeRequest resumeRequest() {
    SubscribeRequest.Builder b = SubscribeRequest.newBuilder().setMode(request.getMode());
    for (Topic t : topics) {
      b.addTopics(TopicSubscription.newBuilder().setTopic(t.name).setSince(t.resume()).setMode(t.mode));
    }
    return b.build();
  }

  private void resetStream() {
    streamOver = true;
    try {
      http.reset(8); // CANCEL
    } catch (IllegalStateException ignored) {
      // already gone
    }
  }

  private void release() {
    if (closed) {
      return;
    }
    closed = true;
    out.close();
    for (Topic t : topics) {
      if (t.feed != null) {
        t.feed.close();
      }
    }
    stats.subscriptions.addAndGet(-topics.size());
    stats.streams.decrementAndGet();
    loop.remove(this);
    ticket.release();
  }

  /**
   * Which topic position each message in flight stands for, in the order the messages reach the
   * stream: a ring of plain arrays, so a stream that keeps up allocates nothing per message.
   */
  private static final class Marks {
    private Topic[] topics = new Topic[16];
    private String[] epochs = new String[16];
    private long[] offsets = new long[16];
    private int head;
    private int size;

    void push(Topic t, String epoch, long offset) {
      if (size == topics.length) {
        grow();
      }
      int i = (head + size) % topics.length;
      topics[i] = t;
      epochs[i] = epoch;
      offsets[i] = offset;
      size++;
    }

    /** The oldest message reached the stream: its topic's client now stands at its position. */
    void pop() {
      if (size == 0) {
        return;
      }
      Topic t = topics[head];
      if (t != null) {
        t.at(epochs[head], offsets[head]);
      }
      topics[head] = null;
      epochs[head] = null;
      head = (head + 1) % topics.length;
      size--;
    }

    void dropLast() {
      if (size > 0) {
        int i = (head + size - 1) % topics.length;
        topics[i] = null;
        epochs[i] = null;
        size--;
      }
    }

    private void grow() {
      int n = topics.length;
      Topic[] t = new Topic[n * 2];
      String[] e = new String[n * 2];
      long[] o = new long[n * 2];
      for (int i = 0; i < n; i++) {
        int j = (head + i) % n;
        t[i] = topics[j];
        e[i] = epochs[j];
        o[i] = offsets[j];
      }
      topics = t;
      epochs = e;
      offsets = o;
      head = 0;
    }
  }
}
