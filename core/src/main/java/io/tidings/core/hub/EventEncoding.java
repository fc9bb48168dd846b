package io.tidings.core.hub;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One wire format of a batch of events. A batch is encoded at most once per encoding, by whichever
 * event loop asks first, and the result is shared by every connection that uses that format.
 *
 * <p>Create encodings once (as constants): each takes one of a small, fixed number of cache slots.
 *
 * @param <T> what an encoded batch is, e.g. one byte array per event
 */
public abstract class EventEncoding<T> {
  static final int MAX_SLOTS = 16;
  private static final AtomicInteger NEXT_SLOT = new AtomicInteger();

  final int slot;

  protected EventEncoding() {
    slot = NEXT_SLOT.getAndIncrement();
    if (slot >= MAX_SLOTS) {
      throw new IllegalStateException("more than " + MAX_SLOTS + " event encodings were created");
    }
  }

  /** Encodes the whole batch; must not keep references to mutable state. */
  protected abstract T encode(EventBatch batch);
}
