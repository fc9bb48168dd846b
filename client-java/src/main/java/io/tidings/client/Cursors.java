package io.tidings.client;

import java.util.ArrayList;
import java.util.List;

/**
 * What the client reads from cursors. They are opaque to applications, but this server writes them
 * as {@code <epoch>.<offset>} (docs/http-api.md), and an SSE stream over several topics joins the
 * topics' cursors with {@code ~}, writing a part's epoch only when it differs from the previous
 * part's. The subscription needs both to follow several topics over one stream and to know where a
 * reset continues.
 */
final class Cursors {
  static final String EARLIEST = "earliest";
  static final String NOW = "now";

  private Cursors() {
  }

  static boolean symbolic(String cursor) {
    return cursor == null || EARLIEST.equals(cursor) || NOW.equals(cursor);
  }

  /** The offset a concrete cursor points after, or -1 when it is not of the known form. */
  static long offset(String cursor) {
    if (symbolic(cursor)) {
      return -1;
    }
    int dot = cursor.lastIndexOf('.');
    if (dot < 0 || dot == cursor.length() - 1) {
      return -1;
    }
    try {
      return Long.parseLong(cursor.substring(dot + 1));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** The epoch of a concrete cursor, or null. */
  static String epoch(String cursor) {
    if (symbolic(cursor)) {
      return null;
    }
    int dot = cursor.lastIndexOf('.');
    return dot <= 0 ? null : cursor.substring(0, dot);
  }

  /** The stream cursor of an SSE stream whose topics stand at {@code cursors} (all concrete). */
  static String join(List<String> cursors) {
    return String.join("~", cursors);
  }

  /** The topics' cursors in an SSE stream cursor; null when it does not hold {@code topics} parts. */
  static List<String> split(String stream, int topics) {
    if (stream == null) {
      return null;
    }
    String[] parts = stream.split("~", -1);
    if (parts.length != topics) {
      return null;
    }
    List<String> out = new ArrayList<>(topics);
    String epoch = null;
    for (String part : parts) {
      if (part.indexOf('.') >= 0) {
        epoch = epoch(part);
        out.add(part);
      } else if (epoch != null) {
        out.add(epoch + "." + part);
      } else {
        return null;
      }
    }
    return out;
  }
}
