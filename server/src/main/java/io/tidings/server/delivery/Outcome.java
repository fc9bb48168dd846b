package io.tidings.server.delivery;

/**
 * What became of one attempt.
 *
 * @param kind how the dispatcher goes on
 * @param status the HTTP status answered, or 0 when there was no answer
 * @param latencyNanos from sending to the answer (or the failure)
 * @param retryAfterMillis a delay the target asked for, or -1
 * @param detail the start of the response body, or what went wrong
 */
public record Outcome(Kind kind, int status, long latencyNanos, long retryAfterMillis, String detail) {

  /** How the dispatcher goes on after an attempt. */
  public enum Kind {
    /** Delivered: move the cursor past the batch. */
    DELIVERED,
    /** Not delivered: try again on the retry schedule. */
    RETRY,
    /** The target is gone for good (410; 404 for a push subscription): stop delivering to it. */
    GONE,
    /** The payload was too large for the target: send the same batch again without data, at once. */
    NOTIFY_ONLY
  }

  /** A failure before any answer: refused target, connection error, timeout. */
  public static Outcome failed(long latencyNanos, String detail) {
    return new Outcome(Kind.RETRY, 0, latencyNanos, -1, detail);
  }

  /**
   * The outcome of an HTTP answer: 2xx delivered, {@code goneStatuses} gone, anything else retried,
   * with the {@code Retry-After} of a 429 or 5xx.
   */
  public static Outcome of(io.tidings.server.outbound.OutboundResponse r, long now, int... goneStatuses) {
    int status = r.status();
    if (status >= 200 && status < 300) {
      return new Outcome(Kind.DELIVERED, status, r.latencyNanos(), -1, r.snippet());
    }
    for (int gone : goneStatuses) {
      if (status == gone) {
        return new Outcome(Kind.GONE, status, r.latencyNanos(), -1, r.snippet());
      }
    }
    long retryAfter = status == 429 || status >= 500 ? r.retryAfterMillis(now) : -1;
    return new Outcome(Kind.RETRY, status, r.latencyNanos(), retryAfter, r.snippet());
  }

  /** What went wrong before an answer, for the attempt log. */
  public static String describe(Throwable t) {
    Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
    if (cause instanceof io.tidings.server.outbound.OutboundFailure f) {
      return f.kind().name().toLowerCase(java.util.Locale.ROOT) + ": " + f.getMessage();
    }
    if (cause instanceof io.tidings.server.outbound.TargetRefusedException r) {
      return "refused: " + r.getMessage();
    }
    return String.valueOf(cause.getMessage());
  }
}
