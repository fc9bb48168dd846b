package io.tidings.core.hub;

import io.tidings.core.AppendListener;
import io.tidings.core.Event;
import io.tidings.core.TopicHead;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One-shot waiters for the next append to a topic: what a long poll is while it is held. A
 * waiter costs one small object and no thread; an append wakes exactly the waiters of its topic,
 * each on its own executor (the event loop that owns its connection), with one task per executor
 * rather than one per waiter.
 *
 * <p>Engines make a head visible before telling listeners, so a caller that adds a waiter and then
 * finds the head already past its position never misses a wake-up: it wakes itself.
 */
public final class TopicWaiters implements AppendListener {
  private static final Logger LOG = LoggerFactory.getLogger(TopicWaiters.class);

  private final ConcurrentHashMap<String, Set<Waiter>> byTopic = new ConcurrentHashMap<>();
  private final AtomicInteger count = new AtomicInteger();
  private final int max;

  /** A held request waiting for a topic to change. */
  public interface Waiter {
    /** Where {@link #wake} runs. */
    Executor executor();

    /**
     * The topic changed. Runs on {@link #executor()}.
     *
     * @param memo shared by the waiters woken in the same task, to encode an identical answer once
     */
    void wake(TopicHead head, List<Event> events, Map<Object, Object> memo);
  }

  /** @param max the most waiters held at once */
  public TopicWaiters(int max) {
    this.max = max;
  }

  /** Adds a waiter; returns false, adding nothing, when {@code max} waiters are already held. */
  public boolean add(String topic, Waiter waiter) {
    if (count.incrementAndGet() > max) {
      count.decrementAndGet();
      return false;
    }
    byTopic.compute(topic, (t, set) -> {
      Set<Waiter> s = set == null ? new HashSet<>() : set;
      s.add(waiter);
      return s;
    });
    return true;
  }

  /** Removes a waiter that gave up (timeout, closed connection); harmless if it was already woken. */
  public void remove(String topic, Waiter waiter) {
    byTopic.computeIfPresent(topic, (t, set) -> {
      if (set.remove(waiter)) {
        count.decrementAndGet();
      }
      return set.isEmpty() ? null : set;
    });
  }

  /** Waiters held now. */
  public int size() {
    return count.get();
  }

  @Override
  public void onAppend(TopicHead head, List<Event> events) {
    Set<Waiter> woken = byTopic.remove(head.topic());
    if (woken == null) {
      return;
    }
    count.addAndGet(-woken.size());
    Map<Executor, List<Waiter>> perExecutor = new IdentityHashMap<>();
    for (Waiter w : woken) {
      perExecutor.computeIfAbsent(w.executor(), e -> new ArrayList<>()).add(w);
    }
    for (Map.Entry<Executor, List<Waiter>> e : perExecutor.entrySet()) {
      List<Waiter> group = e.getValue();
      e.getKey().execute(() -> {
        Map<Object, Object> memo = new HashMap<>();
        for (Waiter w : group) {
          try {
            w.wake(head, events, memo);
          } catch (RuntimeException ex) {
            LOG.warn("a waiter failed to wake", ex);
          }
        }
      });
    }
  }
}
