package io.tidings.core;

/** The engine could not do what was asked, for a reason a retry later may cure. */
public class EngineException extends RuntimeException {
  public EngineException(String message) {
    super(message);
  }

  public EngineException(String message, Throwable cause) {
    super(message, cause);
  }
}
