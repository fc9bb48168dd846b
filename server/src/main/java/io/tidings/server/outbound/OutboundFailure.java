package io.tidings.server.outbound;

/** An outbound POST that ended without an HTTP response. */
public final class OutboundFailure extends Exception {
  private static final long serialVersionUID = 1L;

  /** What went wrong, for retry decisions and for showing to the target's owner. */
  public enum Kind {
    /** No usable connection: refused, unreachable, connect timed out, reset or closed before a response. */
    CONNECT,
    /** No response within the exchange's time limit. */
    TIMEOUT,
    /** The TLS handshake failed: untrusted or mismatched certificate, protocol or cipher mismatch. */
    TLS,
    /** The peer's answer was not valid HTTP/1.1. */
    PROTOCOL
  }

  private final Kind kind;

  public OutboundFailure(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
