package io.tidings.core;

import java.security.SecureRandom;

/**
 * A position in one topic: "after the event at {@code offset}" in the history identified by
 * {@code epoch}. Offset 0 is the position before the first event.
 *
 * <p>The wire form is {@code <epoch>.<offset>}, e.g. {@code k3v7q2mz6a.17}. Clients treat it as
 * opaque; the epoch makes a cursor from a lost history detectable instead of silently wrong.
 */
public record Cursor(String epoch, long offset) implements Position {
  /** Longest cursor text accepted on the wire. */
  public static final int MAX_LENGTH = 512;

  private static final int EPOCH_LENGTH = 10;
  private static final char[] EPOCH_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  public Cursor {
    if (!isEpoch(epoch)) {
      throw new IllegalArgumentException("bad epoch: " + epoch);
    }
    if (offset < 0) {
      throw new IllegalArgumentException("negative offset: " + offset);
    }
  }

  /** A fresh random epoch, for a store whose history starts now. */
  public static String newEpoch() {
    char[] out = new char[EPOCH_LENGTH];
    for (int i = 0; i < out.length; i++) {
      out[i] = EPOCH_ALPHABET[RANDOM.nextInt(EPOCH_ALPHABET.length)];
    }
    return new String(out);
  }

  /** Whether {@code text} has the shape of an epoch: ten characters of {@code [a-z2-7]}. */
  public static boolean isEpoch(String text) {
    if (text == null || text.length() != EPOCH_LENGTH) {
      return false;
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Parses the wire form {@code <epoch>.<offset>}.
   *
   * @throws InvalidCursorException when {@code text} is not a well-formed cursor
   */
  public static Cursor parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new InvalidCursorException("cursor is empty");
    }
    if (text.length() > MAX_LENGTH) {
      throw new InvalidCursorException("cursor is longer than " + MAX_LENGTH + " characters");
    }
    int dot = text.lastIndexOf('.');
    if (dot <= 0 || dot == text.length() - 1) {
      throw new InvalidCursorException("malformed cursor");
    }
    String epoch = text.substring(0, dot);
    if (!isEpoch(epoch)) {
      throw new InvalidCursorException("malformed cursor");
    }
    long offset = 0;
    for (int i = dot + 1; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9' || (i == dot + 1 && c == '0' && text.length() > dot + 2)) {
        throw new InvalidCursorException("malformed cursor");
      }
      if (offset > (Long.MAX_VALUE - (c - '0')) / 10) {
        throw new InvalidCursorException("malformed cursor");
      }
      offset = offset * 10 + (c - '0');
    }
    return new Cursor(epoch, offset);
  }

  /** The wire form. */
  public String encode() {
    return epoch + '.' + offset;
  }

  @Override
  public String toString() {
    return encode();
  }
}
