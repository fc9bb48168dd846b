package io.tidings.server.http;

import io.tidings.server.admin.AdminHandler;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.grpc.GrpcTransport;
import io.tidings.server.graphql.GraphQLApi;
import io.tidings.server.ops.AccessLog;
import io.tidings.server.limits.Limits;
import io.tidings.server.ops.HealthHandler;
import io.tidings.server.ops.Metrics;
import io.tidings.server.publish.PublishHandler;
import io.tidings.server.pull.ChangesHandler;
import io.tidings.server.pull.StateHandler;
import io.tidings.server.pull.TopicsHandler;
import io.tidings.server.push.SseTransport;
import io.tidings.server.push.WsTransport;
import io.tidings.server.webhooks.WebhooksApi;
import io.tidings.server.webpush.WebPushApi;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Routes requests on one event loop to the handler of their path. Plain {@code switch} dispatch:
 * the route table is small and this is the hottest code in the server.
 *
 * <p>Every API route learns who is asking first: {@link Authenticator} turns the request's bearer
 * token (or its absence) into a {@link Principal}, which the handler then checks per topic with
 * {@link Access}. {@code /healthz}, {@code /readyz} and the static files need no credentials.
 *
 * <p>Every answer is counted ({@code tidings_http_requests_total}, and for polls
 * {@code tidings_polls_total}) and, when the access log is on, logged once it is complete.
 */
public final class HttpApi {
  private static final CharSequence GET_HEAD = HttpHeaders.createOptimized("GET, HEAD");
  private static final CharSequence POST = HttpHeaders.createOptimized("POST");
  private static final CharSequence GET = HttpHeaders.createOptimized("GET");
  private static final CharSequence PROMETHEUS = HttpHeaders.createOptimized("text/plain; version=0.0.4; charset=utf-8");

  private final Context context;
  private final PublishHandler publish;
  private final StateHandler state;
  private final ChangesHandler changes;
  private final TopicsHandler topics;
  private final HealthHandler health;
  private final Metrics metrics;
  private final Cors cors;
  private final WorkerExecutor scraper;
  private final SseTransport sse;
  private final WsTransport ws;
  private final StaticFiles files;
  private final Authenticator auth;
  private final AdminHandler admin;
  private final AccessLog accessLog;
  private final Limits limits;
  private final ConnectionWatch watch;
  private final WebhooksApi webhooks;
  private final WebPushApi webpush;
  private GrpcTransport grpc;
  private final GraphQLApi graphql;

  public HttpApi(Context context, PublishHandler publish, StateHandler state, ChangesHandler changes,
      TopicsHandler topics, SseTransport sse, WsTransport ws, HealthHandler health, Metrics metrics, Cors cors,
      WorkerExecutor scraper, StaticFiles files, Authenticator auth, AdminHandler admin, AccessLog accessLog,
      Limits limits, ConnectionWatch watch, WebhooksApi webhooks, WebPushApi webpush, GraphQLApi graphql) {
    this.graphql = graphql;
    this.webhooks = webhooks;
    this.webpush = webpush;
    this.admin = admin;
    this.accessLog = accessLog;
    this.limits = limits;
    this.watch = watch;
    this.files = files;
    this.auth = auth;
    this.sse = sse;
    this.ws = ws;
    this.cors = cors;
    this.scraper = scraper;
    this.context = context;
    this.publish = publish;
    this.state = state;
    this.changes = changes;
    this.topics = topics;
    this.health = health;
    this.metrics = metrics;
  }

  /** Serves gRPC calls (content type {@code application/grpc}) with {@code grpc}, ahead of the REST routes. */
  public HttpApi withGrpc(GrpcTransport grpc) {
    this.grpc = grpc;
    return this;
  }

  /** Handles one request; never throws. */
  public void handle(HttpServerRequest request) {
    if (grpc != null && GrpcTransport.owns(request)) {
      // gRPC has its own statuses, auth metadata and limits; CORS and HTTP methods do not apply.
      grpc.handle(request, watch.firstRequest(request), accessLog.begin(request));
      return;
    }
    String path = request.path();
    HttpMethod method = request.method();
    boolean read = method == HttpMethod.GET || method == HttpMethod.HEAD;
    String route = route(path);
    HttpServerResponse response = request.response();
    AccessLog.Entry log = accessLog.begin(request);
    response.endHandler(v -> {
      int status = response.getStatusCode();
      metrics.request(route, status);
      if (route.equals("/v1/state")) {
        metrics.poll("state", status);
      } else if (route.equals("/v1/changes")) {
        metrics.poll("changes", status);
      }
      log.end(status, response.bytesWritten());
    });
    boolean firstOnConnection = watch.firstRequest(request);
    try {
      if (route.equals("other")) {
        Responses.error(response, new ApiException(404, "not_found", "no such endpoint: " + path));
        return;
      }
      if (Cors.isPreflight(request)) {
        cors.preflight(request);
        return;
      }
      boolean originAllowed = cors.decorate(request);
      boolean publishing = route.equals("/v1/events");
      boolean upgrading = route.equals("/v1/ws");
      boolean managing = route.equals(WebhooksApi.PREFIX) || route.equals(WebPushApi.PREFIX)
          || route.equals(GraphQLApi.PATH);
      if (!managing && (publishing ? method != HttpMethod.POST : upgrading ? method != HttpMethod.GET : !read)) {
        notAllowed(response, publishing ? POST : upgrading ? GET : GET_HEAD);
        return;
      }
      if (!originAllowed && (upgrading || route.equals("/v1/sse") || route.equals("/admin/stream")
          || (route.equals(GraphQLApi.PATH) && GraphQLApi.upgrading(request)))) {
        // Unlike a fetch, a WebSocket or a stream is not protected by the browser's CORS check.
        Responses.error(response, new ApiException(403, "forbidden", "this origin may not use the API"));
        return;
      }
      switch (route) {
        case "/healthz" -> health.healthz(request);
        case "/readyz" -> health.readyz(request, context);
        case "static" -> files.handle(request);
        default -> withPrincipal(request, principal -> {
          log.principal(principal);
          if (!limits.checksRequests() || route.equals("/metrics") || limit(route, request, principal, firstOnConnection)) {
            dispatch(route, request, principal, log);
          }
        });
      }
    } catch (RuntimeException e) {
      Responses.error(response, e);
    }
  }

  private void dispatch(String route, HttpServerRequest request, Principal principal, AccessLog.Entry log) {
    switch (route) {
      case "/v1/events" -> publish.handle(request, context, principal);
      case "/v1/state" -> state.handle(request, context, principal);
      case "/v1/changes" -> changes.handle(request, principal);
      case "/v1/topics" -> topics.handle(request, context, principal);
      case "/v1/sse" -> sse.handle(request, principal, log);
      case "/v1/ws" -> ws.handle(request, principal, log);
      case "/metrics" -> {
        Access.requireAdmin(principal);
        scrape(request.response());
      }
      case "/admin" -> admin.page(request, principal);
      case "/admin/stream" -> admin.stream(request, principal);
      case "/admin/snapshot" -> admin.snapshot(request, principal);
      case "/admin/topics" -> admin.topics(request, principal);
      case WebhooksApi.PREFIX -> webhooks.handle(request, principal);
      case WebPushApi.PREFIX -> webpush.handle(request, principal);
      case GraphQLApi.PATH -> graphql.handle(request, principal, log);
      default -> throw new IllegalStateException("unrouted " + route);
    }
  }

  /**
   * Spends the request's tokens ({@code limits.rate}) and checks its polling pace
   * ({@code limits.poll_advice_factor}); throws {@code 429 rate_limited} with {@code Retry-After}.
   * The first request of a connection, and every SSE stream and WebSocket upgrade, is a new connection;
   * a new connection over the rate is answered and closed. Returns whether to serve the request.
   */
  private boolean limit(String route, HttpServerRequest request, Principal principal, boolean firstOnConnection) {
    String key = limits.key(principal, host(request));
    boolean push = route.equals("/v1/sse") || route.equals("/v1/ws")
        || (route.equals(GraphQLApi.PATH) && GraphQLApi.upgrading(request));
    if (firstOnConnection || push) {
      int wait = limits.take(Limits.Kind.CONNECTION, key);
      if (wait > 0) {
        ApiException refused = Limits.rateLimited(Limits.Kind.CONNECTION, wait, firstOnConnection);
        if (!firstOnConnection) {
          throw refused;
        }
        Responses.error(request.response(), refused).onComplete(ar -> request.connection().close());
        return false;
      }
    }
    switch (route) {
      case "/v1/events" -> limits.check(Limits.Kind.PUBLISH, key, false);
      case "/v1/sse" -> limits.check(Limits.Kind.SUBSCRIBE, key, false);
      case "/v1/topics" -> limits.check(Limits.Kind.POLL, key, false);
      case "/v1/state", "/v1/changes" -> {
        limits.check(Limits.Kind.POLL, key, false);
        String topic = request.getParam("topic");
        if (topic != null) {
          String position = route.equals("/v1/changes")
              ? String.valueOf(request.getParam("since", "earliest"))
              : request.getParam("after_key", "") + '\n' + request.getHeader(Headers.IF_NONE_MATCH);
          limits.checkPollPace(key, route, topic, position);
        }
      }
      default -> {
        // nothing more to meter
      }
    }
    return true;
  }

  /** The client's IP address as the socket sees it. */
  public static String host(HttpServerRequest request) {
    io.vertx.core.net.SocketAddress remote = request.remoteAddress();
    return remote == null ? null : remote.hostAddress();
  }

  /**
   * Runs {@code then} with the request's principal: at once when no authentication is configured,
   * the request has no token, or the token is verified without waiting (the usual case); otherwise
   * once a JWK set has been loaded, with the request paused meanwhile. A bad token is a {@code 401}.
   */
  private void withPrincipal(HttpServerRequest request, java.util.function.Consumer<Principal> then) {
    if (!auth.enabled()) {
      then.accept(Principal.OPEN);
      return;
    }
    String token = Access.token(request);
    if (token == null) {
      then.accept(auth.anonymous());
      return;
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
    request.pause();
    Future.fromCompletionStage(verified, context).onComplete(ar -> {
      request.resume();
      try {
        if (ar.failed()) {
          throw Access.rejected(ar.cause());
        }
        then.accept(ar.result());
      } catch (RuntimeException e) {
        Responses.error(request.response(), e);
      }
    });
  }

  // A scrape walks every meter: one dedicated worker thread does it, so event loops keep serving.
  private void scrape(HttpServerResponse response) {
    scraper.executeBlocking(metrics::scrape, false).onComplete(ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      response.putHeader(Headers.CONTENT_TYPE, PROMETHEUS)
          .putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE)
          .end(Buffer.buffer(ar.result()));
    });
  }

  /** The server stops: ends what this loop holds open besides push connections (admin streams). */
  public void shutdown() {
    admin.shutdown();
  }

  /** Answers a request that the HTTP decoder could not make sense of. */
  public static void invalid(HttpServerRequest request) {
    HttpServerResponse response = request.response();
    response.putHeader(HttpHeaders.CONNECTION, "close");
    Throwable cause = request.decoderResult() == null ? null : request.decoderResult().cause();
    boolean tooLong = cause instanceof io.netty.handler.codec.TooLongFrameException;
    Responses.error(response, tooLong
        ? new ApiException(431, "headers_too_large", "the request line or headers are too large")
        : ApiException.badRequest("invalid_request", "the request is not valid HTTP"));
  }

  private static String route(String path) {
    return switch (path) {
      case "/v1/events", "/v1/state", "/v1/changes", "/v1/topics", "/v1/sse", "/v1/ws", "/healthz", "/readyz",
          "/metrics", "/admin/stream", "/admin/snapshot", "/admin/topics" -> path;
      case "/admin", "/admin/" -> "/admin";
      default -> WebhooksApi.owns(path) ? WebhooksApi.PREFIX
          : WebPushApi.owns(path) ? WebPushApi.PREFIX
          : GraphQLApi.owns(path) ? GraphQLApi.PATH
          : StaticFiles.owns(path) ? "static" : "other";
    };
  }

  private static void notAllowed(HttpServerResponse response, CharSequence allow) {
    response.putHeader(Headers.ALLOW, allow);
    Responses.error(response, new ApiException(405, "method_not_allowed", "allowed: " + allow));
  }
}
