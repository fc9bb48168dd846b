package io.tidings.server.push;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import io.tidings.core.AppendResult;
import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.InvalidCursorException;
import io.tidings.core.NewEvent;
import io.tidings.core.Position;
import io.tidings.core.StateEntry;
import io.tidings.core.Topics;
import io.tidings.core.hub.EventBatch;
import io.tidings.core.hub.Feed;
import io.tidings.core.hub.Sink;
import io.tidings.server.auth.AuthFailure;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Json;
import io.tidings.server.http.Responses;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.tidings.server.publish.PublishHandler;
import io.vertx.core.Future;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * One WebSocket connection speaking the JSON protocol of {@code docs/websocket-protocol.md}: any
 * number of topic subscriptions, publishing, token refresh and pings. It is the last handler of the
 * connection's Netty pipeline (after the frame decoder and aggregator), and loop-confined.
 */
final class WsSession extends ChannelInboundHandlerAdapter implements Sink, PushConnection {
  static final short SLOW_CONSUMER = 4008;
  static final short RESTART = 1012;
  static final short UNSUPPORTED = 1003;
  static final short GOING_AWAY = 1001;
  static final short TOO_BIG = 1009;
  static final short POLICY = 1008;
  static final short RATE_LIMITED = 4029;
  /** A connection that can do nothing without credentials must send an {@code auth} op within this time. */
  private static final long AUTH_TIMEOUT_MILLIS = 30_000;
  /** Frames kept while an {@code auth} op waits for a JWK set; beyond this the socket is not read. */
  private static final int MAX_DEFERRED = 64;
  private static final long CLOSE_WAIT_MILLIS = 5_000;
  private static final byte[] PING = WireFormats.frame(0x89, new byte[0]);
  private static final int MAX_ID_LENGTH = 128;

  private final PushLoop loop;
  private Channel channel;
  private final Engine engine;
  private final EventParser parser;
  private final Metrics metrics;
  private final TidingsConfig.Push config;
  private final PushStats stats;
  private final Outbound out;
  private final Authenticator auth;
  private final AccessLog.Entry log;
  private Principal principal;
  private long openedAt;
  private boolean authPending;
  private final ArrayDeque<String> deferred = new ArrayDeque<>();
  private final Map<String, Subscription> subscriptions = new HashMap<>();
  private final Map<Feed, Subscription> byFeed = new HashMap<>();
  private long lastRead;
  private long lastPing;
  private int pendingPublishes;
  private boolean closed;
  private boolean closeSent;
  private final Limits limits;
  private final String host;
  private final Ticket ticket;
  private String limitKey;
  private long refusalWindowStart;
  private int refusals;

  /** A subscribe request and the feed serving it. */
  private record Subscription(JsonNode id, Feed feed) {}

  WsSession(PushLoop loop, Engine engine, EventParser parser, Metrics metrics, TidingsConfig.Push config,
      PushStats stats, Authenticator auth, Principal principal, AccessLog.Entry log, Limits limits, String host,
      Ticket ticket) {
    this.log = log;
    this.auth = auth;
    this.principal = principal;
    this.limits = limits;
    this.host = host;
    this.ticket = ticket;
    this.limitKey = limits.key(principal, host);
    this.loop = loop;
    this.engine = engine;
    this.parser = parser;
    this.metrics = metrics;
    this.config = config;
    this.stats = stats;
    this.out = new Outbound(new Outbound.Socket() {
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
    }, config.outbound.maxBytes, config.outbound.maxMessages, stats.dropped);
  }

  /** Starts the session on {@code channel}, whose pipeline already ends with this handler. */
  void start(Channel channel) {
    this.channel = channel;
    long now = System.currentTimeMillis();
    lastRead = now;
    lastPing = now;
    openedAt = now;
    loop.add(this);
    stats.wsConnections.incrementAndGet();
    channel.closeFuture().addListener(f -> release());
  }

  // ---- Netty events

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      lastRead = System.currentTimeMillis();
      if (msg instanceof TextWebSocketFrame text) {
        onText(text.text());
      } else if (msg instanceof PingWebSocketFrame ping) {
        channel.writeAndFlush(new PongWebSocketFrame(ping.content().retain()), channel.voidPromise());
      } else if (msg instanceof CloseWebSocketFrame close) {
        if (closeSent) {
          channel.close();
        } else {
          // The client closes: answer with its code, as RFC 6455 asks, then hang up.
          release();
          closeSent = true;
          int code = close.statusCode() > 0 ? close.statusCode() : 1000;
          channel.writeAndFlush(new CloseWebSocketFrame(code, null)).addListener(ChannelFutureListener.CLOSE);
        }
      } else if (msg instanceof BinaryWebSocketFrame || msg instanceof ContinuationWebSocketFrame) {
        close(UNSUPPORTED, "binary frames are not supported; send JSON text");
      }
      // Pongs only prove the peer is alive; anything else (stray bytes) is dropped.
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable()) {
      out.drained();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (cause instanceof TooLongFrameException) {
      close(TOO_BIG, "message too big; the limit is " + config.ws.maxFrameSize + " bytes");
    } else {
      // Protocol violations were answered by the decoder; I/O errors end the connection.
      release();
      ctx.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    release();
  }

  // ---- client -> server

  private void onText(String text) {
    lastRead = System.currentTimeMillis();
    if (closed) {
      return;
    }
    if (authPending) {
      // Requests after an auth op are answered with the credentials it brings: keep them until then.
      deferred.add(text);
      if (deferred.size() >= MAX_DEFERRED) {
        channel.config().setAutoRead(false);
      }
      return;
    }
    if (principal.expired(lastRead)) {
      close(POLICY, "the token has expired; connect again with a new one");
      return;
    }
    JsonNode frame;
    try {
      frame = Json.MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      close(UNSUPPORTED, "frames must be JSON");
      return;
    }
    if (frame == null || frame.isMissingNode()) {
      // An empty (or blank) frame holds no JSON at all.
      close(UNSUPPORTED, "frames must be JSON");
      return;
    }
    JsonNode id = null;
    try {
      if (frame == null || !frame.isObject()) {
        throw ApiException.badRequest("invalid_request", "a frame is one JSON object with an 'op'");
      }
      id = id(frame.get("id"));
      JsonNode op = frame.get("op");
      if (op == null || !op.isTextual()) {
        throw ApiException.badRequest("invalid_request", "the 'op' field is required");
      }
      switch (op.asText()) {
        case "subscribe" -> subscribe(id, frame);
        case "unsubscribe" -> unsubscribe(id, frame);
        case "publish" -> publish(id, frame);
        case "auth" -> auth(id, frame);
        case "ping" -> pong(id);
        default -> throw ApiException.badRequest("unknown_op",
            "unknown op '" + op.asText() + "' (known: subscribe, unsubscribe, publish, auth, ping)");
      }
    } catch (ApiException e) {
      error(id, e.code(), e.getMessage());
    }
  }

  private static JsonNode id(JsonNode id) {
    if (id == null || id.isNull()) {
      return null;
    }
    if ((id.isTextual() && id.asText().length() <= MAX_ID_LENGTH) || id.isIntegralNumber()) {
      return id;
    }
    throw ApiException.badRequest("invalid_request", "'id' must be a number or a string of at most "
        + MAX_ID_LENGTH + " characters");
  }

  private static String topic(JsonNode frame) {
    JsonNode t = frame.get("topic");
    if (t == null || !t.isTextual()) {
      throw ApiException.badRequest("invalid_topic", "the 'topic' field is required");
    }
    String problem = Topics.problem(t.asText());
    if (problem != null) {
      throw ApiException.badRequest("invalid_topic", problem);
    }
    return t.asText();
  }

  private void subscribe(JsonNode id, JsonNode frame) {
    allowOnly(frame, "op", "id", "topic", "since", "mode");
    String topic = topic(frame);
    Position since = Position.NOW;
    JsonNode s = frame.get("since");
    if (s != null && !s.isNull()) {
      if (!s.isTextual()) {
        throw ApiException.badRequest("invalid_cursor", "'since' must be a string");
      }
      try {
        since = Position.parse(s.asText());
      } catch (InvalidCursorException e) {
        throw ApiException.badRequest("invalid_cursor", "'since': " + e.getMessage());
      }
    }
    boolean notifyOnly = false;
    JsonNode mode = frame.get("mode");
    if (mode != null && !mode.isNull()) {
      if (!mode.isTextual() || !(mode.asText().equals("full") || mode.asText().equals("notify"))) {
        throw ApiException.badRequest("invalid_request", "'mode' must be \"full\" or \"notify\"");
      }
      notifyOnly = mode.asText().equals("notify");
    }
    if (!principal.maySubscribe(topic)) {
      throw forbidden("subscribe to " + topic);
    }
    if (subscriptions.containsKey(topic)) {
      throw new ApiException(409, "already_subscribed", "already subscribed to " + topic
          + "; unsubscribe first to start again from another cursor");
    }
    if (subscriptions.size() >= config.ws.maxSubscriptions) {
      throw new ApiException(400, "too_many_subscriptions",
          "a connection holds at most " + config.ws.maxSubscriptions + " subscriptions");
    }
    if (!allowed(Limits.Kind.SUBSCRIBE, id)) {
      return;
    }
    Feed feed = loop.hub().feed(topic, notifyOnly, this);
    Subscription sub = new Subscription(id, feed);
    subscriptions.put(topic, sub);
    stats.wsSubscriptions.incrementAndGet();
    byFeed.put(feed, sub);
    feed.start(since);
  }

  private void unsubscribe(JsonNode id, JsonNode frame) {
    allowOnly(frame, "op", "id", "topic");
    String topic = topic(frame);
    Subscription sub = subscriptions.remove(topic);
    if (sub == null) {
      throw new ApiException(404, "not_subscribed", "not subscribed to " + topic);
    }
    stats.wsSubscriptions.decrementAndGet();
    byFeed.remove(sub.feed());
    sub.feed().close();
    reply(gen -> {
      gen.writeStringField("op", "unsubscribed");
      writeId(gen, id);
      gen.writeStringField("topic", topic);
    });
  }

  private void publish(JsonNode id, JsonNode frame) {
    allowOnly(frame, "op", "id", "topic", "events");
    String topic = topic(frame);
    if (!principal.mayPublish(topic)) {
      throw forbidden("publish to " + topic);
    }
    List<NewEvent> events = parser.parse(frame.get("events"));
    if (!allowed(Limits.Kind.PUBLISH, id)) {
      return;
    }
    pendingPublishes++;
    if (pendingPublishes >= config.ws.maxPendingPublishes) {
      // Backpressure on the publisher: read no more frames until the store catches up.
      channel.config().setAutoRead(false);
    }
    long started = System.nanoTime();
    Future.fromCompletionStage(engine.append(topic, events), loop.context()).onComplete(ar -> {
      if (pendingPublishes-- == config.ws.maxPendingPublishes && !closed) {
        channel.config().setAutoRead(true);
      }
      if (closed) {
        return;
      }
      if (ar.failed()) {
        ApiException e = Responses.toApiException(ar.cause());
        error(id, e.code(), e.getMessage());
        return;
      }
      AppendResult result = ar.result();
      metrics.published(result.appended().size(), System.nanoTime() - started);
      reply(gen -> {
        gen.writeStringField("op", "published");
        writeId(gen, id);
        PublishHandler.writeOutcome(gen, topic, result);
      });
    });
  }

  private void pong(JsonNode id) {
    reply(gen -> {
      gen.writeStringField("op", "pong");
      writeId(gen, id);
    });
  }

  private void auth(JsonNode id, JsonNode frame) {
    allowOnly(frame, "op", "id", "token");
    JsonNode token = frame.get("token");
    if (token == null || !token.isTextual() || token.asText().isEmpty()
        || token.asText().length() > Authenticator.MAX_TOKEN_LENGTH) {
      throw ApiException.badRequest("invalid_request", "'token' must be a non-empty string of at most "
          + Authenticator.MAX_TOKEN_LENGTH + " characters");
    }
    // With no authentication configured every token is as good as none: the refresh is accepted.
    CompletableFuture<Principal> verified = auth.authenticate(token.asText());
    if (verified.isDone()) {
      authenticated(id, verified);
      return;
    }
    authPending = true;
    Future.fromCompletionStage(verified, loop.context()).onComplete(ar -> {
      authPending = false;
      if (closed) {
        return;
      }
      authenticated(id, verified);
      if (!closed && pendingPublishes < config.ws.maxPendingPublishes) {
        channel.config().setAutoRead(true);
      }
      while (!authPending && !closed && !deferred.isEmpty()) {
        onText(deferred.poll());
      }
    });
  }

  /** Takes the outcome of an {@code auth} op: a new principal, or an error (and 1008 if nothing valid is left). */
  private void authenticated(JsonNode id, CompletableFuture<Principal> verified) {
    long now = System.currentTimeMillis();
    Principal next;
    try {
      next = verified.join();
      if (next.expired(now)) {
        throw new AuthFailure("the token has expired");
      }
    } catch (CompletionException | AuthFailure e) {
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      String message = cause instanceof AuthFailure ? cause.getMessage() : "the token could not be verified";
      error(id, "unauthorized", message, null);
      if (principal.expired(now) || (principal.anonymous() && principal.grants().empty())) {
        close(POLICY, "authentication failed: " + message);
      }
      return;
    }
    principal = next;
    log.principal(next);
    limitKey = limits.key(next, host);
    // Subscriptions the new credentials do not grant end now.
    for (Map.Entry<String, Subscription> e : new ArrayList<>(subscriptions.entrySet())) {
      if (!next.maySubscribe(e.getKey())) {
        Subscription sub = subscriptions.remove(e.getKey());
        stats.wsSubscriptions.decrementAndGet();
        byFeed.remove(sub.feed());
        sub.feed().close();
        error(sub.id(), "forbidden", "the new credentials do not grant " + e.getKey() + "; the subscription ended",
            e.getKey());
      }
    }
    reply(gen -> {
      gen.writeStringField("op", "authed");
      writeId(gen, id);
    });
  }

  /**
   * Spends a token of {@code kind}. A refusal is answered with {@code error rate_limited} (and
   * {@code retry_after}, in seconds); {@code limits.rate.ws_max_refusals} refusals within
   * {@code limits.rate.ws_refusal_window} close the connection with 4029.
   */
  private boolean allowed(Limits.Kind kind, JsonNode id) {
    int wait = limits.take(kind, limitKey);
    if (wait == 0) {
      return true;
    }
    long now = System.currentTimeMillis();
    if (refusals == 0 || now - refusalWindowStart > limits.wsRefusalWindowMillis()) {
      refusalWindowStart = now;
      refusals = 0;
    }
    refusals++;
    String what = kind == Limits.Kind.PUBLISH ? "publishes" : "subscriptions";
    reply(gen -> {
      gen.writeStringField("op", "error");
      writeId(gen, id);
      gen.writeStringField("code", "rate_limited");
      gen.writeStringField("message", "too many " + what + "; retry after " + wait + " s");
      gen.writeNumberField("retry_after", wait);
    });
    if (refusals >= limits.wsMaxRefusals()) {
      close(RATE_LIMITED, "rate limited; reconnect later");
    }
    return false;
  }

  private static ApiException forbidden(String what) {
    return new ApiException(403, "forbidden", "this connection's credentials do not allow it to " + what
        + "; send an auth op with a token that does");
  }

  private static void allowOnly(JsonNode frame, String... fields) {
    Iterator<String> names = frame.fieldNames();
    outer:
    while (names.hasNext()) {
      String name = names.next();
      for (String f : fields) {
        if (f.equals(name)) {
          continue outer;
        }
      }
      throw ApiException.badRequest("invalid_request", "unknown field '" + name + "' for op "
          + frame.get("op").asText());
    }
  }

  // ---- server -> client

  @Override
  public void subscribed(Feed feed, Cursor start) {
    Subscription sub = byFeed.get(feed);
    reply(gen -> {
      gen.writeStringField("op", "subscribed");
      writeId(gen, sub == null ? null : sub.id());
      gen.writeStringField("topic", feed.topic());
      gen.writeStringField("cursor", start.encode());
    });
  }

  @Override
  public void events(Feed feed, EventBatch batch, int from) {
    byte[][] frames = batch.encoded(feed.notifyOnly() ? WireFormats.WS_NOTIFY : WireFormats.WS_FULL);
    for (int i = from; i < frames.length && !closed; i++) {
      offer(frames[i]);
    }
    loop.flushSoon(out);
  }

  @Override
  public void reset(Feed feed, Cursor continueAt, String reason, boolean stateFollows) {
    send(WireFormats.resetJson(feed.topic(), continueAt, reason, stateFollows, "reset"));
  }

  @Override
  public void state(Feed feed, List<StateEntry> entries, Cursor previous, Cursor continueAt) {
    for (int i = 0; i < entries.size() && !closed; i++) {
      boolean last = continueAt != null && i == entries.size() - 1;
      offer(WireFormats.wsFrame(
          WireFormats.putJson(feed.topic(), entries.get(i), last ? continueAt : previous, !feed.notifyOnly(), "event")));
    }
    loop.flushSoon(out);
  }

  @Override
  public void failed(Feed feed, String code, String message) {
    Subscription sub = byFeed.remove(feed);
    if (sub != null && subscriptions.remove(feed.topic()) != null) {
      stats.wsSubscriptions.decrementAndGet();
    }
    error(sub == null ? null : sub.id(), code, message, null);
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
    if (closed) {
      return;
    }
    if (out.stalled(now, config.outbound.stallTimeout.toMillis())) {
      stats.stalled.increment();
      close(GOING_AWAY, "the connection took nothing for too long");
      return;
    }
    if (principal.expired(now)) {
      close(POLICY, "the token has expired; send an auth op with a new one before it does");
      return;
    }
    if (auth.enabled() && principal.anonymous() && principal.grants().empty() && now - openedAt > AUTH_TIMEOUT_MILLIS) {
      close(POLICY, "this connection must authenticate with an auth op");
      return;
    }
    if (now - lastRead > config.ws.idleTimeout.toMillis()) {
      close(GOING_AWAY, "no answer to pings");
      return;
    }
    if (now - lastPing >= config.ws.pingInterval.toMillis()) {
      lastPing = now;
      channel.writeAndFlush(Unpooled.wrappedBuffer(PING), channel.voidPromise());
    }
  }

  @Override
  public void shutdown() {
    close(RESTART, "server restart; reconnect and resume");
  }

  private void error(JsonNode id, String code, String message) {
    error(id, code, message, null);
  }

  private void error(JsonNode id, String code, String message, String topic) {
    reply(gen -> {
      gen.writeStringField("op", "error");
      writeId(gen, id);
      gen.writeStringField("code", code);
      gen.writeStringField("message", message);
      if (topic != null) {
        gen.writeStringField("topic", topic);
      }
    });
  }

  private interface Fields {
    void write(com.fasterxml.jackson.core.JsonGenerator gen) throws IOException;
  }

  private void reply(Fields fields) {
    send(Json.bytes(gen -> {
      gen.writeStartObject();
      fields.write(gen);
      gen.writeEndObject();
    }));
  }

  private static void writeId(com.fasterxml.jackson.core.JsonGenerator gen, JsonNode id) throws IOException {
    if (id != null) {
      gen.writeFieldName("id");
      gen.writeTree(id);
    }
  }

  /** Sends one message (a JSON payload) now. */
  private void send(byte[] payload) {
    offer(WireFormats.wsFrame(payload));
    out.flush();
  }

  /** Queues one complete frame; the caller flushes. */
  private void offer(byte[] frame) {
    if (closed) {
      return;
    }
    if (!out.offer(Unpooled.wrappedBuffer(frame), frame.length)) {
      stats.wsSlow.increment();
      close(SLOW_CONSUMER, "slow consumer; reconnect and resume from your last cursor");
    }
  }

  /** Starts the closing handshake: the close frame goes after what is already queued in the socket. */
  private void close(short code, String reason) {
    if (closed) {
      return;
    }
    release();
    closeSent = true;
    channel.writeAndFlush(new CloseWebSocketFrame(code, reason));
    // The client answers with its own close frame; one that does not is cut off.
    channel.eventLoop().schedule(() -> {
      channel.close();
    }, CLOSE_WAIT_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS);
  }

  private void release() {
    if (closed) {
      return;
    }
    closed = true;
    out.close();
    for (Subscription s : subscriptions.values()) {
      s.feed().close();
    }
    stats.wsSubscriptions.addAndGet(-subscriptions.size());
    subscriptions.clear();
    byFeed.clear();
    loop.remove(this);
    stats.wsConnections.decrementAndGet();
    log.end(101, out.written());
    ticket.release();
  }
}
