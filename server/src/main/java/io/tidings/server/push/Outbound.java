package io.tidings.server.push;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The bounded queue in front of one push connection. Messages go straight to the socket while it
 * keeps up; once its write queue is full they wait here, up to a number of messages and bytes.
 * Beyond that the connection is a slow consumer and {@link #offer} refuses: its owner then closes
 * it with the transport's resumable signal. Nothing here allocates for a connection that keeps up.
 * Loop-confined.
 */
public final class Outbound {
  /** The socket side: a Netty channel or a Vert.x HTTP response. */
  public interface Socket {
    boolean writeQueueFull();

    /** Writes without flushing. */
    void write(Object message);

    void flush();
  }

  private final Socket socket;
  private final java.util.concurrent.atomic.LongAdder dropped;
  private final long maxBytes;
  private final int maxMessages;
  private ArrayDeque<Object> queue;
  private int[] sizes = new int[0];
  private int head;
  private long queuedBytes;
  /** Bytes of the messages handed to the socket so far (for the access log). */
  private long written;
  private List<Runnable> waiting;
  private long blockedSince;
  private boolean closed;
  private boolean unflushed;
  /** Whether {@link #offer} wrote to the socket since the last flush. */
  private boolean wroteSinceFlush;

  /** @param dropped counts messages this queue discards: refused by {@link #offer}, or still queued at {@link #close} */
  public Outbound(Socket socket, long maxBytes, int maxMessages, java.util.concurrent.atomic.LongAdder dropped) {
    this.socket = socket;
    this.dropped = dropped;
    this.maxBytes = maxBytes;
    this.maxMessages = maxMessages;
  }

  /**
   * Sends or queues {@code message}; false when the queue would overflow (then nothing was queued
   * and the message is dropped). Call {@link #flush} after a batch.
   */
  public boolean offer(Object message, int bytes) {
    if (closed) {
      return true;
    }
    if (queue == null || queue.isEmpty()) {
      if (wroteSinceFlush && socket.writeQueueFull()) {
        // The socket's buffer is full of writes not flushed yet (flushes are deferred so that a
        // burst coalesces): hand them to the kernel now, which makes room for a connection that
        // keeps up, instead of queueing and counting it as slow for one large burst.
        socket.flush();
        wroteSinceFlush = false;
      }
      if (!socket.writeQueueFull()) {
        socket.write(message);
        written += bytes;
        wroteSinceFlush = true;
        return true;
      }
    }
    if (blockedSince == 0) {
      blockedSince = System.currentTimeMillis();
    }
    if (queue == null) {
      queue = new ArrayDeque<>();
    }
    if (queue.size() >= maxMessages || queuedBytes + bytes > maxBytes) {
      dropped.increment();
      return false;
    }
    queue.add(message);
    pushSize(bytes);
    return true;
  }

  /** Flushes what was written since the last flush. */
  public void flush() {
    unflushed = false;
    wroteSinceFlush = false;
    if (!closed) {
      socket.flush();
    }
  }

  /** Marks a flush as pending; true when it was not already. */
  public boolean markUnflushed() {
    if (unflushed) {
      return false;
    }
    unflushed = true;
    return true;
  }

  /** Runs a pending flush. */
  public void flushNow() {
    if (unflushed) {
      flush();
    }
  }

  /** Writes what the socket takes now; runs waiting tasks once everything is out. Call from the drain handler. */
  public void drained() {
    boolean wrote = false;
    while (queue != null && !queue.isEmpty() && !socket.writeQueueFull()) {
      socket.write(queue.poll());
      int bytes = popSize();
      queuedBytes -= bytes;
      written += bytes;
      wrote = true;
    }
    if (wrote) {
      socket.flush();
    }
    if (writable()) {
      blockedSince = 0;
      if (waiting != null && !waiting.isEmpty()) {
        List<Runnable> tasks = waiting;
        waiting = null;
        for (Runnable task : tasks) {
          task.run();
        }
      }
    }
  }

  /** Bytes of the messages handed to the socket so far. */
  public long written() {
    return written;
  }

  public boolean writable() {
    if (closed) {
      return false;
    }
    boolean writable = (queue == null || queue.isEmpty()) && !socket.writeQueueFull();
    if (!writable && blockedSince == 0) {
      blockedSince = System.currentTimeMillis();
    }
    return writable;
  }

  /** Runs {@code task} once the socket takes more (now, if it does); never, once closed. */
  public void whenWritable(Runnable task) {
    if (closed) {
      return;
    }
    if (writable()) {
      task.run();
      return;
    }
    if (waiting == null) {
      waiting = new ArrayList<>(2);
    }
    waiting.add(task);
  }

  /** Whether the socket has refused to take more for longer than {@code limitMillis}. */
  public boolean stalled(long now, long limitMillis) {
    return stalledFor(now) > limitMillis;
  }

  /** How long the socket has refused to take more, in milliseconds (0 while it keeps up). */
  public long stalledFor(long now) {
    if (blockedSince != 0 && (queue == null || queue.isEmpty()) && !socket.writeQueueFull()) {
      blockedSince = 0;
    }
    return blockedSince == 0 ? 0 : now - blockedSince;
  }

  /** Drops everything queued (counting it) and refuses further messages. */
  public void close() {
    if (!closed && queue != null) {
      dropped.add(queue.size());
    }
    closed = true;
    queue = null;
    waiting = null;
    queuedBytes = 0;
  }

  // Sizes of queued messages, a ring kept beside the queue so a message needs no wrapper object.
  private void pushSize(int bytes) {
    int n = queue.size();
    if (n > sizes.length) {
      int[] grown = new int[Math.max(16, sizes.length * 2)];
      for (int i = 0; i < n - 1; i++) {
        grown[i] = sizes[(head + i) % sizes.length];
      }
      sizes = grown;
      head = 0;
    }
    sizes[(head + n - 1) % sizes.length] = bytes;
    queuedBytes += bytes;
  }

  private int popSize() {
    int bytes = sizes[head];
    head = (head + 1) % sizes.length;
    return bytes;
  }
}
