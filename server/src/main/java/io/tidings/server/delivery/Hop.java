package io.tidings.server.delivery;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** Moving work onto one Vert.x context: where the delivery state lives and is touched. */
public final class Hop {
  private Hop() {}

  /** A store stage as a future completed on {@code context}, its failure unwrapped. */
  public static <T> Future<T> stage(Context context, CompletionStage<T> stage) {
    Promise<T> promise = Promise.promise();
    stage.whenComplete((value, error) -> context.runOnContext(v -> {
      if (error != null) {
        promise.fail(error instanceof CompletionException && error.getCause() != null ? error.getCause() : error);
      } else {
        promise.complete(value);
      }
    }));
    return promise.future();
  }

  /** Runs {@code work} on {@code context}; a throw fails the future. */
  public static <T> Future<T> run(Context context, Supplier<Future<T>> work) {
    Promise<T> promise = Promise.promise();
    context.runOnContext(v -> {
      try {
        work.get().onComplete(promise);
      } catch (RuntimeException e) {
        promise.fail(e);
      }
    });
    return promise.future();
  }
}
