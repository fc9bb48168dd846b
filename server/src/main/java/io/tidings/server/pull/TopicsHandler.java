package io.tidings.server.pull;

import io.tidings.core.Engine;
import io.tidings.core.TopicHead;
import io.tidings.core.Topics;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Principal;
import io.tidings.server.config.TidingsConfig;
import io.tidings.server.http.EventJson;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.vertx.core.Context;
import io.vertx.core.http.HttpServerRequest;
import java.util.List;

/**
 * {@code GET /v1/topics[?prefix=P][&limit=N][&after=T]}: known topics sorted by name. A full page
 * carries {@code next_after}, the value of {@code after} that fetches the next one. Only topics the
 * principal may subscribe to are listed, so a page may hold fewer than {@code limit} topics and
 * still be followed by another.
 */
public final class TopicsHandler {
  private final Engine engine;
  private final TidingsConfig.Pull config;

  public TopicsHandler(Engine engine, TidingsConfig.Pull config) {
    this.engine = engine;
    this.config = config;
  }

  public void handle(HttpServerRequest request, Context context, Principal principal) {
    if (principal.anonymous() && !principal.grants().subscribesAny()) {
      throw Access.unauthorized("credentials are needed to list topics", false);
    }
    Params params = Params.of(request);
    String prefix = params.text("prefix", Topics.MAX_LENGTH);
    String after = params.text("after", Topics.MAX_LENGTH);
    int limit = params.integer("limit", Math.min(1000, config.topicsMaxLimit), 1, config.topicsMaxLimit);
    Stages.onContext(engine.topics(prefix == null || prefix.isEmpty() ? null : prefix, after, limit), context, request.response(), ar -> {
          if (ar.failed()) {
            Responses.error(request.response(), ar.cause());
            return;
          }
          List<TopicHead> heads = ar.result();
          // The listing depends on who asks: no shared cache may keep it for others.
          request.response().putHeader(Headers.CACHE_CONTROL,
              principal.kind() == Principal.Kind.OPEN ? Headers.NO_CACHE : Headers.PRIVATE_NO_CACHE);
          Responses.json(request.response(), 200, Json.encode(gen -> {
            gen.writeStartObject();
            gen.writeArrayFieldStart("topics");
            for (TopicHead h : heads) {
              if (principal.maySubscribe(h.topic())) {
                EventJson.writeTopic(gen, h);
              }
            }
            gen.writeEndArray();
            if (heads.size() == limit) {
              gen.writeStringField("next_after", heads.get(heads.size() - 1).topic());
            }
            gen.writeEndObject();
          }));
        });
  }
}
