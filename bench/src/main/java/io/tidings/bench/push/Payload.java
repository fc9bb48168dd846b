package io.tidings.bench.push;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;

/**
 * The benchmark's message: {@code {"s":SEQ,"t":MICROS,"p":"xxx…"}} padded to a fixed size, where
 * {@code s} is the sequence number within its topic (from 1) and {@code t} the publisher's wall
 * clock in microseconds when it sent the request (publisher and subscribers share the machine,
 * hence the clock). Subscribers find the two numbers by scanning for {@code "s":} and {@code "t":}
 * in whatever frame or line carries the message: no JSON parse.
 */
final class Payload {
  private static final Clock CLOCK = Clock.systemUTC();
  private static final byte[] S_KEY = "\"s\":".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] T_KEY = "\"t\":".getBytes(StandardCharsets.US_ASCII);

  private Payload() {}

  /** Wall clock, microseconds since the epoch (microsecond resolution on Linux). */
  static long nowMicros() {
    Instant i = CLOCK.instant();
    return i.getEpochSecond() * 1_000_000L + i.getNano() / 1_000;
  }

  /** The message for sequence {@code seq} sent at {@code micros}, {@code size} bytes long (at least its fields). */
  static String build(long seq, long micros, int size) {
    StringBuilder sb = new StringBuilder(Math.max(size, 64));
    sb.append("{\"s\":").append(seq).append(",\"t\":").append(micros).append(",\"p\":\"");
    int pad = size - sb.length() - 2;
    for (int i = 0; i < pad; i++) {
      sb.append('x');
    }
    sb.append("\"}");
    return sb.toString();
  }

  /**
   * Finds {@code "s":N} and, after it, {@code "t":M} in {@code buf[from, to)}; stores N and M in
   * {@code out[0]} and {@code out[1]}. False when either is missing (not a benchmark message).
   */
  static boolean parse(ByteBuf buf, int from, int to, long[] out) {
    int s = indexOf(buf, from, to, S_KEY);
    if (s < 0) {
      return false;
    }
    long seq = number(buf, s + S_KEY.length, to);
    if (seq < 0) {
      return false;
    }
    int t = indexOf(buf, s + S_KEY.length, to, T_KEY);
    if (t < 0) {
      return false;
    }
    long micros = number(buf, t + T_KEY.length, to);
    if (micros < 0) {
      return false;
    }
    out[0] = seq;
    out[1] = micros;
    return true;
  }

  /** True when {@code buf[from, to)} contains {@code needle}. */
  static boolean contains(ByteBuf buf, int from, int to, byte[] needle) {
    return indexOf(buf, from, to, needle) >= 0;
  }

  /** True when {@code buf[from, to)} starts with {@code prefix}. */
  static boolean startsWith(ByteBuf buf, int from, int to, byte[] prefix) {
    if (to - from < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (buf.getByte(from + i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  static int indexOf(ByteBuf buf, int from, int to, byte[] needle) {
    byte first = needle[0];
    int last = to - needle.length;
    outer:
    for (int i = from; i <= last; i++) {
      if (buf.getByte(i) != first) {
        continue;
      }
      for (int j = 1; j < needle.length; j++) {
        if (buf.getByte(i + j) != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** The non-negative decimal number at {@code at} (spaces skipped), or -1. */
  private static long number(ByteBuf buf, int at, int to) {
    int i = at;
    while (i < to && buf.getByte(i) == ' ') {
      i++;
    }
    long v = 0;
    int start = i;
    while (i < to) {
      byte b = buf.getByte(i);
      if (b < '0' || b > '9') {
        break;
      }
      v = v * 10 + (b - '0');
      i++;
    }
    return i == start ? -1 : v;
  }
}
