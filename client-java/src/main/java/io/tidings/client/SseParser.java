package io.tidings.client;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * An incremental parser of {@code text/event-stream} (the HTML standard's "event stream
 * interpretation"): lines end with CR, LF or CRLF, wherever the chunks split them; a leading BOM is
 * skipped; {@code :} starts a comment; {@code data} lines are joined with LF; an event is
 * dispatched on an empty line and only when it has data; {@code id} containing NUL is ignored;
 * {@code retry} must be digits. Not thread-safe.
 */
final class SseParser {
  /** What the stream says. */
  interface Handler {
    /** A complete event: its last event id so far (or null), type ({@code message} when unnamed) and data. */
    void event(String id, String type, String data);

    /** A {@code retry:} field: the reconnection time in milliseconds. */
    void retry(long millis);

    /** A comment line (a heartbeat), without its colon. */
    default void comment(String text) {
    }
  }

  private final Handler handler;
  private final int maxLine;
  private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
  private boolean afterCr;
  private int bomState; // bytes of the UTF-8 BOM matched so far; -1 once past the start
  private final StringBuilder data = new StringBuilder();
  private boolean hasData;
  private String type;
  private String lastId;

  SseParser(Handler handler, int maxLine) {
    this.handler = handler;
    this.maxLine = maxLine;
  }

  /** Parses the bytes of {@code buf} (consuming them). */
  void feed(ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      feed(buf.get());
    }
  }

  void feed(byte[] bytes) throws IOException {
    for (byte b : bytes) {
      feed(b);
    }
  }

  private void feed(byte b) throws IOException {
    if (bomState >= 0) {
      int[] bom = {0xEF, 0xBB, 0xBF};
      if ((b & 0xFF) == bom[bomState]) {
        bomState++;
        if (bomState == 3) {
          bomState = -1;
        }
        return;
      }
      // Not a BOM after all: what was matched is text.
      for (int i = 0; i < bomState; i++) {
        line.write(bom[i]);
      }
      bomState = -1;
    }
    if (b == '\n') {
      if (afterCr) {
        afterCr = false; // the LF of a CRLF
        return;
      }
      endLine();
    } else if (b == '\r') {
      afterCr = true;
      endLine();
    } else {
      afterCr = false;
      if (line.size() >= maxLine) {
        throw new IOException("an event-stream line is longer than " + maxLine + " bytes");
      }
      line.write(b);
    }
  }

  private void endLine() {
    String text = line.toString(StandardCharsets.UTF_8);
    line.reset();
    if (text.isEmpty()) {
      dispatch();
      return;
    }
    if (text.charAt(0) == ':') {
      handler.comment(text.substring(1));
      return;
    }
    int colon = text.indexOf(':');
    String field = colon < 0 ? text : text.substring(0, colon);
    String value = colon < 0 ? "" : text.substring(colon + 1);
    if (value.startsWith(" ")) {
      value = value.substring(1);
    }
    switch (field) {
      case "event" -> type = value;
      case "data" -> {
        data.append(value).append('\n');
        hasData = true;
      }
      case "id" -> {
        if (value.indexOf('\0') < 0) {
          lastId = value;
        }
      }
      case "retry" -> {
        if (!value.isEmpty() && value.chars().allMatch(c -> c >= '0' && c <= '9') && value.length() < 19) {
          handler.retry(Long.parseLong(value));
        }
      }
      default -> {
        // unknown fields are ignored
      }
    }
  }

  private void dispatch() {
    if (!hasData) {
      type = null;
      return;
    }
    String d = data.substring(0, data.length() - 1);
    String t = type == null || type.isEmpty() ? "message" : type;
    data.setLength(0);
    hasData = false;
    type = null;
    handler.event(lastId, t, d);
  }
}
