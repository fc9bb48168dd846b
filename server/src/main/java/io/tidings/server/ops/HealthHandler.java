package io.tidings.server.ops;

import io.tidings.core.Engine;
import io.tidings.server.http.ApiException;
import io.tidings.server.http.Headers;
import io.tidings.server.http.Responses;
import io.tidings.server.http.Stages;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * {@code /healthz} (the process is up, whatever the engine) and {@code /readyz} (the engine
 * answers and the server is not draining).
 */
public final class HealthHandler {
  private static final Buffer OK = Buffer.buffer("{\"status\":\"ok\"}");
  private static final Buffer READY = Buffer.buffer("{\"status\":\"ready\"}");
  private static final long READY_TIMEOUT_MS = 2000;

  private final Engine engine;
  private final BooleanSupplier draining;

  public HealthHandler(Engine engine, BooleanSupplier draining) {
    this.engine = engine;
    this.draining = draining;
  }

  public void healthz(HttpServerRequest request) {
    request.response().putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
    Responses.json(request.response(), 200, OK);
  }

  public void readyz(HttpServerRequest request, Context context) {
    if (draining.getAsBoolean()) {
      Responses.error(request.response(), ApiException.unavailable("the server is shutting down", Responses.retryAfterSeconds()));
      return;
    }
    Stages.onContext(engine.ping().toCompletableFuture().orTimeout(READY_TIMEOUT_MS, TimeUnit.MILLISECONDS), context, request.response(), ar -> {
          if (ar.succeeded()) {
            request.response().putHeader(Headers.CACHE_CONTROL, Headers.NO_STORE);
            Responses.json(request.response(), 200, READY);
          } else {
            Responses.error(request.response(),
                ApiException.unavailable("the store is not reachable", Responses.retryAfterSeconds()));
          }
        });
  }
}
