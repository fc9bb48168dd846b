package io.tidings.core;

/** The engine is unreachable, shutting down or overloaded; clients should retry after a pause. */
public class EngineUnavailableException extends EngineException {
  public EngineUnavailableException(String message) {
    super(message);
  }

  public EngineUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
