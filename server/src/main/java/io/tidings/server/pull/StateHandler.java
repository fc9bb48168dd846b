package io.tidings.server.pull;

import io.tidings.core.Engine;
import io.tidings.core.EventTypes;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.TopicHead;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Authenticator;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.EntityTags;
import io.tidings.server.http.Headers;
import io.tidings.server.http.HttpDates;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.util.List;

/**
 * {@code GET /v1/state}: the latest value per key, for full-state polling. The head cursor is the
 * strong ETag, so a poller with nothing new gets a {@code 304} answered from memory. A poll may
 * name companion topics ({@code push}, {@code bundle}), whose state {@link StatePush} hints and
 * pushes alongside, each answered here as its own direct poll would be.
 */
public final class StateHandler {
  private final Engine engine;
  private final PollAdvisor advisor;
  private final TidingsConfig.Pull config;
  private final Authenticator auth;
  private final StatePush push;

  public StateHandler(Engine engine, PollAdvisor advisor, TidingsConfig.Pull config, Authenticator auth, StatePush push) {
    this.auth = auth;
    this.engine = engine;
    this.advisor = advisor;
    this.config = config;
    this.push = push;
  }

  public void handle(HttpServerRequest request, Context context, Principal principal) {
    Params params = Params.of(request);
    String topic = params.topic();
    Access.requireSubscribe(principal, topic);
    int limit = params.integer("limit", config.stateDefaultLimit, 1, config.stateMaxLimit);
    String afterKey = params.text("after_key", EventTypes.MAX_KEY_LENGTH);
    List<String> companions = push.companions(params, topic);
    push.offer(request, principal, companions,
        (pushed, other) -> answer(pushed, context, other, null, config.stateDefaultLimit, null, null));
    answer(request.response(), context, topic, afterKey, limit,
        request.getHeader(Headers.IF_NONE_MATCH), request.getHeader(Headers.IF_MODIFIED_SINCE));
  }

  /** Answers a poll of {@code topic}: the request itself, or one pushed along with another. */
  private void answer(HttpServerResponse response, Context context, String topic, String afterKey, int limit,
      String ifNoneMatch, String ifModifiedSince) {
    Stages.onContext(engine.head(topic), context, response, ar -> {
      if (ar.failed()) {
        Responses.error(response, ar.cause());
        return;
      }
      TopicHead head = ar.result();
      if (notModified(ifNoneMatch, ifModifiedSince, head)) {
        headers(response, head, topic).setStatusCode(304).end();
        return;
      }
      Stages.onContext(engine.state(topic, afterKey, limit), context, response, page -> {
        if (page.failed()) {
          Responses.error(response, page.cause());
        } else {
          headers(response, page.result().head(), topic);
          Responses.json(response, 200, body(page.result()));
        }
      });
    });
  }

  private static boolean notModified(String inm, String ims, TopicHead head) {
    if (inm != null) {
      return EntityTags.matches(inm, head.cursor().encode());
    }
    if (ims != null && head.lastOffset() > 0) {
      long since = HttpDates.parse(ims);
      // HTTP dates have whole seconds: compare at that precision.
      return since >= 0 && head.lastTime() / 1000 * 1000 <= since;
    }
    return false;
  }

  private HttpServerResponse headers(HttpServerResponse response, TopicHead head, String topic) {
    response.putHeader(Headers.ETAG, EntityTags.of(head.cursor().encode()))
        .putHeader(Headers.CACHE_CONTROL, auth.readableByAnyone(topic) ? Headers.NO_CACHE : Headers.PRIVATE_NO_CACHE)
        .putHeader(Headers.POLL_INTERVAL, advisor.header(topic));
    if (!auth.readableByAnyone(topic)) {
      response.headers().add(io.vertx.core.http.HttpHeaders.VARY, Headers.VARY_AUTHORIZATION);
    }
    if (head.lastOffset() > 0) {
      response.putHeader(Headers.LAST_MODIFIED, HttpDates.format(head.lastTime()));
    }
    return response;
  }

  private static Buffer body(StatePage page) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeStringField("topic", page.head().topic());
      gen.writeStringField("cursor", page.head().cursor().encode());
      gen.writeArrayFieldStart("entries");
      for (StateEntry e : page.entries()) {
        gen.writeStartObject();
        gen.writeStringField("key", e.key());
        gen.writeFieldName("data");
        gen.writeRawValue(e.data());
        gen.writeNumberField("offset", e.offset());
        gen.writeStringField("time", HttpDates.iso(e.time()));
        gen.writeEndObject();
      }
      gen.writeEndArray();
      if (page.nextKey() != null) {
        gen.writeStringField("next_key", page.nextKey());
      }
      gen.writeEndObject();
    });
  }
}
