package io.tidings.client;

/**
 * {@code 410 cursor_expired}: the cursor is older than the retained history, or of another epoch
 * (the server's store was replaced). Nothing was skipped: fetch the state with
 * {@link TidingsClient#state(String)} and continue from its cursor.
 */
public class CursorExpiredException extends TidingsException {
  private static final long serialVersionUID = 1L;

  private final String stateUrl;

  /**
   * @param message the error message
   * @param stateUrl the {@code state_url} of the answer, or null
   */
  public CursorExpiredException(String message, String stateUrl) {
    super(410, "cursor_expired", message, null, null);
    this.stateUrl = stateUrl;
  }

  /** Where to fetch the topic's state, as the server gave it (e.g. {@code /v1/state?topic=T}), or null. */
  public String stateUrl() {
    return stateUrl;
  }
}
