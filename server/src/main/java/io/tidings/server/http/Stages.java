package io.tidings.server.http;

import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;

/** Bridges engine stages back onto the event loop that owns a request. */
public final class Stages {
  private Stages() {}

  /**
   * Runs {@code handler} on {@code context} with the outcome of {@code stage}. A stage that is
   * already complete (a head served from memory) is handled right here, without a task hop.
   */
  public static <T> void onContext(CompletionStage<T> stage, Context context, Handler<AsyncResult<T>> handler) {
    if (stage instanceof CompletableFuture<T> f && f.isDone() && Context.isOnEventLoopThread()
        && context == io.vertx.core.Vertx.currentContext()) {
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
