package io.tidings.server.limits;

import java.util.Iterator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * A concurrent table of per-key state (token buckets, poll times) that cannot grow without bound:
 * at most about {@code maxKeys} entries, and entries untouched for {@code idleNanos} are dropped by
 * {@link #expire}. Callers pick {@code idleNanos} so that a dropped entry is as good as a new one
 * (a token bucket that has refilled), so expiry changes nothing a client can see.
 *
 * <p>When a flood of new keys (an attacker spraying source addresses) fills the table, it first
 * drops what has expired, then a tenth of the entries in arbitrary order. An evicted key starts
 * again from a fresh entry: the table fails towards leniency for a few keys, never towards memory.
 */
final class KeyedTable<V> {
  private static final class Slot<V> {
    final V value;
    volatile long touched;

    Slot(V value) {
      this.value = value;
    }
  }

  private final ConcurrentHashMap<String, Slot<V>> map = new ConcurrentHashMap<>();
  private final ReentrantLock evicting = new ReentrantLock();
  private final int maxKeys;
  private final long idleNanos;
  private final Function<String, V> factory;

  KeyedTable(int maxKeys, long idleNanos, Function<String, V> factory) {
    this.maxKeys = maxKeys;
    this.idleNanos = idleNanos;
    this.factory = factory;
  }

  /** The entry of {@code key}, made when missing; {@code now} is {@link System#nanoTime()}. */
  V get(String key, long now) {
    Slot<V> slot = map.get(key);
    if (slot == null) {
      if (map.size() >= maxKeys) {
        makeRoom(now);
      }
      slot = map.computeIfAbsent(key, k -> new Slot<>(factory.apply(k)));
    }
    slot.touched = now;
    return slot.value;
  }

  /** Drops the entries untouched for longer than the idle time. */
  void expire(long now) {
    map.values().removeIf(s -> now - s.touched > idleNanos);
  }

  int size() {
    return map.size();
  }

  private void makeRoom(long now) {
    // One thread evicts; others insert meanwhile (the table overshoots by a few entries at most).
    if (!evicting.tryLock()) {
      return;
    }
    try {
      if (map.size() < maxKeys) {
        return;
      }
      expire(now);
      int excess = map.size() - maxKeys + Math.max(1, maxKeys / 10);
      Iterator<Slot<V>> it = map.values().iterator();
      while (excess-- > 0 && it.hasNext()) {
        it.next();
        it.remove();
      }
    } finally {
      evicting.unlock();
    }
  }
}
