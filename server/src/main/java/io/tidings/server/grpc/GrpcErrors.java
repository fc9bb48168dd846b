package io.tidings.server.grpc;

import io.tidings.server.http.ApiException;
import io.tidings.server.http.Responses;
import io.vertx.core.MultiMap;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerResponse;
import java.util.Locale;
import java.util.Map;

/**
 * The one place where the HTTP API's errors become gRPC statuses. The status says what kind of
 * failure it is; the contract's error code travels in the {@code tidings-error-code} trailer and
 * its message in {@code grpc-message}, so that a client can tell, say, {@code invalid_cursor} from
 * {@code invalid_topic} without parsing text.
 */
public final class GrpcErrors {
  /** Trailer with the contract's error code ({@code invalid_topic}, {@code cursor_expired}, ...). */
  public static final String ERROR_CODE = "tidings-error-code";
  /** Trailer with the seconds to wait before retrying, on refusals that say when. */
  public static final String RETRY_AFTER = "retry-after";

  private GrpcErrors() {}

  /** The gRPC status of an HTTP status of the contract. */
  public static GrpcStatus status(int httpStatus) {
    return switch (httpStatus) {
      case 400, 413, 415 -> GrpcStatus.INVALID_ARGUMENT;
      case 401 -> GrpcStatus.UNAUTHENTICATED;
      case 403 -> GrpcStatus.PERMISSION_DENIED;
      case 404 -> GrpcStatus.NOT_FOUND;
      case 409 -> GrpcStatus.ALREADY_EXISTS;
      case 410 -> GrpcStatus.OUT_OF_RANGE;
      case 429 -> GrpcStatus.RESOURCE_EXHAUSTED;
      case 503 -> GrpcStatus.UNAVAILABLE;
      case 504 -> GrpcStatus.DEADLINE_EXCEEDED;
      default -> httpStatus >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.UNKNOWN;
    };
  }

  /**
   * Ends {@code response} with the status of {@code failure} (an {@link ApiException}, or anything
   * {@link Responses#toApiException} understands). Does nothing once the call has ended.
   */
  public static void fail(GrpcServerResponse<?, ?> response, Throwable failure) {
    ApiException e = Responses.toApiException(failure);
    try {
      decorate(response.trailers(), e);
      response.status(status(e.status())).statusMessage(e.getMessage()).end();
    } catch (IllegalStateException ended) {
      // The call was cancelled or has already ended: nobody is left to tell.
    }
  }

  /** Puts the error code, {@code retry-after} and the error's extra fields (as {@code tidings-*}) in {@code trailers}. */
  static void decorate(MultiMap trailers, ApiException e) {
    trailers.set(ERROR_CODE, e.code());
    if (e.retryAfterSeconds() != null) {
      trailers.set(RETRY_AFTER, Integer.toString(e.retryAfterSeconds()));
    }
    for (Map.Entry<String, String> extra : e.extra().entrySet()) {
      trailers.set("tidings-" + extra.getKey().replace('_', '-').toLowerCase(Locale.ROOT), extra.getValue());
    }
  }
}
