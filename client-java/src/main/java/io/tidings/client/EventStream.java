package io.tidings.client;

import java.time.Duration;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A subscription read by pulling: a blocking, closeable sequence of events, from
 * {@link TidingsClient#stream}. Iterate it once, like a {@link java.nio.file.DirectoryStream}:
 *
 * <pre>{@code
 * try (EventStream events = client.stream(List.of("orders"), "earliest")) {
 *   for (Event e : events) {          // blocks until the next event
 *     if (e.isReset()) { local.clear(); continue; }
 *     handle(e);
 *   }
 * }
 * }</pre>
 *
 * <p>Events are buffered up to a bound (1024); while the buffer is full the subscription reads
 * nothing more from the server. A reset appears in place as a marker event ({@link Event#isReset()}).
 * Read it from one thread at a time. The sequence ends when the stream is closed, or when the subscription ends with an error, which
 * {@link #next()} then throws.
 */
public final class EventStream implements Iterable<Event>, AutoCloseable {
  static final int CAPACITY = 1024;

  private final ArrayBlockingQueue<Event> queue = new ArrayBlockingQueue<>(CAPACITY);
  private volatile Subscription subscription; // set once subscribe() returns; events may come first
  private volatile boolean closed;
  private volatile boolean ended;
  private volatile TidingsException error;
  private boolean iterated;
  private volatile Event head; // taken by hasNext(), handed out by the next next()

  EventStream(TidingsClient client, java.util.Map<String, String> since, SubscribeOptions options) {
    SubscriptionListener listener = new SubscriptionListener() {
      @Override
      public void onEvent(Event event) {
        put(event);
      }

      @Override
      public void onReset(Reset reset) {
        put(Event.resetMarker(reset));
      }

      @Override
      public void onStatus(Subscription.Status status, Transport transport, String reason) {
        if (status == Subscription.Status.CLOSED) {
          ended = true;
        }
      }

      @Override
      public void onError(TidingsException e) {
        error = e;
        ended = true;
      }
    };
    this.subscription = client.subscribe(since, options, listener);
  }

  private void put(Event e) {
    try {
      // The subscription may be closed directly too: then stop waiting for room.
      while (!closed && !(subscription instanceof SubscriptionImpl s && s.isClosing())) {
        if (queue.offer(e, 100, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
    }
  }

  /** The subscription behind the stream: cursors, transport, status. */
  public Subscription subscription() {
    return subscription;
  }

  /**
   * The next event, waiting as long as it takes.
   *
   * @throws NoSuchElementException when the stream was closed (or ended) and holds no more events
   * @throws TidingsException when the subscription ended with an error
   */
  public Event next() {
    while (true) {
      Event e = poll(Duration.ofMillis(200));
      if (e != null) {
        return e;
      }
      if (finished()) {
        if (error != null && !closed) {
          throw error;
        }
        throw new NoSuchElementException("the stream is closed");
      }
    }
  }

  /**
   * The next event, or null when none arrives within {@code timeout} or the stream has ended.
   */
  public Event poll(Duration timeout) {
    if (head != null) {
      Event h = head;
      head = null;
      return h;
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (true) {
        long left = deadline - System.nanoTime();
        Event e = queue.poll(Math.max(0, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100))), TimeUnit.NANOSECONDS);
        if (e != null) {
          return e;
        }
        if (finished() || left <= 0) {
          return null;
        }
      }
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * Whether another event will come: waits for one, and is false once the stream has ended and
   * every buffered event was taken.
   *
   * @throws TidingsException when the subscription ended with an error
   */
  public boolean hasNext() {
    while (true) {
      if (head != null || !queue.isEmpty()) {
        return true;
      }
      if (finished()) {
        if (error != null && !closed) {
          throw error;
        }
        return false;
      }
      try {
        Event e = queue.poll(100, TimeUnit.MILLISECONDS);
        if (e != null) {
          // put it back in front: a blocking queue has no peek-with-wait
          pushBack(e);
          return true;
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
  }

  private void pushBack(Event e) {
    head = e;
  }

  private boolean finished() {
    return (closed || ended) && queue.isEmpty() && head == null;
  }

  /** The events, once; {@link Iterator#hasNext()} and {@link Iterator#next()} block. */
  @Override
  public synchronized Iterator<Event> iterator() {
    if (iterated) {
      throw new IllegalStateException("an EventStream can be iterated once");
    }
    iterated = true;
    return new Iterator<>() {
      @Override
      public boolean hasNext() {
        return EventStream.this.hasNext();
      }

      @Override
      public Event next() {
        return EventStream.this.next();
      }
    };
  }

  /** Closes the subscription; a blocked {@link #next()} returns (throwing NoSuchElementException) promptly. */
  @Override
  public void close() {
    closed = true;
    subscription.close();
  }
}
