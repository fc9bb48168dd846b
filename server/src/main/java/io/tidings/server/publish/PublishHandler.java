package io.tidings.server.publish;

import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;

import io.tidings.core.AppendResult;
import io.tidings.core.Cursor;
import io.tidings.core.Engine;
import io.tidings.core.NewEvent;
import io.tidings.server.auth.Access;
import io.tidings.server.auth.Principal;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Json;
import io.tidings.server.http.Params;
import io.tidings.server.http.Responses;
import io.tidings.server.ops.Metrics;
import io.tidings.server.http.Stages;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * {@code POST /v1/events?topic=T}: appends one event or a batch. The {@code 201} is sent only
 * once the engine reports the append durable.
 */
public final class PublishHandler {
  private final Engine engine;
  private final EventParser parser;
  private final long maxBodySize;
  private final Metrics metrics;

  public PublishHandler(Engine engine, EventParser parser, long maxBodySize, Metrics metrics) {
    this.engine = engine;
    this.parser = parser;
    this.maxBodySize = maxBodySize;
    this.metrics = metrics;
  }

  public void handle(HttpServerRequest request, Context context, Principal principal) {
    String topic = Params.of(request).topic();
    Access.requirePublish(principal, topic);
    checkContentType(request.getHeader(Headers.CONTENT_TYPE));
    HttpServerResponse response = request.response();
    BodyReader.read(request, maxBodySize).onComplete(body -> {
      if (body.failed()) {
        Responses.error(response, body.cause());
        return;
      }
      List<NewEvent> events;
      try {
        events = parser.parse(body.result());
      } catch (ApiException e) {
        Responses.error(response, e);
        return;
      }
      long started = System.nanoTime();
      Stages.onContext(engine.append(topic, events), context, response, ar -> {
        if (ar.failed()) {
          Responses.error(response, ar.cause());
          return;
        }
        metrics.published(ar.result().appended().size(), System.nanoTime() - started);
        Responses.json(response, 201, body(topic, ar.result()));
      });
    });
  }

  static void checkContentType(String contentType) {
    if (contentType == null) {
      throw new ApiException(415, "unsupported_media_type", "send the events with Content-Type: application/json");
    }
    String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
    if (!mediaType.equals("application/json")) {
      throw new ApiException(415, "unsupported_media_type",
          "Content-Type must be application/json, not " + mediaType);
    }
  }

  private static Buffer body(String topic, AppendResult result) {
    return Json.encode(gen -> {
      gen.writeStartObject();
      writeOutcome(gen, topic, result);
      gen.writeEndObject();
    });
  }

  /**
   * Writes the fields of a publish answer, {@code "topic","cursor","events":[{id, offset, cursor,
   * duplicate}]}, into an object the caller has started (every transport answers a publish alike).
   */
  public static void writeOutcome(JsonGenerator gen, String topic, AppendResult result) throws IOException {
    String epoch = result.head().epoch();
    gen.writeStringField("topic", topic);
    gen.writeStringField("cursor", new Cursor(epoch, result.lastOffset()).encode());
    gen.writeArrayFieldStart("events");
    for (AppendResult.Outcome o : result.outcomes()) {
      gen.writeStartObject();
      if (o.id() != null) {
        gen.writeStringField("id", o.id());
      } else {
        gen.writeNullField("id");
      }
      gen.writeNumberField("offset", o.offset());
      gen.writeStringField("cursor", new Cursor(epoch, o.offset()).encode());
      gen.writeBooleanField("duplicate", o.duplicate());
      gen.writeEndObject();
    }
    gen.writeEndArray();
  }
}
