package io.tidings.server.cli;

/**
 * The {@code text/event-stream} format (WHATWG HTML, "Server-sent events", parsing an event stream),
 * fed one line at a time without its terminator (CR, LF or CRLF are all line ends; the caller splits).
 *
 * <p>Fields: {@code data} lines accumulate (joined by LF), {@code event} sets the type (default
 * {@code message}), {@code id} sets the last event ID unless it holds U+0000, {@code retry} with only
 * ASCII digits sets the reconnection time, lines starting with {@code :} are comments, unknown
 * fields are ignored, and one space after the colon is dropped. A blank line ends the block: it
 * dispatches an event when there was data, and in every case makes the block's {@code id} the last
 * event ID. Unlike a browser, the ID only counts once its block is complete, so a connection that
 * drops inside an event never resumes after an event that was not seen.
 */
final class SseParser {
  /** One dispatched event: its type, its data, and the last event ID as of this event. */
  record Event(String type, String data, String lastEventId) {}

  private final StringBuilder data = new StringBuilder();
  private boolean hasData;
  private String type = "";
  private String idBuffer = "";
  private String lastEventId = "";
  private long retryMillis = -1;
  private long comments;
  private boolean atStart = true;

  /** Feeds one line; returns the event it completes, or {@code null}. */
  Event line(String line) {
    if (atStart) {
      atStart = false;
      if (line.startsWith("\uFEFF")) {
        line = line.substring(1);
      }
    }
    if (line.isEmpty()) {
      return dispatch();
    }
    if (line.charAt(0) == ':') {
      comments++;
      return null;
    }
    int colon = line.indexOf(':');
    String field = colon < 0 ? line : line.substring(0, colon);
    String value = colon < 0 ? "" : line.substring(colon + 1);
    if (value.startsWith(" ")) {
      value = value.substring(1);
    }
    switch (field) {
      case "event" -> type = value;
      case "data" -> {
        if (hasData) {
          data.append('\n');
        }
        data.append(value);
        hasData = true;
      }
      case "id" -> {
        if (value.indexOf('\0') < 0) {
          idBuffer = value;
        }
      }
      case "retry" -> {
        if (!value.isEmpty() && value.length() <= 12 && value.chars().allMatch(c -> c >= '0' && c <= '9')) {
          retryMillis = Long.parseLong(value);
        }
      }
      default -> {
        // unknown fields are ignored
      }
    }
    return null;
  }

  private Event dispatch() {
    lastEventId = idBuffer;
    if (!hasData) {
      type = "";
      return null;
    }
    Event event = new Event(type.isEmpty() ? "message" : type, data.toString(), lastEventId);
    data.setLength(0);
    hasData = false;
    type = "";
    return event;
  }

  /** A new connection: a block the old one left unfinished is dropped; the last event ID and retry stay. */
  void newStream() {
    data.setLength(0);
    hasData = false;
    type = "";
    idBuffer = lastEventId;
    atStart = true;
  }

  /** The last event ID of the completed blocks ({@code ""}: none, so no {@code Last-Event-ID}). */
  String lastEventId() {
    return lastEventId;
  }

  /** The latest {@code retry:} in milliseconds, or -1 when there was none. */
  long retryMillis() {
    return retryMillis;
  }

  /** How many comment lines (heartbeats) were seen. */
  long comments() {
    return comments;
  }
}
