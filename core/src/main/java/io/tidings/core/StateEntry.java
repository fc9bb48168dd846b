package io.tidings.core;

/**
 * The latest value of one key in a topic's state.
 *
 * @param key the key
 * @param data the value as compact JSON text
 * @param offset the offset of the {@code put} that set it
 * @param time the time of that {@code put}, in epoch milliseconds
 */
public record StateEntry(String key, String data, long offset, long time) {}
