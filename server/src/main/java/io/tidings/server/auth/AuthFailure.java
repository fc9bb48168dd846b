package io.tidings.server.auth;

/**
 * Credentials that cannot be accepted. The message is safe to show to the client and to log: it
 * never quotes the credentials.
 */
public final class AuthFailure extends RuntimeException {
  public AuthFailure(String message) {
    super(message, null, false, false);
  }
}
