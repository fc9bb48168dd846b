package io.tidings.server.http;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.internal.ContextInternal;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/** Bridges engine stages back onto the event loop that owns a request. */
public final class Stages {
  private Stages() {}

  /**
   * Runs {@code handler} on {@code context} with the outcome of {@code stage}. A stage that is
   * already complete (a head served from memory) is handled right here, without a task hop. If
   * {@code handler} throws, {@code response} still gets an answer instead of hanging.
   */
  public static <T> void onContext(CompletionStage<T> stage, Context context, HttpServerResponse response,
      Handler<AsyncResult<T>> handler) {
    Handler<AsyncResult<T>> guarded = ar -> {
      try {
        handler.handle(ar);
      } catch (RuntimeException e) {
        Responses.error(response, e);
      }
    };
    onContext(stage, context, guarded);
  }

  /**
   * Runs {@code handler} on {@code context} with the outcome of {@code stage}; a stage that is
   * already complete while on that context's event loop is handled right here, without a task hop.
   */
  public static <T> void onContext(CompletionStage<T> stage, Context context, Handler<AsyncResult<T>> handler) {
    // Request handlers run on a duplicate of the verticle's context, so compare event-loop threads.
    if (stage instanceof CompletableFuture<T> f && f.isDone()
        && ((ContextInternal) context).nettyEventLoop().inEventLoop()) {
      T value;
      try {
        value = f.join();
      } catch (CompletionException | java.util.concurrent.CancellationException e) {
        handler.handle(Future.failedFuture(e.getCause() != null ? e.getCause() : e));
        return;
      }
      handler.handle(Future.succeededFuture(value));
      return;
    }
    Future.fromCompletionStage(stage, context).onComplete(handler);
  }
}
