package io.tidings.server.push;

import io.tidings.core.Cursor;
import io.tidings.core.InvalidCursorException;
import io.tidings.core.Position;
import java.util.ArrayList;
import java.util.List;

/**
 * The cursor of an SSE stream over several topics: one position per topic, in the order the
 * topics were given, so one {@code Last-Event-ID} resumes them all. A GraphQL subscription's
 * {@code stream_cursor} is the same text, so either resumes the other.
 *
 * <p>For one topic it is that topic's cursor, the same text as everywhere else. For several, the
 * parts are joined by {@code ~}; a part is {@code <epoch>.<offset>}, or just {@code <offset>} when
 * its epoch is the previous part's: {@code k3v7q2mz6a.17~4~230}. When a client builds one to start a
 * stream, a part may also be {@code earliest} or {@code now} (a topic it has no position in yet).
 */
public final class StreamCursor {
  private StreamCursor() {}

  static String encode(List<Cursor> parts) {
    if (parts.size() == 1) {
      return parts.get(0).encode();
    }
    StringBuilder out = new StringBuilder(16 + parts.size() * 8);
    String epoch = null;
    for (Cursor c : parts) {
      if (epoch != null) {
        out.append('~');
      }
      if (!c.epoch().equals(epoch)) {
        out.append(c.epoch()).append('.');
        epoch = c.epoch();
      }
      out.append(c.offset());
    }
    return out.toString();
  }

  /**
   * Encodes positions of which some may still be {@code earliest} or {@code now} (topics whose start
   * has not been resolved yet); such parts are written as those words, which {@link #parse} accepts.
   */
  public static String encodePositions(List<Position> parts) {
    StringBuilder out = new StringBuilder(16 + parts.size() * 8);
    String epoch = null;
    for (Position p : parts) {
      if (out.length() > 0) {
        out.append('~');
      }
      if (p instanceof Cursor c) {
        if (!c.epoch().equals(epoch) || parts.size() == 1) {
          out.append(c.epoch()).append('.');
          epoch = c.epoch();
        }
        out.append(c.offset());
      } else {
        out.append(p);
      }
    }
    return out.toString();
  }

  /**
   * Parses a stream cursor for {@code topics} topics.
   *
   * @throws InvalidCursorException when it is malformed or holds another number of positions
   */
  public static List<Position> parse(String text, int topics) {
    if (text.length() > Cursor.MAX_LENGTH) {
      throw new InvalidCursorException("cursor is longer than " + Cursor.MAX_LENGTH + " characters");
    }
    String[] parts = text.split("~", -1);
    if (parts.length != topics) {
      throw new InvalidCursorException("the cursor holds " + parts.length + " position(s), but the stream has "
          + topics + " topic(s) (keep the topics in the order of the stream the cursor came from)");
    }
    List<Position> out = new ArrayList<>(topics);
    String epoch = null;
    for (String part : parts) {
      Cursor c;
      if (part.equals("earliest") || part.equals("now")) {
        out.add(Position.parse(part));
        continue;
      } else if (part.indexOf('.') >= 0) {
        c = Cursor.parse(part);
      } else if (epoch != null) {
        c = Cursor.parse(epoch + '.' + part);
      } else {
        throw new InvalidCursorException("malformed cursor");
      }
      epoch = c.epoch();
      out.add(c);
    }
    return out;
  }
}
