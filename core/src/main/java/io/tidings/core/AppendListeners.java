package io.tidings.core;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The listeners registered with an engine; one failing listener never affects the others. */
public final class AppendListeners {
  private static final Logger LOG = LoggerFactory.getLogger(AppendListeners.class);

  private final CopyOnWriteArrayList<AppendListener> listeners = new CopyOnWriteArrayList<>();

  /** Adds a listener; closing the handle removes it. */
  public AutoCloseable add(AppendListener listener) {
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Tells every listener; a listener that throws is logged and skipped. */
  public void fire(TopicHead head, List<Event> events) {
    if (events.isEmpty()) {
      return;
    }
    for (AppendListener listener : listeners) {
      try {
        listener.onAppend(head, events);
      } catch (RuntimeException e) {
        LOG.warn("append listener failed", e);
      }
    }
  }
}
