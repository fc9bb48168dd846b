package io.tidings.server.config;

/** The configuration is unusable; the message says which key and why. */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }
}
