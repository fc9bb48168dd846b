package io.tidings.server.graphql;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import graphql.ExecutionResult;
import io.tidings.server.auth.AuthFailure;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Json;
import io.tidings.server.http.Responses;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.pull.ChangeReader;
import io.tidings.server.push.PushConnection;
import io.tidings.server.push.PushLoop;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.reactivestreams.Publisher;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;

/**
 * One WebSocket speaking graphql-transport-ws (the protocol of the {@code graphql-ws} library):
 * {@code connection_init} (credentials in its payload) and {@code connection_ack}, {@code ping}/
 * {@code pong}, {@code subscribe}, {@code next}, {@code error} and {@code complete}. Loop-confined.
 *
 * <p>Close codes: 4400 invalid message, 4401 unauthorized (bad or missing credentials, or an
 * operation before the acknowledgement), 4403 the token expired while connected, 4406 the
 * subprotocol was not asked for, 4408 no {@code connection_init} in time, 4409 a subscription id
 * already in use, 4429 a second {@code connection_init}, 4008 slow consumer (reconnect and resume
 * from the last cursor), 1001 a peer that answers nothing, 1012 server restart.
 *
 * <p>Delivery honours the socket: a subscription is only asked for its next event while the
 * socket's write queue is not full, and the socket is not read while it is, so neither side can
 * make the server buffer without bound.
 */
final class GraphQLWsConnection implements PushConnection, Caller.Connection {
  static final String SUBPROTOCOL = "graphql-transport-ws";
  static final short BAD_REQUEST = 4400;
  static final short UNAUTHORIZED = 4401;
  static final short FORBIDDEN = 4403;
  static final short SUBPROTOCOL_NOT_ACCEPTABLE = 4406;
  static final short INIT_TIMEOUT = 4408;
  static final short SUBSCRIBER_EXISTS = 4409;
  static final short TOO_MANY_INITS = 4429;
  static final short SLOW_CONSUMER = 4008;
  static final short GOING_AWAY = 1001;
  static final short RESTART = 1012;
  /** Events a subscription may have asked for and not yet written. */
  private static final int WINDOW = 16;
  private static final int MAX_ID_LENGTH = 128;

  private enum Phase { WAITING, INITIALIZING, READY }

  private final ServerWebSocket socket;
  private final GraphQLEngine engine;
  private final PushLoop loop;
  private final ChangeReader reader;
  private final Authenticator auth;
  private final Limits limits;
  private final String host;
  private final Ticket ticket;
  private final AccessLog.Entry log;
  private final TidingsConfig config;
  private final GraphQLStats stats;
  private final Map<String, Operation> operations = new HashMap<>();
  private final BufferBudget budget;
  private Principal principal;
  private Phase phase = Phase.WAITING;
  private final long openedAt;
  private long lastRead;
  private long lastPing;
  private long blockedSince;
  private long written;
  private boolean closed;

  GraphQLWsConnection(ServerWebSocket socket, GraphQLEngine engine, PushLoop loop, ChangeReader reader,
      Authenticator auth, Limits limits, Principal principal, String host, Ticket ticket, AccessLog.Entry log) {
    this.reader = reader;
    this.socket = socket;
    this.engine = engine;
    this.loop = loop;
    this.auth = auth;
    this.limits = limits;
    this.principal = principal;
    this.host = host;
    this.ticket = ticket;
    this.log = log;
    this.config = engine.config();
    this.stats = engine.stats();
    this.budget = new BufferBudget(config.push.outbound.maxMessages, config.push.outbound.maxBytes);
    long now = System.currentTimeMillis();
    this.openedAt = now;
    this.lastRead = now;
    this.lastPing = now;
  }

  /** Starts serving the socket (already upgraded, on this loop). */
  void start() {
    stats.connections.incrementAndGet();
    loop.add(this);
    socket.closeHandler(v -> release());
    socket.exceptionHandler(e -> release());
    socket.pongHandler(b -> lastRead = System.currentTimeMillis());
    socket.drainHandler(v -> drained());
    socket.binaryMessageHandler(b -> close(BAD_REQUEST, "binary messages are not part of graphql-transport-ws"));
    socket.textMessageHandler(this::onText);
    if (!SUBPROTOCOL.equals(socket.subProtocol())) {
      close(SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable: ask for " + SUBPROTOCOL);
    }
  }

  // ---- client -> server

  private void onText(String text) {
    lastRead = System.currentTimeMillis();
    if (closed) {
      return;
    }
    JsonNode message;
    try {
      message = Json.MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      close(BAD_REQUEST, "Invalid message received: not JSON");
      return;
    }
    JsonNode type = message == null ? null : message.get("type");
    if (type == null || !type.isTextual()) {
      close(BAD_REQUEST, "Invalid message received: no type");
      return;
    }
    switch (type.textValue()) {
      case "connection_init" -> init(message.get("payload"));
      case "ping" -> send(message("pong", null, payloadOrNull(message)));
      case "pong" -> {
        // An answer to our ping, or a unidirectional heartbeat: proof of life is all it carries.
      }
      case "subscribe" -> subscribe(message);
      case "complete" -> complete(message);
      default -> close(BAD_REQUEST, "Invalid message received: unexpected type " + abbreviate(type.textValue()));
    }
  }

  private static Object payloadOrNull(JsonNode message) {
    JsonNode payload = message.get("payload");
    return payload == null || payload.isNull() ? null : payload;
  }

  private void init(JsonNode payload) {
    if (phase != Phase.WAITING) {
      close(TOO_MANY_INITS, "Too many initialisation requests");
      return;
    }
    phase = Phase.INITIALIZING;
    String token;
    try {
      token = token(payload);
    } catch (AuthFailure e) {
      close(UNAUTHORIZED, "Unauthorized: " + e.getMessage());
      return;
    }
    if (token == null) {
      accept(principal);
      return;
    }
    CompletableFuture<Principal> verified = auth.authenticate(token);
    Future.fromCompletionStage(verified, loop.context()).onComplete(ar -> {
      if (closed) {
        return;
      }
      if (ar.failed()) {
        Throwable cause = ar.cause() instanceof java.util.concurrent.CompletionException c && c.getCause() != null
            ? c.getCause() : ar.cause();
        close(UNAUTHORIZED, "Unauthorized: " + (cause instanceof AuthFailure ? cause.getMessage()
            : "the token could not be verified"));
        return;
      }
      accept(ar.result());
    });
  }

  /**
   * The token of a {@code connection_init} payload: {@code {"token": "..."}}, or an
   * {@code Authorization} field (also inside {@code headers}) holding {@code Bearer <token>}.
   */
  static String token(JsonNode payload) {
    if (payload == null || payload.isNull()) {
      return null;
    }
    if (!payload.isObject()) {
      throw new AuthFailure("the connection_init payload must be an object");
    }
    JsonNode token = payload.get("token");
    if (token != null && !token.isNull()) {
      if (!token.isTextual() || token.textValue().isEmpty()) {
        throw new AuthFailure("'token' must be a non-empty string");
      }
      return token.textValue();
    }
    JsonNode headers = payload.get("headers");
    for (JsonNode holder : headers != null && headers.isObject() ? List.of(payload, headers) : List.of(payload)) {
      for (String name : List.of("Authorization", "authorization")) {
        JsonNode value = holder.get(name);
        if (value != null && !value.isNull()) {
          String h = value.isTextual() ? value.textValue().trim() : "";
          if (h.length() < 8 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new AuthFailure("Authorization must be 'Bearer <token>'");
          }
          return h.substring(7).trim();
        }
      }
    }
    return null;
  }

  private void accept(Principal next) {
    long now = System.currentTimeMillis();
    if (next.expired(now)) {
      close(UNAUTHORIZED, "Unauthorized: the token has expired");
      return;
    }
    if (auth.enabled() && next.anonymous() && next.grants().empty()) {
      close(UNAUTHORIZED, "Unauthorized: send credentials in the connection_init payload, e.g. {\"token\": \"...\"}");
      return;
    }
    principal = next;
    log.principal(next);
    phase = Phase.READY;
    send(message("connection_ack", null, null));
  }

  private void subscribe(JsonNode message) {
    if (phase != Phase.READY) {
      close(UNAUTHORIZED, "Unauthorized");
      return;
    }
    JsonNode idNode = message.get("id");
    if (idNode == null || !idNode.isTextual() || idNode.textValue().isEmpty()
        || idNode.textValue().length() > MAX_ID_LENGTH) {
      close(BAD_REQUEST, "Invalid message received: subscribe needs an id (a string of 1-" + MAX_ID_LENGTH + " characters)");
      return;
    }
    String id = idNode.textValue();
    if (operations.containsKey(id)) {
      close(SUBSCRIBER_EXISTS, "Subscriber for " + abbreviate(id) + " already exists");
      return;
    }
    JsonNode payload = message.get("payload");
    JsonNode query = payload == null ? null : payload.get("query");
    JsonNode name = payload == null ? null : payload.get("operationName");
    JsonNode variables = payload == null ? null : payload.get("variables");
    if (query == null || !query.isTextual() || (name != null && !name.isNull() && !name.isTextual())
        || (variables != null && !variables.isNull() && !variables.isObject())) {
      close(BAD_REQUEST, "Invalid message received: subscribe needs a payload with a query string"
          + " (and optionally operationName and an object of variables)");
      return;
    }
    if (operations.size() >= config.push.graphql.maxSubscriptions) {
      sendErrors(id, List.of(GraphQLErrors.specification(GraphQLErrors.of(new ApiException(400,
          "too_many_subscriptions", "a connection holds at most " + config.push.graphql.maxSubscriptions
          + " operations; complete one first")))));
      return;
    }
    if (principal.expired(lastRead)) {
      close(FORBIDDEN, "Forbidden: the token has expired; connect again with a new one");
      return;
    }
    Operation op = new Operation(id);
    operations.put(id, op);
    Map<String, Object> vars = variables == null || variables.isNull() ? null
        : Json.MAPPER.convertValue(variables, Json.MAPPER.getTypeFactory().constructMapType(Map.class, String.class,
            Object.class));
    Caller caller = new Caller(principal, host, limits.key(principal, host), loop, reader, this);
    CompletableFuture<ExecutionResult> result = engine.execute(query.textValue(),
        name == null || name.isNull() ? null : name.textValue(), vars, caller);
    Future.fromCompletionStage(result, loop.context()).onComplete(ar -> op.executed(ar.failed() ? null : ar.result(),
        ar.cause()));
  }

  private void complete(JsonNode message) {
    JsonNode id = message.get("id");
    if (id == null || !id.isTextual()) {
      close(BAD_REQUEST, "Invalid message received: complete needs an id");
      return;
    }
    Operation op = operations.remove(id.textValue());
    if (op != null) {
      op.cancel();
    }
  }

  // ---- one operation

  /** A subscribe message being executed, and the subscription it became. */
  private final class Operation implements Subscriber<ExecutionResult> {
    final String id;
    Subscription subscription;
    /** Events taken from the subscription that the socket had no room to ask again for. */
    int owed;
    boolean cancelled;
    /** Whether this operation is counted in {@code tidings_push_subscriptions_graphql}. */
    boolean counted;

    Operation(String id) {
      this.id = id;
    }

    void executed(ExecutionResult result, Throwable failure) {
      if (cancelled || closed) {
        if (result != null && result.getData() instanceof Publisher<?> p) {
          // Completed meanwhile: start and stop it at once so that it releases what it holds.
          p.subscribe(new Cancelling());
        }
        return;
      }
      if (failure != null) {
        operations.remove(id);
        sendErrors(id, List.of(GraphQLErrors.specification(GraphQLErrors.of(Responses.toApiException(failure)))));
        return;
      }
      if (result.getData() instanceof Publisher<?> publisher) {
        counted = true;
        stats.subscriptions.incrementAndGet();
        @SuppressWarnings("unchecked")
        Publisher<ExecutionResult> events = (Publisher<ExecutionResult>) publisher;
        events.subscribe(this);
        return;
      }
      operations.remove(id);
      if (!result.getErrors().isEmpty() && result.getData() == null) {
        sendErrors(id, GraphQLErrors.specification(result.getErrors()));
        return;
      }
      send(message("next", id, specification(result)));
      send(message("complete", id, null));
    }

    @Override
    public void onSubscribe(Subscription s) {
      subscription = s;
      if (cancelled || closed) {
        s.cancel();
      } else {
        s.request(WINDOW);
      }
    }

    @Override
    public void onNext(ExecutionResult result) {
      if (cancelled || closed) {
        return;
      }
      send(message("next", id, specification(result)));
      if (socket.writeQueueFull()) {
        owed++;
      } else {
        subscription.request(1);
      }
    }

    @Override
    public void onError(Throwable t) {
      if (cancelled || closed) {
        return;
      }
      end();
      sendErrors(id, List.of(GraphQLErrors.specification(GraphQLErrors.of(Responses.toApiException(t)))));
    }

    @Override
    public void onComplete() {
      if (cancelled || closed) {
        return;
      }
      end();
      send(message("complete", id, null));
    }

    /** The socket has room again: ask for what was held back. */
    void resume() {
      if (owed > 0 && subscription != null && !cancelled) {
        int n = owed;
        owed = 0;
        subscription.request(n);
      }
    }

    /** The subscription ended by itself (completed or failed). */
    private void end() {
      operations.remove(id, this);
      cancelled = true;
      uncount();
    }

    /** The client completed it, or the connection closes. */
    void cancel() {
      if (cancelled) {
        return;
      }
      cancelled = true;
      uncount();
      if (subscription != null) {
        subscription.cancel();
      }
    }

    private void uncount() {
      if (counted) {
        counted = false;
        stats.subscriptions.decrementAndGet();
      }
    }
  }

  /** Cancels a subscription nobody wants any more. */
  private static final class Cancelling implements Subscriber<Object> {
    @Override
    public void onSubscribe(Subscription s) {
      s.cancel();
    }

    @Override
    public void onNext(Object o) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onComplete() {}
  }

  // ---- server -> client

  private static Map<String, Object> specification(ExecutionResult result) {
    Map<String, Object> spec = new LinkedHashMap<>(result.toSpecification());
    if (!result.getErrors().isEmpty()) {
      spec.put("errors", GraphQLErrors.specification(result.getErrors()));
    }
    return spec;
  }

  private void sendErrors(String id, List<Map<String, Object>> errors) {
    send(message("error", id, errors));
  }

  private static Map<String, Object> message(String type, String id, Object payload) {
    Map<String, Object> m = new LinkedHashMap<>(4);
    if (id != null) {
      m.put("id", id);
    }
    m.put("type", type);
    if (payload != null) {
      m.put("payload", payload);
    }
    return m;
  }

  private void send(Map<String, Object> message) {
    if (closed) {
      return;
    }
    String text;
    try {
      text = Json.MAPPER.writeValueAsString(message);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a GraphQL message could not be encoded", e);
    }
    written += text.length();
    socket.writeTextMessage(text);
    if (socket.writeQueueFull() && blockedSince == 0) {
      // Read nothing more until the client takes what it was sent: requests make answers.
      blockedSince = System.currentTimeMillis();
      socket.pause();
    }
  }

  private void drained() {
    if (closed) {
      return;
    }
    if (blockedSince != 0) {
      blockedSince = 0;
      socket.resume();
    }
    for (Operation op : new ArrayList<>(operations.values())) {
      if (socket.writeQueueFull()) {
        return;
      }
      op.resume();
    }
  }

  // ---- lifecycle

  @Override
  public BufferBudget budget() {
    return budget;
  }

  @Override
  public void slowConsumer() {
    if (closed) {
      return;
    }
    stats.slow.increment();
    close(SLOW_CONSUMER, "slow consumer; reconnect and resume from your last cursor");
  }

  @Override
  public void tick(long now) {
    if (closed) {
      return;
    }
    if (phase != Phase.READY && now - openedAt > config.push.graphql.connectionInitTimeout.toMillis()) {
      close(INIT_TIMEOUT, "Connection initialisation timeout");
      return;
    }
    if (blockedSince != 0 && now - blockedSince > config.push.outbound.stallTimeout.toMillis()) {
      stats.stalled.increment();
      close(GOING_AWAY, "the connection took nothing for too long");
      return;
    }
    if (phase == Phase.READY && principal.expired(now)) {
      close(FORBIDDEN, "Forbidden: the token has expired; connect again with a new one");
      return;
    }
    if (blockedSince == 0 && now - lastRead > config.push.ws.idleTimeout.toMillis()) {
      close(GOING_AWAY, "no answer to pings");
      return;
    }
    if (now - lastPing >= config.push.ws.pingInterval.toMillis()) {
      lastPing = now;
      socket.writePing(Buffer.buffer());
    }
  }

  @Override
  public void shutdown() {
    close(RESTART, "server restart; reconnect and resume");
  }

  private void close(short code, String reason) {
    if (closed) {
      return;
    }
    release();
    // A close reason is at most 123 bytes of UTF-8.
    socket.close(code, abbreviate(reason));
  }

  private void release() {
    if (closed) {
      return;
    }
    closed = true;
    for (Operation op : operations.values()) {
      op.cancel();
    }
    operations.clear();
    loop.remove(this);
    stats.connections.decrementAndGet();
    log.end(101, written);
    ticket.release();
  }

  /** {@code text}, cut to fit a close frame's reason (at most 123 bytes of UTF-8). */
  private static String abbreviate(String text) {
    String out = text;
    while (out.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 120) {
      out = out.substring(0, out.length() - 8);
    }
    return out.length() == text.length() ? text : out + "...";
  }
}
