package io.tidings.server.http;

import java.util.Map;

/**
 * A request that ends in an error response of the wire contract's shape:
 * {@code {"error":{"code":"...","message":"..."}}}.
 */
public final class ApiException extends RuntimeException {
  private final int status;
  private final String code;
  private final Map<String, String> extra;
  private final Integer retryAfterSeconds;
  private final Map<String, String> headers;

  public ApiException(int status, String code, String message) {
    this(status, code, message, Map.of(), null);
  }

  public ApiException(int status, String code, String message, Map<String, String> extra, Integer retryAfterSeconds) {
    this(status, code, message, extra, retryAfterSeconds, Map.of());
  }

  /** @param headers response headers the error carries (such as {@code WWW-Authenticate}) */
  public ApiException(int status, String code, String message, Map<String, String> extra, Integer retryAfterSeconds,
      Map<String, String> headers) {
    super(message, null, false, false);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.retryAfterSeconds = retryAfterSeconds;
    this.headers = headers;
  }

  /** 403 {@code transport_disabled}: this deployment switched the transport off. */
  public static ApiException transportDisabled(String transport) {
    return new ApiException(403, "transport_disabled",
        transport + " is disabled on this server; use another transport (SSE, long polling or polling)");
  }

  /** A {@code 400} with the given code. */
  public static ApiException badRequest(String code, String message) {
    return new ApiException(400, code, message);
  }

  /** A {@code 503 unavailable} asking the client to come back after a jittered pause. */
  public static ApiException unavailable(String message, int retryAfterSeconds) {
    return new ApiException(503, "unavailable", message, Map.of(), retryAfterSeconds);
  }

  public int status() {
    return status;
  }

  public String code() {
    return code;
  }

  /** Further string fields, written both beside {@code error} and inside it. */
  public Map<String, String> extra() {
    return extra;
  }

  /** Response headers this error carries. */
  public Map<String, String> headers() {
    return headers;
  }

  /** Seconds for a {@code Retry-After} header, or {@code null}. */
  public Integer retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
