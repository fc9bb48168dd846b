package io.tidings.client;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local copy of one topic's state, kept current: {@link TidingsClient#mirror(String)} loads the
 * state, then follows the topic's changes from the state's cursor ({@code put} sets a key,
 * {@code delete} removes it). When the topic is reset (its history was trimmed past the mirror's
 * position, or the server's store was replaced) the copy is cleared and refilled from the state
 * that follows. Close it when done.
 *
 * <pre>{@code
 * try (Mirror scores = client.mirror("scores/match-42")) {
 *   scores.addListener(event -> render(scores.state()));
 *   JsonNode home = scores.get("home");
 * }
 * }</pre>
 */
public final class Mirror implements AutoCloseable {
  /** Told of every change of a {@link Mirror}, on the mirror's subscription thread. */
  @FunctionalInterface
  public interface Listener {
    /**
     * The mirror changed.
     *
     * @param event the {@code put} or {@code delete} just applied (or another event type, which
     *     changes nothing), or null when a reset cleared the mirror
     */
    void changed(Event event);
  }

  private final String topic;
  private final Map<String, JsonNode> entries = new ConcurrentHashMap<>();
  private final Map<String, JsonNode> view = Collections.unmodifiableMap(entries);
  private final CopyOnWriteArrayList<Listener> listeners = new CopyOnWriteArrayList<>();
  private final Subscription subscription;

  Mirror(TidingsClient client, String topic, SubscribeOptions options) {
    this.topic = topic;
    State state = client.state(topic);
    state.entries().forEach((k, e) -> entries.put(k, orNull(e.data())));
    Map<String, String> since = new LinkedHashMap<>();
    since.put(topic, state.cursor());
    this.subscription = client.subscribe(since, options.toBuilder().mode(SubscribeOptions.Mode.FULL).build(),
        new SubscriptionListener() {
          @Override
          public void onEvent(Event event) {
            apply(event);
          }

          @Override
          public void onReset(Reset reset) {
            entries.clear();
            fire(null);
          }
        });
  }

  private void apply(Event e) {
    if (e.key() != null) {
      if ("put".equals(e.type())) {
        entries.put(e.key(), orNull(e.data()));
      } else if ("delete".equals(e.type())) {
        entries.remove(e.key());
      }
    }
    fire(e);
  }

  private static JsonNode orNull(JsonNode data) {
    return data == null ? com.fasterxml.jackson.databind.node.NullNode.getInstance() : data;
  }

  private void fire(Event e) {
    for (Listener l : listeners) {
      try {
        l.changed(e);
      } catch (RuntimeException ignored) {
        // one listener's failure does not stop the others
      }
    }
  }

  /** The topic. */
  public String topic() {
    return topic;
  }

  /**
   * The state: key to data, a live read-only view that changes as events arrive. Right after a
   * reset it is refilled key by key; {@link #snapshot()} copies it.
   */
  public Map<String, JsonNode> state() {
    return view;
  }

  /** A copy of the state at this moment, sorted by key. */
  public Map<String, JsonNode> snapshot() {
    return Collections.unmodifiableMap(new java.util.TreeMap<>(entries));
  }

  /** The data at {@code key}, or null. */
  public JsonNode get(String key) {
    return entries.get(key);
  }

  /** The number of keys. */
  public int size() {
    return entries.size();
  }

  /** The position the mirror has reached (the cursor of the last applied event). */
  public String cursor() {
    return subscription.cursor(topic);
  }

  /** The subscription that keeps the mirror current (status, transport). */
  public Subscription subscription() {
    return subscription;
  }

  /** Calls {@code listener} after every change. */
  public void addListener(Listener listener) {
    listeners.add(java.util.Objects.requireNonNull(listener, "listener"));
  }

  /** Stops calling {@code listener}. */
  public void removeListener(Listener listener) {
    listeners.remove(listener);
  }

  /** Stops following the topic; the state stays readable as it was. */
  @Override
  public void close() {
    subscription.close();
  }
}
