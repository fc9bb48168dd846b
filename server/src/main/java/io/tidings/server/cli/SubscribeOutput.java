package io.tidings.server.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where {@code tidings subscribe} prints: whole JSON lines in UTF-8 (whatever the locale), each
 * flushed at once, under a lock that {@link #seal()} takes for good so that a signal never cuts a
 * line in half.
 */
final class SubscribeOutput {
  /** Keeps numbers exactly as they came (no double rounding), so an event prints as received. */
  static final ObjectMapper JSON = new ObjectMapper()
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .setNodeFactory(JsonNodeFactory.withExactBigDecimals(true));

  private final OutputStream out;
  private final ReentrantLock lock = new ReentrantLock();
  private volatile boolean sealed;

  SubscribeOutput(OutputStream out) {
    this.out = out;
  }

  /**
   * Prints an SSE event's data: the text as it came when it is one line of JSON, else re-serialized
   * on one line. Returns false (printing nothing) when it is not a JSON object.
   */
  boolean eventData(String data) {
    ObjectNode event = parseObject(data);
    if (event == null) {
      return false;
    }
    println(data.indexOf('\n') < 0 && data.indexOf('\r') < 0 ? data.strip() : event.toString());
    return true;
  }

  /** Prints an SSE reset's data as {@code {"reset":{...}}}; false when it is not a JSON object. */
  boolean resetData(String data) {
    ObjectNode reset = parseObject(data);
    if (reset == null) {
      return false;
    }
    println(reset(reset));
    return true;
  }

  /** Prints a WebSocket {@code event} op as the event itself (without {@code op}). */
  void eventOp(ObjectNode op) {
    ObjectNode event = op.deepCopy();
    event.remove("op");
    println(event.toString());
  }

  /** Prints a WebSocket {@code reset} op as {@code {"reset":{...}}} (without {@code op}). */
  void resetOp(ObjectNode op) {
    ObjectNode reset = op.deepCopy();
    reset.remove("op");
    println(reset(reset));
  }

  private static String reset(ObjectNode body) {
    ObjectNode line = JSON.createObjectNode();
    line.set("reset", body);
    return line.toString();
  }

  /** The JSON object in {@code text}, or null when it is not one. */
  static ObjectNode parseObject(String text) {
    try {
      JsonNode node = JSON.readTree(text);
      return node instanceof ObjectNode o ? o : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** One line; after {@link #seal()} nothing. Throws {@link UncheckedIOException} when standard output is gone. */
  void println(String line) {
    byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
    lock.lock();
    try {
      if (sealed) {
        return;
      }
      out.write(bytes);
      out.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits (briefly) for a line being written to finish, then stops all printing for good: the lock
   * is kept, so the process can exit between two lines.
   */
  void seal() {
    try {
      lock.tryLock(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    sealed = true;
  }
}
