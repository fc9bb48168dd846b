package io.tidings.server.publish;

import io.tidings.server.http.ApiException;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;

/** Reads a request body up to a size limit, refusing larger ones before buffering them. */
public final class BodyReader {
  private BodyReader() {}

  /** The whole body, or a failed future with {@code 413 payload_too_large} past {@code max} bytes. */
  public static Future<Buffer> read(HttpServerRequest request, long max) {
    String declared = request.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (declared != null) {
      long length;
      try {
        length = Long.parseLong(declared.trim());
      } catch (NumberFormatException e) {
        return Future.failedFuture(ApiException.badRequest("invalid_request", "Content-Length is not a number"));
      }
      if (length > max) {
        return tooLarge(request, max);
      }
    }
    Promise<Buffer> promise = Promise.promise();
    Buffer body = Buffer.buffer();
    request.handler(chunk -> {
      if (promise.future().isComplete()) {
        return;
      }
      if (body.length() + chunk.length() > max) {
        tooLarge(request, max).onFailure(promise::tryFail);
        return;
      }
      body.appendBuffer(chunk);
    });
    request.exceptionHandler(promise::tryFail);
    request.endHandler(v -> promise.tryComplete(body));
    return promise.future();
  }

  private static Future<Buffer> tooLarge(HttpServerRequest request, long max) {
    // Don't read the rest: ask the client to close, so an oversize upload costs us nothing more.
    request.response().putHeader(HttpHeaders.CONNECTION, "close");
    return Future.failedFuture(new ApiException(413, "payload_too_large", "the body is larger than " + max + " bytes"));
  }
}
