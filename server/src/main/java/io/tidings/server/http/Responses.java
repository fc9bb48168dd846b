package io.tidings.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.tidings.core.EngineUnavailableException;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerResponse;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Writes responses in the wire contract's shapes. */
public final class Responses {
  private static final Logger LOG = LoggerFactory.getLogger(Responses.class);

  private Responses() {}

  /** Ends {@code response} with a JSON body. */
  public static void json(HttpServerResponse response, int status, Buffer body) {
    if (response.ended() || response.closed()) {
      return;
    }
    response.setStatusCode(status).putHeader(Headers.CONTENT_TYPE, Headers.JSON).end(body);
  }

  /** Ends {@code response} with the error that {@code failure} stands for. */
  public static void error(HttpServerResponse response, Throwable failure) {
    error(response, toApiException(failure));
  }

  /** Ends {@code response} with {@code e} in the contract's error shape; the future completes once it is written. */
  public static Future<Void> error(HttpServerResponse response, ApiException e) {
    if (response.ended() || response.closed()) {
      return Future.succeededFuture();
    }
    if (response.headWritten()) {
      response.reset();
      return Future.succeededFuture();
    }
    // Validators and caching advice of a success must not leak onto an error.
    response.headers().remove(Headers.ETAG).remove(Headers.LAST_MODIFIED).remove(Headers.POLL_INTERVAL);
    if (e.retryAfterSeconds() != null) {
      response.putHeader(Headers.RETRY_AFTER, Integer.toString(e.retryAfterSeconds()));
    }
    e.headers().forEach(response::putHeader);
    Buffer body = Json.encode(gen -> {
      gen.writeStartObject();
      gen.writeObjectFieldStart("error");
      gen.writeStringField("code", e.code());
      gen.writeStringField("message", e.getMessage());
      writeExtra(gen, e.extra());
      gen.writeEndObject();
      writeExtra(gen, e.extra());
      gen.writeEndObject();
    });
    return response.setStatusCode(e.status())
        .putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE)
        .putHeader(Headers.CONTENT_TYPE, Headers.JSON)
        .end(body);
  }

  private static void writeExtra(JsonGenerator gen, Map<String, String> extra) throws IOException {
    for (Map.Entry<String, String> x : extra.entrySet()) {
      gen.writeStringField(x.getKey(), x.getValue());
    }
  }

  /** Maps any failure to the error a client should see; unexpected ones are logged. */
  public static ApiException toApiException(Throwable failure) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof ApiException api) {
      return api;
    }
    if (t instanceof EngineUnavailableException) {
      return ApiException.unavailable(t.getMessage(), retryAfterSeconds());
    }
    if (t instanceof io.tidings.core.EngineException) {
      LOG.warn("engine failure", t);
      return ApiException.unavailable("the store failed to answer: " + t.getMessage(), retryAfterSeconds());
    }
    LOG.error("unexpected failure", t);
    return new ApiException(500, "internal", "internal error");
  }

  /** A Retry-After of 1-3 s, spread so that clients do not come back in step. */
  public static int retryAfterSeconds() {
    return 1 + ThreadLocalRandom.current().nextInt(3);
  }
}
