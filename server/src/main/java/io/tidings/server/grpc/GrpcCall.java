package io.tidings.server.grpc;

import io.tidings.server.auth.Principal;
import io.tidings.server.ops.AccessLog;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.grpc.common.GrpcStatus;

/**
 * One gRPC call as the transport sees it: its HTTP/2 stream, who makes it, and its ending. The call
 * is counted ({@code tidings_grpc_calls_total}) and logged (the access log) once, when it ends
 * with a status or when the client goes away ({@code CANCELLED}); a long call can ask to hear of
 * the latter ({@link #onClose}). Loop-confined.
 */
final class GrpcCall {
  final String method;
  final HttpServerRequest http;
  final boolean firstOnConnection;
  private final AccessLog.Entry log;
  private final GrpcStats stats;
  private Principal principal;
  private String host;
  private String key;
  private Runnable onClose;
  private boolean counted;
  private boolean closed;

  GrpcCall(String method, HttpServerRequest http, boolean firstOnConnection, AccessLog.Entry log, GrpcStats stats) {
    this.method = method;
    this.http = http;
    this.firstOnConnection = firstOnConnection;
    this.log = log;
    this.stats = stats;
    HttpServerResponse response = http.response();
    response.endHandler(v -> ended(statusName(response)));
    response.closeHandler(v -> {
      closed = true;
      ended("CANCELLED");
      Runnable hook = onClose;
      onClose = null;
      if (hook != null) {
        hook.run();
      }
    });
  }

  /** Who the call acts for, from where, and its key in the limits' tables. */
  void identify(Principal principal, String host, String key) {
    this.principal = principal;
    this.host = host;
    this.key = key;
    log.principal(principal);
  }

  Principal principal() {
    return principal;
  }

  String host() {
    return host;
  }

  String key() {
    return key;
  }

  /**
   * Runs {@code hook} when the stream closes (the client cancels, the connection drops, or after the
   * end), or now if it already has.
   */
  void onClose(Runnable hook) {
    if (closed) {
      hook.run();
    } else {
      this.onClose = hook;
    }
  }

  /** Whether the stream has closed (the call can send nothing more). */
  boolean closed() {
    return closed;
  }

  private void ended(String status) {
    if (counted) {
      return;
    }
    counted = true;
    stats.call(method, status);
    long bytes;
    try {
      bytes = http.response().bytesWritten();
    } catch (RuntimeException e) {
      bytes = 0;
    }
    log.end(200, bytes);
  }

  /** The status a finished response carried (in its trailers, or its headers for a trailers-only answer). */
  private static String statusName(HttpServerResponse response) {
    String code = response.trailers().get("grpc-status");
    if (code == null) {
      code = response.headers().get("grpc-status");
    }
    try {
      return code == null ? "UNKNOWN" : GrpcStatus.valueOf(Integer.parseInt(code)).name();
    } catch (RuntimeException e) {
      return "UNKNOWN";
    }
  }
}
