package io.tidings.core;

import java.util.Objects;

/**
 * One change in a {@link Records#write} unit.
 *
 * @param space the space changed
 * @param id the document changed, or {@code null} to delete the whole space
 * @param value the new text, or {@code null} to delete the document
 */
public record RecordWrite(String space, String id, String value) {
  public RecordWrite {
    Objects.requireNonNull(space, "space");
    if (id == null && value != null) {
      throw new IllegalArgumentException("a value needs an id");
    }
  }

  /** Stores {@code value} as document {@code id} of {@code space}, replacing any. */
  public static RecordWrite put(String space, String id, String value) {
    return new RecordWrite(space, Objects.requireNonNull(id, "id"), Objects.requireNonNull(value, "value"));
  }

  /** Removes document {@code id} of {@code space}, if present. */
  public static RecordWrite delete(String space, String id) {
    return new RecordWrite(space, Objects.requireNonNull(id, "id"), null);
  }

  /** Removes every document of {@code space}. */
  public static RecordWrite clear(String space) {
    return new RecordWrite(space, null, null);
  }
}
