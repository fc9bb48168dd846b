package io.tidings.core;

/** A cursor string that is not well formed. */
public final class InvalidCursorException extends IllegalArgumentException {
  public InvalidCursorException(String message) {
    super(message);
  }
}
