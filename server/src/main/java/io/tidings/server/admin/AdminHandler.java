package io.tidings.server.admin;

import io.tidings.core.Engine;
import io.tidings.core.TopicHead;
import io.tidings.core.Topics;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.tidings.server.http.StaticFiles;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.ArrayList;
import java.util.List;

/**
 * The admin routes of one event loop: the page ({@code /admin}), its live feed
 * ({@code /admin/stream}, SSE), a one-off {@code /admin/snapshot} and {@code /admin/topics}. The
 * data routes need the admin grant once {@code auth} is configured. The page itself holds no data:
 * it is sent to everyone so that a browser can show its token form, but with the status its
 * credentials earn ({@code 401} without, {@code 403} without the admin grant).
 */
public final class AdminHandler {
  /** The page's file among the static files. */
  static final String PAGE = "/admin/index.html";
  private static final CharSequence EVENT_STREAM = HttpHeaders.createOptimized("text/event-stream");
  // The page loads only its own files and talks only to its own origin.
  private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
      + " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  private final AdminService service;
  private final Engine engine;
  private final StaticFiles files;
  private final Context context;
  private final boolean authEnabled;
  private final int topicsMaxLimit;

  public AdminHandler(AdminService service, Engine engine, StaticFiles files, Context context, boolean authEnabled,
      int topicsMaxLimit) {
    this.service = service;
    this.engine = engine;
    this.files = files;
    this.context = context;
    this.authEnabled = authEnabled;
    this.topicsMaxLimit = topicsMaxLimit;
  }

  /** {@code GET /admin}: the page, with 200, 401 or 403 as the credentials earn. */
  public void page(HttpServerRequest request, Principal principal) {
    HttpServerResponse response = request.response();
    int status = 200;
    if (authEnabled && !principal.admin()) {
      status = principal.anonymous() ? 401 : 403;
      if (status == 401) {
        Access.unauthorized("credentials are needed", false).headers().forEach(response::putHeader);
      }
    }
    response.putHeader("Content-Security-Policy", CSP)
        .putHeader("Referrer-Policy", "no-referrer")
        .putHeader("X-Frame-Options", "DENY");
    files.page(request, PAGE, status);
  }

  /** {@code GET /admin/stream}: a snapshot a second as Server-Sent Events, the first with two minutes of history. */
  public void stream(HttpServerRequest request, Principal principal) {
    Access.requireAdmin(principal);
    Access.requireUnexpired(principal, System.currentTimeMillis());
    HttpServerResponse response = request.response();
    response.setStatusCode(200)
        .putHeader(Headers.CONTENT_TYPE, EVENT_STREAM)
        .putHeader(Headers.CACHE_CONTROL, "no-cache, no-transform")
        .putHeader("X-Accel-Buffering", "no");
    if (request.method() == HttpMethod.HEAD) {
      response.end();
      return;
    }
    response.setChunked(true);
    Stages.onContext(service.snapshot(true), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      new AdminStream(service, context, response, principal.expiresAt()).start(ar.result());
    });
  }

  /** {@code GET /admin/snapshot}: what the stream sends first, once, as JSON. */
  public void snapshot(HttpServerRequest request, Principal principal) {
    Access.requireAdmin(principal);
    HttpServerResponse response = request.response();
    Stages.onContext(service.snapshot(true), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      response.putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
      Responses.json(response, 200, Buffer.buffer(ar.result()));
    });
  }

  /**
   * {@code GET /admin/topics[?prefix=P][&after=T][&limit=N]}: every known topic (as
   * {@code /v1/topics}, whatever the grants) with its subscribers on this node and its change rate.
   */
  public void topics(HttpServerRequest request, Principal principal) {
    Access.requireAdmin(principal);
    Params params = Params.of(request);
    String prefix = params.text("prefix", Topics.MAX_LENGTH);
    String after = params.text("after", Topics.MAX_LENGTH);
    int limit = params.integer("limit", Math.min(100, topicsMaxLimit), 1, topicsMaxLimit);
    HttpServerResponse response = request.response();
    Stages.onContext(engine.topics(prefix == null || prefix.isEmpty() ? null : prefix, after, limit), context, response,
        ar -> {
          if (ar.failed()) {
            Responses.error(response, ar.cause());
            return;
          }
          List<TopicHead> heads = ar.result();
          response.putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
          Responses.json(response, 200, Json.encode(gen -> {
            gen.writeStartObject();
            gen.writeArrayFieldStart("topics");
            for (TopicHead h : heads) {
              gen.writeStartObject();
              gen.writeStringField("topic", h.topic());
              gen.writeStringField("cursor", h.cursor().encode());
              gen.writeNumberField("first_offset", h.firstOffset());
              gen.writeNumberField("last_offset", h.lastOffset());
              gen.writeNumberField("keys", h.keys());
              gen.writeNumberField("subscribers", service.subscribers(h.topic()));
              gen.writeNumberField("rate", service.rate(h.topic()));
              gen.writeEndObject();
            }
            gen.writeEndArray();
            if (heads.size() == limit) {
              gen.writeStringField("next_after", heads.get(heads.size() - 1).topic());
            }
            gen.writeEndObject();
          }));
        });
  }

  /** Ends the admin streams of this loop (the server stops). Call on the loop. */
  public void shutdown() {
    for (AdminStream s : new ArrayList<>(service.streams())) {
      if (s.context() == context) {
        s.end();
      }
    }
  }
}
