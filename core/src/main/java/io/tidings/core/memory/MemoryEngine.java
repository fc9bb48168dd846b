package io.tidings.core.memory;

import io.tidings.core.AppendListener;
import io.tidings.core.AppendListeners;
import io.tidings.core.AppendResult;
import io.tidings.core.Cursor;
import io.tidings.core.DedupeWindow;
import io.tidings.core.Engine;
import io.tidings.core.EngineUnavailableException;
import io.tidings.core.Event;
import io.tidings.core.EventTypes;
import io.tidings.core.KeyOrder;
import io.tidings.core.NewEvent;
import io.tidings.core.ReadResult;
import io.tidings.core.RetentionPolicy;
import io.tidings.core.RetentionRule;
import io.tidings.core.StateEntry;
import io.tidings.core.StatePage;
import io.tidings.core.StoreProbe;
import io.tidings.core.TopicHead;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * An engine that keeps everything in memory: fast, and gone on restart. Every start gets a new
 * epoch, so cursors from an earlier run are answered with the reset rules.
 */
public final class MemoryEngine implements Engine {
  private final String epoch = Cursor.newEpoch();
  private final ConcurrentSkipListMap<String, TopicLog> topics = new ConcurrentSkipListMap<>();
  private final AppendListeners listeners = new AppendListeners();
  private final MemoryRecords records = new MemoryRecords(() -> this.closed);
  private volatile StoreProbe probe = StoreProbe.NONE;
  private final RetentionPolicy retention;
  private final DedupeWindow dedupe;
  private final Clock clock;
  private ScheduledExecutorService trimmer;
  private volatile boolean closed;

  public MemoryEngine() {
    this(RetentionPolicy.keepAll(), DedupeWindow.DEFAULT, Clock.systemUTC());
  }

  public MemoryEngine(RetentionPolicy retention, DedupeWindow dedupe, Clock clock) {
    this.retention = retention;
    this.dedupe = dedupe;
    this.clock = clock;
  }

  /** The epoch of this run's history. */
  public String epoch() {
    return epoch;
  }

  @Override
  public synchronized CompletionStage<Void> start() {
    if (trimmer == null && !retention.isEmpty()) {
      trimmer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tidings-memory-retention");
        t.setDaemon(true);
        return t;
      });
      long every = retention.interval().toMillis();
      trimmer.scheduleWithFixedDelay(this::trimAll, every, every, TimeUnit.MILLISECONDS);
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletionStage<AppendResult> append(String topic, List<NewEvent> events) {
    if (closed) {
      return CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"));
    }
    long started = System.nanoTime();
    TopicLog log = topics.computeIfAbsent(topic, TopicLog::new);
    AppendResult result = log.append(events);
    StoreProbe p = probe;
    p.appended(System.nanoTime() - started);
    p.committed(1, result.appended().size());
    return CompletableFuture.completedFuture(result);
  }

  @Override
  public void probe(StoreProbe probe) {
    this.probe = probe;
  }

  @Override
  public CompletionStage<ReadResult> read(String topic, long afterOffset, int limit) {
    TopicLog log = topics.get(topic);
    if (log == null) {
      return CompletableFuture.completedFuture(new ReadResult(TopicHead.empty(topic, epoch), List.of()));
    }
    return CompletableFuture.completedFuture(log.read(afterOffset, limit));
  }

  @Override
  public CompletionStage<StatePage> state(String topic, String afterKey, int limit) {
    TopicLog log = topics.get(topic);
    if (log == null) {
      return CompletableFuture.completedFuture(new StatePage(TopicHead.empty(topic, epoch), List.of(), null));
    }
    return CompletableFuture.completedFuture(log.state(afterKey, limit));
  }

  @Override
  public CompletionStage<TopicHead> head(String topic) {
    TopicLog log = topics.get(topic);
    return CompletableFuture.completedFuture(log == null ? TopicHead.empty(topic, epoch) : log.head());
  }

  @Override
  public CompletionStage<List<TopicHead>> topics(String prefix, String after, int limit) {
    List<TopicHead> out = new ArrayList<>();
    String from = prefix == null ? "" : prefix;
    Map<String, TopicLog> view = after != null && after.compareTo(from) >= 0
        ? topics.tailMap(after, false)
        : topics.tailMap(from, true);
    for (Map.Entry<String, TopicLog> e : view.entrySet()) {
      // Names sharing a prefix are contiguous in sort order: the first miss ends the range.
      if (out.size() >= limit || (prefix != null && !e.getKey().startsWith(prefix))) {
        break;
      }
      out.add(e.getValue().head());
    }
    return CompletableFuture.completedFuture(out);
  }

  @Override
  public io.tidings.core.Records records() {
    return records;
  }

  @Override
  public CompletionStage<Void> ping() {
    return closed
        ? CompletableFuture.failedFuture(new EngineUnavailableException("engine is closed"))
        : CompletableFuture.completedFuture(null);
  }

  @Override
  public AutoCloseable observe(AppendListener listener) {
    return listeners.add(listener);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (trimmer != null) {
      trimmer.shutdownNow();
    }
  }

  /** Applies retention to every topic now. */
  public void trimAll() {
    for (TopicLog log : topics.values()) {
      RetentionRule rule = retention.ruleFor(log.topic);
      if (rule != null) {
        log.trim(rule);
      }
    }
  }

  private final class TopicLog {
    final String topic;
    // Retained events are events[start..]; trimming advances start and compacts now and then.
    final ArrayList<Event> events = new ArrayList<>();
    int start;
    final TreeMap<String, StateEntry> state = new TreeMap<>(KeyOrder.CODE_POINT);
    // id -> {offset, time}, oldest first
    final LinkedHashMap<String, long[]> ids = new LinkedHashMap<>();
    long firstOffset = 1;
    long lastOffset;
    long lastTime;

    TopicLog(String topic) {
      this.topic = topic;
    }

    synchronized TopicHead head() {
      return new TopicHead(topic, epoch, firstOffset, lastOffset, lastTime, state.size());
    }

    // Listeners run under the topic lock so that they see each topic's appends in offset order.
    synchronized AppendResult append(List<NewEvent> batch) {
      long now = Math.max(clock.millis(), lastTime);
      List<AppendResult.Outcome> outcomes = new ArrayList<>(batch.size());
      List<Event> appended = new ArrayList<>(batch.size());
      for (NewEvent e : batch) {
        if (e.id() != null) {
          long[] seen = ids.get(e.id());
          if (seen != null) {
            outcomes.add(new AppendResult.Outcome(e.id(), seen[0], true));
            continue;
          }
        }
        long offset = ++lastOffset;
        Event event = new Event(topic, epoch, offset, e.type(), e.key(), e.data(), e.id(), now);
        events.add(event);
        appended.add(event);
        if (EventTypes.PUT.equals(e.type())) {
          state.put(e.key(), new StateEntry(e.key(), e.data() == null ? "null" : e.data(), offset, now));
        } else if (EventTypes.DELETE.equals(e.type())) {
          state.remove(e.key());
        }
        if (e.id() != null) {
          ids.put(e.id(), new long[] {offset, now});
        }
        outcomes.add(new AppendResult.Outcome(e.id(), offset, false));
      }
      if (!appended.isEmpty()) {
        lastTime = now;
      }
      forgetOldIds(now);
      RetentionRule rule = retention.ruleFor(topic);
      if (rule != null && rule.maxEvents() > 0) {
        trimTo(lastOffset - rule.maxEvents() + 1);
      }
      TopicHead head = head();
      listeners.fire(head, appended);
      return new AppendResult(head, outcomes, appended);
    }

    private void forgetOldIds(long now) {
      long cutoff = now - dedupe.minAge().toMillis();
      Iterator<long[]> it = ids.values().iterator();
      while (ids.size() > dedupe.minIds() && it.hasNext()) {
        if (it.next()[1] >= cutoff) {
          break;
        }
        it.remove();
      }
    }

    synchronized void trim(RetentionRule rule) {
      if (rule.maxEvents() > 0) {
        trimTo(lastOffset - rule.maxEvents() + 1);
      }
      if (rule.maxAge() != null) {
        long cutoff = clock.millis() - rule.maxAge().toMillis();
        while (start < events.size() && events.get(start).time() < cutoff) {
          start++;
        }
        compact();
      }
      forgetOldIds(clock.millis());
    }

    private void trimTo(long keepFrom) {
      while (start < events.size() && events.get(start).offset() < keepFrom) {
        start++;
      }
      compact();
    }

    private void compact() {
      firstOffset = start < events.size() ? events.get(start).offset() : lastOffset + 1;
      if (start > 1024 && start > events.size() / 2) {
        events.subList(0, start).clear();
        start = 0;
      }
    }

    synchronized ReadResult read(long afterOffset, int limit) {
      List<Event> out = new ArrayList<>();
      if (start < events.size() && afterOffset < lastOffset) {
        // Retained offsets are consecutive, so the index is a subtraction away.
        long first = events.get(start).offset();
        int from = start + (int) Math.max(0, afterOffset + 1 - first);
        int to = (int) Math.min(events.size(), (long) from + limit);
        long chars = 0;
        for (int i = from; i < to && chars < READ_BUDGET_CHARS; i++) {
          Event e = events.get(i);
          out.add(e);
          chars += e.data() == null ? 0 : e.data().length();
        }
      }
      return new ReadResult(head(), out);
    }

    synchronized StatePage state(String afterKey, int limit) {
      if (limit <= 0) {
        return new StatePage(head(), List.of(), null);
      }
      Map<String, StateEntry> view = afterKey == null ? state : state.tailMap(afterKey, false);
      List<StateEntry> out = new ArrayList<>(Math.min(limit, view.size()));
      String next = null;
      long chars = 0;
      for (StateEntry entry : view.values()) {
        if (out.size() == limit || chars >= READ_BUDGET_CHARS) {
          next = out.get(out.size() - 1).key();
          break;
        }
        out.add(entry);
        chars += entry.data().length();
      }
      return new StatePage(head(), out, next);
    }
  }
}
