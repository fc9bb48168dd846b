package io.tidings.core;

/**
 * Where a reader starts: before the oldest retained event, at the current head, or after a
 * concrete {@link Cursor}.
 */
public sealed interface Position permits Position.Earliest, Position.Now, Cursor {

  /** Before the oldest retained event of a topic. */
  Position EARLIEST = new Earliest();

  /** The current head of a topic: only events published from now on. */
  Position NOW = new Now();

  /**
   * Parses the wire form: {@code earliest}, {@code now}, or an encoded cursor.
   *
   * @throws InvalidCursorException when the text is none of these
   */
  static Position parse(String text) {
    if ("earliest".equals(text)) {
      return EARLIEST;
    }
    if ("now".equals(text)) {
      return NOW;
    }
    return Cursor.parse(text);
  }

  /** The special position {@code earliest}. */
  record Earliest() implements Position {
    @Override
    public String toString() {
      return "earliest";
    }
  }

  /** The special position {@code now}. */
  record Now() implements Position {
    @Override
    public String toString() {
      return "now";
    }
  }
}
