package io.tidings.server.grpc;

import com.google.protobuf.MessageLite;
import io.tidings.core.Engine;
import io.tidings.core.EventTypes;
import io.tidings.core.InvalidCursorException;
import io.tidings.core.NewEvent;
import io.tidings.core.Position;
import io.tidings.core.Topics;
import io.tidings.proto.v1.ChangesRequest;
import io.tidings.proto.v1.ChangesResponse;
import io.tidings.proto.v1.Mode;
import io.tidings.proto.v1.PublishRequest;
import io.tidings.proto.v1.PublishResponse;
import io.tidings.proto.v1.ServerMessage;
import io.tidings.proto.v1.StateRequest;
import io.tidings.proto.v1.StateResponse;
import io.tidings.proto.v1.SubscribeRequest;
import io.tidings.proto.v1.TopicSubscription;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.HttpApi;
import io.tidings.server.http.Responses;
import io.tidings.server.limits.Limits;
import io.tidings.server.limits.Ticket;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.EventParser;
import io.tidings.server.push.PushLoop;
import io.tidings.server.push.PushStats;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.server.GrpcProtocol;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.BiConsumer;

/**
 * The gRPC service {@code tidings.v1.Tidings} on one event loop, served by a Vert.x
 * {@link GrpcServer} that {@link HttpApi} hands every request with a gRPC content type (HTTP/2 only:
 * h2c with prior knowledge, or h2 over TLS). Each call learns who is asking from its
 * {@code authorization} metadata (a bearer API key or JWT, as the HTTP API), is metered by the same
 * {@link Limits}, and follows the rules of its HTTP counterpart; errors become statuses in
 * {@link GrpcErrors}. Unknown methods are answered {@code UNIMPLEMENTED} by Vert.x.
 */
public final class GrpcTransport {
  /** The service's name in {@code tidings.proto}. */
  public static final ServiceName SERVICE = ServiceName.create("tidings.v1", "Tidings");

  private static final ServiceMethod<PublishRequest, PublishResponse> PUBLISH = ServiceMethod.server(SERVICE,
      "Publish", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(PublishRequest.newBuilder()));
  private static final ServiceMethod<StateRequest, StateResponse> STATE = ServiceMethod.server(SERVICE,
      "State", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(StateRequest.newBuilder()));
  private static final ServiceMethod<ChangesRequest, ChangesResponse> CHANGES = ServiceMethod.server(SERVICE,
      "Changes", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(ChangesRequest.newBuilder()));
  private static final ServiceMethod<SubscribeRequest, ServerMessage> SUBSCRIBE = ServiceMethod.server(SERVICE,
      "Subscribe", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(SubscribeRequest.newBuilder()));

  private final GrpcServer server;
  private final PushLoop loop;
  private final Engine engine;
  private final EventParser parser;
  private final Metrics metrics;
  private final TidingsConfig.Push push;
  private final TidingsConfig.Pull pull;
  private final long maxPublishBytes;
  private final GrpcStats stats;
  private final PushStats pushStats;
  private final Authenticator auth;
  private final Limits limits;
  private final GrpcChanges changes;
  /** The HTTP request whose call Vert.x is dispatching right now (it dispatches synchronously). */
  private HttpServerRequest dispatching;
  private boolean dispatchingFirst;
  /** Whether a method of the service took the request being dispatched. */
  private boolean dispatched;
  private AccessLog.Entry dispatchingLog;

  public GrpcTransport(PushLoop loop, Engine engine, EventParser parser, Metrics metrics, TidingsConfig config,
      GrpcStats stats, PushStats pushStats, Authenticator auth, Limits limits, GrpcChanges changes) {
    this.loop = loop;
    this.engine = engine;
    this.parser = parser;
    this.metrics = metrics;
    this.push = config.push;
    this.pull = config.pull;
    this.stats = stats;
    this.pushStats = pushStats;
    this.auth = auth;
    this.limits = limits;
    this.changes = changes;
    this.maxPublishBytes = config.server.maxBodySize;
    GrpcServerOptions options = new GrpcServerOptions()
        .removeEnabledProtocol(GrpcProtocol.WEB)
        .removeEnabledProtocol(GrpcProtocol.WEB_TEXT)
        .removeEnabledProtocol(GrpcProtocol.TRANSCODING)
        // Publish checks a request against the size of a publish body itself (413 payload_too_large,
        // INVALID_ARGUMENT); only a message far beyond it is refused by Vert.x (RESOURCE_EXHAUSTED).
        .setMaxMessageSize(2 * config.server.maxBodySize);
    this.server = GrpcServer.server(loop.context().owner(), options);
    server.callHandler(PUBLISH, call -> serve(call, "Publish", this::publish));
    server.callHandler(STATE, call -> serve(call, "State", this::state));
    server.callHandler(CHANGES, call -> serve(call, "Changes", this::changes));
    server.callHandler(SUBSCRIBE, call -> serve(call, "Subscribe", this::subscribe));
  }

  /**
   * Whether {@code request} is a gRPC call ({@code application/grpc} with any wire format; only
   * protobuf is served, see {@link #handle}).
   */
  public static boolean owns(HttpServerRequest request) {
    String type = request.getHeader("content-type");
    return type != null && type.regionMatches(true, 0, "application/grpc", 0, 16)
        && (type.length() == 16 || type.charAt(16) == '+' || type.charAt(16) == ';');
  }

  /**
   * Serves one gRPC call. {@code firstOnConnection}: this is the first request of its connection,
   * which spends a connection token when connections are rate limited. The call is logged in
   * {@code log} when it ends.
   */
  public void handle(HttpServerRequest request, boolean firstOnConnection, AccessLog.Entry log) {
    if (!protobuf(request.getHeader("content-type"))) {
      // Subscribe writes protobuf frames encoded once for every subscriber: other wire formats
      // (application/grpc+json) are not served rather than served in part.
      request.response().putHeader("content-type", "application/grpc")
          .putHeader("grpc-status", String.valueOf(GrpcStatus.UNIMPLEMENTED.code))
          .putHeader("grpc-message", "only the protobuf wire format is served (application/grpc or application/grpc+proto)");
      answeredWithoutCall(request, log);
      request.response().end();
      return;
    }
    dispatching = request;
    dispatchingFirst = firstOnConnection;
    dispatchingLog = log;
    dispatched = false;
    try {
      server.handle(request);
    } finally {
      dispatching = null;
    }
    if (!dispatched) {
      // Vert.x answered it (an unknown method, or gRPC over HTTP/1.1): count and log it all the same.
      answeredWithoutCall(request, log);
    }
  }

  private static boolean protobuf(String contentType) {
    if (contentType == null || contentType.length() == 16) {
      return true;
    }
    String format = contentType.substring(16).split(";", 2)[0].trim().toLowerCase(java.util.Locale.ROOT);
    return format.isEmpty() || format.equals("+proto");
  }

  /** Counts and logs a request that no method of the service took, once it ends. */
  private void answeredWithoutCall(HttpServerRequest request, AccessLog.Entry log) {
    io.vertx.core.http.HttpServerResponse response = request.response();
    Runnable ended = () -> {
      stats.call("unknown", GrpcCall.statusName(response));
      log.end(response.getStatusCode(), response.bytesWritten());
    };
    if (response.ended()) {
      ended.run();
    } else {
      response.endHandler(v -> ended.run());
    }
  }

  private interface Body<Req, Resp> {
    void run(GrpcCall caller, Req message, GrpcServerResponse<Req, Resp> response);
  }

  /** Reads the call's one message, authenticates it, meters it and runs {@code body}; any failure ends the call. */
  private <Req, Resp> void serve(GrpcServerRequest<Req, Resp> call, String method, Body<Req, Resp> body) {
    HttpServerRequest http = dispatching;
    GrpcServerResponse<Req, Resp> response = call.response();
    if (http == null) {
      // Only reachable if Vert.x stopped dispatching calls synchronously from handle().
      GrpcErrors.fail(response, new IllegalStateException("a gRPC call arrived outside GrpcTransport.handle"));
      return;
    }
    dispatched = true;
    GrpcCall caller = new GrpcCall(method, http, dispatchingFirst, dispatchingLog, stats);
    call.last().onFailure(e -> {
      // No message before the end of the request, or bytes that are not one: answer, never hang.
      if (!caller.closed()) {
        GrpcErrors.fail(response, ApiException.badRequest("invalid_request",
            "the request must carry exactly one valid " + method + "Request message"));
      }
    }).onSuccess(message -> {
      try {
        principal(call.headers().get("authorization"), response, principal -> {
          String host = HttpApi.host(http);
          caller.identify(principal, host, limits.key(principal, host));
          body.run(caller, message, response);
        });
      } catch (RuntimeException e) {
        GrpcErrors.fail(response, e);
      }
    });
  }

  /**
   * Runs {@code then} with the principal of the {@code authorization} metadata: at once without
   * authentication, without a token, or when the token is verified without waiting; otherwise once a
   * JWK set has been loaded. A bad token ends the call {@code UNAUTHENTICATED}.
   */
  private void principal(String authorization, GrpcServerResponse<?, ?> response,
      java.util.function.Consumer<Principal> then) {
    if (!auth.enabled()) {
      then.accept(Principal.OPEN);
      return;
    }
    if (authorization == null) {
      then.accept(auth.anonymous());
      return;
    }
    String h = authorization.trim();
    if (h.length() < 8 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw Access.unauthorized("only authorization: Bearer <token> is understood", true);
    }
    String token = h.substring(7).trim();
    if (token.isEmpty() || token.length() > Authenticator.MAX_TOKEN_LENGTH) {
      throw Access.unauthorized("the bearer token must be 1-" + Authenticator.MAX_TOKEN_LENGTH + " characters", true);
    }
    CompletableFuture<Principal> verified = auth.authenticate(token);
    if (verified.isDone()) {
      Principal principal;
      try {
        principal = verified.join();
      } catch (CompletionException e) {
        throw Access.rejected(e.getCause());
      }
      then.accept(principal);
      return;
    }
    Future.fromCompletionStage(verified, loop.context()).onComplete(ar -> {
      try {
        if (ar.failed()) {
          throw Access.rejected(ar.cause());
        }
        then.accept(ar.result());
      } catch (RuntimeException e) {
        GrpcErrors.fail(response, e);
      }
    });
  }

  /**
   * Spends a connection token for the first call of a connection and for every stream (as the HTTP
   * API does for SSE and WebSocket), then one of {@code kind}; throws {@code 429 rate_limited}.
   */
  private void meter(GrpcCall caller, Limits.Kind kind, boolean stream) {
    if (caller.firstOnConnection || stream) {
      limits.check(Limits.Kind.CONNECTION, caller.key(), false);
    }
    limits.check(kind, caller.key(), false);
  }

  static String topic(String topic) {
    String problem = Topics.problem(topic);
    if (problem != null) {
      throw ApiException.badRequest("invalid_topic", problem);
    }
    return topic;
  }

  /** An optional start position: {@code fallback} when empty. */
  static Position position(String field, String text, Position fallback) {
    if (text.isEmpty()) {
      return fallback;
    }
    try {
      return Position.parse(text);
    } catch (InvalidCursorException e) {
      throw ApiException.badRequest("invalid_cursor", "'" + field + "': " + e.getMessage());
    }
  }

  /** Whether {@code mode} asks for notify mode; {@code fallback} for unspecified. */
  static boolean notifyMode(Mode mode, boolean fallback) {
    return switch (mode) {
      case MODE_UNSPECIFIED -> fallback;
      case MODE_FULL -> false;
      case MODE_NOTIFY -> true;
      default -> throw ApiException.badRequest("invalid_parameter", "'mode' must be MODE_FULL or MODE_NOTIFY");
    };
  }

  /** {@code value}, or {@code fallback} for 0, refusing more than {@code max}. */
  static int limit(int value, int fallback, int max) {
    if (value == 0) {
      return fallback;
    }
    if (value < 0 || value > max) {
      throw ApiException.badRequest("invalid_parameter", "'limit' must be from 1 to " + max);
    }
    return value;
  }

  // ---- Publish

  private void publish(GrpcCall caller, PublishRequest request, GrpcServerResponse<PublishRequest, PublishResponse> response) {
    meter(caller, Limits.Kind.PUBLISH, false);
    if (request.getSerializedSize() > maxPublishBytes) {
      throw new ApiException(413, "payload_too_large",
          "a publish request may have at most " + maxPublishBytes + " bytes (server.max_body_size)");
    }
    String topic = topic(request.getTopic());
    Access.requirePublish(caller.principal(), topic);
    List<NewEvent> events = parser.parse(ProtoEvents.publishBody(request.getEventsList()));
    long started = System.nanoTime();
    Future.fromCompletionStage(engine.append(topic, events), loop.context()).onComplete(ar -> {
      if (ar.failed()) {
        GrpcErrors.fail(response, ar.cause());
        return;
      }
      metrics.published(ar.result().appended().size(), System.nanoTime() - started);
      end(response, ProtoEvents.published(topic, ar.result()));
    });
  }

  private static <Resp extends MessageLite> void end(GrpcServerResponse<?, Resp> response, Resp message) {
    try {
      response.end(message);
    } catch (IllegalStateException cancelled) {
      // The client went away while the answer was being prepared.
    }
  }

  // ---- State

  private void state(GrpcCall caller, StateRequest request, GrpcServerResponse<StateRequest, StateResponse> response) {
    meter(caller, Limits.Kind.POLL, false);
    String topic = topic(request.getTopic());
    Access.requireSubscribe(caller.principal(), topic);
    int limit = limit(request.getLimit(), pull.stateDefaultLimit, pull.stateMaxLimit);
    String afterKey = request.hasAfterKey() ? request.getAfterKey() : null;
    if (afterKey != null && afterKey.length() > EventTypes.MAX_KEY_LENGTH) {
      throw ApiException.badRequest("invalid_parameter", "'after_key' is longer than " + EventTypes.MAX_KEY_LENGTH
          + " characters");
    }
    limits.checkPollPace(caller.key(), "grpc:State", topic, afterKey == null ? "" : afterKey);
    Future.fromCompletionStage(engine.state(topic, afterKey, limit), loop.context()).onComplete(ar -> {
      if (ar.failed()) {
        GrpcErrors.fail(response, ar.cause());
        return;
      }
      StateResponse.Builder b = StateResponse.newBuilder()
          .setTopic(topic)
          .setCursor(ar.result().head().cursor().encode());
      for (io.tidings.core.StateEntry e : ar.result().entries()) {
        b.addEntries(ProtoEvents.stateEntry(e));
      }
      if (ar.result().nextKey() != null) {
        b.setNextKey(ar.result().nextKey());
      }
      end(response, b.build());
    });
  }

  // ---- Changes

  private void changes(GrpcCall caller, ChangesRequest request,
      GrpcServerResponse<ChangesRequest, ChangesResponse> response) {
    meter(caller, Limits.Kind.POLL, false);
    String topic = topic(request.getTopic());
    Access.requireSubscribe(caller.principal(), topic);
    Position since = position("since", request.getSince(), Position.EARLIEST);
    int limit = limit(request.getLimit(), pull.changesDefaultLimit, pull.changesMaxLimit);
    long maxWait = pull.maxWait.toSeconds();
    if (request.getWaitSeconds() > maxWait) {
      throw ApiException.badRequest("invalid_parameter", "'wait_seconds' must be from 0 to " + maxWait);
    }
    boolean notifyOnly = notifyMode(request.getMode(), false);
    limits.checkPollPace(caller.key(), "grpc:Changes", topic, request.getSince().isEmpty() ? "earliest" : request.getSince());
    changes.read(topic, since, limit, request.getWaitSeconds() * 1000L, notifyOnly, caller.principal(), caller.host(),
        caller, (page, failure) -> {
          if (failure != null) {
            GrpcErrors.fail(response, failure);
            return;
          }
          end(response, page);
        });
  }

  // ---- Subscribe

  private void subscribe(GrpcCall caller, SubscribeRequest request,
      GrpcServerResponse<SubscribeRequest, ServerMessage> response) {
    if (request.getTopicsCount() == 0) {
      throw ApiException.badRequest("invalid_request", "name at least one topic to subscribe to");
    }
    int max = push.grpc.maxTopics;
    if (request.getTopicsCount() > max) {
      throw ApiException.badRequest("too_many_topics", "a Subscribe call carries at most " + max + " topics");
    }
    boolean notifyByDefault = notifyMode(request.getMode(), false);
    List<GrpcSubscription.Topic> topics = new ArrayList<>(request.getTopicsCount());
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < request.getTopicsCount(); i++) {
      TopicSubscription s = request.getTopics(i);
      String topic = topic(s.getTopic());
      if (!seen.add(topic)) {
        throw ApiException.badRequest("invalid_request", "topic " + topic + " is named twice");
      }
      Position since = position("topics[" + i + "].since", s.getSince(), Position.NOW);
      boolean notifyOnly = notifyMode(s.getMode(), notifyByDefault);
      topics.add(new GrpcSubscription.Topic(topic, s.getSince().isEmpty() ? "now" : s.getSince(), since, notifyOnly,
          s.getMode()));
    }
    // Every grant is checked before anything is sent: a call is refused whole or served whole.
    for (GrpcSubscription.Topic t : topics) {
      Access.requireSubscribe(caller.principal(), t.name);
    }
    Access.requireUnexpired(caller.principal(), System.currentTimeMillis());
    meter(caller, Limits.Kind.SUBSCRIBE, true);
    Ticket ticket = limits.admit(caller.key());
    if (ticket == null) {
      throw ApiException.unavailable("the server is at capacity; call again later", Responses.retryAfterSeconds());
    }
    new GrpcSubscription(loop, response, caller, push, stats, pushStats.droppedCounter(),
        caller.principal(), ticket, request, topics).start();
  }
}
