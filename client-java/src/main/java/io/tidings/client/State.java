package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A topic's state: the latest {@code data} per key.
 *
 * @param topic the topic
 * @param cursor the head the state reflects (of its first page, when it took several): follow
 *     changes from here with {@link TidingsClient#changes(String, String, int)} to miss nothing
 * @param entries the entries by key, in the server's key order (Unicode code point order);
 *     unmodifiable
 */
public record State(String topic, String cursor, Map<String, Entry> entries) {
  public State {
    entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
  }

  /** The data at {@code key}, or null when the key is absent. */
  public JsonNode get(String key) {
    Entry e = entries.get(key);
    return e == null ? null : e.data();
  }

  /** The number of keys. */
  public int size() {
    return entries.size();
  }

  /**
   * One state entry.
   *
   * @param key the key
   * @param data its latest data
   * @param offset the offset of the event that set it
   * @param time when that event was appended
   */
  public record Entry(String key, JsonNode data, long offset, Instant time) {
  }
}
