package io.tidings.core;

/** Event types: {@code message} (default), {@code put}, {@code delete}, or any {@code [a-z0-9_.-]{1,64}} word. */
public final class EventTypes {
  public static final String MESSAGE = "message";
  public static final String PUT = "put";
  public static final String DELETE = "delete";
  /** Longest key accepted on {@code put} and {@code delete}. */
  public static final int MAX_KEY_LENGTH = 256;
  /** Longest idempotency id accepted. */
  public static final int MAX_ID_LENGTH = 128;

  /**
   * Types an application may not publish: Server-Sent Events names its own messages with them
   * ({@code event: reset}), and a listener for those must never see an application's event.
   */
  public static final java.util.Set<String> RESERVED = java.util.Set.of("reset", "subscribed", "error");

  private EventTypes() {}

  /** Whether {@code type} is a well-formed event type. */
  public static boolean isValid(String type) {
    if (type == null || type.isEmpty() || type.length() > 64) {
      return false;
    }
    for (int i = 0; i < type.length(); i++) {
      char c = type.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  /** Whether events of this type change the topic's keyed state. */
  public static boolean isStateChange(String type) {
    return PUT.equals(type) || DELETE.equals(type);
  }
}
