package io.tidings.server.pull;

import io.tidings.core.Cursor;
import io.tidings.core.Event;
import io.tidings.core.Position;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.EntityTags;
import io.tidings.server.http.EventJson;
import io.tidings.server.http.Headers;
import io.tidings.server.http.HttpApi;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;

/**
 * {@code GET /v1/changes}: incremental sync from a cursor, and long polling with {@code wait}. The
 * reading and waiting is {@link ChangeReader}'s; this class adds HTTP: parameters, the conditional
 * {@code 304}, and cache headers that let a shared cache collapse identical polls.
 */
public final class ChangesHandler {
  private final ChangeReader reader;
  private final PollAdvisor advisor;
  private final TidingsConfig.Pull config;
  private final CharSequence headMaxAge;
  private final CharSequence privateHeadMaxAge;
  private final Authenticator auth;

  public ChangesHandler(ChangeReader reader, PollAdvisor advisor, TidingsConfig.Pull config, Authenticator auth) {
    this.reader = reader;
    this.auth = auth;
    this.advisor = advisor;
    this.config = config;
    this.headMaxAge = io.vertx.core.http.HttpHeaders.createOptimized(
        "public, max-age=" + Math.max(1, Math.min(5, config.headMaxAge.toSeconds())));
    this.privateHeadMaxAge = io.vertx.core.http.HttpHeaders.createOptimized(
        "private, max-age=" + Math.max(1, Math.min(5, config.headMaxAge.toSeconds())));
  }

  /** The reader this handler answers with (other pull transports of the loop share it). */
  public ChangeReader reader() {
    return reader;
  }

  public void handle(HttpServerRequest request, Principal principal) {
    Params params = Params.of(request);
    String topic = params.topic();
    Access.requireSubscribe(principal, topic);
    Position since = params.position("since", Position.EARLIEST);
    int limit = params.integer("limit", config.changesDefaultLimit, 1, config.changesMaxLimit);
    long waitMillis = params.seconds("wait", config.maxWait.toSeconds());
    boolean notifyOnly = params.notifyMode();
    String ifNoneMatch = request.getHeader(Headers.IF_NONE_MATCH);
    // Shared caches may keep what anyone may read; anything else is private to its requester.
    boolean shared = auth.readableByAnyone(topic);
    HttpServerResponse response = request.response();
    ChangeReader.Query q = new ChangeReader.Query(topic, since, limit, waitMillis, notifyOnly, principal,
        HttpApi.host(request));
    ChangeReader.Pending pending = reader.read(q, ar -> {
      if (response.ended() || response.closed()) {
        return;
      }
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      try {
        respond(response, q, ar.result(), ifNoneMatch, shared);
      } catch (RuntimeException e) {
        Responses.error(response, e);
      }
    });
    response.closeHandler(v -> pending.cancel());
  }

  private void respond(HttpServerResponse response, ChangeReader.Query q, ChangeReader.Page page, String ifNoneMatch,
      boolean shared) {
    String tag = page.cursor().encode();
    response.putHeader(Headers.ETAG, EntityTags.of(tag))
        .putHeader(Headers.CACHE_CONTROL, page.more() && q.since() instanceof Cursor
            ? (shared ? Headers.IMMUTABLE : Headers.PRIVATE_IMMUTABLE)
            : (shared ? headMaxAge : privateHeadMaxAge))
        .putHeader(Headers.POLL_INTERVAL, advisor.header(q.topic()));
    if (!shared) {
      response.headers().add(io.vertx.core.http.HttpHeaders.VARY, Headers.VARY_AUTHORIZATION);
    }
    if (page.events().isEmpty() && ifNoneMatch != null && EntityTags.matches(ifNoneMatch, tag)) {
      response.setStatusCode(304).end();
      return;
    }
    Responses.json(response, 200, page.shared(ChangesHandler.class, q.notifyOnly(), p -> body(p, q.notifyOnly())));
  }

  private static Buffer body(ChangeReader.Page page, boolean notifyOnly) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeStringField("topic", page.topic());
      gen.writeArrayFieldStart("events");
      for (Event e : page.events()) {
        EventJson.write(gen, e, !notifyOnly);
      }
      gen.writeEndArray();
      gen.writeStringField("cursor", page.cursor().encode());
      gen.writeBooleanField("more", page.more());
      gen.writeEndObject();
    });
  }
}
