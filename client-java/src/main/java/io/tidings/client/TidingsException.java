package io.tidings.client;

import java.time.Duration;

/**
 * A request that failed: an error answer from the server, or a network failure (then
 * {@link #status()} is 0 and {@link #code()} is {@code io_error}, {@code timeout} or
 * {@code interrupted}).
 */
public class TidingsException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;
  private final transient Duration retryAfter;

  /**
   * @param status the HTTP status, or 0 when there was no answer
   * @param code the error code, such as {@code invalid_topic}
   * @param message the error message
   * @param retryAfter the server's {@code Retry-After}, or null
   * @param cause the cause, or null
   */
  public TidingsException(int status, String code, String message, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** The HTTP status, or 0 when the request got no answer. */
  public int status() {
    return status;
  }

  /** The error code, such as {@code invalid_topic}, {@code cursor_expired} or {@code unavailable}. */
  public String code() {
    return code;
  }

  /** How long the server asked to wait before retrying ({@code Retry-After}), or null. */
  public Duration retryAfter() {
    return retryAfter;
  }

  @Override
  public String toString() {
    return getClass().getName() + ": " + (status > 0 ? status + " " : "") + code + ": " + getMessage();
  }
}
